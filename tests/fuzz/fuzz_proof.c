/* fuzz_proof.c - proof files as `kura verify-proof` reads them.  The key is
 * fixed and unrelated to any corpus file, so nothing may ever verify. */
#include <stdint.h>
#include <stdlib.h>

#include "ledger/proof.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t pub[32] = {
		0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe,
		0xd3, 0xc9, 0x64, 0x07, 0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6,
		0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a};
	struct kura_proof_summary sum;
	struct kura_buf msg;
	kura_buf_init(&msg, 1024);
	if (kura_proof_verify(data, size, pub, &sum, &msg) == 0)
		abort();
	kura_buf_release(&msg);
	return 0;
}
