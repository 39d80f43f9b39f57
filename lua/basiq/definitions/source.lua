-- What a definition's source names: an API registry id, a GitHub page, an
-- http(s) URL or a local file, resolved as ReadMe's `api` tool resolves
-- them (its fetcher.ts). Pure functions: nothing here reads or sends.
local M = {}

-- The registry ReadMe's `api` tool asks; BASIQ_API_REGISTRY overrides it.
M.REGISTRY = "https://dash.readme.com/api/v1/api-registry"

-- "@project[/version]#uuid" -> project, version (or nil), uuid; nil when
-- source is not a registry id. As in the `api` tool, the version is
-- anything between the project and the last "#", and only the uuid is
-- sent: the registry knows the project and version from it.
function M.registry_id(source)
  local project, middle, uuid = source:match("^@([%w_%-]+)(.-)#([%l%d]+)$")
  if not project then return nil end
  local version = middle:gsub("^/", "")
  return project, version ~= "" and version or nil, uuid
end

function M.registry_url(uuid, base)
  base = base or os.getenv("BASIQ_API_REGISTRY") or M.REGISTRY
  return (base:gsub("/+$", "")) .. "/" .. uuid
end

-- A GitHub page showing a JSON or YAML file serves HTML; its raw form
-- serves the file: https://github.com/o/r/blob/main/x.yml ->
-- https://raw.githubusercontent.com/o/r/main/x.yml. Any other URL comes
-- back unchanged.
function M.github_raw(url)
  local scheme, owner, repo, rest = url:match("^(https?://)github%.com/([%w_%-]+)/([%w_%-]+)/blob/(.+)$")
  if not scheme then return url end
  local file = rest:gsub("[?#].*$", "")
  if not (file:find(".%.json$") or file:find(".%.ya?ml$")) then return url end
  return scheme .. "raw.githubusercontent.com/" .. owner .. "/" .. repo .. "/" .. rest
end

-- Where source's text is: { url = ... } or { path = ... }, or nil, message
-- for a URL of a scheme other than http and https.
function M.locate(source)
  local _, _, uuid = M.registry_id(source)
  if uuid then return { url = M.registry_url(uuid), registry = true } end
  if source:find("^[Hh][Tt][Tt][Pp][Ss]?://") then return { url = M.github_raw(source) } end
  local scheme = source:match("^(%a[%w+.%-]*)://")
  if scheme then return nil, "only http:// and https:// URLs can be loaded, not " .. scheme .. "://" end
  return { path = source }
end

-- A URL as it may appear in a message: without user, password, query or
-- fragment, where a token could sit.
function M.shown(url)
  return (url:gsub("^(%a[%w+.%-]*://)[^/?#]*@", "%1"):gsub("[?#].*$", ""))
end

return M
