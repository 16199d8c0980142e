/*
 * view_jobs.c: the jobs table (see view_jobs.h). Column widths follow the
 * window width: the prompt takes whatever the fixed columns leave.
 */
#include <stdio.h>
#include <string.h>

#include "tui.h"
#include "backend.h"
#include "draw.h"
#include "view_jobs.h"

#define VJ_MAX_ROWS 512

/* Row -> job index of the last draw, for mouse clicks. */
static long vj_rowmap[VJ_MAX_ROWS];
static int vj_nrows;

int view_jobs_page(int h)
{
	return h > 2 ? h - 1 : 1;
}

long view_jobs_hit(int y)
{
	if (y < 0 || y >= vj_nrows)
		return -1;
	return vj_rowmap[y];
}

/* Whole seconds: the table ticks once a second. */
static int64_t vj_secs(int64_t ms)
{
	return ms < 1000 ? 0 : ms - ms % 1000;
}

/* The time column: in queue, running, or the total once finished. */
static void vj_time(const struct job *j, int64_t now, char *buf, size_t len)
{
	char d[24];
	int64_t created = j->created_at ? j->created_at : now;
	if (j->state == JOB_IN_PROGRESS && j->started_at) {
		snprintf(buf, len, "r %s",
		         draw_duration(vj_secs(now - j->started_at), d, sizeof d));
	} else if (job_state_is_live(j->state)) {
		int64_t from = j->submitted_at ? j->submitted_at : created;
		snprintf(buf, len, "q %s", draw_duration(vj_secs(now - from), d, sizeof d));
	} else if (j->finished_at) {
		snprintf(buf, len, "%s",
		         draw_duration(vj_secs(j->finished_at - created), d, sizeof d));
	} else {
		snprintf(buf, len, "-");
	}
}

/* Progress: a bar and a percentage while running. */
/* The bar in the selected (reversed) row: whole cells only, the filled ones
 * reversed spaces in the run colour (a reversed block glyph would show the
 * row's opposite colour: a gap in the highlight), the rest dots on the
 * row's own highlight. Without colours the filled cells are block glyphs. */
static void vj_bar_selected(WINDOW *w, int y, int x, int width, double frac, attr_t base)
{
	attr_t run = draw_attr(DRAW_RUN);
	int colour = (run & A_COLOR) != 0;
	int full = (int)((frac < 0 ? 0 : frac > 1 ? 1 : frac) * width + 0.5);
	wmove(w, y, x);
	wattr_on(w, run | base, NULL);
	for (int i = 0; i < full; i++)
		waddstr(w, colour ? " " : draw_utf8() ? "\u2588" : "#");
	wattr_off(w, run | base, NULL);
	wattr_on(w, base | draw_attr(DRAW_DIM), NULL);
	for (int i = full; i < width; i++)
		waddstr(w, draw_utf8() ? "\u00b7" : ".");
	wattr_off(w, base | draw_attr(DRAW_DIM), NULL);
}

static void vj_progress(WINDOW *w, int y, int x, int width, const struct job *j, attr_t base)
{
	if (j->state != JOB_IN_PROGRESS || width < 4)
		return;
	if (j->progress >= 0) {
		int pct = (int)(j->progress * 100 + 0.5);
		char p[16];
		snprintf(p, sizeof p, "%3d%%", pct > 100 ? 100 : pct);
		int bw = width - 5;
		if (bw >= 2 && base)
			vj_bar_selected(w, y, x, bw, j->progress, base);
		else if (bw >= 2)
			draw_bar(w, y, x, bw, j->progress, draw_attr(DRAW_RUN));
		draw_put(w, y, x + (bw >= 2 ? bw + 1 : 0), 4, p, base);
	} else if (j->progress_text) {
		draw_put(w, y, x, width, j->progress_text, base);
	} else {
		draw_put(w, y, x, width, "...", base);
	}
}

static int vj_digits(int64_t v)
{
	int d = 1;
	while (v >= 10) {
		v /= 10;
		d++;
	}
	return d;
}

