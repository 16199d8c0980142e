/*
 * view_detail.c: the detail pane (see view_detail.h). A label column and
 * wrapped values; long values (the error, the prompt) wrap rather than cut.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "tui.h"
#include "draw.h"
#include "view_detail.h"

#define VD_LABEL 9

/* One "label  value" entry, wrapped; returns the next row. */
static int vd_field(WINDOW *w, int y, const char *label, const char *value, int maxrows, attr_t a)
{
	int h, W;
	getmaxyx(w, h, W);
	if (y >= h || !value)
		return y;
	draw_put(w, y, 0, VD_LABEL, label, draw_attr(DRAW_TITLE));
	if (maxrows > h - y)
		maxrows = h - y;
	int used = draw_wrap(w, y, VD_LABEL + 1, W - VD_LABEL - 1, maxrows, value, a);
	return y + (used > 0 ? used : 1);
}

/* The text as pretty-printed JSON when it is a JSON object or array, else a
 * copy. Malloc'd. The cJSON tree does not leave this function. */
static char *vd_pretty(const char *s)
{
	const char *p = s;
	while (*p == ' ' || *p == '\n' || *p == '\t')
		p++;
	if (*p == '{' || *p == '[') {
		cJSON *root = cJSON_Parse(p);
		if (root) {
			char *out = cJSON_Print(root);
			cJSON_Delete(root);
			if (out) { /* cJSON indents with tabs: two spaces read better here */
				size_t tabs = 0, n = strlen(out);
				for (size_t i = 0; i < n; i++)
					tabs += out[i] == '\t';
				char *copy = malloc(n + tabs + 1);
				if (copy) {
					size_t o = 0;
					for (size_t i = 0; i < n; i++) {
						if (out[i] == '\t') {
							copy[o++] = ' ';
							copy[o++] = ' ';
						} else {
							copy[o++] = out[i];
						}
					}
					copy[o] = 0;
				}
				cJSON_free(out);
				return copy;
			}
		}
	}
	return strdup(s);
}

