/*
 * ui_names.c - patients' names for the web UI's search (ui_names.h;
 * docs/formats/ui-api.md §2): JP Core HumanNames (kanji, kana, romaji) and
 * the folded form queries and names are compared in.
 */
#include <string.h>

#include "serve/ui_names.h"
#include "util/buf.h"
#include "util/utf8.h"
#include "util/banned.h"

#define REPRESENTATION "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"

static void put_utf8(uint32_t cp, char *out, size_t cap, size_t *o)
{
	uint8_t b[4];
	size_t n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
	if (n == 1)
		b[0] = (uint8_t)cp;
	else if (n == 2)
		b[0] = (uint8_t)(0xC0 | cp >> 6), b[1] = (uint8_t)(0x80 | (cp & 0x3F));
	else if (n == 3)
		b[0] = (uint8_t)(0xE0 | cp >> 12), b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F)),
		b[2] = (uint8_t)(0x80 | (cp & 0x3F));
	else
		b[0] = (uint8_t)(0xF0 | cp >> 18), b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F)),
		b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F)), b[3] = (uint8_t)(0x80 | (cp & 0x3F));
	if (*o + n < cap) {
		memcpy(out + *o, b, n);
		*o += n;
	}
}

/* One code point of the UTF-8 at s (advanced); anything that is not valid
 * UTF-8 (kura_utf8_seq_len: a stray or cut sequence, an overlong form, a
 * surrogate, beyond U+10FFFF) is one U+FFFD for its first byte. */
static uint32_t next_cp(const char **s)
{
	const uint8_t *p = (const uint8_t *)*s;
	if (p[0] < 0x80) {
		*s += 1;
		return p[0];
	}
	size_t n = kura_utf8_seq_len(p, strnlen(*s, 4));
	uint32_t cp = n == 2 ? (p[0] & 0x1Fu) << 6 | (p[1] & 0x3Fu)
		    : n == 3 ? (p[0] & 0x0Fu) << 12 | (p[1] & 0x3Fu) << 6 | (p[2] & 0x3Fu)
		    : n == 4 ? (p[0] & 0x07u) << 18 | (p[1] & 0x3Fu) << 12 | (p[2] & 0x3Fu) << 6 |
				       (p[3] & 0x3Fu)
			     : 0xFFFD;
	*s += n ? n : 1;
	return cp;
}

/*
 * The form names are compared in: katakana as hiragana, full-width Latin
 * letters and digits as ASCII, Latin letters lowercase, spaces (ASCII and
 * the ideographic U+3000) and the middle dot left out, so "オオヒラ レイホ",
 * "おおひられいほ" and "ＯＯＨＩＲＡ" meet their queries.
 */
void kura_ui_fold(const char *s, char out[KURA_UI_FOLD_MAX])
{
	size_t o = 0;
	while (s && *s) {
		uint32_t cp = next_cp(&s);
		if (cp == ' ' || cp == 0x3000 || cp == 0x30FB || cp < 0x20 || cp == 0x7F)
			continue; /* spaces, the middle dot, control characters */
		if (cp >= 0xFF01 && cp <= 0xFF5E)
			cp -= 0xFEE0; /* full-width ASCII */
		if (cp >= 'A' && cp <= 'Z')
			cp += 'a' - 'A';
		else if (cp >= 0x30A1 && cp <= 0x30F6)
			cp -= 0x60; /* katakana to hiragana */
		put_utf8(cp, out, KURA_UI_FOLD_MAX, &o);
	}
	out[o] = 0;
}

static int contains(const char *hay, const char *folded_q)
{
	char f[KURA_UI_FOLD_MAX];
	kura_ui_fold(hay, f);
	return *folded_q && strstr(f, folded_q) != NULL;
}

/* Which representation a HumanName is (JP Core: IDE kanji, SYL kana, ABC
 * romaji); without the extension, ASCII text counts as romaji, else kanji. */
static const char *name_kind(const json_t *n)
{
	json_t *x;
	size_t i;
	json_array_foreach(json_object_get(n, "extension"), i, x) {
		const char *url = json_string_value(json_object_get(x, "url"));
		const char *code = json_string_value(json_object_get(x, "valueCode"));
		if (!url || !code || strcmp(url, REPRESENTATION) != 0)
			continue;
		return strcmp(code, "IDE") == 0 ? "kanji" : strcmp(code, "SYL") == 0 ? "kana"
		       : strcmp(code, "ABC") == 0 ? "romaji" : NULL;
	}
	const char *t = json_string_value(json_object_get(n, "text"));
	if (!t)
		t = json_string_value(json_object_get(n, "family"));
	for (const char *p = t; p && *p; p++)
		if ((unsigned char)*p >= 0x80)
			return "kanji";
	return t ? "romaji" : NULL;
}

/* A HumanName's text, or its family and given names joined by a space. */
static int name_text(const json_t *n, struct kura_buf *b)
{
	const char *t = json_string_value(json_object_get(n, "text"));
	json_t *g;
	size_t i;
	if (t)
		return kura_buf_append_str(b, t);
	int r = kura_buf_append_str(b, json_string_value(json_object_get(n, "family")) ?: "");
	json_array_foreach(json_object_get(n, "given"), i, g)
		if (!r && json_string_value(g))
			r = kura_buf_printf(b, "%s%s", b->len ? " " : "", json_string_value(g));
	return r;
}

/* Does any name (text, family, given, family+given) contain the query? */
int kura_ui_name_matches(const json_t *n, const char *fq)
{
	struct kura_buf b;
	json_t *g;
	size_t i;
	int hit = contains(json_string_value(json_object_get(n, "text")), fq) ||
		  contains(json_string_value(json_object_get(n, "family")), fq);
	json_array_foreach(json_object_get(n, "given"), i, g) hit = hit || contains(json_string_value(g), fq);
	kura_buf_init(&b, KURA_UI_FOLD_MAX);
	if (!hit && name_text(n, &b) == 0 && kura_buf_append_byte(&b, 0) == 0)
		hit = contains((char *)b.data, fq);
	kura_buf_release(&b);
	return hit;
}

/* "name": {"kanji", "kana", "romaji", "text"}: the first of each kind;
 * "text" that of the first name. */
json_t *kura_ui_names_json(const json_t *res)
{
	json_t *out = json_object(), *n;
	size_t i;
	json_array_foreach(json_object_get(res, "name"), i, n) {
		struct kura_buf b;
		const char *kind = name_kind(n);
		kura_buf_init(&b, KURA_UI_FOLD_MAX);
		if (name_text(n, &b) == 0 && kura_buf_append_byte(&b, 0) == 0 && *(char *)b.data) {
			if (kind && !json_object_get(out, kind))
				json_object_set_new(out, kind, json_string((char *)b.data));
			if (i == 0)
				json_object_set_new(out, "text", json_string((char *)b.data));
		}
		kura_buf_release(&b);
	}
	return out;
}
