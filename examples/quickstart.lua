-- Quick start (README's, word for word below this header): give the API
-- key, then call operations; the SDK fetches the SERVER_ACCESS token on
-- first need and renews it before it expires.
--   BASIQ_API_KEY=... lua5.4 examples/quickstart.lua                  (Basiq's API)
--   BASIQ_SERVER=http://127.0.0.1:4010 BASIQ_API_KEY=any lua5.4 examples/quickstart.lua
--                                      (a local Basiq: `basiq mock`; make demo does this)
local basiq = require("basiq")

-- BASIQ_SERVER: a local Basiq (`basiq mock` prints its URL); unset: Basiq's own API
if os.getenv("BASIQ_SERVER") then basiq.server(os.getenv("BASIQ_SERVER")) end
basiq.auth("Basic " .. assert(os.getenv("BASIQ_API_KEY"), "set BASIQ_API_KEY (basiq mock takes any)"))
-- tokens are automatic from here on

local res, err = basiq.createUser({
  email = "gavin@hooli.com", mobile = "+61410888666", firstName = "Gavin", lastName = "Belson",
})
if not res then error(tostring(err)) end
print("created user " .. res.data.id .. " (HTTP " .. res.status .. ")")

local user = assert(basiq.getUser({ userId = res.data.id })).data -- read back
print("  email  " .. user.email)
print("  mobile " .. user.mobile)
print("  name   " .. user.firstName .. " " .. user.lastName)
