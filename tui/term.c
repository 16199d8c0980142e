/*
 * term.c: probe the terminal once before curses starts: can it show sixel
 * images, and how many pixels is a cell?
 *
 * The queries (cell size CSI 16 t, XTSMGRAPHICS geometry and colour
 * registers, and DA1 last) go out in one write; every terminal answers DA1,
 * so its reply ends the wait and a terminal that ignores the others costs
 * nothing extra. Replies are parsed from a byte stream that may arrive in any
 * split. The cell size comes from TIOCGWINSZ pixels when the terminal fills
 * them in, else from the CSI 16 t reply, else 8x16.
 */
#include "term.h"
#include "util.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define TERM_DEFAULT_CELL_W 8
#define TERM_DEFAULT_CELL_H 16

/* "sixel" etc. -> graphics; -1 for auto/unset/unknown. */
static int parse_graphics(const char *s)
{
	if (!s || !*s)
		return -1;
	if (strcasecmp(s, "sixel") == 0)
		return TERM_GFX_SIXEL;
	if (strcasecmp(s, "blocks") == 0 || strcasecmp(s, "block") == 0)
		return TERM_GFX_BLOCKS;
	if (strcasecmp(s, "none") == 0 || strcasecmp(s, "off") == 0)
		return TERM_GFX_NONE;
	return -1;
}

static int winsize_cells(int fd, struct term_info *ti)
{
	struct winsize ws;

	if (fd < 0 || ioctl(fd, TIOCGWINSZ, &ws) != 0)
		return 0;
	if (ws.ws_col == 0 || ws.ws_row == 0 || ws.ws_xpixel == 0 || ws.ws_ypixel == 0)
		return 0;
	if (ws.ws_xpixel / ws.ws_col < 2 || ws.ws_ypixel / ws.ws_row < 2)
		return 0;
	ti->cell_w = ws.ws_xpixel / ws.ws_col;
	ti->cell_h = ws.ws_ypixel / ws.ws_row;
	return 1;
}

void term_update_cell_size(int fd, struct term_info *ti)
{
	winsize_cells(fd, ti);
}

/* What the replies told us so far. */
struct replies {
	int got_da1, da1_sixel;
	int cell_w, cell_h;
	int geo_w, geo_h;
	int registers;
};

/* Parse every complete CSI reply in buf[0..len); incomplete tails are left
 * for the next call (the caller re-parses from the start each time, so this
 * must be idempotent). */
static void parse_replies(const unsigned char *buf, size_t len, struct replies *r)
{
	size_t i = 0;

	while (i < len) {
		size_t j;
		int priv = 0, np = 0;
		long p[16];
		unsigned char fin;

		if (buf[i] != 0x1b || i + 1 >= len || buf[i + 1] != '[') {
			i++;
			continue;
		}
		j = i + 2;
		if (j < len && (buf[j] == '?' || buf[j] == '>')) {
			priv = buf[j];
			j++;
		}
		memset(p, 0, sizeof p);
		np = 0;
		while (j < len && ((buf[j] >= '0' && buf[j] <= '9') || buf[j] == ';')) {
			if (np == 0)
				np = 1;
			if (buf[j] == ';') {
				if (np < 16)
					np++;
			} else if (np <= 16 && p[np - 1] < 100000) {
				p[np - 1] = p[np - 1] * 10 + (buf[j] - '0');
			}
			j++;
		}
		if (j >= len)
			return; /* incomplete */
		fin = buf[j];
		if (fin < 0x40 || fin > 0x7e) {
			i = j; /* not a CSI we understand; resync */
			continue;
		}
		if (fin == 'c' && priv == '?') {
			r->got_da1 = 1;
			for (int k = 1; k < np && k < 16; k++)
				if (p[k] == 4)
					r->da1_sixel = 1;
		} else if (fin == 't' && !priv && np >= 3 && p[0] == 6) {
			if (p[1] >= 2 && p[1] < 1000 && p[2] >= 2 && p[2] < 1000) {
				r->cell_h = (int)p[1];
				r->cell_w = (int)p[2];
			}
		} else if (fin == 'S' && priv == '?' && np >= 3 && p[1] == 0) {
			if (p[0] == 1)
				r->registers = (int)p[2];
			else if (p[0] == 2 && np >= 4) {
				r->geo_w = (int)p[2];
				r->geo_h = (int)p[3];
			}
		}
		i = j + 1;
	}
}

