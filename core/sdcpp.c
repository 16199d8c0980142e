/* sdcpp.c: placeholder until the local backend lands. */
#include <stdlib.h>
#include <string.h>
#include "backend.h"

struct backend *sdcpp_backend_new(struct engine *e, const struct config_endpoint *ep, char **err)
{
	if (err)
		*err = strdup("the local backend is not built yet");
	return NULL;
}
