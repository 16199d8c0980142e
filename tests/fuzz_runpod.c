/*
 * fuzz_runpod.c: the RunPod backend's parser of IN_PROGRESS outputs
 * (runpod_progress_parse) on any bytes.
 *
 * Checked (runpod.h's promises): -1 exactly when the bytes are not JSON
 * (judged by cJSON itself); the fraction is -1 or within 0..1, never NaN;
 * the text always fits and is terminated, for any buffer size down to one
 * byte, and is a single line (no control characters); a smaller buffer gives
 * the same fraction and a prefix of the text.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

#include "fuzz_replay.h"
#include "runpod.h"

static void fuzz_init(void)
{
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t sizes[] = {160, 16, 4, 1};
	char big[160], buf[160];
	double frac = 0, f2 = 0;
	cJSON *j = cJSON_ParseWithLength((const char *)data, size);
	int is_json = j != NULL, rc;
	size_t i, k;

	cJSON_Delete(j);
	memset(big, 'x', sizeof big);
	rc = runpod_progress_parse((const char *)data, size, &frac, big, sizeof big);
	FUZZ_CHECK(rc == (is_json ? 0 : -1));
	FUZZ_CHECK(!isnan(frac));
	FUZZ_CHECK(frac == -1 || (frac >= 0 && frac <= 1));
	FUZZ_CHECK(memchr(big, 0, sizeof big) != NULL);
	if (!memchr(big, 0, sizeof big))
		return 0;
	for (k = 0; big[k]; k++)
		FUZZ_CHECK((unsigned char)big[k] >= 0x20 && big[k] != 0x7f);
	if (rc < 0)
		FUZZ_CHECK(big[0] == '\0' && frac == -1);

	for (i = 1; i < sizeof sizes / sizeof *sizes; i++) {
		size_t n = sizes[i];
		memset(buf, 'x', sizeof buf);
		runpod_progress_parse((const char *)data, size, &f2, buf, n);
		FUZZ_CHECK(memchr(buf, 0, n) != NULL);
		FUZZ_CHECK(buf[n] == 'x' || n == sizeof buf); /* nothing past tlen */
		FUZZ_CHECK(f2 == frac);
	}
	return 0;
}

FUZZ_REPLAY_MAIN("runpod")
