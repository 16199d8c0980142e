# sdq: a terminal job manager for Stable Diffusion.
# Plain make. Usual knobs: PREFIX BINDIR MANDIR DESTDIR PKG_CONFIG CFLAGS LDFLAGS.
# WERROR=1 turns warnings into errors; SAN=1 builds with ASan+UBSan (into build/san).

VERSION    = 0.1.0
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
MANDIR    ?= $(PREFIX)/share/man
PKG_CONFIG ?= pkg-config
CC        ?= cc
CFLAGS    ?= -O2 -g

CORE_PKGS = libcurl libcjson sqlite3 libpng libsixel
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
CORE_LIBS   := $(shell $(PKG_CONFIG) --libs $(CORE_PKGS)) -lm
TUI_CFLAGS  := $(shell $(PKG_CONFIG) --cflags $(TUI_PKGS))
TUI_LIBS    := $(shell $(PKG_CONFIG) --libs $(TUI_PKGS))
TEST_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(TEST_PKGS) 2>/dev/null)
TEST_LIBS   := $(shell $(PKG_CONFIG) --libs $(TEST_PKGS) 2>/dev/null)

ALL_CFLAGS  = $(WARN) $(DEFS) $(SANFLAGS) $(CPPFLAGS) $(CFLAGS)
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
TEST_BIN  = $(TEST_SRC:%.c=$(BUILD)/%)
TTY_BIN   = $(TTY_SRC:%.c=$(BUILD)/%)
BENCH_BIN = $(BENCH_SRC:%.c=$(BUILD)/%)
HELPER_BIN = $(HELPER_SRC:%.c=$(BUILD)/%)
LIBCORE   = $(BUILD)/libsdqcore.a
SDQ       = $(BUILD)/sdq

.PHONY: all test check bench install uninstall clean lint-man tests
all: $(SDQ) sdq

sdq: $(SDQ)
	@ln -sf $(SDQ) sdq

$(BUILD)/core/%.o: core/%.c $(wildcard core/*.h) Makefile
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(CORE_CFLAGS) -Icore -c -o $@ $<

$(BUILD)/tui/%.o: tui/%.c $(wildcard tui/*.h core/*.h) Makefile
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(CORE_CFLAGS) $(TUI_CFLAGS) -Icore -Itui -c -o $@ $<

$(LIBCORE): $(CORE_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $(CORE_OBJ)

$(SDQ): $(TUI_OBJ) $(LIBCORE)
	$(CC) $(ALL_LDFLAGS) -o $@ $(TUI_OBJ) $(LIBCORE) $(CORE_LIBS) $(TUI_LIBS)

$(BUILD)/tests/test_%: tests/test_%.c tests/th.h $(LIBCORE)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(CORE_CFLAGS) -Icore -Itests $(ALL_LDFLAGS) -o $@ $< $(LIBCORE) $(CORE_LIBS)

$(BUILD)/tests/helper_%: tests/helper_%.c $(LIBCORE)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(CORE_CFLAGS) -Icore -Itests $(ALL_LDFLAGS) -o $@ $< $(LIBCORE) $(CORE_LIBS)

$(BUILD)/tests/tui_%: tests/tui_%.c tests/th.h tests/ptyterm.h $(LIBCORE)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(CORE_CFLAGS) $(TEST_CFLAGS) -Icore -Itests $(ALL_LDFLAGS) -o $@ $< \
		$(wildcard tests/ptyterm.c) $(LIBCORE) $(CORE_LIBS) $(TEST_LIBS) -lutil

$(BUILD)/tests/bench_%: tests/bench_%.c $(LIBCORE)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(CORE_CFLAGS) -Icore -Itests $(ALL_LDFLAGS) -o $@ $< $(LIBCORE) $(CORE_LIBS)

tests: $(SDQ) $(TEST_BIN) $(TTY_BIN) $(HELPER_BIN)

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

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/sdq $(DESTDIR)$(MANDIR)/man1/sdq.1

clean:
	rm -rf build sdq
