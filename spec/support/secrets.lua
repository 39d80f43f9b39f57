-- The search for secrets in what a spec got back: events, errors, logs.
local M = {}

-- every string in v (keys too), flattened
local function strings(v, out)
  out = out or {}
  if type(v) == "string" then out[#out + 1] = v
  elseif type(v) == "table" then for k, x in pairs(v) do strings(k, out); strings(x, out) end end
  return out
end

-- Fails unless no string in v holds any of secrets; what names v in the message.
function M.none(v, secrets, what)
  for _, text in ipairs(strings(v)) do
    for _, secret in ipairs(secrets) do
      assert(not text:find(secret, 1, true), "a secret reached " .. (what or "the output") .. ": " .. text)
    end
  end
end

return M
