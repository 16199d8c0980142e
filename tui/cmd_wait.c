/*
 * cmd_wait.c: sdq wait: drive (or watch) jobs until they finish and print
 * their image paths.
 */
#include "cmd_wait.h"

#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "cmd.h"
#include "cmd_run.h"
#include "config.h"
#include "notify.h"
#include "store.h"

/* --notify: one bell and desktop notification on the terminal for all the
 * jobs waited for ([ui] notify's kind, "on" when that is off). */
static void wait_notify(struct config *cfg, const int64_t *ids, size_t n)
{
	enum notify_mode m = NOTIFY_ON;
	struct store *st;
	char body[512];
	int fd;

	if (notify_mode_parse(cfg->notify, &m) < 0 || m == NOTIFY_OFF)
		m = NOTIFY_ON;
	if ((fd = open("/dev/tty", O_WRONLY | O_NOCTTY | O_CLOEXEC)) < 0)
		return; /* no terminal to tell */
	if ((st = cmd_open_store(cfg, "wait"))) {
		notify_summary(st, ids, n, body, sizeof body);
		store_close(st);
		notify_send(fd, m, "sdq", body);
	}
	close(fd);
}

int cmd_wait_run(struct config *cfg, int argc, char **argv)
{
	static const struct option lo[] = {{"json", no_argument, 0, 'j'},
	                                   {"timeout", required_argument, 0, 'T'},
	                                   {"group", required_argument, 0, 'g'},
	                                   {"notify", no_argument, 0, 'N'},
	                                   {"help", no_argument, 0, 'h'},
	                                   {0, 0, 0, 0}};
	struct cmd_run r;
	int64_t *ids;
	size_t n;
	int c, json = 0, notify = 0, rc;
	double timeout_s = 0;
	const char *group = NULL;

	if (cmd_help_opt("wait", argc, argv))
		return 0;
	cmd_opt_reset();
	while ((c = cmd_next_opt("wait", argc, argv, ":j", lo)) != -1) {
		if (c == 'j') {
			json = 1;
		} else if (c == 'g') {
			if (!cmd_parse_group(optarg))
				return cmd_usage_error("wait", "--group needs a group number (sdq ls --groups)");
			group = optarg;
		} else if (c == 'N') {
			notify = 1;
		} else if (c == 'T') {
			if (cmd_parse_double(optarg, &timeout_s) < 0 || timeout_s < 0)
				return cmd_usage_error("wait", "--timeout needs seconds");
		} else {
			return 2;
		}
	}
	if (optind >= argc && !group)
		return cmd_usage_error("wait", "which jobs? give one or more ids, or --group G");
	if (optind < argc && group)
		return cmd_usage_error("wait", "give ids or --group G, not both");
	if (cmd_run_open(&r, cfg, "wait", 1) < 0)
		return 1;
	if (group) {
		int64_t gid = r.group = cmd_find_group(r.st, group, "wait");
		ids = gid ? cmd_group_jobs(r.st, gid, 0, "wait", &n) : NULL;
		if (ids && n == 0) {
			cmd_errf("wait", "group %lld has no jobs left in the history", (long long)gid);
			free(ids);
			ids = NULL;
		}
	} else {
		ids = cmd_find_jobs(r.st, argc, argv, optind, "wait", &n);
	}
	if (!ids) {
		cmd_run_close(&r, 0);
		return 1;
	}
	rc = cmd_run_wait_and_report(&r, ids, n, json, (int64_t)(timeout_s * 1000));
	if (notify && rc >= 0 && rc < 128) /* not when interrupted */
		wait_notify(cfg, ids, n);
	free(ids);
	return rc;
}