/* Send the queries and read until the DA1 reply or the timeout. */
static void query(int fd, int timeout_ms, struct replies *r)
{
	static const char q[] = "\033[16t\033[?2;1;0S\033[?1;1;0S\033[c";
	struct termios old, raw;
	unsigned char buf[4096];
	size_t len = 0;
	long long deadline;
	size_t off = 0;

	if (tcgetattr(fd, &old) != 0)
		return;
	raw = old;
	raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	raw.c_cc[VMIN] = 0;
	raw.c_cc[VTIME] = 0;
	if (tcsetattr(fd, TCSANOW, &raw) != 0)
		return;
	while (off < sizeof q - 1) {
		ssize_t n = write(fd, q + off, sizeof q - 1 - off);

		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			goto out;
		off += (size_t)n;
	}
	deadline = util_now_ms() + (timeout_ms > 0 ? timeout_ms : 500);
	while (!r->got_da1) {
		long long left = deadline - util_now_ms();
		struct pollfd pfd = {fd, POLLIN, 0};
		ssize_t n;
		int pr;

		if (left <= 0)
			break;
		pr = poll(&pfd, 1, (int)left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			break;
		if (len == sizeof buf) {
			/* junk (typed keys): keep the tail, where a reply may be starting */
			memmove(buf, buf + len / 2, len - len / 2);
			len -= len / 2;
		}
		n = read(fd, buf + len, sizeof buf - len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		parse_replies(buf, len, r);
	}
out:
	tcsetattr(fd, TCSANOW, &old);
}

void term_probe(int fd, const char *override, int timeout_ms, struct term_info *ti)
{
	const char *ct = getenv("COLORTERM"), *term = getenv("TERM");
	int forced = parse_graphics(getenv("SDQ_GRAPHICS"));
	struct replies r;

	memset(ti, 0, sizeof *ti);
	memset(&r, 0, sizeof r);
	ti->cell_w = TERM_DEFAULT_CELL_W;
	ti->cell_h = TERM_DEFAULT_CELL_H;
	ti->truecolor = ct && (strcasecmp(ct, "truecolor") == 0 || strcasecmp(ct, "24bit") == 0);
	ti->in_multiplexer =
	    (getenv("TMUX") && *getenv("TMUX")) || (getenv("STY") && *getenv("STY")) ||
	    (term && (strncmp(term, "screen", 6) == 0 || strncmp(term, "tmux", 4) == 0));
	if (forced < 0)
		forced = parse_graphics(override);

	if (fd < 0 || !isatty(fd)) {
		ti->graphics = forced >= 0 ? (enum term_graphics)forced : TERM_GFX_NONE;
		return;
	}
	/* forced to sixel: ask anyway, to say so when the terminal does not
	 * list it (tmux 3.3a drops the images: an empty pane, no word why) */
	if (forced < 0 || forced == TERM_GFX_SIXEL)
		query(fd, timeout_ms, &r);
	ti->sixel_in_da1 = r.da1_sixel;
	ti->sixel_unlisted = forced == TERM_GFX_SIXEL && r.got_da1 && !r.da1_sixel;
	ti->sixel_max_w = r.geo_w;
	ti->sixel_max_h = r.geo_h;
	ti->color_registers = r.registers;
	if (!winsize_cells(fd, ti) && r.cell_w > 0) {
		ti->cell_w = r.cell_w;
		ti->cell_h = r.cell_h;
	}
	if (forced >= 0)
		ti->graphics = (enum term_graphics)forced;
	else if (r.da1_sixel)
		ti->graphics = TERM_GFX_SIXEL; /* also a sixel-capable tmux >= 3.4 */
	else
		ti->graphics = TERM_GFX_BLOCKS;
}
