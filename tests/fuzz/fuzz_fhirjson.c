/* fuzz_fhirjson.c - FHIR JSON handling (serve/fhir_int.h): any bytes are
 * either refused with 400/422 or turned into a stored form that renders
 * (with id and meta of a version) to a resource whose stored form is the
 * same bytes again: what a client sends round-trips. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "serve/fhir_int.h"
#include "util/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kura_buf stored, out, again;
	struct kura_leaf l;
	const char *why = NULL;
	memset(&l, 0, sizeof(l));
	memcpy(l.record_id, "0190aaaa-0000-7000-8000-000000000001", 37);
	l.version = 3;
	l.time_us = 1700000000123456;
	kura_buf_init(&stored, KURA_MAX_CONTENT);
	kura_buf_init(&out, KURA_MAX_CONTENT);
	kura_buf_init(&again, KURA_MAX_CONTENT);
	int st = kura_fhir_prepare(data, size, "Patient", 64, &stored, NULL, &why);
	if (st && st != 400 && st != 422)
		abort();
	if (st && !why)
		abort();
	if (!st) {
		if (kura_fhir_render(&l, kura_buf_slice(&stored), &out))
			abort();
		if (kura_fhir_prepare(out.data, out.len, "Patient", 64, &again, NULL, &why) ||
		    again.len != stored.len || memcmp(again.data, stored.data, stored.len) != 0)
			abort();
	}
	kura_buf_release(&stored);
	kura_buf_release(&out);
	kura_buf_release(&again);
	return 0;
}
