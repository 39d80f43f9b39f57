-- POST /users: creates a Basiq user from the JSON body. The call yields
-- while it waits on nginx's socket, so this worker keeps serving.
local basiq = require("basiq")
local cjson = require("cjson.safe")

ngx.req.read_body()
local user = cjson.decode(ngx.req.get_body_data() or "")
ngx.header.content_type = "application/json"
if type(user) ~= "table" then
  ngx.status = 400
  ngx.say(cjson.encode({ error = "a JSON object is expected" }))
  return
end

local res, err = basiq.createUser(user)
if not res then
  ngx.status = err.status and err.status < 500 and err.status or 502
  ngx.say(cjson.encode({ error = err.message, correlationId = err.correlationId }))
  return
end
ngx.status = 201
ngx.say(cjson.encode(res.data))
