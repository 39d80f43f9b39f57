-- make demo: the quick start against the real API when BASIQ_API_KEY is set,
-- otherwise against `basiq mock`, the local Basiq that ships with the SDK
-- (started with the test suite's own helper), which answers with what was
-- sent. Nothing here needs Basiq's definitions or Prism.
local procs = require("support.procs")

local function quickstart(env)
  return procs.execute(env .. " lua5.4 " .. procs.sh_quote(procs.ROOT .. "/examples/quickstart.lua"))
end

local ok
if os.getenv("BASIQ_API_KEY") then
  print("demo: against the real Basiq API")
  ok = quickstart("")
else
  local started, mock = pcall(procs.mock, { "--quiet" })
  if started then
    print("demo: against basiq mock, a local Basiq (" .. mock.url .. "); set BASIQ_API_KEY for the real API")
    ok = quickstart("BASIQ_SERVER=" .. mock.url .. " BASIQ_API_KEY=any") -- the mock takes any key
    mock.stop()
  else
    io.stderr:write(tostring(mock), "\n")
  end
end
os.exit(ok and 0 or 1)
