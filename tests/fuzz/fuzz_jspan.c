/*
 * fuzz_jspan.c - libFuzzer target for the JSON scanner (src/fhir/jspan.h).
 *
 * Checks that kura_jspan_check() agrees with jansson (which kura trusts
 * for Bundles), and that every span function stays inside its input and
 * keeps its promises on text the check accepted.  A broken promise aborts.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fhir/jspan.h"
#include "util/limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(struct kura_slice in, struct kura_slice v)
{
	if (v.ptr && (v.ptr < in.ptr || v.len > in.len ||
		      (size_t)(v.ptr - in.ptr) > in.len - v.len))
		abort();
}

/* jansson may refuse more only for numbers it cannot hold and depth
 * (which jspan counts first); jspan may not refuse what jansson accepts,
 * except NUL bytes, which jansson 2.14 skips after a number. */
static void differential(const uint8_t *data, size_t size, int ours)
{
	json_error_t e;
	json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES |
			       JSON_DECODE_INT_AS_REAL | JSON_DECODE_ANY, &e);
	if (ours == 0 && !j && !strstr(e.text, "overflow") && !strstr(e.text, "too big"))
		abort();
	if (ours == KURA_EINVAL && j && !memchr(data, 0, size))
		abort();
	json_decref(j);
}

static void string_decode(struct kura_slice in, struct kura_slice v, int checked)
{
	uint8_t out[64];
	size_t n;
	int r = kura_jspan_string(v, out, sizeof out, &n);
	if (n > sizeof out || (r == 0 && n > v.len - 2))
		abort();
	if (checked && r != 0 && r != KURA_ETOOBIG)
		abort();
	inside(in, v);
}

static void spans(struct kura_slice in, int checked)
{
	static const char *const keys[] = {"resourceType", "a", "content"};
	struct kura_slice cur = in, v, vals[3], unknown;
	struct kura_jspan_iter it;
	int r = kura_jspan_value(&cur, &v);
	inside(in, v);
	if (checked && (r || !kura_jspan_is_blank(cur)))
		abort();
	if (r == 0 && v.ptr[0] == '"')
		string_decode(in, v, checked);
	r = kura_jspan_members(in, keys, 3, vals, &unknown);
	for (size_t i = 0; i < 3; i++) {
		inside(in, vals[i]);
		if (vals[i].ptr && vals[i].ptr[0] == '"')
			string_decode(in, vals[i], checked);
	}
	inside(in, unknown);
	if (checked && r == KURA_EINVAL && v.ptr[0] == '{')
		abort();
	if (kura_jspan_array_begin(in, &it) == 0) {
		while ((r = kura_jspan_array_next(&it, &v)) == 1)
			inside(in, v);
		if (checked && r != 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kura_slice in = kura_slice_make(data, size);
	struct kura_jspan_error e = {0, NULL};
	int r = kura_jspan_check(in, &e);
	if (r && (!e.what || e.offset > size))
		abort();
	if (r != KURA_ETOOBIG)
		differential(data, size, r);
	spans(in, r == 0);
	return 0;
}
