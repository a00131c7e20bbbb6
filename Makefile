# koodrive-lua: `make test` and `make demo` install what is missing, build, and run.
# Each interpreter gets its own build directory (a module built for another Lua version
# fails to load): build/5.4, build/5.3, build/5.2, build/5.1, build/luajit.

LUA_VERSION ?= 5.4
# interpreter command and pkg-config name of a version: 5.4 -> lua5.4, luajit -> luajit
lua_cmd   = $(if $(filter luajit,$(1)),luajit,lua$(1))
LUA       ?= $(call lua_cmd,$(LUA_VERSION))
BUILD     := build/$(LUA_VERSION)
CORE      := $(BUILD)/koodrive/core.so

# The interpreters `make test` runs the whole suite on, in this order: INTERPRETERS="5.4 luajit".
INTERPRETERS ?= 5.4 5.3 5.2 5.1 luajit

# Debian packages the build, the specs and the demo need: every interpreter with its headers
# (LuaJIT from luajit2, OpenResty's branch; the local service always runs on lua5.4).
LUA_DEPS := lua5.1 liblua5.1-0-dev lua5.2 liblua5.2-dev lua5.3 liblua5.3-dev lua5.4 liblua5.4-dev \
            luajit2 libluajit2-5.1-dev
DEPS := $(LUA_DEPS) libcurl4-openssl-dev libssl-dev pkg-config \
        lua-cjson lua-busted lua-socket lua-luaossl luarocks nginx libnginx-mod-http-lua \
        lua-resty-core openssl

PKGS      = libcurl libcrypto
CFLAGS   ?= -O2 -g
KD_CFLAGS = $(CFLAGS) -std=c99 -D_POSIX_C_SOURCE=200809L -fPIC -fvisibility=hidden \
            -Wall -Wextra -Wshadow -Wstrict-prototypes
KD_LDFLAGS = $(LDFLAGS) -shared -Wl,-z,nodelete
KD_LIBS    = $(shell pkg-config --libs libcurl libcrypto)

SRCS := $(wildcard src/*.c)
HDRS := $(wildcard src/*.h)

export LUA_PATH  := lua/?.lua;lua/?/init.lua;spec/?.lua;server/?.lua;;
export LUA_CPATH := $(BUILD)/?.so;;

BUSTED = $(LUA) /usr/bin/busted --output=spec/support/summary.lua

.PHONY: all build deps test demo clean lint-rock

all: build

build: $(CORE)

build/%/koodrive/core.so: $(SRCS) $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(KD_CFLAGS) $(shell pkg-config --cflags $(call lua_cmd,$*) $(PKGS)) -o $@ $(SRCS) \
	  $(KD_LDFLAGS) $(KD_LIBS)

# Idempotent: installs only the packages dpkg does not report as installed.
deps:
	@missing=""; for p in $(DEPS); do \
	  st=$$(dpkg-query -W -f='$${db:Status-Status}' $$p 2>/dev/null); \
	  [ "$$st" = installed ] || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  echo "installing:$$missing"; \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y --no-install-recommends $$missing; \
	else echo "deps: all installed"; fi

# Builds one module per interpreter, lints the rockspec once, then runs every spec on each
# interpreter (spec/support/run_all.sh): one line per interpreter, then the closing
# "N passed, N failed, N skipped". Any failure fails the run, after all interpreters ran.
test: deps
	@$(MAKE) --no-print-directory $(foreach v,$(sort $(INTERPRETERS) luajit),build/$(v)/koodrive/core.so)
	luarocks --lua-version $(LUA_VERSION) lint koodrive-scm-1.rockspec
	@sh spec/support/run_all.sh $(INTERPRETERS)

demo: deps
	@$(MAKE) --no-print-directory build
	$(LUA) examples/demo.lua

lint-rock: deps
	luarocks --lua-version $(LUA_VERSION) lint koodrive-scm-1.rockspec

clean:
	rm -rf build
