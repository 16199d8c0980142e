/*
 * cmd_preview.c: sdq preview ID|FILE... [-w COLS]: print a job's images, or
 * any image file, to the terminal the way the dashboard would draw them:
 * sixel where the terminal has it (term.c's probe, the config's graphics),
 * else half blocks; the drawing itself is preview.c's.
 */
#include "cmd_preview.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "cmd.h"
#include "config.h"
#include "job.h"
#include "preview.h"
#include "store.h"
#include "term.h"
#include "text.h"

/* Is ref a file to show rather than a job? An existing path that is not
 * all digits (a job id), or any existing path when no job matches. */
static int is_file(const char *ref)
{
	struct stat sb;
	size_t n = strspn(ref, "0123456789");

	return stat(ref, &sb) == 0 && !S_ISDIR(sb.st_mode) && ref[n] != 0;
}

/* Print one image; 0, or 1 after saying why not (after what, when not NULL). */
static int show(const struct term_info *ti, const struct config *cfg, const char *path,
                const char *what, int cols)
{
	char *err = NULL;

	if (ti->graphics == TERM_GFX_NONE) {
		char *c = cmd_clean(path);
		printf("%s\n", c);
		free(c);
		return 0;
	}
	if (preview_print(ti, path, cols, cfg->sixel_colors, &err) == 0)
		return 0;
	{ /* image_load's message names the file itself */
		char *w = what ? cmd_clean(what) : NULL;
		cmd_errf_core("preview", w, err);
		free(w);
	}
	return 1;
}

int cmd_preview_run(struct config *cfg, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"width", required_argument, 0, 'w'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	struct store *st = NULL;
	struct term_info ti;
	long cols = 0;
	int c, rc = 0, tfd = -1, forced;
	const char *genv = getenv("SDQ_GRAPHICS");

	if (cmd_help_opt("preview", argc, argv))
		return 0;
	cmd_opt_reset();
	while ((c = cmd_next_opt("preview", argc, argv, ":w:", lo)) != -1) {
		if (c != 'w')
			return 2;
		if (cmd_parse_long(optarg, 1, 10000, &cols) < 0)
			return cmd_usage_error("preview", "-w wants a column count (1..10000)");
	}
	if (optind >= argc)
		return cmd_usage_error("preview", "which job or image file? give an id or a path");

	forced = (genv && *genv && strcmp(genv, "auto") != 0) ||
	         (cfg->graphics && *cfg->graphics && strcmp(cfg->graphics, "auto") != 0);
	if (!isatty(STDOUT_FILENO) && !forced) {
		cmd_errf("preview", "standard output is not a terminal: set SDQ_GRAPHICS=sixel (or "
		                    "blocks) to write the images anyway");
		return 1;
	}
	if (isatty(STDOUT_FILENO))
		tfd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	term_probe(tfd >= 0 ? tfd : STDOUT_FILENO, cfg->graphics, 500, &ti);
	if (!cols) {
		struct winsize ws;

		if (ioctl(tfd >= 0 ? tfd : STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
			cols = ws.ws_col;
		else
			cols = 80;
	}
	fflush(stdout);
	for (int i = optind; i < argc; i++) {
		const char *ref = argv[i];
		struct job *j = NULL;
		int64_t id = 0;
		char *err = NULL;

		if (is_file(ref)) {
			rc |= show(&ti, cfg, ref, NULL, (int)cols);
			continue;
		}
		if (!st) {
			struct stat sb;

			/* no history yet: every job reference is unknown */
			if (stat(cfg->db_path, &sb) == 0 && !(st = cmd_open_store(cfg, "preview")))
				return 1;
		}
		if (st && (id = store_job_find(st, ref, &err)) > 0)
			j = store_job_get(st, id, &err);
		if (!j) {
			struct stat sb;
			char *r = cmd_clean(ref);

			if (stat(ref, &sb) == 0 && !S_ISDIR(sb.st_mode)) {
				free(err);
				free(r);
				rc |= show(&ti, cfg, ref, NULL, (int)cols);
				continue;
			}
			if (err && strncmp(err, "no job", 6) != 0) { /* ambiguous, a store error */
				cmd_errf_core("preview", r, err);
			} else {
				free(err);
				cmd_errf("preview", "%s: no such job or image file", r);
			}
			free(r);
			rc = 1;
			continue;
		}
		if (j->n_outputs == 0) {
			cmd_errf("preview", "job #%lld is %s and has no images", (long long)j->id,
			         job_state_name(j->state));
			rc = 1;
		}
		for (size_t k = 0; k < j->n_outputs; k++) {
			char what[64];

			snprintf(what, sizeof what, "job #%lld image %zu", (long long)j->id, k + 1);
			rc |= show(&ti, cfg, j->outputs[k].path, what, (int)cols);
		}
		job_free(j);
	}
	if (tfd >= 0)
		close(tfd);
	store_close(st);
	return rc ? 1 : 0;
}
