# sdq: a terminal job manager for Stable Diffusion.
# Plain make. Usual knobs: PREFIX BINDIR MANDIR DESTDIR PKG_CONFIG CFLAGS LDFLAGS.
# WERROR=1 turns warnings into errors; SAN=1 builds with ASan+UBSan (into build/san).

VERSION    = 0.1.0
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
MANDIR    ?= $(PREFIX)/share/man
# where each shell looks for completions (sdq completion bash|zsh|fish)
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d
PKG_CONFIG ?= pkg-config
CC        ?= cc
CFLAGS    ?= -O2 -g

CORE_PKGS = libcurl libcjson sqlite3 libpng libjpeg libsixel zlib
TUI_PKGS  = ncursesw
TEST_PKGS = vterm

ifeq ($(SAN),1)
BUILD    ?= build/san
SANFLAGS  = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD    ?= build
SANFLAGS  =
endif

WARN = -std=c11 -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes -Wformat=2 \
       -Wno-unused-parameter
ifeq ($(WERROR),1)
WARN += -Werror
endif

DEFS = -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DSDQ_VERSION=\"$(VERSION)\"
CORE_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(CORE_PKGS))
# -pthread: core/decoder.c decodes images on a worker thread, core/saver.c writes them
CORE_LIBS   := $(shell $(PKG_CONFIG) --libs $(CORE_PKGS)) -lm -pthread
TUI_CFLAGS  := $(shell $(PKG_CONFIG) --cflags $(TUI_PKGS))
TUI_LIBS    := $(shell $(PKG_CONFIG) --libs $(TUI_PKGS))
TEST_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(TEST_PKGS) 2>/dev/null)
TEST_LIBS   := $(shell $(PKG_CONFIG) --libs $(TEST_PKGS) 2>/dev/null)

# -MMD -MP: the compiler writes each target's header dependencies next to it
# (FILE.d, included below), so an edit rebuilds exactly what uses it.
DEPFLAGS    = -MMD -MP
ALL_CFLAGS  = $(WARN) $(DEFS) -pthread $(SANFLAGS) $(CPPFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SANFLAGS) $(LDFLAGS)

