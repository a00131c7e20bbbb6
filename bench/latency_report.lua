-- bench/latency_report.lua - the rows where latency, not CPU, is the limit (bench/report.lua
-- loads this when bench/latency.sh has run): calls/s with N calls in flight against the
-- server that answers after 20 ms, each row against raw libcurl multi in C from the same run.
-- Returns function(need, row, has) -> how many of the rows' targets were missed.
local GOAL = { [64] = 0.95, [256] = 0.90 }

return function(need, row, has)
  local missed = 0
  for _, n in ipairs { 64, 256 } do
    if has("lat_multi" .. n .. "_calls_per_s") then
      local ref = need("lat_multi" .. n .. "_calls_per_s")
      local goal = GOAL[n]
      row(("20 ms server, %d in flight: raw libcurl C multi (ideal %d)"):format(n, n * 50), ref, "calls/s",
        n * 50, "ideal", "rate")
      local function koodrive_row(name, key)
        local v = need(key)
        local ok = v / ref >= goal
        if not ok then missed = missed + 1 end
        row("  " .. name, v, "calls/s", ref, "raw C multi", "rate", ("≥ %.2f× raw C multi"):format(goal), ok)
      end
      for _, v in ipairs { "5.4", "luajit" } do
        local lua = v == "luajit" and "LuaJIT" or "Lua " .. v
        koodrive_row("koodrive.loop(), " .. lua, v .. "_lat_loop" .. n)
        koodrive_row("koodrive.hosts.luv (luv), " .. lua, v .. "_lat_luv" .. n)
      end
      koodrive_row("OpenResty handler, light threads on cosockets", "lat_ngx" .. n)
    end
  end
  return missed
end
