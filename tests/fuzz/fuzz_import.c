/*
 * fuzz_import.c - libFuzzer target for `kura import` parsing
 * (src/fhir/import.h), with and without a default patient.
 *
 * On success every item must obey the header's promises; on failure there
 * must be no result and one line of message.  A broken promise aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fhir/import.h"
#include "util/limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_item(const struct kura_import_item *it)
{
	volatile uint8_t sum = 0;
	if (!kura_valid_id(it->patient) || !kura_valid_record_type(it->type) ||
	    !kura_valid_content_type(it->content_type))
		abort();
	if (it->content.len == 0 || it->content.len > KURA_MAX_CONTENT)
		abort();
	/* Touch every byte, so that ASan sees a span that points astray. */
	for (size_t i = 0; i < it->content.len; i++)
		sum += it->content.ptr[i];
	(void)sum;
}

static void run(const uint8_t *data, size_t size, const char *patient)
{
	struct kura_import *imp = NULL;
	struct kura_buf err;
	kura_buf_init(&err, 4096);
	int r = kura_import_parse(data, size, patient, &imp, &err);
	if (r) {
		if (r > 0 || imp || !err.data || memchr(err.data, '\n', err.len))
			abort();
	} else {
		if (!imp || imp->count == 0 || imp->count > KURA_MAX_BUNDLE_ENTRIES || err.data)
			abort();
		for (size_t i = 0; i < imp->count; i++)
			check_item(&imp->items[i]);
	}
	kura_import_free(imp);
	kura_buf_release(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run(data, size, NULL);
	run(data, size, "P0");
	return 0;
}
