/* test_keyfp: SHA-256 against the FIPS 180-2 examples, and the fingerprint
 * of a key against Python's hashlib (values computed once and written here). */
#include "th.h"
#include "keyfp.h"

static void hex(const unsigned char *d, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static void test_sha256(void)
{
	static const struct {
		const char *msg;
		const char *digest;
	} v[] = {
	    {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	    {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
	    {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnop"
	     "qklmnopqrlmnopqrsmnopqrstnopqrstu",
	     "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
	};
	unsigned char d[32];
	char h[65];
	char *million = malloc(1000000);

	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		keyfp_sha256(v[i].msg, strlen(v[i].msg), d);
		hex(d, 32, h);
		CHECK_STR(h, v[i].digest);
	}
	if (million) {
		memset(million, 'a', 1000000);
		keyfp_sha256(million, 1000000, d);
		hex(d, 32, h);
		CHECK_STR(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
		free(million);
	}
}

static void test_fingerprint(void)
{
	char fp[KEYFP_LEN], fp2[KEYFP_LEN];

	/* python3: hashlib.sha256(b"sdq api key fingerprint v1\n" + key).hexdigest()[:16] */
	CHECK_STR(keyfp_of("rpa_TESTKEY123", fp), "a982d1ead7188051");
	CHECK_STR(keyfp_of("", fp), "cbc093de4efad92d");
	CHECK(keyfp_ok(fp));
	/* different keys, different fingerprints; the key is not in it */
	keyfp_of("rpa_TESTKEY124", fp2);
	CHECK(strcmp(keyfp_of("rpa_TESTKEY123", fp), fp2) != 0);
	CHECK(!strstr(fp, "TESTKEY"));
	CHECK(!keyfp_ok(NULL));
	CHECK(!keyfp_ok("a982d1ead718805"));
	CHECK(!keyfp_ok("a982d1ead71880511"));
	CHECK(!keyfp_ok("A982D1EAD7188051"));
	CHECK(!keyfp_ok("../../etc/passwd"));
}

int main(void)
{
	TH_RUN(test_sha256);
	TH_RUN(test_fingerprint);
	return th_done("test_keyfp");
}
