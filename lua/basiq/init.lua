-- basiq: the Basiq open-banking API for Lua. The module table is itself the
-- default client, as the `api` SDK's default export is; basiq.new() makes more.
local client = require("basiq.client")

local basiq = { _VERSION = "basiq 0.1.0" }
return client.new(nil, basiq)
