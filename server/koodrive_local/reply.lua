-- koodrive_local.reply: the answers every part of the service shares: the
-- KooDrive and IoTDA error envelopes, the gateway's HTML pages, and the bodies
-- of errors found before any route runs (bad framing, limits, a crash).
--
-- An answer is (status, headers, body): headers a list of { name, value }
-- (nil for none), body a string, or a function(emit) for a streamed body whose
-- length the headers give (see koodrive_local.nginx_app).

local jsonio = require "koodrive_local.jsonio"

local object = jsonio.object

local M = {}

function M.json(status, value)
  return status, nil, jsonio.encode(value)
end

-- KooDrive envelope: {"code":..,"msg":..} plus extra ordered pairs.
function M.kd(status, code, msg, ...)
  return M.json(status, object("code", code, "msg", msg, ...))
end

function M.kd_param_error() return M.kd(400, 13000102, "Verify parameters failed.") end
function M.kd_not_found() return M.kd(404, 13000309, "Resource does not exist.") end

function M.iot(status, code, msg)
  return M.json(status, object("error_code", code, "error_msg", msg))
end

function M.iot_invalid() return M.iot(400, "IOTDA.000006", "Invalid input data.") end

-- The gateway's answer for a path it does not route.
function M.iot_no_api()
  return M.iot(404, "APIGW.0101", "The API does not exist or has not been published in the environment")
end

function M.html_page(status, title)
  return string.format("<!DOCTYPE html>\n<html>\n<head><title>%d %s</title></head>\n" ..
    "<body>\n<center><h1>%d %s</h1></center>\n<hr><center>local-gateway</center>\n</body>\n</html>\n",
    status, title, status, title)
end

-- Bodies for errors found before a route answers (bad framing, limits, a
-- handler crash), in the envelope of the service the path belongs to (path
-- may be nil when the request could not be parsed). IoTDA: 4xx ->
-- IOTDA.000006 with the reason appended, 500 -> IOTDA.000001 (local choice).
-- KooDrive and anything else: 500 -> 13000201 "inner server invoke failure"
-- (recorded example), 4xx -> {"code":<http status>,"msg":"<reason>"}.
function M.error_body(status, why, path)
  if path and path:sub(1, 4) == "/v5/" then
    if status >= 500 then
      return jsonio.encode(object("error_code", "IOTDA.000001", "error_msg", "Internal server error."))
    end
    return jsonio.encode(object("error_code", "IOTDA.000006", "error_msg", "Invalid input data. " .. (why or "")))
  end
  if status >= 500 and status ~= 501 and status ~= 505 then
    return jsonio.encode(object("code", 13000201, "msg", "inner server invoke failure"))
  end
  return jsonio.encode(object("code", status, "msg", why or "error"))
end

return M
