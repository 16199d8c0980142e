/* job.c: placeholder; the job module lands next. */
#include "job.h"
