-- make bench's nginx section: what an OpenResty user writes by hand for a
-- Basiq GET, the yardstick of basiq.getUser in nginx: one keepalive pool
-- (nginx's own, as the SDK's), the status line and headers read line by
-- line, a Content-Length body, cjson.decode. No gzip, no chunked bodies,
-- no caps, no TLS: what the SDK adds on top is its own cost.
local cjson = require("cjson")

local M = {}

-- status, the decoded body | nil, err. raw: the status alone, undecoded
-- (the nginx section's ladder).
function M.get(host, port, path, raw)
  local sock = ngx.socket.tcp()
  sock:settimeouts(10000, 60000, 60000)
  local ok, err = sock:connect(host, port)
  if not ok then return nil, err end
  ok, err = sock:send("GET " .. path .. " HTTP/1.1\r\nHost: " .. host .. ":" .. port
    .. "\r\nAccept: application/json\r\nAuthorization: Bearer token\r\n\r\n")
  if not ok then return nil, err end
  local line
  line, err = sock:receive("*l")
  if not line then return nil, err end
  local status, len = tonumber(line:match("^HTTP/1%.%d (%d%d%d)")), nil
  while true do
    line, err = sock:receive("*l")
    if not line then return nil, err end
    if line == "" then break end
    local n = line:match("^[Cc]ontent%-[Ll]ength:%s*(%d+)")
    if n then len = tonumber(n) end
  end
  local body
  body, err = sock:receive(len)
  if not body then return nil, err end
  sock:setkeepalive()
  if raw then return status end
  return status, cjson.decode(body)
end

return M
