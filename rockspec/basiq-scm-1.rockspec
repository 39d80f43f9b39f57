rockspec_format = "3.0"
package = "basiq"
version = "scm-1"
source = {
  url = "git+https://example.invalid/basiq-lua.git",
}
description = {
  summary = "The Basiq open-banking API for Lua: a libcurl C core and every Basiq operation",
  detailed = [[
    basiq.<operation>(body, metadata) for all 56 operations of Basiq API v3,
    with the calling convention of the JavaScript SDK that ReadMe's `api` tool
    generates. C core over libcurl; Lua 5.1 (LuaJIT/OpenResty) to 5.4.
  ]],
  license = "MIT",
}
dependencies = {
  "lua >= 5.1",
  "lua-cjson",
}
external_dependencies = {
  -- Library only: on Debian curl.h lives in a multiarch include folder
  -- that the compiler finds by itself.
  CURL = { library = "curl" },
  CRYPTO = { library = "crypto" }, -- OpenSSL's libcrypto: webhook HMAC and base64
}
build = {
  type = "builtin",
  modules = {
    ["basiq.core"] = {
      sources = { "src/buf.c", "src/core.c", "src/easy.c", "src/crypto.c", "src/encode.c", "src/multi.c", "src/xfer.c" },
      libraries = { "curl", "crypto" },
      libdirs = { "$(CURL_LIBDIR)", "$(CRYPTO_LIBDIR)" },
    },
    ["basiq"] = "lua/basiq/init.lua",
    ["basiq.client"] = "lua/basiq/client.lua",
    ["basiq.compile"] = "lua/basiq/compile.lua",
    ["basiq.errors"] = "lua/basiq/errors.lua",
    ["basiq.request"] = "lua/basiq/request.lua",
    ["basiq.token"] = "lua/basiq/token.lua",
    ["basiq.jobs"] = "lua/basiq/jobs.lua",
    ["basiq.filter"] = "lua/basiq/filter.lua",
    ["basiq.webhook"] = "lua/basiq/webhook.lua",
    ["basiq.ngx"] = "lua/basiq/ngx.lua",
    ["basiq.lazy"] = "lua/basiq/lazy.lua",
    ["basiq.ops.index"] = "lua/basiq/ops/index.lua",
    ["basiq.ops.affordability"] = "lua/basiq/ops/affordability.lua",
    ["basiq.ops.core"] = "lua/basiq/ops/core.lua",
    ["basiq.ops.data"] = "lua/basiq/ops/data.lua",
    ["basiq.ops.enrich"] = "lua/basiq/ops/enrich.lua",
    ["basiq.ops.identity"] = "lua/basiq/ops/identity.lua",
    ["basiq.ops.reporting"] = "lua/basiq/ops/reporting.lua",
    ["basiq.ops.webhooks"] = "lua/basiq/ops/webhooks.lua",
  },
}
