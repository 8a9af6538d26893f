# fadefs — top-level build.
#
# Sources are found by wildcard so that a new file in a module needs no
# Makefile edit.  Per-ISA kernel files are recognised by their suffix
# (*_avx2.c, *_avx512.c) and get the matching -m flags; every other file is
# compiled for the baseline x86-64 so that the binaries run on any machine
# and pick the kernels at run time.
#
#   make            build libraries, `fade` and `fadefs` into build/
#   make test       install missing packages, build, run every test
#   make bench      benchmarks (codec and filesystem), side by side
#   make stress     long randomised and crash runs of the filesystem
#   make fuzz       build the libFuzzer targets (clang) into build/fuzz/
#   make SAN=1 ...  the same under AddressSanitizer + UBSan (build-san/)
#   make CC=clang   build with clang (build-clang/)

CC      ?= cc
SAN     ?=
ifeq ($(SAN),1)
BUILD   ?= build-san
else ifeq ($(CC),clang)
BUILD   ?= build-clang
else
BUILD   ?= build
endif

# The exact-arithmetic contract (DESIGN.md): IEEE binary32, no contraction
# of a*b+c into an FMA behind our back, no fast-math reassociation.
FP_FLAGS  = -ffp-contract=off -fno-fast-math -fno-finite-math-only \
            -fno-unsafe-math-optimizations -frounding-math -fexcess-precision=standard
ifeq ($(CC),clang)
FP_FLAGS  = -ffp-contract=off -fno-fast-math -fno-finite-math-only \
            -fno-unsafe-math-optimizations
endif
WARN      = -Wall -Wextra -Werror -Wshadow -Wvla -Wno-unused-parameter
OPT      ?= -O2
CFLAGS_ALL = -std=gnu11 $(OPT) -g $(WARN) $(FP_FLAGS) -pthread -I. \
             -D_FILE_OFFSET_BITS=64 -D_GNU_SOURCE $(CFLAGS)
ifeq ($(SAN),1)
CFLAGS_ALL += -fsanitize=address,undefined -fno-sanitize-recover=undefined \
              -fno-omit-frame-pointer
LDSAN       = -fsanitize=address,undefined
endif

FUSE_CFLAGS := $(shell pkg-config --cflags fuse3 2>/dev/null)
FUSE_LIBS   := $(shell pkg-config --libs fuse3 2>/dev/null)
LIBS_BASE    = -pthread -lm
ISA_avx2     = -mavx2 -mfma
ISA_avx512   = -mavx512f -mavx512vl -mavx512bw -mavx512dq -mfma -mavx2

