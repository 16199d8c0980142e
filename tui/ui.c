/*
 * ui.c: the dashboard. Placeholder until the real loop lands (next commit).
 */
#include <stdio.h>
#include "ui.h"

int ui_run(struct config *cfg, const char *endpoint_override)
{
	(void)cfg;
	(void)endpoint_override;
	fprintf(stderr, "sdq: the dashboard is not built yet\n");
	return 1;
}
