/* fuzz_segment.c - the segment parser: never crash, never read past the
 * input, and what parses walks entries and tree heads consistently. */
#include <stdint.h>
#include <stdlib.h>

#include "backup/segment.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_entry(void *ctx, uint64_t i, const struct kura_seg_entry *e)
{
	uint64_t *n = ctx;
	struct kura_seg_chunk c;
	volatile uint8_t sink = e->leaf[e->leaf_len - 1];
	(void)i;
	if (e->mode == KURA_SEG_INLINE && e->content_len)
		sink = e->content[e->content_len - 1];
	for (uint32_t k = 0; e->mode == KURA_SEG_CHUNKED && k < e->nchunks; k++)
		kura_seg_chunk_at(e, k, &c);
	(void)sink;
	(*n)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t first, n = 0;
	uint32_t count;
	if (kura_seg_parse(data, size, &first, &count, on_entry, NULL, &n) == 0 && n != count)
		abort();
	return 0;
}
