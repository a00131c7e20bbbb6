-- lua_http_server.lua: a lua-http server (Debian's lua-http, on cqueues) whose handlers call
-- koodrive over cqueues sockets (koodrive.transport.socket "cqueues"): a handler waiting for
-- the service yields to the controller, which goes on serving other requests. To stay a
-- runnable example it asks itself for /devices and /ping at once, prints what came back in
-- which order, and stops. Configured like quickstart.lua (KOODRIVE_ENDPOINT, ...).
local cqueues = require "cqueues"
local http_server = require "http.server"
local http_headers = require "http.headers"
local http_request = require "http.request"
local koodrive = require "koodrive"

local env = os.getenv
local client = assert(koodrive.new { endpoint = env("KOODRIVE_ENDPOINT"), user_id = env("KOODRIVE_USER_ID"),
  token = env("KOODRIVE_TOKEN"), app_id = env("KOODRIVE_APP_ID"), app_secret = env("KOODRIVE_APP_SECRET"),
  transport = koodrive.transport.socket("cqueues"), timeout = 10 })

local function answer(stream, status, body)
  local h = http_headers.new()
  h:append(":status", status)
  h:append("content-type", "text/plain")
  stream:write_headers(h, false)
  stream:write_chunk(body, true)
end

local cq = cqueues.new()
local server = assert(http_server.listen { host = "127.0.0.1", port = 0, cq = cq,
  onstream = function(_, stream)
    local path = stream:get_headers():get(":path")
    if path == "/devices" then
      local devices, err = client.devices:list() -- yields to the controller while it waits
      if devices then answer(stream, "200", #devices .. " devices\n")
      else answer(stream, "502", tostring(err) .. "\n") end
    else
      answer(stream, "200", "pong\n")
    end
  end })
assert(server:listen())
local _, _, port = server:localname()
print("lua-http listening on 127.0.0.1:" .. port)

-- The example's own visitors: /devices first, /ping a moment later.
local order = {}
local function visit(path)
  local headers, stream = assert(http_request.new_from_uri("http://127.0.0.1:" .. port .. path):go(10))
  local body = assert(stream:get_body_as_string())
  order[#order + 1] = path
  io.write(string.format("%-9s %s %s", path, headers:get(":status"), body))
end
cq:wrap(function() visit("/devices") end)
cq:wrap(function() cqueues.sleep(0.05); visit("/ping") end)
cq:wrap(function()
  while #order < 2 do cqueues.sleep(0.01) end
  server:close()
end)
assert(cq:loop())
print("answered in order: " .. table.concat(order, ", "))
