# koodrive-lua: `make test` and `make demo` install what is missing, build, and run.
# Each interpreter gets its own build directory (a module built for another Lua version
# fails to load): build/5.4, build/5.3, build/5.2, build/5.1, build/luajit.

LUA_VERSION ?= 5.4
# interpreter command and pkg-config name of a version: 5.4 -> lua5.4, luajit -> luajit
lua_cmd   = $(if $(filter luajit,$(1)),luajit,lua$(1))
LUA       ?= $(call lua_cmd,$(LUA_VERSION))
BUILD     := build/$(LUA_VERSION)
CORE      := $(BUILD)/koodrive/core.so $(BUILD)/koodrive/sign.so $(BUILD)/koodrive/curl.so

# The interpreters `make test` runs the whole suite on, in this order: INTERPRETERS="5.4 luajit".
INTERPRETERS ?= 5.4 5.3 5.2 5.1 luajit

# Debian packages the build, the specs and the demo need: every interpreter with its headers
# (LuaJIT from luajit2, OpenResty's branch; the local service runs inside nginx, on its LuaJIT).
LUA_DEPS := lua5.1 liblua5.1-0-dev lua5.2 liblua5.2-dev lua5.3 liblua5.3-dev lua5.4 liblua5.4-dev \
            luajit2 libluajit2-5.1-dev
DEPS := $(LUA_DEPS) libcurl4-openssl-dev libssl-dev pkg-config \
        lua-cjson lua-argparse lua-busted lua-socket lua-luaossl luarocks nginx libnginx-mod-http-lua \
        lua-resty-core openssl lua-luv lua-cqueues lua-http \
        haproxy curl love xvfb xauth neovim
# `make lint` and `make docs` only.
TOOL_DEPS := lua-check clang-format lua-ldoc lua-markdown

PKGS      = libcurl libcrypto
CFLAGS   ?= -O2 -g
KD_CFLAGS = $(CFLAGS) -std=c99 -D_POSIX_C_SOURCE=200809L -fPIC -fvisibility=hidden \
            -Wall -Wextra -Wshadow -Wstrict-prototypes
KD_LDFLAGS = $(LDFLAGS) -shared -Wl,-z,nodelete
# sign.so and curl.so do their process-wide initialisation under pthread_once (several
# lua_States may load them on several threads at once): they compile and link with -pthread.
KD_PTHREAD = -pthread

