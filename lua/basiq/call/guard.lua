-- Where credentials may go: pure checks on URLs, with no state and no I/O.
-- Credentials cross plain http only to loopback (unless the user opted in),
-- and links a server hands back are followed only on the client's own server.
local M = {}

-- 127.x.y.z with each part plain decimal up to 255: libcurl resolves
-- anything else (127.0.0.256, 127.0.0.09) as a name, which may lead anywhere.
local function loopback_v4(host)
  local b, c, d = host:match("^127%.(%d+)%.(%d+)%.(%d+)$")
  if not b then return false end
  for _, part in ipairs({ b, c, d }) do
    if not (part == "0" or part:find("^[1-9]%d?%d?$") and tonumber(part) <= 255) then return false end
  end
  return true
end

-- Whether host (lower case, without port or user) is this machine.
function M.loopback(host)
  return host == "localhost" or host == "[::1]" or loopback_v4(host)
end

-- Whether a request to url would carry credentials in clear to another
-- host: plain http to anything but loopback, and anything that is not
-- http:// or https:// at all (libcurl reads "host:port" and "http:/host"
-- as plain http too).
function M.insecure(url)
  local host = url:match("^[Hh][Tt][Tt][Pp]://([^/?#]*)")
  if host then
    host = host:gsub("^.*@", ""):gsub(":%d*$", ""):lower()
    return not M.loopback(host)
  end
  return not url:find("^[Hh][Tt][Tt][Pp][Ss]://")
end

-- What a link must be for the client to follow it with its credential:
-- the one rule follow, paginate and webhook fetches keep, said in their
-- refusals.
M.LINK_RULE = "links are followed only on the client's own server: a path such as /users/... (Basiq's own"
  .. " links), taken under the client's server URL, or a full URL that begins with that server URL"

-- The part of url to append to base when url is on base's server, as a
-- plain path "/x?y": a path link (Basiq's job steps give "/users/..."),
-- which is relative to base as an operation's path is, or a full URL with
-- base's scheme, host and port (compared without case) and path prefix.
-- nil when it leads anywhere else, or holds spaces or control bytes.
function M.within(base, url)
  if type(url) ~= "string" or url:find("[%c%s]") then return nil end
  if url:find("^/") then
    -- "//host/..." is a URL without a scheme, on another host; "/\host" is
    -- one to browsers: neither is a path
    if url:find("^/[/\\]") then return nil end
    return url
  end
  if url:sub(1, #base):lower() ~= base:lower() then return nil end
  local rest = url:sub(#base + 1)
  if not rest:find("^[/?]") then return nil end
  return rest
end

-- A base URL as basiq.server() takes it: http(s), a host, no spaces or
-- control characters. The URL without trailing slashes, or nil.
function M.base_url(url)
  if type(url) ~= "string" or not url:lower():match("^https?://[^/]") or url:find("[%c%s]") then return nil end
  return (url:gsub("/+$", ""))
end

return M
