-- koodrive_local.rst: a TCP reset instead of a FIN for the "reset" fault.
-- nginx's Lua API has no SO_LINGER, and a request handler does not get its
-- connection's descriptor; but the worker owns that descriptor, so LuaJIT's
-- FFI finds it - the socket whose peer port and local port are the request's
-- - and sets SO_LINGER to zero seconds, after which close() sends an RST.

local ffi = require "ffi"

ffi.cdef [[
struct koodrive_local_linger { int l_onoff; int l_linger; };
int getpeername(int fd, void *addr, unsigned int *len);
int getsockname(int fd, void *addr, unsigned int *len);
int setsockopt(int fd, int level, int name, const void *value, unsigned int len);
]]

local C = ffi.C
local SOL_SOCKET, SO_LINGER = 1, 13      -- Linux
local AF_INET, AF_INET6 = 2, 10
local MAX_FD = 65536

local M = {}

local addr = ffi.new("uint8_t[128]")
local len = ffi.new("unsigned int[1]")
local linger = ffi.new("struct koodrive_local_linger", 1, 0)

-- The port of an AF_INET or AF_INET6 address (same offset, network order), or nil.
local function port_of(getname, fd)
  len[0] = 128
  if getname(fd, addr, len) ~= 0 then return nil end
  local family = addr[0] + addr[1] * 256       -- sa_family_t, host order (little endian)
  if family ~= AF_INET and family ~= AF_INET6 then return nil end
  return addr[2] * 256 + addr[3]
end

--- Sets SO_LINGER {on, 0 s} on the connection from peer_port to local_port.
-- Returns true, or false when no such descriptor was found (then the close
-- is an ordinary FIN).
function M.linger_zero(peer_port, local_port)
  for fd = 3, MAX_FD do
    local p = port_of(C.getpeername, fd)
    if p == peer_port and port_of(C.getsockname, fd) == local_port then
      return C.setsockopt(fd, SOL_SOCKET, SO_LINGER, linger, ffi.sizeof(linger)) == 0
    end
  end
  return false
end

return M
