-- The nearest of some names to a misspelt one, for mistakes that say how to
-- fix them ("did you mean getUser?"). Pure; never raises.
local M = {}

-- Edit distance (insertions, deletions, substitutions, swaps of neighbours).
local function distance(a, b)
  local la, lb = #a, #b
  local prev2, prev = {}, {}
  for j = 0, lb do prev[j] = j end
  for i = 1, la do
    local cur = { [0] = i }
    local ca = a:sub(i, i)
    for j = 1, lb do
      local cb = b:sub(j, j)
      local d = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca == cb and 0 or 1))
      if i > 1 and j > 1 and ca == b:sub(j - 1, j - 1) and a:sub(i - 1, i - 1) == cb then
        d = math.min(d, prev2[j - 2] + 1)
      end
      cur[j] = d
    end
    prev2, prev = prev, cur
  end
  return prev[lb]
end

-- The candidate nearest to name, when it is near enough to be a typo of
-- it: the same letters in another case, or at most a third of them wrong
-- (one at least, three at most). nil otherwise.
function M.nearest(name, candidates)
  if type(name) ~= "string" or name == "" then return nil end
  local lower, best, best_d = name:lower(), nil, math.huge
  local limit = math.max(1, math.min(3, math.floor(#name / 3)))
  for _, c in ipairs(candidates) do
    local d = c:lower() == lower and 0 or distance(lower, c:lower())
    if d < best_d or d == best_d and best and c < best then best, best_d = c, d end
  end
  if best_d <= limit then return best end
  return nil
end

-- " (did you mean x?)", or "" when nothing is near.
function M.hint(name, candidates)
  local best = M.nearest(name, candidates)
  return best and " (did you mean " .. best .. "?)" or ""
end

return M
