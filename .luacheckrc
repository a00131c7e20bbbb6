-- luacheck configuration for koodrive-lua.
-- Run: luacheck lua bin spec server bench
std = "max"
max_line_length = 120
exclude_files = { "build/**", "docs/**", "fuzz/**" }

-- Library and command: any Lua version; OpenResty's `ngx` may be read, never assigned.
files["lua"] = { std = "max", read_globals = { "ngx" } }
files["bin"] = { std = "max", read_globals = { "ngx" } }

-- busted specs: they embed recorded JSON bodies and header tables verbatim, up to 140 columns.
files["spec"] = { std = "max+busted", read_globals = { "ngx" }, max_line_length = 140 }

-- Local service and bench scripts.
files["server"] = { std = "max" }
files["bench"] = { std = "max" }
