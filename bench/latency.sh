#!/bin/sh
# bench/latency.sh RESULTS - the rows where latency, not CPU, is the limit (issue 14), run by
# bench/run.sh after its own nginx has stopped. Starts Debian's nginx + libnginx-mod-http-lua
# (one worker) answering the recorded devices:list body after ngx.sleep(0.02) on every call,
# and a second nginx (one worker) whose /run handler is the OpenResty client
# (bench/latency_ngx.lua). For N = 64 and 256 calls kept in flight (ideal N / 20 ms: 3,200 and
# 12,800 calls/s) it measures, in this one run: raw libcurl multi in C (bench/raw_multi.c, the
# reference), koodrive.loop and koodrive.hosts.luv on Lua 5.4 and LuaJIT (bench/latency.lua),
# and the OpenResty handler; appends "key value" lines to RESULTS; stops both nginx by pid.
# Knobs: BENCH_LATENCY_SECONDS (per row, default 2), BENCH_LATENCY_N ("64 256").
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RESULTS=$1
OUT=build/bench
SECS=${BENCH_LATENCY_SECONDS:-2}
NS=${BENCH_LATENCY_N:-"64 256"}
MODULES=/usr/lib/nginx/modules
note() { printf '%s\n' "bench: $*" >&2; }
fail() { note "FAILED: $*"; exit 1; }
[ -f "$MODULES/ngx_http_lua_module.so" ] || fail "$MODULES/ngx_http_lua_module.so is missing (libnginx-mod-http-lua)"
mkdir -p "$OUT"
[ -x "$OUT/raw_multi" ] || cc -O2 -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -o "$OUT/raw_multi" \
  bench/raw_multi.c $(pkg-config --cflags --libs libcurl) || fail "building bench/raw_multi.c"
for v in 5.4 luajit; do
  make --no-print-directory -s "build/$v/koodrive/core.so" >&2 || fail "building the module for $v"
done

TMP=$(mktemp -d /tmp/koodrive-latency.XXXXXX)
PIDS=""
stop() {
  for p in $PIDS; do
    kill -QUIT "$p" 2>/dev/null || true
    i=0; while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  done
  rm -rf "$TMP"
}
trap stop EXIT INT TERM

free_port() {
  lua5.4 -e 'local s = assert(require("socket").bind("127.0.0.1", 0)); local _, p = s:getsockname(); s:close(); print(p)'
}
# The recorded body, as a Lua long string in the handler (it holds no "]==]").
lua5.4 -e '
  local cjson = require "cjson"
  local f = assert(io.open("spec/fixtures/recorded/devices-list.json")); local t = cjson.decode(f:read("*a")); f:close()
  local body = cjson.encode(t.interactions[1].response.body)
  assert(not body:find("]==]", 1, true))
  io.write("local body = [==[", body, "]==]\n",
    "return function()\n  ngx.sleep(0.02)\n  ngx.header.content_type = \"application/json\"\n",
    "  ngx.print(body)\nend\n")' > "$TMP/delay.lua" || fail "writing the 20 ms handler"

USER_LINE=""; [ "$(id -u)" = 0 ] && USER_LINE="user root;"
# nginx.conf for prefix $1 listening on port $2 with the server block's locations $3.
start_nginx() {
  mkdir -p "$1/conf" "$1/logs"
  cat > "$1/conf/nginx.conf" <<NGX
load_module $MODULES/ndk_http_module.so;
load_module $MODULES/ngx_http_lua_module.so;
$USER_LINE
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 8192;
pid $1/nginx.pid;
error_log $1/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  lua_package_path "$ROOT/lua/?.lua;$ROOT/lua/?/init.lua;$ROOT/bench/?.lua;$TMP/?.lua;;";
  lua_package_cpath "$ROOT/build/luajit/?.so;;";
  client_body_temp_path $1/body;
  proxy_temp_path $1/proxy;
  fastcgi_temp_path $1/fastcgi;
  uwsgi_temp_path $1/uwsgi;
  scgi_temp_path $1/scgi;
  server {
    listen 127.0.0.1:$2;
    $3
  }
}
NGX
  nginx -p "$1" -e "$1/logs/error.log" -c "$1/conf/nginx.conf" &
  PIDS="$PIDS $!"
  i=0
  until curl -s -o /dev/null "http://127.0.0.1:$2/"; do
    i=$((i + 1)); [ $i -lt 50 ] || fail "nginx did not start ($(cat "$1/logs/error.log"))"
    sleep 0.1
  done
}

PORT=$(free_port) || fail "finding a free port"
start_nginx "$TMP/delay" "$PORT" 'location = /koodrive/ose/v1/backup/device { content_by_lua_block { require("delay")() } }'
CPORT=$(free_port) || fail "finding a free port"
start_nginx "$TMP/client" "$CPORT" 'location = /run { content_by_lua_block { require("latency_ngx")() } }'
URL="http://127.0.0.1:$PORT/koodrive/ose/v1/backup/device"
curl -sf -o /dev/null "$URL" || fail "the 20 ms server does not answer"
note "20 ms server on 127.0.0.1:$PORT, OpenResty client on $CPORT; ${SECS}s per row"

run_lua() { # interpreter version, then the script and its arguments
  v=$1; shift
  cmd=lua$v; [ "$v" = luajit ] && cmd=luajit
  LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="build/$v/?.so;;" "$cmd" "$@"
}
measure() { # prefix, description, then the command printing one "key value" line
  p=$1; d=$2; shift 2
  note "$d"
  out=$("$@") || fail "$d"
  [ -n "$out" ] || fail "$d (no output)"
  printf '%s\n' "$out" | while read -r k val; do printf '%s%s %s\n' "$p" "$k" "$val" >> "$RESULTS"; done
}
openresty() { # N: the OpenResty handler's own answer
  curl -sf -m 120 "http://127.0.0.1:$CPORT/run?port=$PORT&n=$1&seconds=$SECS" \
    || { cat "$TMP/client/logs/error.log" >&2; return 1; }
}

for n in $NS; do
  measure lat_ "20 ms server: raw libcurl multi, $n in flight" "$OUT/raw_multi" "$URL" "$SECS" "127.0.0.1:$PORT" "$n"
  for v in 5.4 luajit; do
    measure "${v}_" "20 ms server: koodrive.loop, $n in flight ($v)" run_lua $v bench/latency.lua loop "$PORT" "$SECS" "$n"
    measure "${v}_" "20 ms server: koodrive.hosts.luv, $n in flight ($v)" run_lua $v bench/latency.lua luv "$PORT" "$SECS" "$n"
  done
  measure "" "20 ms server: OpenResty handler, $n light threads" openresty "$n"
done
