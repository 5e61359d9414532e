# Gregor build.  `make` builds bin/gregord and bin/gregor; `make test` installs
# what is missing, builds, and runs the unit and integration tests; `make run`
# starts a broker on localhost:9092 with data in ./data.

CC       ?= cc
OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
CFLAGS   += -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
            -Isrc -Ibuild/gen -MMD -MP -pthread -D_GNU_SOURCE
LDLIBS   += -pthread -lz -lzstd -llz4 -lsnappy
PYTHON   ?= /usr/bin/python3

SCHEMAS  := $(sort $(wildcard src/protocol/schema/*.sch))
GEN_C    := build/gen/protocol/messages.c
GEN_H    := build/gen/protocol/messages.h
GEN_TEST := build/gen/protocol/messages_test.c build/gen/protocol/messages_test.h
LIB_SRC  := $(sort $(filter-out src/server/gregord.c,$(shell find src -name '*.c')))
LIB_OBJ  := $(LIB_SRC:%.c=build/obj/%.o) build/obj/gen/messages.o
TEST_SRC := $(sort $(wildcard tests/unit/*.c))
TEST_OBJ := $(TEST_SRC:%.c=build/obj/%.o)
CLI_SRC  := $(sort $(wildcard tools/gregor/*.c))
CLI_OBJ  := $(CLI_SRC:%.c=build/obj/%.o)

.PHONY: all deps run test unit integration fuzz bench clean
all: bin/gregord bin/gregor

deps:
	@sh scripts/install-deps.sh

$(GEN_C) $(GEN_H) $(GEN_TEST) &: src/protocol/codegen.py $(SCHEMAS)
	@mkdir -p $(dir $(GEN_C))
	$(PYTHON) src/protocol/codegen.py --out-dir $(dir $(GEN_C)) $(SCHEMAS)

# Every object may include the generated header, so generate it first.
$(LIB_OBJ) $(TEST_OBJ) $(CLI_OBJ) build/obj/src/server/gregord.o: | $(GEN_H)

build/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

build/obj/gen/messages.o: $(GEN_C) $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

build/libgregor.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

bin/gregord: build/obj/src/server/gregord.o build/libgregor.a
	@mkdir -p bin
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bin/gregor: $(CLI_OBJ) build/libgregor.a
	@mkdir -p bin
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lrdkafka

build/obj/gen/messages_test.o: $(GEN_TEST) $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

build/unit-tests: $(TEST_OBJ) build/obj/gen/messages_test.o build/libgregor.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

run: deps all
	bin/gregord

unit: build/unit-tests
	build/unit-tests

integration: all
	cd tests/integration && $(PYTHON) -m pytest -q -x -p no:cacheprovider .

test: deps
	$(MAKE) all build/unit-tests
	build/unit-tests
	$(MAKE) integration
	$(MAKE) fuzz FUZZ_SECONDS=$${FUZZ_SECONDS:-20}

include tests/fuzz/fuzz.mk

clean:
	rm -rf build bin

-include $(shell find build -name '*.d' 2>/dev/null)
