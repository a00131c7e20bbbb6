#!/bin/sh
# bench/run.sh - `make bench`: builds the C baselines, starts Debian's nginx on a free
# 127.0.0.1 port answering the recorded devices:list body (keep-alive on), measures every row
# in this one run, stops nginx, prints one table (bench/report.lua) and writes it as Markdown
# to build/bench/results.md. Exit 0 even when a target is MISSED; non-zero when a measurement
# could not run. Knobs: BENCH_SECONDS (per throughput row, default 3), BENCH_CURL_CALLS (200).
# The transfer rows (bench/transfer.sh, on the local service's own nginx, after this one has
# stopped): BENCH_TRANSFER=0 skips them; sizes BENCH_TRANSFER_MIB (1024), BENCH_RATE_MIB (256),
# BENCH_RSS_MIB ("256 4096"), BENCH_TRANSFER_ROUNDS (3); they need ~3x the biggest size on disk.
# The 20 ms server rows (bench/latency.sh, after this nginx has stopped): BENCH_LATENCY=0 skips
# them; BENCH_LATENCY_SECONDS (per row, 2), BENCH_LATENCY_N ("64 256").
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=build/bench
SECS=${BENCH_SECONDS:-3}
CURL_CALLS=${BENCH_CURL_CALLS:-200}
mkdir -p "$OUT"
RESULTS=$OUT/results.txt
: > "$RESULTS"
LP="lua/?.lua;lua/?/init.lua;;"
export LUA_PATH="$LP"

note() { printf '%s\n' "bench: $*" >&2; }
fail() { note "FAILED: $*"; exit 1; }

# ---------------------------------------------------------------- build
for v in 5.4 luajit; do
  make --no-print-directory -s "build/$v/koodrive/core.so" >&2 || fail "building the module for $v"
done
cc -O2 -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -o "$OUT/raw_curl" bench/raw_curl.c \
  $(pkg-config --cflags --libs libcurl) || fail "building bench/raw_curl.c"
cc -O2 -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -o "$OUT/raw_multi" bench/raw_multi.c \
  $(pkg-config --cflags --libs libcurl) || fail "building bench/raw_multi.c"
cc -O2 -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -o "$OUT/sign_openssl" bench/sign_openssl.c \
  $(pkg-config --cflags --libs libcrypto) || fail "building bench/sign_openssl.c"
cc -O2 -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -o "$OUT/dlopen" bench/dlopen.c -ldl \
  || fail "building bench/dlopen.c"

# The three implementations must agree before their speed is compared.
a=$(LUA_CPATH="build/5.4/?.so;;" lua5.4 bench/sign.lua 1 --check)
b=$("$OUT/sign_openssl" 1 --check)
c=$(python3 bench/sign.py --check)
[ "$a" = "$b" ] && [ "$a" = "$c" ] || fail "core.sign, the C loop and Python disagree on a signature"

