-- Which operation a name means for a client: one it loaded (basiq.load),
-- else Basiq's own. Each API's table of operations is required the first
-- time one of its operations is asked for, so `require "basiq"` stays quick.
local index = require("basiq.ops.index")

local M = {}

-- op, base server URL of its definition | nil when no such operation.
function M.find(state, name)
  local loaded = state.loaded[name]
  if loaded then return loaded.op, loaded.server end
  local api = index[name]
  if not api then return nil end
  local t = require("basiq.ops." .. api)
  local op = t.ops[name]
  return op, op.servers and op.servers[1] or t.servers[1]
end

-- Every operation name the client knows, Basiq's and loaded ones.
function M.names(state)
  local names = {}
  for name in pairs(index) do names[#names + 1] = name end
  for name in pairs(state.loaded) do
    if not index[name] then names[#names + 1] = name end
  end
  return names
end

-- " (did you mean getUser?)" for a name that is none of them, or "".
function M.hint(state, name)
  return require("basiq.shared.suggest").hint(name, M.names(state))
end

return M
