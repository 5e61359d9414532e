# libFuzzer targets: every tests/fuzz/fuzz_*.c is one fuzzer, linked against
# all of src/**/*.c (except gregord's main) and the generated protocol code,
# built with clang and the sanitizers (not from build/libgregor.a, which is
# built by $(CC) without instrumentation).
#
#   make fuzz                      build every target, run each FUZZ_SECONDS
#   make fuzz FUZZ_SECONDS=300     longer runs
#   make build/fuzz/fuzz_requests  build one
#
# A crash, leak or sanitizer report fails the run; libFuzzer saves the input
# as build/fuzz/artifacts/<target>-crash-... to replay with the binary.
# Seeds, when present, come from tests/fuzz/corpus/<target>/.

FUZZ_SECONDS  ?= 20
FUZZ_CC       ?= clang
FUZZ_CFLAGS   ?= -g -O1 -fno-omit-frame-pointer
FUZZ_SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_FLAGS    := $(FUZZ_CFLAGS) $(FUZZ_SANITIZE) -std=gnu11 -Isrc -Ibuild/gen -D_GNU_SOURCE -pthread -MMD -MP

FUZZ_TARGETS  := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(sort $(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_LIB_SRC  := $(sort $(filter-out src/server/gregord.c,$(shell find src -name '*.c')))
FUZZ_LIB_OBJ  := $(FUZZ_LIB_SRC:%.c=build/fuzz/obj/%.o) \
                 build/fuzz/obj/gen/messages.o build/fuzz/obj/gen/messages_test.o

# Library objects carry coverage instrumentation but no fuzzer main().
build/fuzz/obj/%.o: %.c | $(GEN_H)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

build/fuzz/obj/gen/%.o: build/gen/protocol/%.c $(GEN_H)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

# An archive, so each target pulls in only the objects it needs: a fuzzer
# for the record batch parser links even while other parts are unfinished.
build/fuzz/libgregor-fuzz.a: $(FUZZ_LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

build/fuzz/%: tests/fuzz/%.c build/fuzz/libgregor-fuzz.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer $< build/fuzz/libgregor-fuzz.a -o $@ -pthread -lm -lz -lzstd -llz4 -lsnappy

fuzz: $(FUZZ_TARGETS)
	@set -e; for t in $(FUZZ_TARGETS); do \
	    name=$$(basename $$t); \
	    mkdir -p build/fuzz/corpus/$$name build/fuzz/artifacts; \
	    seeds=; [ -d tests/fuzz/corpus/$$name ] && seeds=tests/fuzz/corpus/$$name; \
	    echo "fuzz: $$name for $(FUZZ_SECONDS)s"; \
	    $$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=0 \
	        -artifact_prefix=build/fuzz/artifacts/$$name- \
	        build/fuzz/corpus/$$name $$seeds 2> build/fuzz/$$name.log \
	        || { tail -n 60 build/fuzz/$$name.log; echo "fuzz: $$name FAILED (log: build/fuzz/$$name.log)"; exit 1; }; \
	    tail -n 1 build/fuzz/$$name.log; \
	done
