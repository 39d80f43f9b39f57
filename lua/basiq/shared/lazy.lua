-- The C core, loaded on first use: loading libcurl and OpenSSL costs a few
-- milliseconds that `require "basiq"` should not pay before any call.
return setmetatable({}, {
  __index = function(t, k)
    local core = require("basiq.core")
    for name, v in pairs(core) do rawset(t, name, v) end
    return core[k]
  end,
})
