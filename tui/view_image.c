/*
 * view_image.c: the full-screen image viewer (v). See view_image.h.
 */
#include <stdio.h>
#include <stdlib.h>

#include "keys.h"
#include "view_image.h"

struct view_image {
	struct job *j;
	int k; /* the image shown */
};

struct view_image *view_image_new(const struct job *j)
{
	struct view_image *v = calloc(1, sizeof *v);

	if (!v)
		return NULL;
	v->j = j ? job_dup(j) : NULL;
	if (j && !v->j) {
		free(v);
		return NULL;
	}
	return v;
}

void view_image_free(struct view_image *v)
{
	if (!v)
		return;
	job_free(v->j);
	free(v);
}

int64_t view_image_job_id(const struct view_image *v)
{
	return v && v->j ? v->j->id : 0;
}

void view_image_update(struct view_image *v, const struct job *j)
{
	struct job *c;

	if (!v || !j || !(c = job_dup(j)))
		return;
	job_free(v->j);
	v->j = c;
	if (v->k >= (int)c->n_outputs)
		v->k = 0;
}

void view_image_draw(struct view_image *v, struct preview *pv, WINDOW *w)
{
	if (v)
		preview_view(pv, w, v->j, v->k);
}

int view_image_key(struct view_image *v, int code, int is_key)
{
	int n = v && v->j ? (int)v->j->n_outputs : 0;

	switch (keys_lookup(KEYS_VIEW, code)) {
	case KA_VIEW_PREV:
		if (n > 0)
			v->k = (v->k + n - 1) % n;
		return 1;
	case KA_VIEW_NEXT:
		if (n > 0)
			v->k = (v->k + 1) % n;
		return 1;
	default:
		/* a mouse event or a resize is not a key press */
		return is_key && (code == KEY_MOUSE || code == KEY_RESIZE);
	}
}