CORE_SRC  = $(sort $(wildcard core/*.c))
TUI_SRC   = $(sort $(wildcard tui/*.c))
# tests/test_*.c: one unit test per module, linked with the core only (no curses).
# tests/tui_*.c: pty-driven tests of the real binary, linked with libvterm.
TEST_SRC  = $(sort $(wildcard tests/test_*.c))
TTY_SRC   = $(sort $(wildcard tests/tui_*.c))
BENCH_SRC = $(sort $(wildcard tests/bench_*.c))
HELPER_SRC = $(sort $(wildcard tests/helper_*.c))

CORE_OBJ  = $(CORE_SRC:%.c=$(BUILD)/%.o)
TUI_OBJ   = $(TUI_SRC:%.c=$(BUILD)/%.o)
# Every TUI object but main.o goes into libsdqtui.a, which sdq and the tui_*
# tests link (tests link the code they test, never #include a .c file).
TUI_LIB_OBJ = $(filter-out $(BUILD)/tui/main.o,$(TUI_OBJ))
PTYTERM_OBJ = $(BUILD)/tests/ptyterm.o
TEST_BIN  = $(TEST_SRC:%.c=$(BUILD)/%)
TTY_BIN   = $(TTY_SRC:%.c=$(BUILD)/%)
BENCH_BIN = $(BENCH_SRC:%.c=$(BUILD)/%)
HELPER_BIN = $(HELPER_SRC:%.c=$(BUILD)/%)
LIBCORE   = $(BUILD)/libsdqcore.a
LIBTUI    = $(BUILD)/libsdqtui.a
SDQ       = $(BUILD)/sdq

.PHONY: all test check bench install install-completions uninstall clean lint-man tests
all: $(SDQ) sdq

sdq: $(SDQ)
	@ln -sf $(SDQ) sdq

$(BUILD)/core/%.o: core/%.c Makefile
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -Icore $(CORE_CFLAGS) -c -o $@ $<

$(BUILD)/tui/%.o: tui/%.c Makefile
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -Icore -Itui $(CORE_CFLAGS) $(TUI_CFLAGS) -c -o $@ $<

$(LIBCORE): $(CORE_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $(CORE_OBJ)

$(LIBTUI): $(TUI_LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $(TUI_LIB_OBJ)

$(SDQ): $(BUILD)/tui/main.o $(LIBTUI) $(LIBCORE)
	$(CC) $(ALL_LDFLAGS) -o $@ $(BUILD)/tui/main.o $(LIBTUI) $(LIBCORE) $(CORE_LIBS) $(TUI_LIBS)

# A test program is compiled and linked in one step; its header dependencies
# go to $@.d.
$(BUILD)/tests/test_%: tests/test_%.c $(LIBCORE) Makefile
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -MT $@ -MF $@.d -Icore -Itests $(CORE_CFLAGS) $(ALL_LDFLAGS) -o $@ $< \
		$(LIBCORE) $(CORE_LIBS)

$(BUILD)/tests/helper_%: tests/helper_%.c $(LIBCORE) Makefile
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -MT $@ -MF $@.d -Icore -Itests $(CORE_CFLAGS) $(ALL_LDFLAGS) -o $@ $< \
		$(LIBCORE) $(CORE_LIBS)

$(PTYTERM_OBJ): tests/ptyterm.c Makefile
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -Itests $(TEST_CFLAGS) -c -o $@ $<

$(BUILD)/tests/tui_%: tests/tui_%.c $(PTYTERM_OBJ) $(LIBTUI) $(LIBCORE) Makefile
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -MT $@ -MF $@.d -Icore -Itui -Itests $(CORE_CFLAGS) $(TEST_CFLAGS) \
		$(ALL_LDFLAGS) -o $@ $< $(PTYTERM_OBJ) $(LIBTUI) $(LIBCORE) $(CORE_LIBS) $(TUI_LIBS) \
		$(TEST_LIBS) -lutil

$(BUILD)/tests/bench_%: tests/bench_%.c $(LIBCORE) Makefile
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -MT $@ -MF $@.d -Icore -Itests $(CORE_CFLAGS) $(ALL_LDFLAGS) -o $@ $< \
		$(LIBCORE) $(CORE_LIBS)

# Test hooks (-DSDQ_TEST_HOOKS) go only into the tests' own objects, never
# into sdq: $(HOOK_OBJ) is linked ahead of libsdqcore.a, so its decoder is
# the one used. build/tests/sdq-hooks is sdq with them (tests/tui_decode.c).
HOOK_OBJ  = $(BUILD)/tests/hooks/decoder.o
SDQ_HOOKS = $(BUILD)/tests/sdq-hooks
$(HOOK_OBJ): core/decoder.c Makefile
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -DSDQ_TEST_HOOKS -Icore $(CORE_CFLAGS) -c -o $@ $<

$(SDQ_HOOKS): $(BUILD)/tui/main.o $(HOOK_OBJ) $(LIBTUI) $(LIBCORE)
	$(CC) $(ALL_LDFLAGS) -o $@ $(BUILD)/tui/main.o $(HOOK_OBJ) $(LIBTUI) $(LIBCORE) $(CORE_LIBS) \
		$(TUI_LIBS)

$(BUILD)/tests/test_decoder: tests/test_decoder.c $(HOOK_OBJ) $(LIBCORE) Makefile
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -MT $@ -MF $@.d -Icore -Itests $(CORE_CFLAGS) $(ALL_LDFLAGS) -o $@ $< \
		$(HOOK_OBJ) $(LIBCORE) $(CORE_LIBS)

tests: $(SDQ) $(TEST_BIN) $(TTY_BIN) $(HELPER_BIN) $(SDQ_HOOKS)

# Runs every test; the last line is "N passed, N failed".
test: tests
	@SDQ_BIN=$(abspath $(SDQ)) BUILD=$(BUILD) sh tests/run-tests.sh

check:
	$(MAKE) SAN=1 WERROR=1 test
	mandoc -Tlint -W warning man/sdq.1

lint-man:
	mandoc -Tlint -W warning man/sdq.1

bench: $(SDQ) $(BENCH_BIN)
	@SDQ_BIN=$(abspath $(SDQ)) BUILD=$(BUILD) sh tests/run-bench.sh

install: $(SDQ)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 755 $(SDQ) $(DESTDIR)$(BINDIR)/sdq
	install -m 644 man/sdq.1 $(DESTDIR)$(MANDIR)/man1/sdq.1
	install -d $(DESTDIR)$(PREFIX)/share/sdq
	install -m 644 tests/emulator.py $(DESTDIR)$(PREFIX)/share/sdq/emulator.py
	$(MAKE) install-completions SDQ_FOR_COMPLETION=$(SDQ)

# The scripts are written by the sdq just built (the one that answers them).
SDQ_FOR_COMPLETION ?= $(SDQ)
install-completions:
	install -d $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	$(SDQ_FOR_COMPLETION) completion bash >$(DESTDIR)$(BASHCOMPDIR)/sdq
	$(SDQ_FOR_COMPLETION) completion zsh >$(DESTDIR)$(ZSHCOMPDIR)/_sdq
	$(SDQ_FOR_COMPLETION) completion fish >$(DESTDIR)$(FISHCOMPDIR)/sdq.fish
	chmod 644 $(DESTDIR)$(BASHCOMPDIR)/sdq $(DESTDIR)$(ZSHCOMPDIR)/_sdq \
		$(DESTDIR)$(FISHCOMPDIR)/sdq.fish

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/sdq $(DESTDIR)$(MANDIR)/man1/sdq.1
	rm -f $(DESTDIR)$(BASHCOMPDIR)/sdq $(DESTDIR)$(ZSHCOMPDIR)/_sdq $(DESTDIR)$(FISHCOMPDIR)/sdq.fish
	rm -rf $(DESTDIR)$(PREFIX)/share/sdq

clean:
	rm -rf build sdq

# ---- fuzz targets (tests/fuzz_NAME.c, tests/fuzz/corpus/NAME/) ----
# `make test` builds each target as $(BUILD)/tests/test_fuzz_NAME, which replays
# its corpus (seeds and past crashes); `make fuzz` builds libFuzzer binaries
# with clang into build/fuzz/ (needs clang's runtime: Debian libclang-rt-14-dev);
# `make fuzz-run FUZZ_SECONDS=60` runs each in turn (with tests/fuzz/NAME.dict if
# there is one), new inputs going to build/fuzz/corpus/NAME, crashes to
# build/fuzz/crash-NAME-*, output to build/fuzz/log-NAME.txt; it fails if any
# target found something. A crash input, once fixed, goes into the corpus.
FUZZ_SRC   = $(sort $(wildcard tests/fuzz_*.c))
FUZZ_NAMES = $(FUZZ_SRC:tests/fuzz_%.c=%)
FUZZ_TEST_BIN = $(FUZZ_NAMES:%=$(BUILD)/tests/test_fuzz_%)
FUZZ_CC   ?= clang
FUZZ_DIR   = build/fuzz
FUZZ_SAN   = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS = -g -O1 $(WARN) $(DEFS) $(CORE_CFLAGS) -DSDQ_LIBFUZZER
FUZZ_SECONDS ?= 60
FUZZ_ARGS ?=
FUZZ_CORE_OBJ = $(CORE_SRC:%.c=$(FUZZ_DIR)/%.o)
FUZZ_BIN  = $(FUZZ_NAMES:%=$(FUZZ_DIR)/fuzz_%)

.PHONY: fuzz fuzz-run
tests: $(FUZZ_TEST_BIN)

# gcc's -fsanitize=undefined leaves out float-cast-overflow; the replays want it.
$(BUILD)/tests/test_fuzz_%: tests/fuzz_%.c $(LIBCORE) Makefile
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(DEPFLAGS) -MT $@ -MF $@.d $(if $(SANFLAGS),-fsanitize=float-cast-overflow) \
		$(CORE_CFLAGS) -Icore -Itests $(ALL_LDFLAGS) -o $@ $< $(LIBCORE) $(CORE_LIBS)

fuzz: $(FUZZ_BIN)

$(FUZZ_DIR)/core/%.o: core/%.c Makefile
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(DEPFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -Icore -c -o $@ $<

$(FUZZ_DIR)/libsdqcore.a: $(FUZZ_CORE_OBJ)
	rm -f $@
	$(AR) rcs $@ $(FUZZ_CORE_OBJ)

$(FUZZ_DIR)/fuzz_%: tests/fuzz_%.c $(FUZZ_DIR)/libsdqcore.a Makefile
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(DEPFLAGS) -MT $@ -MF $@.d $(FUZZ_SAN) -fsanitize=fuzzer -Icore -Itests \
		-o $@ $< $(FUZZ_DIR)/libsdqcore.a $(CORE_LIBS)

fuzz-run: fuzz
	@failed=""; for n in $(FUZZ_NAMES); do \
		mkdir -p $(FUZZ_DIR)/corpus/$$n; \
		echo "== fuzz_$$n ($(FUZZ_SECONDS) s)"; \
		$(FUZZ_DIR)/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_DIR)/crash-$$n- $(FUZZ_ARGS) \
			$$(test -f tests/fuzz/$$n.dict && echo -dict=tests/fuzz/$$n.dict) \
			$(FUZZ_DIR)/corpus/$$n tests/fuzz/corpus/$$n 2>$(FUZZ_DIR)/log-$$n.txt \
			|| failed="$$failed $$n"; \
		grep -E '^#[0-9]+.*DONE|^stat::number_of_executed_units' $(FUZZ_DIR)/log-$$n.txt; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz-run: findings in:$$failed (see $(FUZZ_DIR)/log-NAME.txt)"; exit 1; fi

# The compiler-written dependencies (see DEPFLAGS); missing ones are fine (not
# built yet, so nothing is stale).
-include $(wildcard $(BUILD)/core/*.d $(BUILD)/tui/*.d $(BUILD)/tests/*.d $(BUILD)/tests/hooks/*.d \
	$(FUZZ_DIR)/core/*.d $(FUZZ_DIR)/*.d)
