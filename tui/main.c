/*
 * main.c: sdq's entry point. Parses the global options (-e/--endpoint,
 * --config, --no-color, --help, --version), loads the configuration and
 * dispatches to a subcommand from the table in cli.c (the commands are in
 * cmd_*.c, demo.c) or, with no command, the dashboard (ui.c).
 */
#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "cmd.h"
#include "demo.h"
#include "spawn.h"
#include "text.h"
#include "ui.h"

static int load_config(struct config **cfg)
{
	char *err = NULL;
	*cfg = config_load(&err);
	if (!*cfg) {
		fprintf(stderr, "sdq: %s: fix the config file or point SDQ_CONFIG elsewhere\n",
		        err ? err : "cannot load the configuration");
		free(err);
		return -1;
	}
	return 0;
}

/* Does command argv[0] look for live jobs left without a driver (a driver
 * killed by OOM or a logout)? 2: and says so on stderr (ls, show, driver
 * --status), 1: quietly, 0: no (the command drives or hands over itself:
 * submit, wait, the dashboard; or has nothing to do with jobs). */
static int revives(int argc, char **argv)
{
	static const char *const say[] = {"ls", "show", NULL};
	static const char *const quiet[] = {"get",   "rm",     "cancel",      "retry",
	                                    "rerun", "health", "purge-queue", NULL};
	int status = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 0;
		if (strcmp(argv[i], "--status") == 0)
			status = 1;
	}
	if (strcmp(argv[0], "driver") == 0)
		return status ? 2 : 0;
	for (int i = 0; say[i]; i++)
		if (strcmp(argv[0], say[i]) == 0)
			return 2;
	for (int i = 0; quiet[i]; i++)
		if (strcmp(argv[0], quiet[i]) == 0)
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {{"endpoint", required_argument, 0, 'e'},
	                                   {"config", required_argument, 0, 'c'},
	                                   {"no-color", no_argument, 0, 'C'},
	                                   {"no-colour", no_argument, 0, 'C'},
	                                   {"help", no_argument, 0, 'h'},
	                                   {"version", no_argument, 0, 'V'},
	                                   {0, 0, 0, 0}};
	const struct cli_command *cmd;
	struct config *cfg = NULL;
	const char *endpoint = NULL;
	int c, rc;

	setlocale(LC_ALL, "");
	opterr = 0;
	/* "+": stop at the command; its own options follow it. */
	while ((c = getopt_long(argc, argv, "+:e:hV", lo, NULL)) != -1) {
		switch (c) {
		case 'e':
			endpoint = optarg;
			break;
		case 'c':
			/* Named on purpose: it must exist (a missing default
			 * config, or SDQ_CONFIG, is an empty one). */
			if (access(optarg, F_OK) < 0) {
				int en = errno;
				char *shown = text_sanitize_str(optarg, 0);
				fprintf(stderr, "sdq: --config %s: %s\n", shown ? shown : "",
				        strerror(en));
				free(shown);
				return 1;
			}
			if (setenv("SDQ_CONFIG", optarg, 1) < 0) {
				perror("sdq: --config");
				return 1;
			}
			break;
		case 'C':
			cmd_set_color(0);
			/* the dashboard (and any child) reads NO_COLOR */
			setenv("NO_COLOR", "1", 1);
			break;
		case 'h':
			cli_usage(stdout);
			return 0;
		case 'V':
			printf("sdq %s\n", SDQ_VERSION);
			return 0;
		case ':':
			fprintf(stderr, "sdq: option %s needs a value (see sdq --help)\n",
			        argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, "sdq: unknown option %s (see sdq --help)\n",
			        argv[optind - 1]);
			return 2;
		}
	}
	cmd_set_endpoint(endpoint);
	argc -= optind;
	argv += optind;

	/* A shell pointed at a demo that has ended works on nothing. */
	if ((argc == 0 || (strcmp(argv[0], "demo") != 0 && strcmp(argv[0], "help") != 0)) &&
	    demo_joined_gone())
		return 1;
	if (argc == 0) {
		if (load_config(&cfg) < 0)
			return 1;
		rc = ui_run(cfg, endpoint);
		config_free(cfg);
		return rc;
	}
	if (!(cmd = cli_command_find(argv[0]))) {
		fprintf(stderr, "sdq: unknown command '%s': see sdq --help for the list\n",
		        argv[0]);
		return 2;
	}
	if (!cmd->no_config && load_config(&cfg) < 0)
		return 1;
	cmd_set_config(cfg);
	if (cfg && revives(argc, argv))
		spawn_revive_driver(cfg, argv[0], revives(argc, argv) == 2);
	rc = cmd->run(cfg, argc, argv);
	config_free(cfg);
	return rc;
}
