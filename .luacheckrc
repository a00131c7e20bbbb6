-- luacheck configuration for koodrive-lua.
-- Run: make lint (luacheck lua bin spec server bench fuzz)
std = "max"
max_line_length = 120
exclude_files = { "build/**", "docs/**" }

-- Library and command: any Lua version; OpenResty's `ngx` may be read, never assigned.
files["lua"] = { std = "max", read_globals = { "ngx" } }
files["bin"] = { std = "max", read_globals = { "ngx" } }

-- busted specs: they embed recorded JSON bodies and header tables verbatim, up to 140 columns.
files["spec"] = { std = "max+busted", read_globals = { "ngx" }, max_line_length = 140 }

-- Local service and bench scripts.
files["server"] = { std = "max" }
files["bench"] = { std = "max" }

-- libFuzzer targets (Lua 5.4, run by fuzz/harness.c, which provides the `kd_fuzz` table).
files["fuzz"] = { std = "lua54", read_globals = { "kd_fuzz" } }
