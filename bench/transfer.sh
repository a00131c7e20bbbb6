#!/bin/sh
# bench/transfer.sh RESULTS - the transfer rows of `make bench` (issue 13), called by bench/run.sh:
# bench/transfer.lua starts the local service (Debian's nginx + server/koodrive_local) and
# measures files:upload / files:download / the hashing pass against curl -T, curl -o and
# sha256sum on that same nginx, appending "key value" lines to RESULTS. The files it makes
# (BENCH_TRANSFER_MIB, BENCH_RATE_MIB, BENCH_RSS_MIB: up to 3x the biggest on disk with the
# store's and the download's copies) live in a temp dir under ${TMPDIR:-/tmp}, removed after.
set -eu
cd "$(dirname "$0")/.."
RESULTS=$1
command -v curl >/dev/null 2>&1 || { echo "bench: transfer rows need curl" >&2; exit 1; }
[ -x /usr/sbin/nginx ] || { echo "bench: transfer rows need Debian's nginx (+ libnginx-mod-http-lua)" >&2; exit 1; }
XFER=$(mktemp -d "${TMPDIR:-/tmp}/koodrive-bench-xfer.XXXXXX")
trap 'rm -rf "$XFER"' EXIT INT TERM
LUA_PATH="lua/?.lua;lua/?/init.lua;server/?.lua;;" LUA_CPATH="build/5.4/?.so;;" \
  lua5.4 bench/transfer.lua run "$XFER" > "$XFER/out.txt"
tr '\t' ' ' < "$XFER/out.txt" >> "$RESULTS"
