/* fuzz_envelope.c - the inside of an opened content box (codec, hash,
 * zstd frame): never crash, never exceed the size limit. */
#include <stdint.h>
#include <stdlib.h>

#include "vault/envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kura_buf out;
	uint8_t sha[32];
	kura_buf_init(&out, 1 << 20);
	if (kura_envelope_decode(NULL, kura_slice_make(data, size), 1 << 16, &out, sha) == 0 &&
	    out.len > 1 << 16)
		abort();
	kura_buf_release(&out);
	return 0;
}