SRCS := $(wildcard src/*.c)
HDRS := $(wildcard src/*.h)
# Three C modules, so that `require "koodrive"` loads no library (see src/core.c):
#   koodrive.core  URL encoders, JSON helpers, clocks       (no library)
#   koodrive.sign  signing, with the encoders               (libcrypto)
#   koodrive.curl  blocking and multi HTTP handles          (libcurl)
CORE_SRCS := src/core.c src/clock.c src/json.c src/json_decode.c src/json_scalar.c src/encode.c src/random.c \
             src/files.c src/memory.c
SIGN_SRCS := src/sign.c src/sign_ctx.c src/sign_req.c src/encode.c src/hash_parts.c src/hash_follow.c
CURL_SRCS := src/curl_core.c src/http.c src/multi.c src/multi_events.c src/transfer.c src/transfer_result.c src/handle.c src/headers.c \
             src/parts.c src/parts_io.c src/parts_table.c

export LUA_PATH  := lua/?.lua;lua/?/init.lua;spec/?.lua;server/?.lua;;
export LUA_CPATH := $(BUILD)/?.so;;

BUSTED = $(LUA) /usr/bin/busted --output=spec/support/summary.lua

.PHONY: all build deps tool-deps test demo clean lint lint-rock docs gen bench

all: build

build: $(CORE)

# core.so lists the other two so that making build/V/koodrive/core.so (as the targets below
# and the scripts do) always makes all three modules.
build/%/koodrive/core.so: $(CORE_SRCS) $(HDRS) build/%/koodrive/sign.so build/%/koodrive/curl.so
	@mkdir -p $(dir $@)
	$(CC) $(KD_CFLAGS) $(shell pkg-config --cflags $(call lua_cmd,$*)) -o $@ $(CORE_SRCS) $(KD_LDFLAGS)

# Made through core.so's rule, so make would count them as intermediate and delete them.
.PRECIOUS: build/%/koodrive/sign.so build/%/koodrive/curl.so

build/%/koodrive/sign.so: $(SIGN_SRCS) $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(KD_CFLAGS) $(KD_PTHREAD) $(shell pkg-config --cflags $(call lua_cmd,$*) libcrypto) \
	  -o $@ $(SIGN_SRCS) $(KD_LDFLAGS) $(shell pkg-config --libs libcrypto)

build/%/koodrive/curl.so: $(CURL_SRCS) $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(KD_CFLAGS) $(KD_PTHREAD) $(shell pkg-config --cflags $(call lua_cmd,$*) libcurl) \
	  -o $@ $(CURL_SRCS) $(KD_LDFLAGS) $(shell pkg-config --libs libcurl)

# Idempotent: installs only the packages of $(1) that dpkg does not report as installed.
define install_missing
	@missing=""; for p in $(1); do \
	  st=$$(dpkg-query -W -f='$${db:Status-Status}' $$p 2>/dev/null); \
	  [ "$$st" = installed ] || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  echo "installing:$$missing"; \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y --no-install-recommends $$missing; \
	else echo "$(2): all installed"; fi
endef

deps:
	$(call install_missing,$(DEPS),deps)

# Builds one module per interpreter, lints the rockspec once, then runs every spec on each
# interpreter (spec/support/run_all.sh): one line per interpreter, then the closing
# "N passed, N failed, N skipped". Any failure fails the run, after all interpreters ran.
test: deps tool-deps
	@$(MAKE) --no-print-directory $(foreach v,$(sort $(INTERPRETERS) luajit),build/$(v)/koodrive/core.so)
	luarocks --lua-version $(LUA_VERSION) lint koodrive-scm-1.rockspec
	@sh spec/support/run_all.sh $(INTERPRETERS)

demo: deps
	@$(MAKE) --no-print-directory build
	$(LUA) examples/demo.lua

lint-rock: deps
	luarocks --lua-version $(LUA_VERSION) lint koodrive-scm-1.rockspec

tool-deps:
	$(call install_missing,$(TOOL_DEPS),tool-deps)

# Every C file must already be as .clang-format writes it (fix: clang-format -i FILE).
C_FILES := $(SRCS) $(HDRS) $(wildcard fuzz/*.c spec/support/*.c bench/*.c bench/*.h)
lint: tool-deps
	luacheck --no-color lua bin spec server bench fuzz tools
	clang-format --dry-run --Werror $(C_FILES)
	@echo "lint: clean"

# The HTML reference (config.ld) into docs/api/, which is not committed.
docs: tool-deps
	lua5.1 /usr/bin/ldoc .

# The option tables of meta.lua, init.lua (LDoc) and OPTIONS.md from lua/koodrive/options.lua
# (spec/docs_spec.lua checks they are current).
gen: build
	lua5.4 tools/gen_docs.lua

# A program, not a test: prints the table of BENCHMARKS.md (bench/run.sh says how).
bench: deps
	sh bench/run.sh

clean:
	rm -rf build

# ------------------------------------------------------------------------------------------------
# Hard to break: the spec suite under sanitizers and under valgrind, and libFuzzer targets.
#
#   make check-asan        C core with AddressSanitizer + UndefinedBehaviorSanitizer (gcc), in
#                          build/asan-5.4/, and the whole suite on Lua 5.4 with it
#   make check-valgrind    the normal build/5.4 module (-O2 -g), whole suite on lua5.4 under valgrind
#   make fuzz              each libFuzzer target (clang 14) for FUZZ_TIME seconds (default 60)
#   make check-tsan        the C core with ThreadSanitizer (clang 14), in build/tsan/: four
#                          lua_States on four threads signing at once (spec/support/threads_harness.c)
#
# Both checks set KOODRIVE_SPEC_SLOW (1 for ASan: x20, 50 for valgrind): spec/support/timing.lua
# then widens the upper wall-clock bounds of the timing specs; functional assertions are
# unchanged. spec/support/check_suite.sh runs the suite, fails on any failed spec, any sanitizer
# or valgrind report (also from child processes), a timeout or a missing summary, and prints
# "check-NAME: N passed, N failed, N skipped". Timings here (2 cores): check-asan ~1 min,
# check-valgrind ~2 min, make fuzz FUZZ_TIME=10 ~1 min with the build.

CHECK_DEPS := clang libclang-rt-14-dev valgrind
# Seconds before a whole check run is killed (a hung run fails instead of blocking CI).
CHECK_TIMEOUT ?= 1200

# -- ASan + UBSan. The runtime must be loaded before the instrumented module: instead of
# LD_PRELOAD (which every process the specs start - the local service, nginx, luarocks, cc -
# would inherit), the suite runs under build/asan-5.4/lua5.4 (spec/support/sanitized_lua.c), a
# lua5.4 command linked with the runtimes and liblua5.4. Leaks: LeakSanitizer is on and needs no
# suppressions - libcurl's, OpenSSL's and the interpreter's process-lifetime state stays
# reachable (the module is linked -z nodelete, busted closes the Lua state on exit), so anything
# reported is ours. Reports go to files (log_path), so that a report from a child process
# (examples_spec re-runs arg[-1], i.e. this command) cannot be swallowed by a spec.
SAN_CC     ?= gcc
SAN_FLAGS  := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
              -fno-omit-frame-pointer -g -O1
ASAN_DIR   := build/asan-5.4
ASAN_ENV    = ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1:log_path=$(CURDIR)/$(ASAN_DIR)/reports/asan \
              UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$(CURDIR)/$(ASAN_DIR)/reports/ubsan \
              KOODRIVE_SPEC_SLOW=1 LUA_CPATH='$(ASAN_DIR)/?.so;;'

# -- valgrind. Definite and indirect leaks are errors; "still reachable" (libcurl's, OpenSSL's
# and the interpreter's globals) is not. spec/support/valgrind.supp: third-party code only.
VALGRIND_DIR   := build/valgrind
VALGRIND_FLAGS := --leak-check=full --show-leak-kinds=definite,indirect \
                  --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
                  --suppressions=spec/support/valgrind.supp --num-callers=40 \
                  --child-silent-after-fork=yes \
                  --log-file=$(CURDIR)/$(VALGRIND_DIR)/reports/valgrind.%p.log
# x50 for the timing bounds: a poll step of the 50-call loop spec takes ~100 ms under valgrind.
VALGRIND_ENV    = KOODRIVE_SPEC_SLOW=50 LUA_CPATH='build/5.4/?.so;;'

# -- ThreadSanitizer. spec/support/threads_harness.c (built with -fsanitize=thread, so the runtime
# is in the program) runs four Lua 5.4 states on four threads, released together from a barrier
# so that their first require, module load and signature race, then TSAN_CALLS rounds of signed
# calls each against a local service that spec/support/threads.lua starts and stops. That script
# sets TSAN_OPTIONS (halt_on_error, exitcode=66, spec/support/tsan.supp: third-party code
# only); the first report fails the run. libcurl, libcrypto and liblua are not instrumented
# (TSan sees their locks, not their memory accesses): what it checks is our code and the
# process-wide state it shares between threads. ~5 s here with the build.
TSAN_CC    ?= clang-14
TSAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer -g -O1
TSAN_DIR   := build/tsan
TSAN_CALLS ?= 20

# -- libFuzzer. Targets are fuzz/<name>.lua, run by fuzz/harness.c in a Lua 5.4 state with the
# C sources linked in; seeds in fuzz/corpus/<name>/ (read only: new inputs go to build/fuzz/).
FUZZ_CC      ?= clang-14
FUZZ_TIME    ?= 60
FUZZ_DIR     := build/fuzz
FUZZ_TARGETS := encode sign headers json_quote json_encode
FUZZ_FLAGS   := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
                -fno-omit-frame-pointer -g -O1
FUZZ_CPPFLAGS = -std=c99 -D_POSIX_C_SOURCE=200809L -Isrc \
                $(shell pkg-config --cflags lua5.4 $(PKGS))
FUZZ_LIBS     = $(shell pkg-config --libs lua5.4 $(PKGS)) -pthread
FUZZ_OBJS     = $(patsubst src/%.c,$(FUZZ_DIR)/obj/%.o,$(SRCS))
# libFuzzer flags of every run; seconds per target come from FUZZ_TIME.
FUZZ_RUN_FLAGS ?= -timeout=10 -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1

.PHONY: check-deps check-asan check-valgrind check-tsan fuzz fuzz-build

check-deps:
	$(call install_missing,$(CHECK_DEPS),check-deps)

$(ASAN_DIR)/koodrive/core.so: $(CORE_SRCS) $(HDRS)
	@mkdir -p $(dir $@)
	$(SAN_CC) $(SAN_FLAGS) $(filter-out $(CFLAGS),$(KD_CFLAGS)) \
	  $(shell pkg-config --cflags lua5.4) -o $@ $(CORE_SRCS) $(SAN_FLAGS) $(KD_LDFLAGS)

$(ASAN_DIR)/koodrive/sign.so: $(SIGN_SRCS) $(HDRS)
	@mkdir -p $(dir $@)
	$(SAN_CC) $(SAN_FLAGS) $(filter-out $(CFLAGS),$(KD_CFLAGS)) $(KD_PTHREAD) \
	  $(shell pkg-config --cflags lua5.4 libcrypto) -o $@ $(SIGN_SRCS) $(SAN_FLAGS) $(KD_LDFLAGS) \
	  $(shell pkg-config --libs libcrypto)

$(ASAN_DIR)/koodrive/curl.so: $(CURL_SRCS) $(HDRS)
	@mkdir -p $(dir $@)
	$(SAN_CC) $(SAN_FLAGS) $(filter-out $(CFLAGS),$(KD_CFLAGS)) $(KD_PTHREAD) \
	  $(shell pkg-config --cflags lua5.4 libcurl) -o $@ $(CURL_SRCS) $(SAN_FLAGS) $(KD_LDFLAGS) \
	  $(shell pkg-config --libs libcurl)

$(ASAN_DIR)/lua5.4: spec/support/sanitized_lua.c
	@mkdir -p $(dir $@)
	$(SAN_CC) $(SAN_FLAGS) -Wall -Wextra $(shell pkg-config --cflags lua5.4) -o $@ $< \
	  $(shell pkg-config --libs lua5.4)

check-asan: deps check-deps
	@$(MAKE) --no-print-directory $(ASAN_DIR)/koodrive/core.so $(ASAN_DIR)/koodrive/sign.so \
	  $(ASAN_DIR)/koodrive/curl.so $(ASAN_DIR)/lua5.4 \
	  build/luajit/koodrive/core.so
	@$(ASAN_ENV) sh spec/support/check_suite.sh asan $(ASAN_DIR)/reports $(CHECK_TIMEOUT) \
	  $(ASAN_DIR)/lua5.4 /usr/bin/busted

check-valgrind: deps check-deps
	@$(MAKE) --no-print-directory build/5.4/koodrive/core.so build/luajit/koodrive/core.so
	@$(VALGRIND_ENV) sh spec/support/check_suite.sh valgrind $(VALGRIND_DIR)/reports \
	  $(CHECK_TIMEOUT) valgrind $(VALGRIND_FLAGS) lua5.4 /usr/bin/busted

$(TSAN_DIR)/koodrive/core.so: $(CORE_SRCS) $(HDRS)
	@mkdir -p $(dir $@)
	$(TSAN_CC) $(TSAN_FLAGS) $(filter-out $(CFLAGS),$(KD_CFLAGS)) \
	  $(shell pkg-config --cflags lua5.4) -o $@ $(CORE_SRCS) $(TSAN_FLAGS) $(KD_LDFLAGS)

$(TSAN_DIR)/koodrive/sign.so: $(SIGN_SRCS) $(HDRS)
	@mkdir -p $(dir $@)
	$(TSAN_CC) $(TSAN_FLAGS) $(filter-out $(CFLAGS),$(KD_CFLAGS)) $(KD_PTHREAD) \
	  $(shell pkg-config --cflags lua5.4 libcrypto) -o $@ $(SIGN_SRCS) $(TSAN_FLAGS) $(KD_LDFLAGS) \
	  $(shell pkg-config --libs libcrypto)

$(TSAN_DIR)/koodrive/curl.so: $(CURL_SRCS) $(HDRS)
	@mkdir -p $(dir $@)
	$(TSAN_CC) $(TSAN_FLAGS) $(filter-out $(CFLAGS),$(KD_CFLAGS)) $(KD_PTHREAD) \
	  $(shell pkg-config --cflags lua5.4 libcurl) -o $@ $(CURL_SRCS) $(TSAN_FLAGS) $(KD_LDFLAGS) \
	  $(shell pkg-config --libs libcurl)

$(TSAN_DIR)/threads_harness: spec/support/threads_harness.c
	@mkdir -p $(dir $@)
	$(TSAN_CC) $(TSAN_FLAGS) -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -pthread \
	  $(shell pkg-config --cflags lua5.4) -o $@ $< $(shell pkg-config --libs lua5.4)

# The harness is bounded inside (100 s); timeout here catches a hung service or start-up too.
check-tsan: deps check-deps
	@$(MAKE) --no-print-directory $(TSAN_DIR)/koodrive/core.so $(TSAN_DIR)/koodrive/sign.so \
	  $(TSAN_DIR)/koodrive/curl.so $(TSAN_DIR)/threads_harness
	@timeout --kill-after=10 115 lua5.4 spec/support/threads.lua \
	  $(TSAN_DIR)/threads_harness $(TSAN_DIR) $(TSAN_CALLS)

$(FUZZ_DIR)/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(FUZZ_CPPFLAGS) -c -o $@ $<

$(FUZZ_DIR)/fuzz_%: fuzz/harness.c fuzz/%.lua $(FUZZ_OBJS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(FUZZ_CPPFLAGS) -DKD_FUZZ_ROOT='"$(CURDIR)"' -DKD_FUZZ_TARGET='"$*"' \
	  -o $@ fuzz/harness.c $(FUZZ_OBJS) $(FUZZ_LIBS)

fuzz-build: $(foreach t,$(FUZZ_TARGETS),$(FUZZ_DIR)/fuzz_$(t))
.SECONDARY: $(FUZZ_OBJS)

# Each target runs FUZZ_TIME seconds from its seeds; its log goes to build/fuzz/<name>.log.
# A crash, leak or failed invariant fails the run, with the input saved as
# build/fuzz/crashes/<name>-crash-<sha1> (reproduce: build/fuzz/fuzz_<name> that-file).
fuzz: deps check-deps
	@$(MAKE) --no-print-directory fuzz-build
	@sh fuzz/run.sh "$(FUZZ_DIR)" "$(FUZZ_TIME)" "$(FUZZ_RUN_FLAGS)" $(FUZZ_TARGETS)
