/*
 * main.c: sdq's entry point. Parses the global options (-e/--endpoint,
 * --config, --no-color, --help, --version), loads the configuration and
 * dispatches to a subcommand from the table in cli.c (the commands are in
 * cmd_*.c, demo.c, preview.c) or, with no command, the dashboard (ui.c).
 */
#include <getopt.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "cmd.h"
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
	rc = cmd->run(cfg, argc, argv);
	config_free(cfg);
	return rc;
}
