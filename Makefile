# Makefile - build, test, fuzz and benchmark colonet.
# SPDX-License-Identifier: MPL-2.0
#
#   make            build the library, services, tests and benchmarks
#   make check      install missing Debian packages, build, run every test
#   make demo       install, build, run the demo
#   make fuzz       run every fuzz target for FUZZ_SECONDS (default 60)
#   make bench      run every benchmark
#   make memcheck   run the unit tests under valgrind
#   make format-check
#
#   V=1 shows the commands; SANITIZE=address,undefined builds with sanitizers;
#   BUILD=dir puts the objects elsewhere (default build/).

STD      = -std=c11 -D_GNU_SOURCE
WARN     = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wformat-security -Werror
OPT     ?= -O2 -g
BUILD   ?= build$(if $(SANITIZE),-san)
CC      ?= cc
FUZZ_CC ?= clang
SANITIZE ?=
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 15

PKGS       = libczmq libzmq msgpack libprotobuf-c
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   = $(shell pkg-config --libs check 2>/dev/null)

ifneq ($(SANITIZE),)
SAN_FLAGS = -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

SERVICE_INC = $(addprefix -I,$(wildcard services/*))
CFLAGS_ALL  = $(STD) $(WARN) $(OPT) $(SAN_FLAGS) -MMD -MP -Ilib -I$(BUILD)/proto $(SERVICE_INC) \
              $(PKG_CFLAGS) $(CFLAGS)
LDFLAGS_ALL = $(SAN_FLAGS) $(LDFLAGS)
LIBS_ALL    = $(PKG_LIBS) -lpthread -lrt -lm

ifeq ($(V),1)
Q =
else
Q = @
endif

# ---------------------------------------------------------------- library
# Protobuf C code is generated at build time from proto/*.proto into
# $(BUILD)/proto/ and linked into the library; nothing generated is committed.
PROTO_SRC = $(sort $(wildcard proto/*.proto))
PROTO_C   = $(PROTO_SRC:proto/%.proto=$(BUILD)/proto/%.pb-c.c)
PROTO_H   = $(PROTO_C:%.c=%.h)
PROTO_OBJ = $(PROTO_C:%.c=%.o)
LIB_SRC = $(sort $(wildcard lib/*.c))
LIB_OBJ = $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB_A   = $(BUILD)/libcolonet.a

# ---------------------------------------------------------------- services
# One object list per binary, each over the shared library.  A service
# directory lists its binaries in services/<dir>/service.mk as
#   XYZ_SRC = services/<dir>/xyz.c ...         (everything but main)
#   SERVICE_LIB_SRC += $(XYZ_SRC)              (also linked into the unit tests)
#   BINS += colo-xyz
#   colo-xyz_SRC = services/<dir>/main.c $(XYZ_SRC)
#   colo-xyz_LIBS = -lextra                   (optional, this binary only)
# Libraries the unit runner needs for service objects go in SERVICE_TEST_LIBS.
BINS :=
SERVICE_TEST_LIBS :=
SERVICE_LIB_SRC :=
-include $(wildcard services/*/service.mk)
BIN_PATHS = $(BINS:%=$(BUILD)/bin/%)

# ---------------------------------------------------------------- tests
UNIT_SRC    = $(sort $(wildcard tests/unit/check_*.c))
UNIT_OBJ    = $(UNIT_SRC:%.c=$(BUILD)/%.o) $(BUILD)/tests/unit/runner.o
UNIT_SUITES = $(patsubst tests/unit/check_%.c,%,$(UNIT_SRC))
UNIT_BIN    = $(BUILD)/tests/check_colonet
TEST_HELPER_SRC = $(sort $(wildcard tests/unit/helper_*.c))
TEST_HELPER_OBJ = $(TEST_HELPER_SRC:%.c=$(BUILD)/%.o)

FUZZ_SRC  = $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS = $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))
FUZZ_LIB_OBJ = $(LIB_SRC:%.c=$(BUILD)/fuzz/%.o)
FUZZ_FLAGS = -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer

