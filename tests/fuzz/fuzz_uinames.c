/* fuzz_uinames.c - the web UI's name matching (serve/ui_names.h): input is
 * a query, a NUL, then a FHIR Patient resource as JSON.  The folded query is
 * valid UTF-8 that fits, has no uppercase ASCII, katakana or spaces, and
 * folds to itself; every name whose own text folds to something containing
 * the query matches; the names object is made for any resource. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "serve/ui_names.h"
#include "util/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_folded(const char *f)
{
	if (strlen(f) >= KURA_UI_FOLD_MAX || !kura_utf8_text_valid(f))
		abort();
	for (const unsigned char *p = (const unsigned char *)f; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || *p == ' ' || *p == '\t')
			abort();
		/* katakana U+30A1..U+30F6 is E3 82 A1..E3 83 B6 */
		if (p[0] == 0xE3 && ((p[1] == 0x82 && p[2] >= 0xA1) || (p[1] == 0x83 && p[2] <= 0xB6)))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size + 1), fq[KURA_UI_FOLD_MAX], again[KURA_UI_FOLD_MAX];
	if (!in)
		return 0;
	memcpy(in, data, size);
	in[size] = 0;
	size_t qlen = strlen(in);
	kura_ui_fold(in, fq);
	check_folded(fq);
	kura_ui_fold(fq, again);
	if (strcmp(fq, again) != 0)
		abort();
	if (qlen < size) {
		json_error_t err;
		json_t *res = json_loadb(in + qlen + 1, size - qlen - 1, 0, &err);
		json_t *names = kura_ui_names_json(res);
		if (!json_is_object(names))
			abort();
		json_decref(names);
		json_t *n;
		size_t i;
		json_array_foreach(json_object_get(res, "name"), i, n) {
			const char *t = json_string_value(json_object_get(n, "text"));
			char ft[KURA_UI_FOLD_MAX];
			int m = *fq ? kura_ui_name_matches(n, fq) : 0;
			kura_ui_fold(t, ft);
			if (*fq && t && strstr(ft, fq) && !m)
				abort();
		}
		json_decref(res);
	}
	free(in);
	return 0;
}
