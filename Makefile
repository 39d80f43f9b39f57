# basiq for Lua. `make demo` and `make test` install everything they need.
SHELL := /bin/bash
LUA      ?= lua5.4
SPEC_DIR ?= $(or $(BASIQ_SPEC_DIR),../shared/basiq-openapi)

# each runtime's headers: /usr/include/lua5.x, or LuaJIT's
LUA_INC ?= /usr/include/$(if $(filter luajit,$(LUA)),luajit-2.1,$(LUA))
# the one place the version is written
VERSION := $(shell sed -n 's/^return "\(.*\)"$$/\1/p' lua/basiq/version.lua)

BUILD   := build/$(LUA)
CORE    := $(BUILD)/basiq/core.so
SRC     := $(wildcard src/*.c)
HDR     := $(wildcard src/*.h)
CFLAGS  ?= -O2 -g
WARN    := -std=gnu99 -fPIC -Wall -Wextra -Werror -DBASIQ_VERSION='"$(VERSION)"'
CFLAGS  += $(WARN) -I$(LUA_INC)
LDLIBS  := -lcurl -lcrypto -lhiredis -lhttp_parser -lz

export LUA_PATH_5_4  := $(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;;
export LUA_CPATH_5_4 := $(CURDIR)/$(BUILD)/?.so;;
export BASIQ_SPEC_DIR := $(abspath $(SPEC_DIR))

.PHONY: all deps build ops rockspec rock test demo bench lint memcheck asan fuzz clean

all: build

deps:
	@tools/deps.sh

build: $(CORE)

$(CORE): $(SRC) $(HDR) lua/basiq/version.lua
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -shared -o $@ $(SRC) $(LDFLAGS) $(LDLIBS)

# Regenerates the operation tables, their editor types (library/) and the
# README's table of operations, and the request bodies' schemas basiq mock checks.
ops:
	lua5.4 tools/genops.lua $(SPEC_DIR) lua/basiq/ops README.md library lua/basiq/mock/schemas.lua

# Writes both rockspecs from the version and the tree's files.
rockspec:
	lua5.4 tools/rockspec.lua

# A source rock of this version, packed offline: its sources go in a
# tarball that the packed rockspec names by a file:// URL (installing the
# rock unpacks that tarball from inside the rock; nothing is fetched).
ROCK_DIR := build/rock
ROCK     := $(ROCK_DIR)/basiq-$(VERSION)-1.src.rock
rock: $(ROCK)
$(ROCK): $(SRC) $(HDR) $(wildcard lua/basiq/*.lua lua/basiq/*/*.lua) rockspec/basiq-$(VERSION)-1.rockspec
	@rm -rf $(ROCK_DIR) && mkdir -p $(ROCK_DIR)
	find src lua README.md $(wildcard bin library) -type f | sort | \
	  tar -czf $(ROCK_DIR)/basiq-$(VERSION).tar.gz --transform 's,^,basiq-$(VERSION)/,' -T -
	sed 's,^  url = .*,  url = "file://$(CURDIR)/$(ROCK_DIR)/basiq-$(VERSION).tar.gz"\,,' \
	  rockspec/basiq-$(VERSION)-1.rockspec > $(ROCK_DIR)/basiq-$(VERSION)-1.rockspec
	cd $(ROCK_DIR) && luarocks pack basiq-$(VERSION)-1.rockspec
	@rm $(ROCK_DIR)/basiq-$(VERSION).tar.gz $(ROCK_DIR)/basiq-$(VERSION)-1.rockspec

# The suite on every runtime LuaRocks users run, each against its own
# build of the core: make test LUAS="5.4 luajit" runs a subset.
LUAS ?= 5.1 5.2 5.3 5.4 luajit
test: deps
	@for v in $(LUAS); do lua=lua$$v; [ $$v = luajit ] && lua=luajit; \
	  $(MAKE) --no-print-directory LUA=$$lua build || exit 1; done
	@status=0; for v in $(LUAS); do lua=lua$$v; [ $$v = luajit ] && lua=luajit; \
	  echo "== busted on $$lua"; lua5.4 /usr/bin/busted --run=$$lua || status=1; \
	done; exit $$status

demo: deps build
	@LUA_PATH_5_4="$(CURDIR)/spec/?.lua;$$LUA_PATH_5_4" lua5.4 tools/demo.lua

# Static checks: luacheck (.luacheckrc) and cppcheck.
lint: deps
	luacheck -q lua spec tools examples bench bin/basiq library
	cppcheck --quiet --enable=warning,portability,performance --error-exitcode=1 --std=c99 \
	  --suppress=missingIncludeSystem -I src src fuzz bench/rawcurl.c

# Specs that only drive nginx (whose LuaJIT runs the SDK, untraced) add time
# but no coverage of this process's C core under memcheck and asan; so do
# the nginx halves of the fault, retry, hostile and TLS specs (BASIQ_SPEC_NGINX=0).
OWN_PROCESS := --exclude-pattern=openresty_spec --exclude-pattern=nginx_stats_spec --exclude-pattern=webhook_fleet_spec

