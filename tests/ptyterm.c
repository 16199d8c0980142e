/*
 * ptyterm.c: a program under a pty, its screen kept by libvterm, its DCS
 * strings (sixel) captured on the side. See ptyterm.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <vterm.h>

#include "ptyterm.h"

#define PT_DCS_MAX (64u << 20) /* one DCS string larger than this is cut */

enum pt_state { PT_GROUND, PT_ESC, PT_CSI, PT_DCS, PT_DCS_ESC, PT_OSC, PT_OSC_ESC };
#define PT_OSC_MAX (1u << 20) /* the OSC strings kept, in all */

struct ptyterm {
	pid_t pid;
	int fd;
	int eof;
	int status; /* exit status once reaped, -1 before */
	int cols, rows, cell_w, cell_h;
	char *da1;
	int answer_cell;
	VTerm *vt;
	VTermScreen *vs;
	VTermState *vst;
	int keying;   /* while set, libvterm's output (key encodings) goes to the child */
	int draining; /* pt_write_all is reading output: no nested read there */
	int altscreen;
	/* the splitter */
	enum pt_state st;
	char csi[64];
	size_t csi_len;
	char *dcs;
	char *osc; /* every OSC string seen (its text, no ESC ] or end), one a line */
	size_t osc_len;
	size_t dcs_len, dcs_cap;
	int dcs_row, dcs_col;
	struct ptyterm_capture *caps;
	size_t ncaps;
	/* the sixel layer: images placed, and per cell the image showing there */
	struct ptyterm_image *imgs;
	size_t nimgs;
	int *owner; /* rows * cols: image index + 1, 0 for none */
};

static int64_t pt_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int pt_drain(struct ptyterm *pt);

static void pt_write_all(struct ptyterm *pt, const char *s, size_t len)
{
	int64_t deadline = pt_now_ms() + 10000; /* a slow child reads slowly */
	while (len > 0 && pt_now_ms() < deadline) {
		ssize_t w = write(pt->fd, s, len);
		if (w > 0) {
			s += w;
			len -= (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return;
		/* the child may be blocked writing to us: keep reading meanwhile */
		struct pollfd p = {pt->fd, POLLOUT | POLLIN, 0};
		if (poll(&p, 1, 50) > 0 && (p.revents & POLLIN) && !pt->draining) {
			pt->draining = 1;
			pt_drain(pt);
			pt->draining = 0;
		}
	}
}

static void pt_vterm_output(const char *s, size_t len, void *user)
{
	struct ptyterm *pt = user;
	if (pt->keying)
		pt_write_all(pt, s, len);
	/* otherwise: libvterm's own replies to queries, dropped (we answer) */
}

static int pt_settermprop(VTermProp prop, VTermValue *val, void *user)
{
	struct ptyterm *pt = user;
	if (prop == VTERM_PROP_ALTSCREEN)
		pt->altscreen = val->boolean;
	return 1;
}

/* Text written or erased in a rectangle: the pixels of any image there go. */
static int pt_damage(VTermRect r, void *user)
{
	struct ptyterm *pt = user;
	if (!pt->owner)
		return 1;
	for (int y = r.start_row < 0 ? 0 : r.start_row; y < r.end_row && y < pt->rows; y++)
		for (int x = r.start_col < 0 ? 0 : r.start_col; x < r.end_col && x < pt->cols; x++)
			pt->owner[y * pt->cols + x] = 0;
	return 1;
}

/* A scroll (or an insert/delete of lines or characters) moves the pixels
 * with the text, as xterm does; libvterm then reports the uncovered cells
 * as damage. */
static int pt_moverect(VTermRect dest, VTermRect src, void *user)
{
	struct ptyterm *pt = user;
	int h = dest.end_row - dest.start_row, w = dest.end_col - dest.start_col;
	if (!pt->owner || h <= 0 || w <= 0)
		return 1;
	int *tmp = malloc(sizeof *tmp * (size_t)h * (size_t)w);
	if (!tmp)
		return 0;
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			int sy = src.start_row + y, sx = src.start_col + x;
			tmp[y * w + x] = sy >= 0 && sy < pt->rows && sx >= 0 && sx < pt->cols
			                     ? pt->owner[sy * pt->cols + sx]
			                     : 0;
		}
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			int dy = dest.start_row + y, dx = dest.start_col + x;
			if (dy >= 0 && dy < pt->rows && dx >= 0 && dx < pt->cols)
				pt->owner[dy * pt->cols + dx] = tmp[y * w + x];
		}
	free(tmp);
	return 1;
}

