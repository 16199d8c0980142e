/*
 * test_backend.c: the table of backend kinds (backend.h): names as stored in
 * job->backend, the kind of each config endpoint, the capabilities the front
 * ends ask for.
 */
#include "backend.h"

#include "th.h"

static void test_kinds(void)
{
	const struct backend_kind *rp = backend_kind_named("runpod");
	const struct backend_kind *lo = backend_kind_named("local");
	CHECK(rp && lo && rp != lo);
	CHECK(backend_kind_named("RunPod") == NULL);
	CHECK(backend_kind_named("") == NULL);
	CHECK(backend_kind_named(NULL) == NULL);
	CHECK(rp && rp->create == runpod_backend_new && rp->config == CONFIG_RUNPOD);
	CHECK(lo && lo->create == sdcpp_backend_new && lo->config == CONFIG_LOCAL);

	struct config_endpoint ep;
	memset(&ep, 0, sizeof ep);
	ep.kind = CONFIG_RUNPOD;
	CHECK(backend_kind_of(&ep) == rp);
	ep.kind = CONFIG_LOCAL;
	CHECK(backend_kind_of(&ep) == lo);
	CHECK(backend_kind_of(NULL) == NULL);
}

static void test_caps(void)
{
	unsigned rp = backend_kind_caps("runpod"), lo = backend_kind_caps("local");
	/* a RunPod job lives at the endpoint: it outlives the driver, has a
	 * remote queue and workers, needs a key, can be retried in place */
	CHECK(rp & BACKEND_SURVIVES_DRIVER);
	CHECK(rp & BACKEND_REMOTE_HEALTH);
	CHECK(rp & BACKEND_NEEDS_KEY);
	CHECK(rp & BACKEND_CAN_RETRY);
	CHECK(rp & BACKEND_CAN_CANCEL);
	CHECK(rp & BACKEND_CAN_PURGE);
	CHECK(rp & BACKEND_FOLLOW_BY_URL);
	/* a local sd job runs in the driver: it stops with it */
	CHECK(lo & BACKEND_CAN_CANCEL);
	CHECK(!(lo & BACKEND_SURVIVES_DRIVER));
	CHECK(!(lo & BACKEND_REMOTE_HEALTH));
	CHECK(!(lo & BACKEND_NEEDS_KEY));
	CHECK(!(lo & BACKEND_CAN_RETRY));
	CHECK(!(lo & BACKEND_FOLLOW_BY_URL));
	CHECK_INT(backend_kind_caps("nope"), 0);
	CHECK_INT(backend_kind_caps(NULL), 0);
}

int main(void)
{
	TH_RUN(test_kinds);
	TH_RUN(test_caps);
	return th_done("test_backend");
}
