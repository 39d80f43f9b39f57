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

-- The length of the prefix a and b share.
local function shared(a, b)
  local n = 0
  while n < #a and n < #b and a:byte(n + 1) == b:byte(n + 1) do n = n + 1 end
  return n
end

-- The candidate nearest to name, when it is near enough to be a typo of
-- it: the same letters in another case, at most a third of them wrong
-- (one at least, three at most), or the same word with another ending
-- (retry for retries: all but its last two letters shared, four at
-- least). nil otherwise.
function M.nearest(name, candidates)
  if type(name) ~= "string" or name == "" then return nil end
  local lower, best, best_d = name:lower(), nil, math.huge
  local limit = math.max(1, math.min(3, math.floor(#name / 3)))
  local need = math.max(4, #name - 2)
  for _, c in ipairs(candidates) do
    local cl = c:lower()
    local d = cl == lower and 0 or distance(lower, cl)
    local near = d <= limit or shared(lower, cl) >= need
    if near and (d < best_d or d == best_d and c < best) then best, best_d = c, d end
  end
  return best
end

-- The first key of t (in sorted order) that is not in names, and " (did
-- you mean x?)" for it (or ""); nil when every key is one of them.
function M.unknown(t, names)
  local known, odd = {}, {}
  for _, n in ipairs(names) do known[n] = true end
  for k in pairs(t) do
    if not known[k] then odd[#odd + 1] = tostring(k) end
  end
  if not odd[1] then return nil end
  table.sort(odd)
  return odd[1], M.hint(odd[1], names)
end

-- " (did you mean x?)", or "" when nothing is near.
function M.hint(name, candidates)
  local best = M.nearest(name, candidates)
  return best and " (did you mean " .. best .. "?)" or ""
end

return M