static const VTermScreenCallbacks pt_screen_cbs = {
    .damage = pt_damage,
    .moverect = pt_moverect,
    .settermprop = pt_settermprop,
};

struct ptyterm *ptyterm_start(char *const argv[], char *const env[], int cols, int rows,
                              const struct ptyterm_opts *opts)
{
	struct ptyterm *pt = calloc(1, sizeof *pt);
	if (!pt)
		return NULL;
	pt->cols = cols;
	pt->rows = rows;
	pt->status = -1;
	pt->cell_w = opts && opts->cell_w > 0 ? opts->cell_w : 8;
	pt->cell_h = opts && opts->cell_h > 0 ? opts->cell_h : 17;
	pt->answer_cell = opts ? opts->answer_cell_size : 0;
	pt->da1 = strdup(opts && opts->da1_reply ? opts->da1_reply : PTYTERM_DA1_PLAIN);

	pt->vt = vterm_new(rows, cols);
	vterm_set_utf8(pt->vt, 1);
	vterm_output_set_callback(pt->vt, pt_vterm_output, pt);
	pt->vs = vterm_obtain_screen(pt->vt);
	pt->vst = vterm_obtain_state(pt->vt);
	vterm_screen_enable_altscreen(pt->vs, 1);
	vterm_screen_set_callbacks(pt->vs, &pt_screen_cbs, pt);
	vterm_screen_reset(pt->vs, 1);
	pt->owner = calloc((size_t)rows * (size_t)cols, sizeof *pt->owner);

	struct winsize ws = {(unsigned short)rows, (unsigned short)cols,
	                     (unsigned short)(cols * pt->cell_w),
	                     (unsigned short)(rows * pt->cell_h)};
	int fd;
	pid_t pid = forkpty(&fd, NULL, NULL, &ws);
	if (pid < 0) {
		perror("forkpty");
		vterm_free(pt->vt);
		free(pt->da1);
		free(pt);
		return NULL;
	}
	if (pid == 0) {
		unsetenv("LINES");
		unsetenv("COLUMNS");
		setenv("TERM", "screen-256color", 1);
		for (size_t i = 0; env && env[i]; i++) {
			const char *eq = strchr(env[i], '=');
			if (!eq) {
				unsetenv(env[i]);
				continue;
			}
			char name[256];
			size_t n = (size_t)(eq - env[i]);
			if (n >= sizeof name)
				continue;
			memcpy(name, env[i], n);
			name[n] = 0;
			setenv(name, eq + 1, 1);
		}
		execv(argv[0], argv);
		fprintf(stderr, "ptyterm: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	pt->pid = pid;
	pt->fd = fd;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	return pt;
}

static void pt_reap(struct ptyterm *pt, int flags)
{
	if (pt->status >= 0 || pt->pid <= 0)
		return;
	int ws;
	pid_t r = waitpid(pt->pid, &ws, flags);
	if (r == pt->pid) {
		if (WIFEXITED(ws))
			pt->status = WEXITSTATUS(ws);
		else if (WIFSIGNALED(ws))
			pt->status = 128 + WTERMSIG(ws);
		else
			pt->status = 255;
	}
}

int ptyterm_stop(struct ptyterm *pt)
{
	if (!pt)
		return -1;
	pt_reap(pt, WNOHANG);
	if (pt->status < 0) {
		kill(pt->pid, SIGTERM);
		int64_t deadline = pt_now_ms() + 2000;
		while (pt->status < 0 && pt_now_ms() < deadline) {
			ptyterm_pump(pt, 20);
			pt_reap(pt, WNOHANG);
		}
		if (pt->status < 0) {
			kill(pt->pid, SIGKILL);
			pt_reap(pt, 0);
		}
	}
	int status = pt->status;
	close(pt->fd);
	vterm_free(pt->vt);
	for (size_t i = 0; i < pt->ncaps; i++)
		free(pt->caps[i].data);
	free(pt->caps);
	for (size_t i = 0; i < pt->nimgs; i++)
		free((char *)pt->imgs[i].data);
	free(pt->imgs);
	free(pt->owner);
	free(pt->dcs);
	free(pt->osc);
	free(pt->da1);
	free(pt);
	return status;
}

/* --- the stream splitter --- */

static void pt_feed(struct ptyterm *pt, const char *s, size_t len)
{
	if (len)
		vterm_input_write(pt->vt, s, len);
}

static void pt_dcs_add(struct ptyterm *pt, const char *s, size_t len)
{
	if (pt->dcs_len + len > PT_DCS_MAX)
		return;
	if (pt->dcs_len + len > pt->dcs_cap) {
		size_t cap = pt->dcs_cap ? pt->dcs_cap : 4096;
		while (cap < pt->dcs_len + len)
			cap *= 2;
		char *d = realloc(pt->dcs, cap);
		if (!d)
			return;
		pt->dcs = d;
		pt->dcs_cap = cap;
	}
	memcpy(pt->dcs + pt->dcs_len, s, len);
	pt->dcs_len += len;
}

/* A sixel DCS (ESC P params q ...) just ended at the cursor (row, col):
 * its size from the raster attributes ("Pan;Pad;Ph;Pv), the cells under it
 * now show it. */
static void pt_place_image(struct ptyterm *pt, const char *d, size_t len, int row, int col)
{
	size_t i = 2;
	while (i < len && ((d[i] >= '0' && d[i] <= '9') || d[i] == ';'))
		i++;
	if (i >= len || d[i] != 'q')
		return; /* not a sixel image */
	const char *ra = memchr(d + i, '"', len - i);
	int pan, pad, w = 0, h = 0;
	if (!ra || sscanf(ra + 1, "%d;%d;%d;%d", &pan, &pad, &w, &h) != 4 || w <= 0 || h <= 0)
		return;
	struct ptyterm_image *im = realloc(pt->imgs, (pt->nimgs + 1) * sizeof *im);
	if (!im)
		return;
	pt->imgs = im;
	im = &pt->imgs[pt->nimgs];
	char *copy = malloc(len + 1);
	if (!copy)
		return;
	memcpy(copy, d, len);
	copy[len] = 0;
	im->data = copy;
	im->len = len;
	im->row = row;
	im->col = col;
	im->w = w;
	im->h = h;
	im->cols = (w + pt->cell_w - 1) / pt->cell_w;
	im->rows = (h + pt->cell_h - 1) / pt->cell_h;
	pt->nimgs++;
	for (int y = row; pt->owner && y < row + im->rows && y < pt->rows; y++)
		for (int x = col; x < col + im->cols && x < pt->cols; x++)
			if (y >= 0 && x >= 0)
				pt->owner[y * pt->cols + x] = (int)pt->nimgs;
}

static void pt_dcs_end(struct ptyterm *pt)
{
	pt_place_image(pt, pt->dcs, pt->dcs_len, pt->dcs_row, pt->dcs_col);
	struct ptyterm_capture *c = realloc(pt->caps, (pt->ncaps + 1) * sizeof *c);
	if (!c)
		return;
	pt->caps = c;
	c = &pt->caps[pt->ncaps++];
	c->data = malloc(pt->dcs_len + 1);
	if (c->data) {
		memcpy(c->data, pt->dcs, pt->dcs_len);
		c->data[pt->dcs_len] = 0;
	}
	c->len = c->data ? pt->dcs_len : 0;
	c->row = pt->dcs_row;
	c->col = pt->dcs_col;
	pt->dcs_len = 0;
}

/* A complete CSI (csi holds the parameter and final bytes): answer queries. */
static void pt_csi_done(struct ptyterm *pt)
{
	pt->csi[pt->csi_len] = 0;
	if (strcmp(pt->csi, "c") == 0 || strcmp(pt->csi, "0c") == 0) {
		pt_write_all(pt, pt->da1, strlen(pt->da1));
	} else if (strcmp(pt->csi, "16t") == 0 && pt->answer_cell) {
		char r[48];
		int n = snprintf(r, sizeof r, "\033[6;%d;%dt", pt->cell_h, pt->cell_w);
		pt_write_all(pt, r, (size_t)n);
	}
}

/* Keep a byte of an OSC string (capped: what passes the cap is dropped). */
static void pt_osc_add(struct ptyterm *pt, char c)
{
	if (pt->osc_len + 2 > PT_OSC_MAX)
		return;
	if (!pt->osc && !(pt->osc = malloc(PT_OSC_MAX)))
		return;
	pt->osc[pt->osc_len++] = c;
	pt->osc[pt->osc_len] = 0;
}

static void pt_process(struct ptyterm *pt, const char *buf, size_t len)
{
	size_t run = 0; /* start of the pending run of bytes for libvterm */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];
		switch (pt->st) {
		case PT_GROUND:
			if (c == 0x1b) {
				pt_feed(pt, buf + run, i - run);
				run = i + 1;
				pt->st = PT_ESC;
			}
			break;
		case PT_ESC:
			if (c == 'P') {
				VTermPos pos;
				vterm_state_get_cursorpos(pt->vst, &pos);
				pt->dcs_row = pos.row;
				pt->dcs_col = pos.col;
				pt->dcs_len = 0;
				pt_dcs_add(pt, "\033P", 2);
				pt->st = PT_DCS;
				run = i + 1;
			} else if (c == ']') { /* OSC: kept for ptyterm_osc, not drawn */
				pt->st = PT_OSC;
				run = i + 1;
			} else {
				pt_feed(pt, "\033", 1);
				run = i;
				if (c == '[') {
					pt->csi_len = 0;
					pt->st = PT_CSI;
				} else if (c == 0x1b) {
					run = i + 1;
					pt->st = PT_ESC;
				} else {
					pt->st = PT_GROUND;
				}
			}
			break;
		case PT_CSI:
			if (c >= 0x40 && c <= 0x7e) {
				if (pt->csi_len < sizeof pt->csi - 1)
					pt->csi[pt->csi_len++] = (char)c;
				pt->st = PT_GROUND;
				/* feed the CSI to libvterm first, then answer */
				pt_feed(pt, buf + run, i + 1 - run);
				run = i + 1;
				pt_csi_done(pt);
			} else if (c == 0x1b) {
				pt_feed(pt, buf + run, i - run);
				run = i + 1;
				pt->st = PT_ESC;
			} else if (pt->csi_len < sizeof pt->csi - 1) {
				pt->csi[pt->csi_len++] = (char)c;
			}
			break;
		case PT_DCS:
			if (c == 0x1b)
				pt->st = PT_DCS_ESC;
			else
				pt_dcs_add(pt, (const char *)&buf[i], 1);
			run = i + 1;
			break;
		case PT_OSC: /* ends with BEL or ST */
			if (c == 0x07) {
				pt_osc_add(pt, '\n');
				pt->st = PT_GROUND;
			} else if (c == 0x1b) {
				pt->st = PT_OSC_ESC;
			} else {
				pt_osc_add(pt, (char)c);
			}
			run = i + 1;
			break;
		case PT_OSC_ESC:
			pt_osc_add(pt, '\n');
			pt->st = c == '\\' ? PT_GROUND : PT_ESC;
			run = c == '\\' ? i + 1 : i;
			if (c != '\\')
				i--; /* the ESC began something else: read c again */
			break;
		case PT_DCS_ESC:
			if (c == '\\') {
				pt_dcs_add(pt, "\033\\", 2);
				pt_dcs_end(pt);
				pt->st = PT_GROUND;
			} else {
				pt_dcs_add(pt, "\033", 1);
				pt_dcs_add(pt, (const char *)&buf[i], 1);
				pt->st = PT_DCS;
			}
			run = i + 1;
			break;
		}
	}
	if (pt->st == PT_GROUND || pt->st == PT_CSI)
		pt_feed(pt, buf + run, len - run);
}

