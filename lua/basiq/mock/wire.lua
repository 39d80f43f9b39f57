-- HTTP/1.1 on the wire, both ways, over the mock's loop: reading a request
-- or an answer (Content-Length or chunked bodies), writing either. Every
-- read and write yields while the socket is not ready, up to a deadline;
-- sizes are capped, so a peer can never make the mock hold unbounded data.
local loop_now = require("basiq.mock.loop").now

local M = {}

M.MAX_HEADER_LINE = 16 * 1024
M.MAX_HEADERS = 100
M.MAX_BODY = 32 * 1024 * 1024

M.REASONS = {
  [100] = "Continue", [200] = "OK", [201] = "Created", [202] = "Accepted", [204] = "No Content",
  [302] = "Found", [400] = "Bad Request", [401] = "Unauthorized", [403] = "Forbidden",
  [404] = "Not Found", [405] = "Method Not Allowed", [410] = "Gone", [413] = "Payload Too Large",
  [429] = "Too Many Requests", [500] = "Internal Server Error", [503] = "Service Unavailable",
}

-- %XX sequences decoded.
function M.unescape(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- A query string or form body: { name = value } (+ as a space; a name given
-- twice keeps its last value).
function M.form_decode(s)
  local t = {}
  for pair in (s or ""):gmatch("[^&]+") do
    local k, v = pair:match("^([^=]*)=?(.*)$")
    t[M.unescape((k:gsub("%+", " ")))] = M.unescape((v:gsub("%+", " ")))
  end
  return t
end

-- pattern: "*l" or a byte count. Returns the data, or nil and why not.
function M.receive(loop, sock, pattern, deadline)
  local buf = ""
  while true do
    local data, err, partial = sock:receive(pattern, buf)
    if data then return data end
    if err ~= "timeout" then return nil, err end
    if pattern == "*l" and #partial > M.MAX_HEADER_LINE then return nil, "line too long" end
    buf = partial -- luasocket counts this prefix in a numeric pattern
    local ok, why = loop:wait(sock, "r", deadline)
    if not ok then return nil, why end
  end
end

function M.send(loop, sock, data, deadline)
  local i = 1
  while i <= #data do
    local last, err, part = sock:send(data, i)
    if last then return true end
    if err ~= "timeout" then return nil, err end
    i = part + 1
    local ok, why = loop:wait(sock, "w", deadline)
    if not ok then return nil, why end
  end
  return true
end

-- Header lines up to the empty one: { name(lower case) = value } (a name
-- sent twice keeps both, joined by ", "), or nil and why not.
local function read_headers(loop, sock, deadline)
  local headers, n = {}, 0
  while true do
    local line, err = M.receive(loop, sock, "*l", deadline)
    if not line then return nil, err end
    if line == "" then return headers end
    n = n + 1
    if n > M.MAX_HEADERS then return nil, "too many headers" end
    local k, v = line:match("^([^:%s]+):%s*(.-)%s*$")
    if not k then return nil, "malformed header line" end
    k = k:lower()
    headers[k] = headers[k] and headers[k] .. ", " .. v or v
  end
end

-- The body that follows headers: by Content-Length, chunked, or (for an
-- answer without either) up to the end of the connection.
local function read_body(loop, sock, headers, deadline, to_close)
  local te = (headers["transfer-encoding"] or ""):lower()
  if te:find("chunked", 1, true) then
    local parts, total = {}, 0
    while true do
      local line, err = M.receive(loop, sock, "*l", deadline)
      if not line then return nil, err end
      local size = tonumber(line:match("^%s*(%x+)"), 16)
      if not size then return nil, "malformed chunk size" end
      if size == 0 then
        repeat
          line, err = M.receive(loop, sock, "*l", deadline) -- trailers
          if not line then return nil, err end
        until line == ""
        return table.concat(parts)
      end
      total = total + size
      if total > M.MAX_BODY then return nil, "body too large" end
      local chunk
      chunk, err = M.receive(loop, sock, size, deadline)
      if not chunk then return nil, err end
      parts[#parts + 1] = chunk
      M.receive(loop, sock, "*l", deadline)
    end
  end
  local len = headers["content-length"]
  if len then
    local n = len:match("^%d+$") and tonumber(len)
    if not n then return nil, "malformed content-length" end
    if n > M.MAX_BODY then return nil, "body too large" end
    if n == 0 then return "" end
    return M.receive(loop, sock, n, deadline)
  end
  if to_close then
    local parts = {}
    while true do
      local data, err, partial = sock:receive(8192)
      data = data or partial
      if data and #data > 0 then parts[#parts + 1] = data end
      if err == "closed" then return table.concat(parts) end
      if err and err ~= "timeout" then return nil, err end
      if err then -- nothing more yet (a full block reads on at once)
        local ok, why = loop:wait(sock, "r", deadline)
        if not ok then return nil, why end
      end
    end
  end
  return ""
end

-- One request from a client: { method, target, path, query, headers, body },
-- or nil and why not ("closed" when the client is done). An
-- `Expect: 100-continue` is answered before the body is read.
function M.read_request(loop, sock, deadline)
  local line, err = M.receive(loop, sock, "*l", deadline)
  if not line then return nil, err end
  local method, target = line:match("^(%u+) (%S+) HTTP/1%.[01]$")
  if not method then return nil, "malformed request line" end
  local headers, herr = read_headers(loop, sock, deadline)
  if not headers then return nil, herr end
  if (headers.expect or ""):lower() == "100-continue" then
    M.send(loop, sock, "HTTP/1.1 100 Continue\r\n\r\n", deadline)
  end
  local body, berr = read_body(loop, sock, headers, deadline, false)
  if not body then return nil, berr end
  local path, query = target:match("^([^?#]*)%??([^#]*)")
  return { method = method, target = target, path = path, query = query, headers = headers, body = body }
end

-- The wire text of an answer. headers: { name = value }; its names are ours,
-- so no CR or LF reaches them; a value with either is dropped.
function M.answer_text(status, headers, body, keep_alive)
  local lines = { ("HTTP/1.1 %d %s"):format(status, M.REASONS[status] or "Status") }
  local names = {}
  for k in pairs(headers) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do
    local v = tostring(headers[k])
    if not v:find("[\r\n]") then lines[#lines + 1] = k .. ": " .. v end
  end
  lines[#lines + 1] = "Content-Length: " .. #body
  lines[#lines + 1] = "Connection: " .. (keep_alive and "keep-alive" or "close")
  return table.concat(lines, "\r\n") .. "\r\n\r\n" .. body
end

-- One POST to url (http only, already parsed: host, port, path) with
-- headers and body, on a fresh connection: status, headers, body, or nil and why not.
function M.post(loop, target, headers, body, seconds)
  local socket = require("socket")
  local deadline = loop_now() + seconds
  local sock = socket.tcp()
  sock:settimeout(0)
  local ok, err = sock:connect(target.host, target.port)
  if not ok and err == "timeout" then
    local ready, why = loop:wait(sock, "w", deadline)
    if not ready then sock:close(); return nil, "connect: " .. why end
    ok, err = sock:connect(target.host, target.port)
    if not ok and err == "already connected" then ok = true end
  end
  if not ok then sock:close(); return nil, "connect: " .. tostring(err) end
  local lines = { "POST " .. target.path .. " HTTP/1.1", "Host: " .. target.authority,
    "Content-Length: " .. #body, "Connection: close" }
  for k, v in pairs(headers) do lines[#lines + 1] = k .. ": " .. v end
  local sent, serr = M.send(loop, sock, table.concat(lines, "\r\n") .. "\r\n\r\n" .. body, deadline)
  if not sent then sock:close(); return nil, "send: " .. serr end
  local status_line, lerr = M.receive(loop, sock, "*l", deadline)
  if not status_line then sock:close(); return nil, "receive: " .. lerr end
  local status = tonumber(status_line:match("^HTTP/1%.[01] (%d%d%d)"))
  if not status then sock:close(); return nil, "malformed status line" end
  local rheaders, herr = read_headers(loop, sock, deadline)
  if not rheaders then sock:close(); return nil, "receive: " .. herr end
  local rbody = read_body(loop, sock, rheaders, deadline, true)
  sock:close()
  return status, rheaders, rbody or ""
end

return M