/* Count live ids above (newer than) top_id and below (older than) bottom_id. */
static void vj_live_outside(const struct view_jobs_info *info, int64_t top_id, int64_t bottom_id,
                            int *above, int *below)
{
	*above = *below = 0;
	for (size_t i = 0; info && i < info->nlive; i++) {
		if (info->live_ids[i] > top_id)
			(*above)++;
		else if (info->live_ids[i] < bottom_id)
			(*below)++;
	}
}

static void vj_marker(WINDOW *w, int y, int width, int count, int up)
{
	char m[96];
	const char *arrow = draw_utf8() ? (up ? "\u25b2" : "\u25bc") : (up ? "^" : "v");
	snprintf(m, sizeof m, " %s %d live job%s %s%s", arrow, count, count == 1 ? "" : "s",
	         up ? "above" : "below", up ? " (g: go to top)" : " (scroll down)");
	wattr_on(w, draw_attr(DRAW_WARN) | A_BOLD, NULL);
	mvwhline(w, y, 0, ' ', width);
	wattr_off(w, draw_attr(DRAW_WARN) | A_BOLD, NULL);
	draw_put(w, y, 0, width, m, draw_attr(DRAW_WARN) | A_BOLD);
}

/* A group's state in one word: running, else waiting, else how it ended
 * (any failure shows; all done is COMPLETED). */
static enum job_state vj_group_state(const struct joblist_group *g)
{
	static const enum job_state live[] = {JOB_IN_PROGRESS, JOB_IN_QUEUE, JOB_SUBMITTING,
	                                      JOB_PENDING, JOB_OTHER};
	static const enum job_state ended[] = {JOB_FAILED,  JOB_TIMED_OUT, JOB_SUBMIT_FAILED,
	                                       JOB_EXPIRED, JOB_UNKNOWN,   JOB_CANCELLED};
	for (size_t i = 0; i < sizeof live / sizeof live[0]; i++)
		if (g->nstate[live[i]])
			return live[i];
	for (size_t i = 0; i < sizeof ended / sizeof ended[0]; i++)
		if (g->nstate[ended[i]])
			return ended[i];
	return JOB_COMPLETED;
}

/* The time column of a group: running since its first start, waiting since
 * it was made, or from made to its last finish. */
static void vj_group_time(const struct joblist_group *g, int64_t now, char *buf, size_t len)
{
	char d[24];
	int64_t created = g->created_at ? g->created_at : now;
	if (g->nlive && g->started_at)
		snprintf(buf, len, "r %s", draw_duration(vj_secs(now - g->started_at), d, sizeof d));
	else if (g->nlive)
		snprintf(buf, len, "q %s", draw_duration(vj_secs(now - created), d, sizeof d));
	else if (g->finished_at)
		snprintf(buf, len, "%s",
		         draw_duration(vj_secs(g->finished_at - created), d, sizeof d));
	else
		snprintf(buf, len, "-");
}

/* A group's progress: the share of its jobs that ended, "3/8". */
static void vj_group_progress(WINDOW *w, int y, int x, int width, const struct joblist_group *g,
                              attr_t base)
{
	char p[32];
	size_t ended = g->n - (size_t)g->nlive;
	snprintf(p, sizeof p, "%zu/%zu", ended, g->n);
	int pw = (int)strlen(p), bw = width - pw - 1;
	double frac = g->n ? (double)ended / (double)g->n : 0;
	if (bw >= 2 && base)
		vj_bar_selected(w, y, x, bw, frac, base);
	else if (bw >= 2)
		draw_bar(w, y, x, bw, frac, draw_attr(DRAW_RUN));
	draw_put(w, y, x + (bw >= 2 ? bw + 1 : 0), pw, p, base);
}

/* The ids a row stands for: a group's newest and oldest, a job's own. */
static void vj_row_ids(struct job **jobs, const struct joblist_row *r, int64_t *newest,
                       int64_t *oldest)
{
	if (r->kind == JOBLIST_ROW_GROUP) {
		*newest = r->group->newest_id;
		*oldest = r->group->oldest_id;
	} else {
		*newest = *oldest = jobs[r->job]->id;
	}
}

