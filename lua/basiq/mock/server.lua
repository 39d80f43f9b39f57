-- The mock's HTTP server: accepts connections on its loop, reads each
-- request, hands it to the router and writes the answer, keeping
-- connections alive. A handler that crashes costs its request a 500, never
-- the server; the log line of a request never holds its query (the Consent
-- UI's carries a token) or any header.
local socket = require("socket")
local wire = require("basiq.mock.wire")

local M = {}

local IDLE = 30     -- seconds a kept-alive connection may wait for its next request
local READ = 30     -- seconds to read one request once it has begun

-- Binds host:port (port 0: any free one) -> server, or nil and why not.
-- handle(req) -> status, headers, body; log(line) for one line per request.
function M.listen(loop, host, port, handle, log)
  local listener, err = socket.bind(host, port)
  if not listener then return nil, err end
  listener:settimeout(0)
  local _, bound = listener:getsockname()
  local self = { loop = loop, port = tonumber(bound), host = host }

  local function serve(sock)
    while true do
      local req, why = wire.read_request(loop, sock, socket.gettime() + IDLE)
      if not req then
        if why ~= "closed" and why ~= "timeout" then
          wire.send(loop, sock, wire.answer_text(400, { ["Content-Type"] = "text/plain" }, "bad request: " .. why, false),
            socket.gettime() + 5)
        end
        break
      end
      local ok, status, headers, body = pcall(handle, req)
      if not ok then
        log("error: " .. tostring(status))
        status, headers, body = 500, { ["Content-Type"] = "text/plain" }, "the mock failed on this request"
      end
      local keep = (req.headers.connection or ""):lower() ~= "close"
      log(("%s %s %d"):format(req.method, req.path, status))
      if not wire.send(loop, sock, wire.answer_text(status, headers, body or "", keep), socket.gettime() + READ)
        or not keep then
        break
      end
    end
    sock:close()
  end

  loop:spawn(function()
    while true do
      loop:wait(listener, "r")
      local client = listener:accept()
      if client then
        client:settimeout(0)
        client:setoption("tcp-nodelay", true)
        loop:spawn(serve, client)
      end
    end
  end)

  function self.close() listener:close() end
  return self
end

return M
