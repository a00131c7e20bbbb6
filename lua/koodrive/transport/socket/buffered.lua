--- A connection of the socket interface (koodrive.transport.http1) over one primitive,
-- read_some(max, seconds) -> data (at least one byte) | nil, "closed" | nil, word: a buffer
-- filled at most FILL bytes at a time, so a line is never read further than the client's
-- limit, and every wait given the time left of the request's total timeout, so a server
-- trickling its answer cannot keep a call alive past that. Used by the LuaSocket and cqueues
-- adapters. Internal.
local M = {}

M.FILL = 16 * 1024

--- io = { read_some(max, seconds), send(data, seconds) -> ok | nil, word, close(), keep? }
function M.conn(io)
  local conn = { reused = io.reused or 0 }
  local buf, closed, clock = "", false, nil
  function conn.arm(c) clock = c end
  local function left() return clock and clock.left() or 60 end

  local function fill()
    if closed then return nil, "closed" end
    local wait = left()
    if wait <= 0 then return nil, "timeout" end
    local data, err = io.read_some(M.FILL, wait)
    if data and data ~= "" then buf = buf .. data; return true end
    if err == "closed" then closed = true end
    return nil, err or "closed"
  end

  local line_done = false -- the last chunk ended its line; the next call says so
  function conn.line_reader(max)
    if line_done then line_done = false; return nil end
    while true do
      local lf = buf:find("\n", 1, true)
      if lf and lf - 1 <= max then
        local chunk = buf:sub(1, lf - 1)
        buf = buf:sub(lf + 1)
        if chunk == "" then return nil end
        line_done = true
        return chunk
      end
      if #buf >= max then
        local chunk = buf:sub(1, max)
        buf = buf:sub(max + 1)
        return chunk
      end
      local ok, err = fill()
      if not ok then return nil, err end
    end
  end
  function conn.exact(n)
    while #buf < n do
      local ok, err = fill()
      if not ok then return nil, err end
    end
    local data = buf:sub(1, n)
    buf = buf:sub(n + 1)
    return data
  end
  function conn.some(max)
    if buf == "" then
      local ok, err = fill()
      if not ok then return nil, err end
    end
    local data = buf:sub(1, max)
    buf = buf:sub(max + 1)
    return data
  end
  function conn.send(head, body)
    local wait = left()
    if wait <= 0 then return nil, "timeout" end
    return io.send(body and head .. body or head, wait)
  end
  -- Kept only when nothing of the answer is left unread (a pool must not hand on stray bytes).
  function conn.keep(...) return buf == "" and io.keep ~= nil and io.keep(...) or false end
  function conn.close() io.close() end
  return conn
end

return M