# Programs the interop and e2e scripts drive (tests/interop/*.c,
# tests/e2e/*.c), built into $(BUILD)/interop/ and $(BUILD)/e2e/; they may
# use the unit tests' packet builder (colo_test_packet).
TOOL_SRC  = $(sort $(wildcard tests/interop/*.c tests/e2e/*.c))
TOOL_BINS = $(patsubst tests/%.c,$(BUILD)/%,$(TOOL_SRC))

# ---------------------------------------------------------------- benchmarks
BENCH_SRC  = $(sort $(wildcard bench/*.c))
BENCH_BINS = $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

.PHONY: all deps check unit fuzz fuzz-smoke fuzz-build bench demo memcheck \
        format format-check clean interop e2e

all: $(LIB_A) $(BIN_PATHS) $(UNIT_BIN) $(BENCH_BINS) $(TOOL_BINS)

deps:
	$(Q)sh scripts/deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
ifneq ($(V),1)
	@echo "  CC    $<"
endif
	$(Q)$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/proto/%.pb-c.c $(BUILD)/proto/%.pb-c.h: proto/%.proto
	@mkdir -p $(dir $@)
ifneq ($(V),1)
	@echo "  PROTO $<"
endif
	$(Q)protoc-c --proto_path=proto --c_out=$(BUILD)/proto $<

# Generated code gets the same flags minus the prototype warnings it trips.
$(BUILD)/proto/%.pb-c.o: $(BUILD)/proto/%.pb-c.c
	$(Q)$(CC) $(filter-out -Wmissing-prototypes,$(CFLAGS_ALL)) -c $< -o $@

# Every C object may include a generated header: generate them first.
ALL_BIN_OBJ = $(foreach b,$(BINS),$($(b)_SRC:%.c=$(BUILD)/%.o))
$(LIB_OBJ) $(ALL_BIN_OBJ) $(SERVICE_LIB_SRC:%.c=$(BUILD)/%.o) $(UNIT_OBJ) \
    $(TEST_HELPER_OBJ) $(BENCH_BINS) $(FUZZ_LIB_OBJ) \
    $(SERVICE_LIB_SRC:%.c=$(BUILD)/fuzz/%.o) $(FUZZ_SRC:%.c=$(BUILD)/fuzz/%.o): | $(PROTO_H)

$(LIB_A): $(LIB_OBJ) $(PROTO_OBJ)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

define BIN_RULE
$(BUILD)/bin/$(1): $$($(1)_SRC:%.c=$(BUILD)/%.o) $(LIB_A)
	@mkdir -p $$(dir $$@)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $$@ $$^ $(LIBS_ALL) $$($(1)_LIBS)
endef
$(foreach b,$(BINS),$(eval $(call BIN_RULE,$(b))))

# The runner learns the suites from the file names: check_X.c defines X_suite().
$(BUILD)/tests/unit/suites.h: $(UNIT_SRC) Makefile
	@mkdir -p $(dir $@)
	$(Q)for s in $(UNIT_SUITES); do echo "COLO_SUITE($$s)"; done > $@.tmp && mv $@.tmp $@

$(BUILD)/tests/unit/%.o: tests/unit/%.c
	@mkdir -p $(dir $@)
ifneq ($(V),1)
	@echo "  CC    $<"
endif
	$(Q)$(CC) $(CFLAGS_ALL) $(CHECK_CFLAGS) -I$(BUILD)/tests/unit -c $< -o $@

$(UNIT_OBJ) $(TEST_HELPER_OBJ): $(BUILD)/tests/unit/suites.h

# check_colo_loop counts the loop's sched_yield calls through --wrap.
$(UNIT_BIN): $(UNIT_OBJ) $(TEST_HELPER_OBJ) $(SERVICE_LIB_SRC:%.c=$(BUILD)/%.o) $(LIB_A)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS_ALL) -Wl,--wrap=sched_yield -o $@ $^ $(CHECK_LIBS) $(LIBS_ALL) \
	    $(SERVICE_TEST_LIBS)

define TOOL_RULE
$(BUILD)/$(1)/%: tests/$(1)/%.c $(BUILD)/tests/unit/helper_pkt.o $(LIB_A)
	@mkdir -p $$(dir $$@)
	$(Q)$(CC) $(CFLAGS_ALL) $(CHECK_CFLAGS) -I$(BUILD)/tests/unit -Itests/unit $(LDFLAGS_ALL) \
	    -o $$@ $$< $(BUILD)/tests/unit/helper_pkt.o $(LIB_A) $(CHECK_LIBS) $(LIBS_ALL)
endef
$(eval $(call TOOL_RULE,interop))
$(eval $(call TOOL_RULE,e2e))

# The services' logic (everything but main) as an archive, for benchmarks.
SVC_A = $(BUILD)/libcolosvc.a
$(SVC_A): $(SERVICE_LIB_SRC:%.c=$(BUILD)/%.o)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/bench/%: bench/%.c $(SVC_A) $(LIB_A)
	@mkdir -p $(dir $@)
ifneq ($(V),1)
	@echo "  CC    $<"
endif
	$(Q)$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $< $(SVC_A) $(LIB_A) $(LIBS_ALL) \
	    $(SERVICE_TEST_LIBS)

# ---------------------------------------------------------------- fuzzing
$(BUILD)/fuzz/%.o: %.c
	@mkdir -p $(dir $@)
ifneq ($(V),1)
	@echo "  FUZZCC $<"
endif
	$(Q)$(FUZZ_CC) $(STD) $(WARN) -O1 -g $(FUZZ_FLAGS) -MMD -MP -Ilib -I$(BUILD)/proto \
	    $(SERVICE_INC) $(PKG_CFLAGS) -c $< -o $@

# Generated protobuf code for the fuzz build, compiled by the fuzz compiler.
$(BUILD)/fuzz/proto/%.pb-c.o: $(BUILD)/proto/%.pb-c.c
	@mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) $(STD) -O1 -g $(FUZZ_FLAGS) -I$(BUILD)/proto $(PKG_CFLAGS) -c $< -o $@

# The fuzz library also holds the services' logic (everything but main).
$(BUILD)/fuzz/libcolonet.a: $(FUZZ_LIB_OBJ) $(SERVICE_LIB_SRC:%.c=$(BUILD)/fuzz/%.o) \
                            $(PROTO_SRC:proto/%.proto=$(BUILD)/fuzz/proto/%.pb-c.o)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/fuzz/fuzz_%: $(BUILD)/fuzz/tests/fuzz/fuzz_%.o $(BUILD)/fuzz/libcolonet.a
	$(Q)$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LIBS_ALL) $(SERVICE_TEST_LIBS)

fuzz-build: $(FUZZ_BINS)

# Each target runs from its seed corpus (tests/fuzz/seeds/<target>/) into a
# scratch corpus in the build directory.
define FUZZ_RUN
	@for f in $(FUZZ_BINS); do \
	    n=$$(basename $$f); mkdir -p $(BUILD)/fuzz/corpus/$$n; \
	    echo "  FUZZ  $$n ($(1) s)"; \
	    $$f -max_total_time=$(1) -print_final_stats=0 -close_fd_mask=3 \
	        $(BUILD)/fuzz/corpus/$$n $$( [ -d tests/fuzz/seeds/$$n ] && echo tests/fuzz/seeds/$$n ) \
	        > $(BUILD)/fuzz/$$n.log 2>&1 \
	      || { tail -40 $(BUILD)/fuzz/$$n.log; echo "fuzz target $$n failed"; exit 1; }; \
	done
endef

fuzz: deps fuzz-build
	$(call FUZZ_RUN,$(FUZZ_SECONDS))

fuzz-smoke: fuzz-build
	$(call FUZZ_RUN,$(FUZZ_SMOKE_SECONDS))

# ---------------------------------------------------------------- running
unit: $(UNIT_BIN)
	$(Q)$(UNIT_BIN)

check: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory unit
	$(Q)$(MAKE) --no-print-directory fuzz-smoke
	$(Q)for t in $(filter-out %/lib.sh,$(sort $(wildcard tests/interop/*.sh tests/e2e/*.sh))); do \
	    echo "  TEST  $$t"; BUILD=$(BUILD) sh $$t || exit 1; done
	@echo "make check: all passed"

bench: deps all
	$(Q)for b in $(BENCH_BINS); do echo "== $$b"; $$b || exit 1; done

# Root first (without it, one line: make's own "*** ... Stop.", exit 2),
# then packages, then only what the demo runs: the services and the e2e
# adapter.
demo:
	$(if $(filter-out 0,$(shell id -u)),$(error make demo needs root (network namespaces): run sudo make demo))
	$(Q)$(MAKE) --no-print-directory deps
	$(Q)$(MAKE) --no-print-directory $(BIN_PATHS) $(BUILD)/e2e/adapter
	$(Q)BUILD=$(BUILD) sh scripts/demo.sh

# One valgrind process a suite: unforked (CK_FORK=no, so valgrind sees each
# test's memory), but a suite's children (the ring tests fork) do not
# inherit the zmq threads' memory of every suite before it, which they
# would report as lost and fail on.
memcheck: $(UNIT_BIN)
	$(Q)rc=0; for s in $(UNIT_SUITES); do \
	    CK_FORK=no valgrind -q --error-exitcode=1 --leak-check=full \
	        --errors-for-leak-kinds=definite $(UNIT_BIN) $$s || { echo "memcheck: $$s failed"; rc=1; }; \
	done; exit $$rc

FORMAT_SRC = $(wildcard lib/*.[ch] services/*/*.[ch] tests/*/*.[ch] bench/*.[ch])
format:
	$(Q)clang-format -i $(FORMAT_SRC)
format-check:
	$(Q)clang-format --dry-run --Werror $(FORMAT_SRC)

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