/* Read and process everything available now. 1 if something was read. */
static int pt_drain(struct ptyterm *pt)
{
	int got = 0;
	char buf[16384];
	for (;;) {
		ssize_t n = read(pt->fd, buf, sizeof buf);
		if (n > 0) {
			pt_process(pt, buf, (size_t)n);
			got = 1;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		pt->eof = 1; /* EIO: the slave side is closed */
		break;
	}
	vterm_screen_flush_damage(pt->vs);
	return got;
}

int ptyterm_pump(struct ptyterm *pt, int timeout_ms)
{
	if (pt->eof)
		return -1;
	struct pollfd p = {pt->fd, POLLIN, 0};
	int r = poll(&p, 1, timeout_ms < 0 ? 0 : timeout_ms);
	if (r <= 0)
		return 0;
	int got = pt_drain(pt);
	return got ? 1 : (pt->eof ? -1 : 0);
}

void ptyterm_settle(struct ptyterm *pt, int quiet_ms, int timeout_ms)
{
	int64_t deadline = pt_now_ms() + timeout_ms;
	while (pt_now_ms() < deadline) {
		if (ptyterm_pump(pt, quiet_ms) <= 0)
			return;
	}
}

/* --- input --- */

int ptyterm_send(struct ptyterm *pt, const char *bytes)
{
	pt_write_all(pt, bytes, strlen(bytes));
	return 0;
}

static const struct {
	const char *name;
	VTermKey key;
} pt_keys[] = {
    {"Up", VTERM_KEY_UP},       {"Down", VTERM_KEY_DOWN},     {"Left", VTERM_KEY_LEFT},
    {"Right", VTERM_KEY_RIGHT}, {"Home", VTERM_KEY_HOME},     {"End", VTERM_KEY_END},
    {"PgUp", VTERM_KEY_PAGEUP}, {"PgDn", VTERM_KEY_PAGEDOWN}, {"Enter", VTERM_KEY_ENTER},
    {"Esc", VTERM_KEY_ESCAPE},  {"Tab", VTERM_KEY_TAB},       {"Backspace", VTERM_KEY_BACKSPACE},
    {"Delete", VTERM_KEY_DEL},  {"Insert", VTERM_KEY_INS},
};

int ptyterm_key(struct ptyterm *pt, const char *name)
{
	if (name[0] == 'C' && name[1] == '-' && name[2] && !name[3]) {
		char c = (char)(name[2] & 0x1f);
		pt_write_all(pt, &c, 1);
		return 0;
	}
	VTermKey key = VTERM_KEY_NONE;
	for (size_t i = 0; i < sizeof pt_keys / sizeof pt_keys[0]; i++)
		if (strcmp(pt_keys[i].name, name) == 0)
			key = pt_keys[i].key;
	if (key == VTERM_KEY_NONE && name[0] == 'F' && name[1] >= '1' && name[1] <= '9') {
		int n = atoi(name + 1);
		if (n >= 1 && n <= 12)
			key = VTERM_KEY_FUNCTION(n);
	}
	if (key == VTERM_KEY_NONE)
		return -1;
	if (key == VTERM_KEY_ENTER) { /* libvterm sends CR; so does a real terminal */
		pt_write_all(pt, "\r", 1);
		return 0;
	}
	if (key == VTERM_KEY_BACKSPACE) { /* xterm and the console send DEL */
		pt_write_all(pt, "\177", 1);
		return 0;
	}
	pt->keying = 1;
	vterm_keyboard_key(pt->vt, key, VTERM_MOD_NONE);
	pt->keying = 0;
	return 0;
}

int ptyterm_click(struct ptyterm *pt, int button, int row, int col)
{
	pt->keying = 1;
	vterm_mouse_move(pt->vt, row, col, VTERM_MOD_NONE);
	vterm_mouse_button(pt->vt, button, true, VTERM_MOD_NONE);
	if (button < 4)
		vterm_mouse_button(pt->vt, button, false, VTERM_MOD_NONE);
	pt->keying = 0;
	return 0;
}

/* --- the screen --- */

static size_t pt_utf8(uint32_t c, char *out)
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xc0 | (c >> 6));
		out[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		out[0] = (char)(0xe0 | (c >> 12));
		out[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		out[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (c >> 18));
	out[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	out[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

char *ptyterm_row(struct ptyterm *pt, int row, char *buf, size_t len)
{
	size_t o = 0;
	if (len == 0)
		return buf;
	buf[0] = 0;
	if (row < 0 || row >= pt->rows)
		return buf;
	for (int col = 0; col < pt->cols; col++) {
		VTermScreenCell cell;
		VTermPos pos = {row, col};
		if (!vterm_screen_get_cell(pt->vs, pos, &cell))
			break;
		if (cell.chars[0] == (uint32_t)-1)
			continue; /* the right half of a wide character */
		char tmp[4 * VTERM_MAX_CHARS_PER_CELL];
		size_t n = 0;
		if (cell.chars[0] == 0)
			tmp[n++] = ' ';
		for (int k = 0; k < VTERM_MAX_CHARS_PER_CELL && cell.chars[k]; k++)
			n += pt_utf8(cell.chars[k], tmp + n);
		if (o + n + 1 > len)
			break;
		memcpy(buf + o, tmp, n);
		o += n;
	}
	buf[o] = 0;
	return buf;
}

char *ptyterm_screen(struct ptyterm *pt)
{
	size_t cap = (size_t)pt->rows * ((size_t)pt->cols * 4 * VTERM_MAX_CHARS_PER_CELL + 1) + 1;
	char *out = malloc(cap);
	char *line = malloc((size_t)pt->cols * 4 * VTERM_MAX_CHARS_PER_CELL + 1);
	size_t o = 0;
	if (!out || !line) {
		free(out);
		free(line);
		return NULL;
	}
	for (int r = 0; r < pt->rows; r++) {
		ptyterm_row(pt, r, line, (size_t)pt->cols * 4 * VTERM_MAX_CHARS_PER_CELL + 1);
		size_t n = strlen(line);
		while (n > 0 && line[n - 1] == ' ')
			n--;
		memcpy(out + o, line, n);
		o += n;
		out[o++] = '\n';
	}
	out[o] = 0;
	free(line);
	return out;
}

void ptyterm_size(struct ptyterm *pt, int *cols, int *rows)
{
	if (cols)
		*cols = pt->cols;
	if (rows)
		*rows = pt->rows;
}

void ptyterm_cursor(struct ptyterm *pt, int *row, int *col)
{
	VTermPos pos;
	vterm_state_get_cursorpos(pt->vst, &pos);
	if (row)
		*row = pos.row;
	if (col)
		*col = pos.col;
}

int ptyterm_find(struct ptyterm *pt, const char *text, int *row, int *col)
{
	size_t cap = (size_t)pt->cols * 4 * VTERM_MAX_CHARS_PER_CELL + 1;
	char *line = malloc(cap);
	if (!line)
		return 0;
	for (int r = 0; r < pt->rows; r++) {
		ptyterm_row(pt, r, line, cap);
		char *hit = strstr(line, text);
		if (hit) {
			if (row)
				*row = r;
			if (col) { /* count columns up to the hit (code points; wide ones as 2) */
				int c = 0;
				for (const char *s = line; s < hit; s++)
					if (((unsigned char)*s & 0xc0) != 0x80)
						c++;
				*col = c;
			}
			free(line);
			return 1;
		}
	}
	free(line);
	return 0;
}

int ptyterm_wait_for_text(struct ptyterm *pt, const char *text, int timeout_ms)
{
	int64_t deadline = pt_now_ms() + timeout_ms;
	for (;;) {
		if (ptyterm_find(pt, text, NULL, NULL))
			return 1;
		int64_t left = deadline - pt_now_ms();
		if (left <= 0)
			return 0;
		if (ptyterm_pump(pt, left > 50 ? 50 : (int)left) < 0)
			return ptyterm_find(pt, text, NULL, NULL);
	}
}

int ptyterm_wait_for_text_gone(struct ptyterm *pt, const char *text, int timeout_ms)
{
	int64_t deadline = pt_now_ms() + timeout_ms;
	for (;;) {
		if (!ptyterm_find(pt, text, NULL, NULL))
			return 1;
		int64_t left = deadline - pt_now_ms();
		if (left <= 0)
			return 0;
		if (ptyterm_pump(pt, left > 50 ? 50 : (int)left) < 0)
			return !ptyterm_find(pt, text, NULL, NULL);
	}
}

static int pt_color(const VTermColor *c, int is_fg)
{
	if (is_fg ? VTERM_COLOR_IS_DEFAULT_FG(c) : VTERM_COLOR_IS_DEFAULT_BG(c))
		return -1;
	if (VTERM_COLOR_IS_INDEXED(c))
		return c->indexed.idx;
	return 0x1000000 | (c->rgb.red << 16) | (c->rgb.green << 8) | c->rgb.blue;
}

int ptyterm_cell(struct ptyterm *pt, int row, int col, struct ptyterm_cell *out)
{
	VTermScreenCell cell;
	VTermPos pos = {row, col};
	if (row < 0 || row >= pt->rows || col < 0 || col >= pt->cols ||
	    !vterm_screen_get_cell(pt->vs, pos, &cell))
		return -1;
	out->ch = cell.chars[0] == (uint32_t)-1 ? 0 : cell.chars[0];
	out->fg = pt_color(&cell.fg, 1);
	out->bg = pt_color(&cell.bg, 0);
	out->bold = cell.attrs.bold;
	out->reverse = cell.attrs.reverse;
	out->underline = cell.attrs.underline;
	return 0;
}

int ptyterm_resize(struct ptyterm *pt, int cols, int rows)
{
	struct winsize ws = {(unsigned short)rows, (unsigned short)cols,
	                     (unsigned short)(cols * pt->cell_w),
	                     (unsigned short)(rows * pt->cell_h)};
	vterm_set_size(pt->vt, rows, cols);
	vterm_screen_flush_damage(pt->vs);
	pt->cols = cols;
	pt->rows = rows;
	/* a resized terminal keeps no image where it was (xterm clears them) */
	free(pt->owner);
	pt->owner = calloc((size_t)rows * (size_t)cols, sizeof *pt->owner);
	if (ioctl(pt->fd, TIOCSWINSZ, &ws) < 0)
		return -1;
	return 0;
}

size_t ptyterm_ncaptures(struct ptyterm *pt)
{
	return pt->ncaps;
}

const struct ptyterm_capture *ptyterm_capture(struct ptyterm *pt, size_t i)
{
	return i < pt->ncaps ? &pt->caps[i] : NULL;
}

const char *ptyterm_osc(struct ptyterm *pt)
{
	return pt->osc ? pt->osc : "";
}

void ptyterm_clear_captures(struct ptyterm *pt)
{
	for (size_t i = 0; i < pt->ncaps; i++)
		free(pt->caps[i].data);
	free(pt->caps);
	pt->caps = NULL;
	pt->ncaps = 0;
}

int ptyterm_altscreen(struct ptyterm *pt)
{
	return pt->altscreen;
}

int ptyterm_tty_sane(struct ptyterm *pt)
{
	struct termios t;
	if (tcgetattr(pt->fd, &t) < 0)
		return 0;
	return (t.c_lflag & ICANON) && (t.c_lflag & ECHO) && (t.c_lflag & ISIG);
}

int ptyterm_wait_exit(struct ptyterm *pt, int timeout_ms)
{
	int64_t deadline = pt_now_ms() + timeout_ms;
	for (;;) {
		pt_reap(pt, WNOHANG);
		if (pt->status >= 0) {
			/* the kernel may still hold the child's last bytes: read on
			 * until the slave side is closed (bounded) */
			int64_t until = pt_now_ms() + 500;
			while (pt_now_ms() < until && ptyterm_pump(pt, 50) >= 0)
				;
			return pt->status;
		}
		if (pt_now_ms() >= deadline)
			return -1;
		if (ptyterm_pump(pt, 20) < 0)
			usleep(10000);
	}
}

int ptyterm_pid(struct ptyterm *pt)
{
	return (int)pt->pid;
}

int ptyterm_image_at(struct ptyterm *pt, int row, int col)
{
	if (!pt->owner || row < 0 || row >= pt->rows || col < 0 || col >= pt->cols)
		return -1;
	return pt->owner[row * pt->cols + col] - 1;
}

const struct ptyterm_image *ptyterm_image(struct ptyterm *pt, int idx)
{
	return idx >= 0 && (size_t)idx < pt->nimgs ? &pt->imgs[idx] : NULL;
}

int ptyterm_image_intact(struct ptyterm *pt, int idx)
{
	const struct ptyterm_image *im = ptyterm_image(pt, idx);
	if (!im)
		return 0;
	for (int y = im->row; y < im->row + im->rows && y < pt->rows; y++)
		for (int x = im->col; x < im->col + im->cols && x < pt->cols; x++)
			if (ptyterm_image_at(pt, y, x) != idx)
				return 0;
	return 1;
}

size_t ptyterm_nimages(struct ptyterm *pt)
{
	return pt->nimgs;
}
