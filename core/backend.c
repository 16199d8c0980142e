/*
 * backend.c: the table of backend kinds (see backend.h): one row per kind,
 * its constructor and what it can do. Adding a backend is adding a row.
 */
#include "backend.h"

#include <stddef.h>
#include <string.h>

static const struct backend_kind kinds[] = {
    {"runpod", CONFIG_RUNPOD,
     BACKEND_CAN_CANCEL | BACKEND_CAN_RETRY | BACKEND_CAN_PURGE | BACKEND_SURVIVES_DRIVER |
         BACKEND_REMOTE_HEALTH | BACKEND_NEEDS_KEY | BACKEND_FOLLOW_BY_URL,
     runpod_backend_new},
    {"local", CONFIG_LOCAL, BACKEND_CAN_CANCEL, sdcpp_backend_new},
};

const struct backend_kind *backend_kind_named(const char *name)
{
	for (size_t i = 0; name && i < sizeof kinds / sizeof kinds[0]; i++)
		if (strcmp(kinds[i].name, name) == 0)
			return &kinds[i];
	return NULL;
}

const struct backend_kind *backend_kind_of(const struct config_endpoint *ep)
{
	for (size_t i = 0; ep && i < sizeof kinds / sizeof kinds[0]; i++)
		if (kinds[i].config == ep->kind)
			return &kinds[i];
	return NULL;
}

unsigned backend_kind_caps(const char *name)
{
	const struct backend_kind *k = backend_kind_named(name);
	return k ? k->caps : 0;
}