CODEC_MAIN  = codec/fade_main.c
CODEC_SRC   = $(filter-out $(CODEC_MAIN),$(wildcard codec/*.c))
INDEX_SRC   = $(wildcard index/*.c)
# Every fs/*_main.c is one command: fadefs, fadefs-stat, fadefsck.
FS_MAINS    = $(wildcard fs/*_main.c)
FS_SRC      = $(filter-out $(FS_MAINS),$(wildcard fs/*.c))

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))
LIB_CODEC   = $(BUILD)/libfade.a
LIB_INDEX   = $(BUILD)/libfadeidx.a
LIB_FS      = $(BUILD)/libfadefs.a
FADE_BIN    = $(BUILD)/fade
FADEFS_BIN  = $(BUILD)/fadefs
# One binary per fs/*_main.c: fs/fadefs_stat_main.c gives build/fadefs-stat.
fs_bin = $(BUILD)/$(subst _,-,$(patsubst fs/%_main.c,%,$(1)))
FS_BINS     = $(foreach m,$(FS_MAINS),$(call fs_bin,$(m)))

TEST_SRC    = $(wildcard tests/codec/test_*.c tests/index/test_*.c tests/fs/test_*.c)
TEST_BINS   = $(patsubst %.c,$(BUILD)/%,$(TEST_SRC))
TEST_HELPERS = $(filter-out $(TEST_SRC),$(wildcard tests/codec/*.c tests/index/*.c tests/fs/*.c tests/common/*.c))
TEST_HELPER_OBJ = $(call obj,$(TEST_HELPERS))
TOOL_SRC    = $(wildcard tests/tools/*.c)
TOOL_BINS   = $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(TOOL_SRC))

.PHONY: all deps test test-build bench stress fuzz clean check-san
all: $(FADE_BIN) $(FS_BINS)

deps:
	@scripts/deps.sh

$(BUILD)/%_avx2.o: %_avx2.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(ISA_avx2) -MMD -MP -c $< -o $@
$(BUILD)/%_avx512.o: %_avx512.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(ISA_avx512) -MMD -MP -c $< -o $@
$(BUILD)/fs/%.o: fs/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(FUSE_CFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(FUSE_CFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

# The mixing coder's per-byte work (codec/mix_code.h) is integer code that
# gcc -O3 runs 5 to 10 % faster than -O2 with the same bits.
$(call obj,codec/mix.c codec/mix_avx2.c): OPT = -O3

# prior.c embeds these with .incbin, which -MMD does not see.
$(BUILD)/codec/prior.o: $(wildcard codec/prior/*.bin)

$(LIB_CODEC): $(call obj,$(CODEC_SRC))
	@rm -f $@; ar rcs $@ $^
# index/ needs only the CRC from codec/ (crc32c.c stands alone): its copy
# here lets a binary link the index without libfade.a; where both are
# linked, the first archive's copy resolves every CRC symbol.
$(LIB_INDEX): $(call obj,$(INDEX_SRC) codec/crc32c.c)
	@rm -f $@; ar rcs $@ $^
$(LIB_FS): $(call obj,$(FS_SRC))
	@rm -f $@; ar rcs $@ $^

$(FADE_BIN): $(call obj,$(CODEC_MAIN)) $(LIB_CODEC)
	$(CC) $(LDSAN) -o $@ $^ $(LIBS_BASE)
define fs_bin_rule
$(call fs_bin,$(1)): $(call obj,$(1)) $(LIB_FS) $(LIB_INDEX) $(LIB_CODEC)
	$$(CC) $$(LDSAN) -o $$@ $$^ $$(FUSE_LIBS) -lsqlite3 $$(LIBS_BASE)
endef
$(foreach m,$(FS_MAINS),$(eval $(call fs_bin_rule,$(m))))

# Every test binary links everything: criterion isolates each test in its
# own process, and one link line keeps the Makefile free of per-test rules.
$(BUILD)/tests/%: $(BUILD)/tests/%.o $(TEST_HELPER_OBJ) $(LIB_FS) $(LIB_INDEX) $(LIB_CODEC)
	$(CC) $(LDSAN) -o $@ $^ -lcriterion $(FUSE_LIBS) -lsqlite3 $(LIBS_BASE)
$(BUILD)/tools/%: tests/tools/%.c $(TEST_HELPER_OBJ) $(LIB_FS) $(LIB_INDEX) $(LIB_CODEC)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(FUSE_CFLAGS) $(LDSAN) -o $@ $^ $(FUSE_LIBS) -lsqlite3 $(LIBS_BASE)

# The clang build of `fade` that tests/codec/test_compilers.c compares with
# the gcc one; only from the default gcc build, and only if clang exists.
ifeq ($(BUILD),build)
CLANG_FADE := $(if $(shell command -v clang 2>/dev/null),clang-fade)
endif
.PHONY: clang-fade
clang-fade:
	@$(MAKE) --no-print-directory CC=clang BUILD=build-clang build-clang/fade

test-build: all $(TEST_BINS) $(TOOL_BINS) $(CLANG_FADE)


# `make test` is the one command CI runs: install what is missing, build,
# run every criterion binary, print one summary line.
test: deps
	@$(MAKE) --no-print-directory test-build
	@BUILD=$(BUILD) scripts/run-tests.sh $(TEST_BINS)

bench: deps all $(TOOL_BINS)
	@scripts/deps.sh --bench
	@BUILD=$(BUILD) scripts/bench.sh

stress: deps all $(TOOL_BINS)
	@BUILD=$(BUILD) scripts/stress.sh

fuzz:
	@scripts/build-fuzz.sh

clean:
	rm -rf build build-san build-clang

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
.SECONDARY:
