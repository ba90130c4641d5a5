/*
 * fuzz_totp.c - the second-factor parsers on any input (AU-12): base32
 * decoding (checked by re-encoding), recovery code normalization and TOTP
 * verification of a typed code.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/totp.h"
#include "crypto/crypto.h"
#include "util/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_base32(const char *s)
{
	uint8_t out[64], back[64];
	size_t n = 0, m = 0;
	struct kura_buf b;
	if (kura_base32_decode(s, out, sizeof(out), &n))
		return;
	/* Whatever decoded must survive a round trip through the encoder. */
	kura_buf_init(&b, 256);
	if (kura_base32_encode(out, n, &b) ||
	    kura_base32_decode((char *)b.data, back, sizeof(back), &m) || m != n ||
	    memcmp(out, back, n) != 0)
		abort();
	kura_buf_release(&b);
}

static void fuzz_recovery(const char *s)
{
	char out[KURA_RECOVERY_CHARS + 1], again[KURA_RECOVERY_CHARS + 1];
	if (kura_recovery_normalize(s, out))
		return;
	/* Normal forms are fixed points. */
	if (strlen(out) != KURA_RECOVERY_CHARS || kura_recovery_normalize(out, again) ||
	    strcmp(out, again) != 0)
		abort();
}

static void fuzz_verify(const char *s, size_t size)
{
	static const uint8_t secret[KURA_TOTP_SECRET_LEN] = "12345678901234567890";
	int64_t now = 1234567890 + (int64_t)(size * 7), step = 0;
	int r = kura_totp_verify(secret, sizeof(secret), s, now, -1, &step);
	if (r != 0 && r != KURA_EINVAL && r != KURA_EAUTH)
		abort();
	if (r == 0 && kura_totp_verify(secret, sizeof(secret), s, now, step, &step) == 0)
		abort(); /* a code is accepted once */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	if (size)
		memcpy(s, data, size);
	s[size] = '\0';
	fuzz_base32(s);
	fuzz_recovery(s);
	fuzz_verify(s, size);
	free(s);
	return 0;
}
