/* fuzz_x509.c - certificate parsing (PEM or DER) on any input. */
#include <stdint.h>
#include <string.h>

#include "crypto/x509.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kura_cert_info info;
	if (kura_x509_info(data, size, &info) == 0 &&
	    (strlen(info.fingerprint) != KURA_CERT_FP_HEX ||
	     memchr(info.subject, '\n', sizeof(info.subject))))
		__builtin_trap();
	return 0;
}
