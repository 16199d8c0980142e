/*
 * osc52.c: OSC 52 clipboard copies, and the tmux/screen passthrough that
 * gets a sequence sdq writes itself (OSC 52, OSC 9/777) to the real terminal.
 */
#include "osc52.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

#define ESC "\033"

static int env_set(const char *name)
{
	const char *v = getenv(name);
	return v && *v;
}

static int env_is(const char *name, const char *value)
{
	const char *v = getenv(name);
	return v && strcmp(v, value) == 0;
}

static int env_starts(const char *name, const char *prefix)
{
	const char *v = getenv(name);
	return v && strncmp(v, prefix, strlen(prefix)) == 0;
}

/* 't' inside tmux, 's' inside GNU screen, 0 otherwise. */
static int multiplexer(void)
{
	if (env_set("TMUX"))
		return 't';
	if (env_set("STY") && env_starts("TERM", "screen"))
		return 's';
	return 0;
}

/* Hand b's bytes over (NULL on ENOMEM). */
static char *take(struct util_buf *b, size_t *len)
{
	if (b->oom || !b->p) {
		free(b->p);
		return NULL;
	}
	*len = b->len;
	return b->p;
}

char *osc52_passthrough(const char *seq, size_t n, size_t *len)
{
	struct util_buf b = {0};
	int m = multiplexer();

	util_buf_put(&b, "", 0);
	if (m == 't') {
		util_buf_put(&b, ESC "Ptmux;", 7);
		for (size_t i = 0; i < n; i++) {
			if (seq[i] == '\033')
				util_buf_put(&b, ESC, 1);
			util_buf_put(&b, seq + i, 1);
		}
		util_buf_put(&b, ESC "\\", 2);
	} else if (m == 's') {
		/* screen ends its DCS at the first ST: an OSC inside ends with BEL */
		int st = n >= 2 && seq[n - 2] == '\033' && seq[n - 1] == '\\';

		util_buf_put(&b, ESC "P", 2);
		util_buf_put(&b, seq, st ? n - 2 : n);
		if (st)
			util_buf_put(&b, "\007", 1);
		util_buf_put(&b, ESC "\\", 2);
	} else {
		util_buf_put(&b, seq, n);
	}
	return take(&b, len);
}

char *osc52_sequence(const char *text, size_t *len)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *s = (const unsigned char *)(text ? text : "");
	size_t n = strlen((const char *)s), wl = 0;
	struct util_buf seq = {0};
	char *wrapped, *out = NULL;

	if (n > OSC52_MAX)
		return NULL;
	util_buf_put(&seq, ESC "]52;c;", 7);
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0u) |
		             (i + 2 < n ? (unsigned)s[i + 2] : 0u);
		char q[4] = {a[v >> 18 & 63], a[v >> 12 & 63], i + 1 < n ? a[v >> 6 & 63] : '=',
		             i + 2 < n ? a[v & 63] : '='};

		util_buf_put(&seq, q, 4);
	}
	util_buf_put(&seq, ESC "\\", 2);
	if (seq.oom) {
		free(seq.p);
		return NULL;
	}
	if (multiplexer() == 0) {
		*len = seq.len;
		return seq.p;
	}
	/* tmux: the plain one too (set-clipboard on); screen: wrapped only */
	if ((wrapped = osc52_passthrough(seq.p, seq.len, &wl))) {
		struct util_buf b = {0};

		util_buf_put(&b, "", 0);
		if (multiplexer() == 't')
			util_buf_put(&b, seq.p, seq.len);
		util_buf_put(&b, wrapped, wl);
		out = take(&b, len);
		free(wrapped);
	}
	free(seq.p);
	return out;
}

int osc52_usable(const char **why)
{
	const char *w = NULL;
	int r = -1;

	if (env_is("TERM", "linux")) {
		w = "the Linux console has no clipboard: use the path shown";
		r = 0;
	} else if (env_set("TMUX")) {
		w = "inside tmux: needs `set -g set-clipboard on` (or allow-passthrough on) and a "
		    "terminal that takes OSC 52";
	} else if (env_set("STY")) {
		w = "inside GNU screen: the terminal outside must take OSC 52";
	} else if (env_set("VTE_VERSION") && !env_is("TERM_PROGRAM", "WezTerm")) {
		w = "VTE terminals (GNOME Terminal, Tilix, ...) do not take OSC 52: use the path "
		    "shown";
		r = 0;
	} else if (env_is("TERM_PROGRAM", "Apple_Terminal")) {
		w = "Apple Terminal does not take OSC 52: use the path shown";
		r = 0;
	} else if (env_is("TERM_PROGRAM", "iTerm.app") || env_is("TERM_PROGRAM", "WezTerm") ||
	           env_is("TERM_PROGRAM", "ghostty") || env_set("KITTY_WINDOW_ID") ||
	           env_set("WT_SESSION") || env_starts("TERM", "foot") ||
	           env_starts("TERM", "alacritty")) {
		r = 1;
	} else if (env_set("XTERM_VERSION")) {
		w = "xterm takes OSC 52 unless disallowedWindowOps lists SetSelection";
		r = 1;
	} else {
		w = "the terminal may not take OSC 52 (xterm, kitty, iTerm2, WezTerm, foot, "
		    "Windows "
		    "Terminal do)";
	}
	if (why)
		*why = w;
	return r;
}
