--- Limits and defaults, defined once: the Lua layer reads them from here, and every request
-- hands the C core its values (the C core keeps range checks as a last guard, no defaults).
-- @module koodrive.limits
local limits = {
  --- Largest response body accepted by default, bytes (client option max_body).
  MAX_BODY = 8 * 1024 * 1024,
  --- Largest max_body the C core takes (a C int).
  MAX_BODY_LIMIT = 2 ^ 31 - 1,
  --- Default whole-request timeout, seconds (option timeout).
  TIMEOUT = 30,
  --- Default connect timeout, seconds (option connect_timeout).
  CONNECT_TIMEOUT = 10,
  --- Longest timeout accepted, seconds (timeouts are in (0, TIMEOUT_MAX]).
  TIMEOUT_MAX = 86400,
  --- Default retry policy (option retries; see koodrive.retry for the ranges).
  RETRY = { max_attempts = 3, base_delay = 0.2, max_delay = 5, max_elapsed = 30 },
  --- Calls in flight at once in bulk work by default, and at most (koodrive.batch).
  CONCURRENCY = 8,
  CONCURRENCY_MAX = 256,
  --- Largest page of a listing unless the operation says otherwise (page_size), and the
  -- largest offset and cursor text a continuation may be.
  PAGE_MAX = 100,
  OFFSET_MAX = 2 ^ 31 - 1,
  CURSOR_MAX = 4096,
  --- Largest max_items of X:all().
  MAX_ITEMS_MAX = 2 ^ 31 - 1,
  --- Job waits (koodrive-files-api.md §5.5 Decision): first poll interval, largest one, and the
  -- default deadline, seconds.
  JOB_POLL_FIRST = 1,
  JOB_POLL_MAX = 10,
  JOB_DEADLINE = 600,
}

return limits
