--- The automatic transport: nginx's non-blocking cosockets where they work, HAProxy's sockets
-- (core.tcp) inside HAProxy's Lua, libcurl elsewhere.
--
--   local t = koodrive.transport.auto { ngx = { pool_size = 30 } }
--
-- The choice is made on every send, not when the client is created: a client made at module
-- level or in init_by_lua (where only libcurl can work) sends through the ngx transport when
-- it is used later from a request handler or a timer, and through libcurl from init_by_lua,
-- init_worker_by_lua, log_by_lua and the like, or outside nginx. Responses say which was used
-- in `res.transport` ("ngx" | "haproxy" | "curl").
--
-- The libcurl transport is made on first use, and again in a process other than the one that
-- made it: a handle made in nginx's master (init_by_lua) is not shared by the forked workers.
local Auto = {}
Auto.__name = "koodrive.transport.auto"

local ngx_module -- koodrive.transport.ngx, loaded only inside nginx
-- The Lua side of the libcurl transport (libcurl itself loads with the first handle) comes
-- with this module: a first send may find the process out of file descriptors, when no
-- module file could be opened any more.
local curl_transport = require "koodrive.transport.curl"
local haproxy = require "koodrive.hosts.haproxy"

--- The nginx phase when cosockets can be used now, else nil.
local function cosocket_phase()
  if type(ngx) ~= "table" or type(ngx.get_phase) ~= "function" then return nil end
  ngx_module = ngx_module or require "koodrive.transport.ngx"
  return (ngx_module.usable())
end

local function process_id()
  if type(ngx) == "table" and type(ngx.worker) == "table" and type(ngx.worker.pid) == "function" then
    local ok, pid = pcall(ngx.worker.pid)
    if ok then return pid end
  end
  return 0
end

-- `multi` (whether a koodrive.loop may carry a request on its libcurl multi handle) is true
-- exactly when this transport would use libcurl.
function Auto.__index(_, key)
  if key == "multi" then return cosocket_phase() == nil and not haproxy.usable() end
  return Auto[key]
end

--- The transport the next send goes through, and its name.
function Auto:current()
  if cosocket_phase() then
    if not self.ngx then self.ngx = ngx_module.new(self.opts.ngx) end
    return self.ngx, "ngx"
  end
  -- Inside HAProxy libcurl would stall the process (and meet its watchdog): HAProxy's own
  -- sockets, which yield to its scheduler (they work in services, actions, tasks and init).
  if haproxy.usable() then
    if not self.haproxy then self.haproxy = require("koodrive.transport.socket").new("haproxy", self.opts.haproxy) end
    return self.haproxy, "haproxy"
  end
  local pid = process_id()
  if not self.curl or self.curl_pid ~= pid then
    -- A handle inherited from another process (nginx's master) is kept, never used, closed
    -- or collected here: its connections are the parent's.
    if self.curl then self.inherited = self.curl end
    self.curl = curl_transport.new(self.opts.curl)
    self.curl_pid = pid
  end
  return self.curl, "curl"
end

function Auto:send(request)
  if self.closed then error("attempt to use a closed koodrive.transport.auto", 2) end
  local t, name = self:current()
  local res, err = t:send(request)
  if res then res.transport = name end
  return res, err
end

--- Frees the libcurl handle (nginx's pools own the cosocket connections); later sends raise
-- an error, as with a closed curl transport. Closing twice is harmless.
function Auto:close()
  if self.curl and self.curl_pid == process_id() and not self.closed then self.curl:close() end
  self.closed = true
end
Auto.__close = Auto.close

function Auto.__tostring() return "koodrive.transport.auto" end

--- opts (optional): { ngx = options of koodrive.transport.ngx, curl = options of the curl
-- transport, haproxy = options of koodrive.transport.haproxy }
local function new(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("koodrive.transport.auto: opts must be a table", 2) end
  return setmetatable({ opts = opts }, Auto)
end

return { new = new, cosocket_phase = cosocket_phase }
