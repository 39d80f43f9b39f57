-- make demo: the quick start against the real API when BASIQ_API_KEY is set,
-- otherwise against a local Prism mock of Basiq's Core definition (started
-- with the test suite's own helper).
local procs = require("support.procs")

local function quickstart(env)
  return procs.execute(env .. " lua5.4 " .. procs.sh_quote(procs.ROOT .. "/examples/quickstart.lua"))
end

local ok
if os.getenv("BASIQ_API_KEY") then
  print("demo: against the real Basiq API")
  ok = quickstart("")
else
  local mock = procs.prism("core.json")
  local started, err = pcall(mock.ready, mock, 120)
  if started then
    print("demo: against a local Prism mock of Basiq (" .. mock.url .. "); set BASIQ_API_KEY for the real API")
    ok = quickstart("BASIQ_SERVER=" .. mock.url)
  else
    io.stderr:write(tostring(err), "\n")
  end
  mock.stop()
end
os.exit(ok and 0 or 1)
