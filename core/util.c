/*
 * util.c: small helpers shared by the core modules (see util.h).
 */
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void util_set_err(char **err, const char *fmt, ...)
{
	va_list ap;
	char *m = NULL;
	int n;

	if (!err)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n >= 0 && (m = malloc((size_t)n + 1))) {
		va_start(ap, fmt);
		vsnprintf(m, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	free(*err);
	*err = m;
}
