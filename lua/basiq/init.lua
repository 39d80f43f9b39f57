-- basiq: the Basiq open-banking API for Lua. The module table is itself the
-- default client, as the `api` SDK's default export is; basiq.new() makes more.
local basiq = { _VERSION = "basiq " .. require("basiq.version") }
return require("basiq.client").new(nil, basiq)
