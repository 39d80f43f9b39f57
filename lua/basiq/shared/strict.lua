-- Public tables of functions that say how to fix a misuse: a function
-- called with a colon (basiq:getUser{}) and a name the table does not
-- have (basiq.webhook.verfy). Never changes what a function returns.
local errors = require("basiq.shared.errors")
local suggest = require("basiq.shared.suggest")
local values = require("basiq.shared.values")

local rawequal, type = rawequal, type

local M = {}

-- Raises the colon mistake for the public function who ("basiq.getUser").
function M.colon(who)
  errors.raise(who .. ": call it with a dot, " .. who .. "(...), not a colon (which passes "
    .. (who:match("^(.*)%.[^.]+$") or "the table") .. " as the first argument)")
end

-- f, raising the colon mistake when its first argument is self.
function M.dotted(who, f, self)
  return function(first, ...)
    if rawequal(first, self) then M.colon(who) end
    return f(first, ...)
  end
end

-- Raises when opts has a key that is none of names, with the nearest name:
-- "basiq.batch: unknown option 'concurency' (did you mean concurrency?)".
function M.options(who, opts, names)
  local key, hint = suggest.unknown(opts, names)
  if key then errors.raise(who .. ": unknown option '" .. values.shown(key) .. "'" .. hint) end
end

-- t (who: "basiq.webhook") with each function dotted, and reading a plain
-- name it lacks raising with the nearest one it has. Keys that are not
-- plain names read as nil, so tools that probe tables keep working.
function M.namespace(t, who)
  for k, f in pairs(t) do
    if type(f) == "function" then t[k] = M.dotted(who .. "." .. k, f, t) end
  end
  return setmetatable(t, {
    __index = function(_, name)
      if type(name) ~= "string" or not name:find("^%a[%w_]*$") then return nil end
      local names = {}
      for k in pairs(t) do names[#names + 1] = k end
      errors.raise(who .. ": no function '" .. values.shown(name) .. "'" .. suggest.hint(name, names))
    end,
  })
end

return M