void view_jobs_draw(WINDOW *w, struct job **jobs, const struct joblist_row *rows, size_t n,
                    size_t sel, size_t *top, const struct view_jobs_info *info,
                    const char *empty_text)
{
	int h, W;
	getmaxyx(w, h, W);
	vj_nrows = h < VJ_MAX_ROWS ? h : VJ_MAX_ROWS;
	for (int i = 0; i < vj_nrows; i++)
		vj_rowmap[i] = -1;
	if (h < 1 || W < 10)
		return;

	/* columns: the id's wide enough for the largest id and "+g12" */
	int64_t maxid = 1;
	for (size_t i = 0; i < n; i++) {
		int64_t a, b;
		vj_row_ids(jobs, &rows[i], &a, &b);
		if (a > maxid)
			maxid = a;
		if (rows[i].kind == JOBLIST_ROW_GROUP && rows[i].group->id * 10 > maxid)
			maxid = rows[i].group->id * 10;
	}
	int cid = vj_digits(maxid) + 1;
	if (cid < 4)
		cid = 4;
	int cstate = 13, cprog = W >= 100 ? 14 : 9, ctime = 8;
	int cep = W >= 120 ? 16 : W >= 90 ? 12 : 9;
	int cprompt = W - (cid + 1 + cstate + 1 + cprog + 1 + ctime + 1 + cep + 1);
	if (cprompt < 8) { /* very narrow: drop the endpoint, then the progress */
		cprompt += cep + 1;
		cep = 0;
	}
	if (cprompt < 8) {
		cprompt += cprog + 1;
		cprog = 0;
	}
	int xid = 0, xstate = cid + 1, xprog = xstate + cstate + 1;
	int xtime = xprog + (cprog ? cprog + 1 : 0), xep = xtime + ctime + 1;
	int xprompt = xep + (cep ? cep + 1 : 0);

	/* heading */
	attr_t ha = draw_attr(DRAW_TITLE);
	wattr_on(w, ha, NULL);
	mvwhline(w, 0, 0, ' ', W);
	wattr_off(w, ha, NULL);
	draw_put(w, 0, xid + cid - 2, 2, "ID", ha);
	draw_put(w, 0, xstate, cstate, "STATE", ha);
	if (cprog)
		draw_put(w, 0, xprog, cprog, "PROGRESS", ha);
	draw_put(w, 0, xtime, ctime, "TIME", ha);
	if (cep)
		draw_put(w, 0, xep, cep, "ENDPOINT", ha);
	if (cprompt > 0)
		draw_put(w, 0, xprompt, cprompt, "PROMPT", ha);

	if (n == 0) {
		if (empty_text)
			draw_wrap(w, 2, 2, W - 4, h - 2, empty_text, draw_attr(DRAW_DIM));
		*top = 0;
		return;
	}
	if (sel >= n)
		sel = n - 1;

	/* rows: keep sel visible, leaving room for the live markers */
	int nrows = h - 1, above = 0, below = 0;
	for (int pass = 0; pass < 3; pass++) {
		int avail = nrows - (above ? 1 : 0) - (below ? 1 : 0);
		if (avail < 1)
			avail = 1;
		if (sel < *top)
			*top = sel;
		if (sel >= *top + (size_t)avail)
			*top = sel - (size_t)avail + 1;
		if (*top + (size_t)avail > n && n > (size_t)avail)
			*top = n - (size_t)avail;
		if (n <= (size_t)avail)
			*top = 0;
		size_t last = *top + (size_t)avail - 1;
		if (last >= n)
			last = n - 1;
		int64_t top_id, x, bottom_id;
		vj_row_ids(jobs, &rows[*top], &top_id, &x);
		vj_row_ids(jobs, &rows[last], &x, &bottom_id);
		if (last == n - 1 && !(info && info->more))
			bottom_id = 0;
		int a, b;
		vj_live_outside(info, top_id, bottom_id, &a, &b);
		if ((a != 0) == (above != 0) && (b != 0) == (below != 0)) {
			above = a;
			below = b;
			break;
		}
		above = a;
		below = b;
	}

	int y = 1;
	if (above && y < h)
		vj_marker(w, y++, W, above, 1);
	int64_t now = info ? info->now : job_now_ms();
	for (size_t i = *top; i < n && y < h - (below ? 1 : 0); i++, y++) {
		const struct joblist_row *r = &rows[i];
		const struct joblist_group *g = r->kind == JOBLIST_ROW_GROUP ? r->group : NULL;
		const struct job *j = jobs[r->job];
		int selected = i == sel;
		attr_t base = selected ? draw_attr(DRAW_SELECTED) : 0;
		if (selected) {
			wattr_on(w, base, NULL);
			mvwhline(w, y, 0, ' ', W);
			wattr_off(w, base, NULL);
		}
		if (y < VJ_MAX_ROWS)
			vj_rowmap[y] = (long)i;
		char buf[64];
		if (g) { /* "+g3" collapsed, "-g3" expanded */
			const char *mark = draw_utf8() ? (g->expanded ? "\u25be" : "\u25b8")
			                               : (g->expanded ? "-" : "+");
			char gid[32];
			snprintf(gid, sizeof gid, "g%lld", (long long)g->id);
			snprintf(buf, sizeof buf, "%*s%s%s", cid - 1 - (int)strlen(gid), "", mark, gid);
			draw_put(w, y, xid, cid, buf, base | (selected ? 0 : A_BOLD));
		} else {
			snprintf(buf, sizeof buf, "%*lld", cid, (long long)j->id);
			draw_put(w, y, xid, cid, buf, base);
		}
		enum job_state st = g ? vj_group_state(g) : j->state;
		draw_put(w, y, xstate, cstate, draw_state_label(st),
		         selected ? base | A_BOLD : draw_state_attr(st));
		if (cprog && g)
			vj_group_progress(w, y, xprog, cprog, g, base);
		else if (cprog)
			vj_progress(w, y, xprog, cprog, j, base);
		if (g)
			vj_group_time(g, now, buf, sizeof buf);
		else
			vj_time(j, now, buf, sizeof buf);
		draw_put(w, y, xtime, ctime, buf, base);
		if (cep) {
			const char *ep = j->endpoint ? j->endpoint : j->params.endpoint;
			if (j->backend &&
			    !(backend_kind_caps(j->backend) & BACKEND_SURVIVES_DRIVER) && W >= 120)
				snprintf(buf, sizeof buf, "%s (%s)", ep ? ep : "?", j->backend);
			else
				snprintf(buf, sizeof buf, "%s", ep ? ep : "-");
			draw_put(w, y, xep, cep, buf, base | (selected ? 0 : draw_attr(DRAW_DIM)));
		}
		if (cprompt <= 0)
			continue;
		int x = xprompt, end = xprompt + cprompt;
		const char *prompt = j->params.prompt ? j->params.prompt : "";
		if (g) { /* its counts, then its prompt as typed */
			char sum[160];
			joblist_group_summary(g, sum, sizeof sum);
			x += draw_put(w, y, x, end - x, sum, base | A_BOLD);
			x += draw_put(w, y, x, end - x, ": ", base);
			const char *gp = info && info->group_prompt
			                     ? info->group_prompt(info->reason_ctx, g->id)
			                     : NULL;
			if (gp)
				prompt = gp;
		} else if (r->kind == JOBLIST_ROW_MEMBER) { /* what varies for it */
			char v[160];
			joblist_variant_text(j->variant, v, sizeof v);
			x += draw_put(w, y, x, end - x, draw_utf8() ? "\u2514 " : "` ", base);
			if (v[0]) {
				x += draw_put(w, y, x, end - x, v, base | A_BOLD);
				x += draw_put(w, y, x, end - x, ": ", base);
			}
		}
		const char *why = NULL;
		if (info && info->reason && (g ? g->nlive : job_state_is_live(j->state)))
			why = info->reason(info->reason_ctx, j);
		if (why && x < end) {
			char b[120];
			snprintf(b, sizeof b, "(%s) ", why);
			x += draw_put(w, y, x, end - x, b, base | (selected ? 0 : draw_attr(DRAW_WARN)));
		}
		if (x < end)
			draw_put(w, y, x, end - x, prompt, base);
	}
	if (below && h - 1 > 0)
		vj_marker(w, h - 1, W, below, 0);
}
