-- The mock's state, in one place: users and everything hanging off them
-- (connections, accounts, transactions, jobs, consents, auth links,
-- snapshots), events, webhooks and reports; ids and times. In memory only:
-- never written anywhere, so a restart forgets everything.
local random_hex = require("basiq.mock.tokens").random_hex

local M = {}
M.__index = M

function M.new(opts)
  return setmetatable({
    opts = opts,
    users = {},        -- id -> user (see users.lua)
    connections = {},  -- id -> connection
    accounts = {},     -- id -> account
    jobs = {},         -- id -> job
    events = {},       -- list, oldest first; events.by_id
    webhooks = {},     -- id -> webhook (the --webhook one and those added through the API)
    reports = {},      -- id -> report
    snapshots = {},    -- id -> affordability, expenses or income snapshot
    listeners = {},    -- functions called with each new event
  }, M)
end

-- A fresh id in UUID form (some of Basiq's schemas require it).
function M.uuid()
  local h = random_hex(16)
  return ("%s-%s-4%s-%x%s-%s"):format(h:sub(1, 8), h:sub(9, 12), h:sub(14, 16),
    8 + tonumber(h:sub(17, 17), 16) % 4, h:sub(18, 20), h:sub(21, 32))
end

function M.iso(t) return os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(t or os.time())) end
function M.date(t) return os.date("!%Y-%m-%d", math.floor(t or os.time())) end
function M.month(t) return os.date("!%Y-%m", math.floor(t or os.time())) end

-- A number of dollars as Basiq writes amounts: a string with two decimals.
function M.money(x) return ("%.2f"):format(x) end

-- Records an event about a user's entity and tells the listeners (webhook
-- delivery). entity: "user", "consent", "connection", "account" or
-- "transactions"; path: the entity's path on the API.
function M:emit(type_id, user_id, path, data)
  local entity, verb = type_id:match("^([%w_]+)%.(%w+)$")
  local ev = { id = M.uuid(), type_id = type_id, entity = entity, verb = verb, user = user_id,
    path = path, created = os.time(), data = data }
  self.events[#self.events + 1] = ev
  self.events.by_id = self.events.by_id or {}
  self.events.by_id[ev.id] = ev
  for _, fn in ipairs(self.listeners) do fn(ev) end
  return ev
end

return M
