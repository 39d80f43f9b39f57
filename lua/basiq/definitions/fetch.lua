-- GETs a definition over http(s) through the C core, as a call would go:
-- TLS verified, the client's timeouts and size cap, plain http only to
-- loopback unless the client allows it, redirects only along the same
-- rules. It never sends a credential: no Authorization, no cookie.
local guard = require("basiq.call.guard")
local errors = require("basiq.shared.errors")
local source = require("basiq.definitions.source")

local M = {}

local MAX_REDIRECTS = 5
local REDIRECT = { [301] = true, [302] = true, [303] = true, [307] = true, [308] = true }
local ACCEPT = "Accept: application/json, application/yaml;q=0.9, */*;q=0.8"

local function refusal(code, message, fields)
  return errors.new(code, "basiq.load: " .. message, fields)
end

-- A Location header against the URL that sent it: absolute, or a path on
-- the same server, or a path beside the current one.
local function follow(url, location)
  if location:find("^[Hh][Tt][Tt][Pp][Ss]?://") then return location end
  local origin, scheme, path = (url:gsub("[?#].*$", "")):match("^((%a[%w+.%-]*:)//[^/]*)(.*)$")
  if location:sub(1, 2) == "//" then return scheme .. location end
  if location:sub(1, 1) == "/" then return origin .. location end
  return origin .. (path:match("^(.*/)") or "/") .. location
end

-- url, settings { timeout, connectTimeout, maxBodySize, caFile,
-- allowInsecureHttp } -> body, content type | nil, err.
function M.get(url, settings)
  local core = require("basiq.core")
  local handle = core.new()
  local body, media, err
  for _ = 0, MAX_REDIRECTS do
    if not settings.allowInsecureHttp and guard.insecure(url) then
      err = refusal("insecure", source.shown(url) .. ": refusing plain http to a host other than loopback"
        .. " (a definition decides where credentials go); use https, or allowInsecureHttp = true")
      break
    end
    local o = handle:perform({ method = "GET", url = url, headers = { ACCEPT },
      timeout = settings.timeout, connect_timeout = math.min(settings.connectTimeout, settings.timeout),
      max_body = settings.maxBodySize, cainfo = settings.caFile })
    if not o.status then
      err = errors.network("load", source.shown(url) .. ": " .. tostring(o.message), o.code)
      break
    end
    local location = o.headers and o.headers.location
    if REDIRECT[o.status] and type(location) == "string" then
      url = follow(url, location)
    elseif o.status < 200 or o.status > 299 then
      err = refusal("http", source.shown(url) .. ": HTTP " .. o.status, { status = o.status })
      break
    else
      body, media = o.body, o.headers and o.headers["content-type"]
      break
    end
  end
  handle:close()
  if body then return body, media end
  return nil, err or refusal("http", source.shown(url) .. ": more than " .. MAX_REDIRECTS .. " redirects")
end

return M
