-- Quick start: give the API key, then call operations. The SDK fetches the
-- SERVER_ACCESS token on first need and renews it before it expires.
--   BASIQ_API_KEY=... lua5.4 examples/quickstart.lua     (the real API)
--   make demo                                             (basiq mock, a local Basiq)
local basiq = require("basiq")

local key = os.getenv("BASIQ_API_KEY") or "local-mock-key"
if os.getenv("BASIQ_SERVER") then basiq.server(os.getenv("BASIQ_SERVER")) end

basiq.auth("Basic " .. key)

local res, err = basiq.createUser({
  email = "gavin@hooli.com",
  mobile = "+61410888666",
  firstName = "Gavin",
  lastName = "Belson",
})
if not res then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end

local user = res.data
print(string.format("created user %s (HTTP %d)", user.id, res.status))
print(string.format("  email  %s", tostring(user.email)))
print(string.format("  mobile %s", tostring(user.mobile)))
print(string.format("  name   %s %s", tostring(user.firstName), tostring(user.lastName)))