# ---------------------------------------------------------------- nginx
TMP=$(mktemp -d /tmp/koodrive-bench.XXXXXX)
NGINX_PID=""
cleanup() {
  if [ -n "$NGINX_PID" ] && kill -0 "$NGINX_PID" 2>/dev/null; then
    kill -QUIT "$NGINX_PID" 2>/dev/null || true
    i=0; while kill -0 "$NGINX_PID" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

BODY=$(lua5.4 -e '
  local cjson = require "cjson"
  local f = assert(io.open("spec/fixtures/recorded/devices-list.json")); local t = cjson.decode(f:read("*a")); f:close()
  local body = cjson.encode(t.interactions[1].response.body)
  assert(not body:find("[\\\x27]"), "body needs quoting")
  io.write(body)') || fail "reading the recorded body"
PORT=$(lua5.4 -e 'local s = assert(require("socket").bind("127.0.0.1", 0)); local _, p = s:getsockname(); s:close(); print(p)') \
  || fail "finding a free port"
mkdir -p "$TMP/conf" "$TMP/logs"
cat > "$TMP/conf/nginx.conf" <<NGX
daemon off;
master_process on;
worker_processes 1;
pid $TMP/nginx.pid;
error_log $TMP/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  client_body_temp_path $TMP/body;
  proxy_temp_path $TMP/proxy;
  fastcgi_temp_path $TMP/fastcgi;
  uwsgi_temp_path $TMP/uwsgi;
  scgi_temp_path $TMP/scgi;
  server {
    listen 127.0.0.1:$PORT;
    location = /koodrive/ose/v1/backup/device {
      default_type application/json;
      return 200 '$BODY';
    }
  }
}
NGX
nginx -p "$TMP" -e "$TMP/logs/error.log" -c "$TMP/conf/nginx.conf" &
NGINX_PID=$!
URL="http://127.0.0.1:$PORT/koodrive/ose/v1/backup/device"
i=0
until curl -s -o /dev/null "$URL"; do
  i=$((i + 1)); [ $i -lt 50 ] || fail "nginx did not start ($(cat "$TMP/logs/error.log"))"
  sleep 0.1
done
note "nginx $NGINX_PID on 127.0.0.1:$PORT; ${SECS}s per throughput row"

run_lua() { # interpreter version, then the script and its arguments
  v=$1; shift
  cmd=lua$v; [ "$v" = luajit ] && cmd=luajit
  LUA_CPATH="build/$v/?.so;;" "$cmd" "$@"
}
record() { # prefix, then "key value" lines on stdin
  while read -r k val; do printf '%s%s %s\n' "$1" "$k" "$val" >> "$RESULTS"; done
}
measure() { # prefix, description, then the command printing "key value" lines
  p=$1; d=$2; shift 2
  note "$d"
  out=$("$@") || fail "$d"
  [ -n "$out" ] || fail "$d (no output)"
  printf '%s\n' "$out" | record "$p"
}

# ---------------------------------------------------------------- throughput
if command -v wrk >/dev/null 2>&1; then # server capacity, for reference (optional)
  for n in 1 16; do
    note "wrk, $n connection(s)"
    rps=$(wrk -t1 -c$n -d"${SECS}s" "$URL" | awk '/Requests\/sec/ { print $2 }') || fail "wrk"
    echo "wrk$n $rps" | record ""
  done
fi
# Sequential rows are interleaved over ROUNDS rounds and the best of each is kept, so that
# drift on a shared machine hits the koodrive rows and their raw-C reference alike.
ROUNDS=${BENCH_ROUNDS:-3}
r=0
while [ $r -lt "$ROUNDS" ]; do
  r=$((r + 1))
  measure round${r}_c_ "raw libcurl loop (round $r)" "$OUT/raw_curl" "$URL" "$SECS" "127.0.0.1:$PORT"
  for v in 5.4 luajit; do
    measure "round${r}_${v}_" "koodrive sequential ($v, round $r)" run_lua $v bench/calls.lua seq "$PORT" "$SECS"
  done
done
for k in c_calls_per_s 5.4_seq luajit_seq; do
  echo "$k $(awk -v k="$k" '$1 ~ "^round[0-9]+_" k "$" { if ($2 > m) m = $2 } END { print m }' "$RESULTS")" | record ""
done
measure 5.4_ "LuaSocket + cjson (5.4)" run_lua 5.4 bench/calls.lua luasocket "$PORT" "$SECS"
note "curl command x $CURL_CALLS"
t0=$(date +%s.%N)
n=0
while [ $n -lt "$CURL_CALLS" ]; do
  curl -sf -o /dev/null "$URL" -H "Authorization: Bearer bench-token" \
    -H "X-User-Id: 1505084218764547200" -H "X-Date: 20251217T061900Z" \
    -H "Accept: application/json" -H "User-Agent: koodrive-lua/bench (curl)" || fail "curl command"
  n=$((n + 1))
done
t1=$(date +%s.%N)
echo "curl_cmd $(echo "$CURL_CALLS $t0 $t1" | awk '{ printf "%.1f", $1 / ($3 - $2) }')" | record ""
for n in 16 64; do
  measure "" "raw libcurl multi, $n in flight" "$OUT/raw_multi" "$URL" "$SECS" "127.0.0.1:$PORT" $n
done
for v in 5.4 luajit; do
  for n in 16 64; do
    measure "${v}_" "koodrive.loop $n in flight ($v)" run_lua $v bench/calls.lua loop "$PORT" "$SECS" $n
  done
done

# ---------------------------------------------------------------- memory
measure 5.4_ "memory: 100k calls on one client (5.4)" run_lua 5.4 bench/calls.lua memory "$PORT"

# ---------------------------------------------------------------- signing
for v in 5.4 luajit; do
  measure "${v}_" "signing: core.sign ($v)" run_lua $v bench/sign.lua 200000
done
measure c_sign_ "signing: C loop on OpenSSL" "$OUT/sign_openssl" 200000
measure py_sign_ "signing: Python hashlib/hmac" python3 bench/sign.py 20000

# ---------------------------------------------------------------- require
# The smallest of five runs of a command printing milliseconds (each run a fresh process).
best_of_5() {
  best=""
  for _ in 1 2 3 4 5; do
    ms=$("$@") || return 1
    best=$(echo "$best $ms" | awk '{ m = $1; for (i = 2; i <= NF; i++) if ($i < m) m = $i; print m }')
  done
  echo "$best"
}
# Milliseconds for the Lua code given, from just before it to just after it, in a fresh $1.
load_ms() {
  run_lua "$1" -e "
    local socket = require 'socket'
    local t0 = socket.gettime()
    $2
    io.write(string.format('%.3f', (socket.gettime() - t0) * 1000))"
}
note "require time (best of 5 fresh processes)"
for v in 5.4 luajit; do
  best=$(best_of_5 load_ms $v 'require "koodrive"') || fail "require on $v"
  echo "require_ms $best" | record "${v}_"
  # What the first signed call over libcurl adds: koodrive.sign (libcrypto) and koodrive.curl.
  best=$(best_of_5 load_ms $v 'require "koodrive"; require "koodrive.sign"
    require("koodrive.transport").curl():close()') || fail "full load on $v"
  echo "full_load_ms $best" | record "${v}_"
done
dlopen_ms() { "$OUT/dlopen" | awk '{ print $2 }'; }
best=$(best_of_5 dlopen_ms) || fail "dlopen floor"
echo "dlopen_ms $best" | record ""

cleanup
trap - EXIT INT TERM

# ---------------------------------------------------------------- latency-bound
if [ "${BENCH_LATENCY:-1}" != 0 ]; then
  note "20 ms server rows (bench/latency.sh)"
  sh bench/latency.sh "$RESULTS" || fail "the 20 ms server rows"
fi

# ---------------------------------------------------------------- transfers
if [ "${BENCH_TRANSFER:-1}" != 0 ]; then
  note "transfer rows (bench/transfer.sh)"
  sh bench/transfer.sh "$RESULTS" || fail "the transfer rows"
fi
lua5.4 bench/report.lua "$RESULTS" "$OUT/results.md"
