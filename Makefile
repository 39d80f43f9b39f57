# basiq for Lua. `make demo` and `make test` install everything they need.
LUA      ?= lua5.4
SPEC_DIR ?= $(or $(BASIQ_SPEC_DIR),../shared/basiq-openapi)

ifeq ($(LUA),luajit)
  LUA_INC ?= /usr/include/luajit-2.1
else
  LUA_INC ?= /usr/include/lua5.4
endif

BUILD   := build/$(LUA)
CORE    := $(BUILD)/basiq/core.so
SRC     := $(wildcard src/*.c)
HDR     := $(wildcard src/*.h)
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu99 -fPIC -Wall -Wextra -Werror -I$(LUA_INC)
LDLIBS  := -lcurl -lcrypto

export LUA_PATH_5_4  := $(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;;
export LUA_CPATH_5_4 := $(CURDIR)/$(BUILD)/?.so;;
export BASIQ_SPEC_DIR := $(abspath $(SPEC_DIR))

.PHONY: all deps build ops test demo bench clean

all: build

deps:
	@tools/deps.sh

build: $(CORE)

$(CORE): $(SRC) $(HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -shared -o $@ $(SRC) $(LDFLAGS) $(LDLIBS)

# Regenerates the operation tables and the README's table of operations.
ops:
	lua5.4 tools/genops.lua $(SPEC_DIR) lua/basiq/ops README.md

# The suite on Lua 5.4, then again on LuaJIT (OpenResty's runtime).
test: deps
	$(MAKE) --no-print-directory build
	$(MAKE) --no-print-directory LUA=luajit build
	@status=0; lua5.4 /usr/bin/busted || status=1; \
	  lua5.4 /usr/bin/busted --run=luajit || status=1; exit $$status

demo: deps build
	@LUA_PATH_5_4="$(CURDIR)/spec/?.lua;$$LUA_PATH_5_4" lua5.4 tools/demo.lua

# Performance beside raw libcurl and the JavaScript SDK core (not part of test).
bench: deps build
	$(MAKE) --no-print-directory LUA=luajit build
	$(CC) -O2 -Wall -Wextra -Werror -o build/rawcurl bench/rawcurl.c -lcurl
	@[ bench/package-lock.json -ot bench/node_modules/.stamp ] 2>/dev/null || \
	  { npm ci --prefix bench --no-audit --no-fund --loglevel=error && touch bench/node_modules/.stamp; }
	lua5.4 bench/run.lua

clean:
	rm -rf build bench/.work