# The Lua 5.4 suite under valgrind memcheck: any error or definite leak fails.
# (--ignore-lua keeps busted in this process instead of re-executing itself.)
VALGRIND := valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
  --show-leak-kinds=definite --trace-children=no
memcheck: deps build
	BASIQ_SPEC_NGINX=0 $(VALGRIND) lua5.4 /usr/bin/busted --ignore-lua $(OWN_PROCESS)

# The core built with AddressSanitizer and UBSan, the suite run against it.
# The interpreter is not instrumented, so the runtime is preloaded; it then
# also checks leaks process-wide. Children inherit it (sed, luarocks...), so
# reports go to build/asan/log.<pid>, a leak alone never fails a child, and
# only the busted process's own report counts. The nginx specs are left out
# (above): nginx loads its own build of the core (and hangs with ASan preloaded).
ASAN_CORE := build/asan/basiq/core.so
asan: deps
	@mkdir -p $(dir $(ASAN_CORE)) && rm -f build/asan/log.*
	$(CC) -O1 -g $(WARN) -fsanitize=address,undefined -fno-omit-frame-pointer \
	  -fno-sanitize-recover=undefined -I$(LUA_INC) -shared -o $(ASAN_CORE) $(SRC) $(LDLIBS)
	@LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" \
	  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:log_path=$(CURDIR)/build/asan/log LSAN_OPTIONS=exitcode=0 \
	  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 LUA_CPATH_5_4="$(CURDIR)/build/asan/?.so;;" \
	  BASIQ_SPEC_NGINX=0 lua5.4 /usr/bin/busted --ignore-lua --cpath=build/asan/?.so $(OWN_PROCESS) & pid=$$!; wait $$pid; rc=$$?; \
	  if [ -e build/asan/log.$$pid ]; then cat build/asan/log.$$pid; echo "asan: the report above"; exit 1; fi; exit $$rc

# libFuzzer targets (fuzz/*_fuzz.c) with ASan and UBSan, FUZZ_TIME seconds each.
FUZZ_TIME ?= 10
FUZZERS := $(patsubst fuzz/%_fuzz.c,build/fuzz/%,$(wildcard fuzz/*_fuzz.c))
build/fuzz/%: fuzz/%_fuzz.c $(SRC) $(HDR)
	@mkdir -p build/fuzz
	clang -g -O1 -DBASIQ_VERSION='"$(VERSION)"' -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	  -I$(LUA_INC) -o $@ $< $(SRC) -l$(LUA) $(LDLIBS)
# Each target starts from a copy of its seeds (libFuzzer adds to its corpus);
# a crash leaves its input in build/fuzz/crash-* and fails after all have run.
fuzz: deps $(FUZZERS)
	@status=0; for f in $(FUZZERS); do \
	  name=$$(basename $$f); rm -rf build/fuzz/corpus-$$name; mkdir -p build/fuzz/corpus-$$name; \
	  cp -r fuzz/corpus/$$name/. build/fuzz/corpus-$$name/ 2>/dev/null; \
	  if $$f -max_total_time=$(FUZZ_TIME) -print_final_stats=1 -artifact_prefix=build/fuzz/ \
	       build/fuzz/corpus-$$name > build/fuzz/$$name.log 2>&1; then \
	    echo "fuzz: $$name ok, $$(grep -o 'number_of_executed_units: [0-9]*' build/fuzz/$$name.log | grep -o '[0-9]*$$') runs in $(FUZZ_TIME) s"; \
	  else \
	    tail -60 build/fuzz/$$name.log; echo "fuzz: $$name FAILED"; status=1; \
	  fi; \
	done; exit $$status

# Performance beside raw libcurl and the JavaScript SDK core (not part of
# test; its npm packages are installed here only; about three minutes).
# BENCH_ROUNDS, BENCH_CALLS, BENCH_SLOW_ROUNDS, BENCH_LAYOUTS, BENCH_COUNT=0:
# see bench/run.lua.
bench: deps build build/rawcurl build/fixtime.so
	$(MAKE) --no-print-directory LUA=luajit build
	@[ bench/package-lock.json -ot bench/node_modules/.stamp ] 2>/dev/null || \
	  { npm ci --prefix bench --no-audit --no-fund --loglevel=error && touch bench/node_modules/.stamp; }
	lua5.4 bench/run.lua

build/fixtime.so: bench/fixtime.c
	@mkdir -p build
	$(CC) -O2 -Wall -Wextra -Werror -shared -fPIC -o $@ $<

build/rawcurl: bench/rawcurl.c lua/basiq/version.lua
	@mkdir -p build
	$(CC) -O2 -Wall -Wextra -Werror -DBASIQ_VERSION='"$(VERSION)"' -o $@ $< -lcurl

clean:
	rm -rf build bench/.work
