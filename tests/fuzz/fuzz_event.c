/* fuzz_event.c - audit-event leaf decoding: never crash; whatever decodes
 * re-encodes to exactly the same bytes (the encoding is canonical). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kura_event e;
	struct kura_buf b;
	if (kura_event_decode(data, size, &e))
		return 0;
	kura_buf_init(&b, 1 << 20);
	if (kura_event_encode(&e, &b) || b.len != size || memcmp(b.data, data, size))
		abort();
	kura_buf_release(&b);
	return 0;
}