int view_detail_draw(WINDOW *w, const struct job *j, int64_t now, int waits_key,
                     const char *waiting)
{
	int h, W;
	getmaxyx(w, h, W);
	if (W < VD_LABEL + 8 || h < 1)
		return 0;
	if (!j) {
		draw_put(w, 0, 0, W, "No job selected.", draw_attr(DRAW_DIM));
		return 1;
	}
	char buf[512], d1[24], d2[24], d3[24];
	int y = 0;

	/* title: id, state, remote id */
	snprintf(buf, sizeof buf, "Job %lld", (long long)j->id);
	int x = draw_put(w, y, 0, W, buf, A_BOLD);
	x += 2;
	const char *label =
	    j->state == JOB_OTHER && j->status_text ? j->status_text : job_state_name(j->state);
	x += draw_put(w, y, x, W - x, label, draw_state_attr(j->state) | A_BOLD);
	if (j->remote_id && x + 4 < W) {
		snprintf(buf, sizeof buf, "  remote %s", j->remote_id);
		draw_put(w, y, x, W - x, buf, draw_attr(DRAW_DIM));
	}
	y++;

	/* the error first, in full: it is why one looks at a failed job */
	if (j->error && *j->error) {
		char *pretty = vd_pretty(j->error);
		y = vd_field(w, y, "error:", pretty ? pretty : j->error,
		             h - y - 1 > 3 ? h - y - 1 : 3, draw_attr(DRAW_ERROR));
		free(pretty);
	}

	const struct job_params *p = &j->params;
	/* the prompts in full: the pane scrolls (J/K) */
	y = vd_field(w, y, "prompt", p->prompt ? p->prompt : "", h, A_BOLD);
	if (p->negative_prompt && *p->negative_prompt)
		y = vd_field(w, y, "negative", p->negative_prompt, h, 0);

	/* parameters */
	char cfg[32] = "", seed[32] = "random";
	if (p->has_cfg)
		snprintf(cfg, sizeof cfg, "  cfg %g", p->cfg);
	if (p->seed >= 0)
		snprintf(seed, sizeof seed, "%lld", (long long)p->seed);
	/* unset sizes and steps were left to the worker: say so, not "0x0" */
	char size[32] = "size default", steps[24] = "steps default";
	if (p->width > 0 || p->height > 0)
		snprintf(size, sizeof size, "%dx%d", p->width, p->height);
	if (p->steps > 0)
		snprintf(steps, sizeof steps, "steps %d", p->steps);
	snprintf(buf, sizeof buf, "%s  %s%s  seed %s  count %d%s%s%s%s", size, steps, cfg, seed,
	         p->count ? p->count : 1, p->sampler ? "  sampler " : "",
	         p->sampler ? p->sampler : "", p->template_name ? "  template " : "",
	         p->template_name ? p->template_name : "");
	y = vd_field(w, y, "params", buf, 3, 0);
	if (p->extra_json)
		y = vd_field(w, y, "extra", p->extra_json, 3, draw_attr(DRAW_DIM));

	/* timings */
	char iso[40];
	y = vd_field(w, y, "created", job_iso8601(j->created_at, iso, sizeof iso), 1, 0);
	int64_t created = j->created_at ? j->created_at : now;
	int64_t qend = j->started_at ? j->started_at : (j->finished_at ? j->finished_at : now);
	int64_t qstart = j->submitted_at ? j->submitted_at : created;
	int live = job_state_is_live(j->state);
	/* A job seen only in the queue and then finished was never seen running:
	 * the endpoint's own delayTime/executionTime are the better figures. */
	int64_t qms = qend - qstart, rms = -1;
	if (j->started_at)
		rms = (j->finished_at ? j->finished_at : now) - j->started_at;
	else if (j->finished_at && j->exec_ms >= 0)
		rms = j->exec_ms;
	if (!j->started_at && j->finished_at && j->delay_ms >= 0)
		qms = j->delay_ms;
	snprintf(buf, sizeof buf, "queue %s  run %s  total %s", draw_duration(qms, d1, sizeof d1),
	         rms >= 0 ? draw_duration(rms, d2, sizeof d2) : "-",
	         draw_duration((j->finished_at ? j->finished_at : (live ? now : created)) - created,
	                       d3, sizeof d3));
	if (j->delay_ms >= 0 || j->exec_ms >= 0) {
		char extra[80];
		snprintf(extra, sizeof extra, "  (delay %s, exec %s)",
		         j->delay_ms >= 0 ? draw_duration(j->delay_ms, d1, sizeof d1) : "?",
		         j->exec_ms >= 0 ? draw_duration(j->exec_ms, d2, sizeof d2) : "?");
		strncat(buf, extra, sizeof buf - strlen(buf) - 1);
	}
	y = vd_field(w, y, "time", buf, 2, 0);
	const char *ep = j->endpoint ? j->endpoint : p->endpoint;
	const char *kind = j->api ? j->api : j->backend;
	snprintf(buf, sizeof buf, "%s%s%s%s%s", ep ? ep : "-", kind ? " (" : "", kind ? kind : "",
	         kind ? ")" : "", j->endpoint_url ? "  " : "");
	if (j->endpoint_url)
		strncat(buf, j->endpoint_url, sizeof buf - strlen(buf) - 1);
	y = vd_field(w, y, "endpoint", buf, 3, 0);
	if (waits_key) {
		snprintf(buf, sizeof buf,
		         "waits for a driver with its API key (key %s): run sdq with the key it "
		         "was submitted with",
		         j->key_fp);
		y = vd_field(w, y, "waiting", buf, 2, draw_attr(DRAW_ERROR));
	} else if (waiting && *waiting) {
		y = vd_field(w, y, "waiting", waiting, 2, draw_attr(DRAW_WARN));
	}
	if (j->worker_id)
		y = vd_field(w, y, "worker", j->worker_id, 1, 0);
	if (j->state == JOB_IN_PROGRESS || (live && j->progress_text)) {
		if (j->progress >= 0 && y < h) {
			draw_put(w, y, 0, VD_LABEL, "progress", draw_attr(DRAW_TITLE));
			int bw = W - VD_LABEL - 1 - 6;
			if (bw > 30)
				bw = 30;
			if (bw > 2)
				draw_bar(w, y, VD_LABEL + 1, bw, j->progress, draw_attr(DRAW_RUN));
			snprintf(buf, sizeof buf, "%3d%%  %s", (int)(j->progress * 100 + 0.5),
			         j->progress_text ? j->progress_text : "");
			draw_put(w, y, VD_LABEL + 2 + (bw > 2 ? bw : 0), W - VD_LABEL - bw - 3, buf,
			         0);
			y++;
		} else if (j->progress_text) {
			y = vd_field(w, y, "progress", j->progress_text, 1, 0);
		}
	}
	if (j->cancel_requested && live)
		y = vd_field(w, y, "request", "cancel requested", 1, draw_attr(DRAW_WARN));
	if (j->retry_requested && !live)
		y = vd_field(w, y, "request", "retry requested", 1, draw_attr(DRAW_WARN));

	for (size_t i = 0; i < j->n_outputs && y < h; i++) {
		const struct job_output *o = &j->outputs[i];
		char info[64] = "";
		if (o->width > 0)
			snprintf(info, sizeof info, "  %dx%d", o->width, o->height);
		snprintf(buf, sizeof buf, "%s%s", o->path ? o->path : "?", info);
		y = vd_field(w, y, i == 0 ? "images" : "", buf, 4, 0); /* a long path in full */
	}
	if (j->raw_output && *j->raw_output && j->n_outputs == 0) {
		char *pretty = vd_pretty(j->raw_output);
		y = vd_field(w, y, "output", pretty ? pretty : j->raw_output, 8,
		             draw_attr(DRAW_DIM));
		free(pretty);
	}
	if (j->log_tail && *j->log_tail && !live && j->state != JOB_COMPLETED)
		y = vd_field(w, y, "log", j->log_tail, 8, draw_attr(DRAW_DIM));
	return y;
}
