/*
 * jspan.h - JSON validation, and the exact bytes of JSON values as written.
 *
 * jansson re-serialises what it parses (7.20 comes back as
 * 7.2000000000000002), so when kura must store a value byte for byte it
 * finds the value's bytes with this scanner.  jansson is also slow (about
 * 100 MB/s), so for bulk input kura_jspan_check() validates as strictly as
 * jansson with JSON_REJECT_DUPLICATES does, at several times its speed.
 *
 * Everything here is safe on any input: it never reads outside the slice it
 * is given, never nests deeper than KURA_MAX_JSON_DEPTH (util/limits.h), and
 * fails cleanly on anything that is not JSON.  Spans point into the input;
 * only kura_jspan_check() allocates, and frees before it returns.
 *
 * Two levels of checking:
 *  - kura_jspan_check(): RFC 8259 in full (below);
 *  - the span functions (value, member, members, array): the grammar and
 *    the depth limit only, not UTF-8 inside strings, not escapes beyond
 *    their form, not repeated names.  Use them on checked text.
 *
 * Errors: KURA_EINVAL malformed JSON, or not the kind of value asked for;
 * KURA_ETOOBIG nested deeper than KURA_MAX_JSON_DEPTH; KURA_ENOTFOUND no
 * member of that name; KURA_ENOMEM (kura_jspan_check only).
 */
#ifndef KURA_FHIR_JSPAN_H
#define KURA_FHIR_JSPAN_H

#include <stddef.h>

#include "util/slice.h"

/* Where and why kura_jspan_check() refused a text. */
struct kura_jspan_error {
	size_t offset;    /* bytes from the start of the text */
	const char *what; /* static lowercase English, e.g. "invalid utf-8" */
};

/* Check that text is exactly one JSON value, whitespace around it allowed,
 * that jansson would accept with JSON_REJECT_DUPLICATES: the RFC 8259
 * grammar; strings of valid UTF-8 (no overlong forms, no surrogates, nothing
 * above U+10FFFF) without control characters; escapes "\u0000" and unpaired
 * surrogate escapes refused; no name twice in one object (compared after
 * unescaping); nesting at most KURA_MAX_JSON_DEPTH.  Unlike jansson it
 * accepts any value at the top and numbers of any size.  ret_err may be
 * NULL; it is set on failure. */
int kura_jspan_check(struct kura_slice text, struct kura_jspan_error *ret_err);

/* Take the one value at the start of *cursor, after any whitespace.
 * *ret_value is its bytes without surrounding whitespace, and *cursor moves
 * to just after it.  On error *cursor is unchanged. */
int kura_jspan_value(struct kura_slice *cursor, struct kura_slice *ret_value);

/* 1 if s holds nothing but JSON whitespace (space, tab, CR, LF), else 0. */
int kura_jspan_is_blank(struct kura_slice s);

/* obj must be exactly one JSON object, whitespace around it allowed.  The
 * whole object is scanned, then *ret_value is the value of the member named
 * key (names are compared after unescaping, so "\u0069d" is "id").  A name
 * that occurs twice is KURA_EINVAL, because the answer would be ambiguous. */
int kura_jspan_member(struct kura_slice obj, const char *key,
		      struct kura_slice *ret_value);

/* kura_jspan_member() for nkeys names in one pass: ret_values[i] is the
 * value of keys[i], or {NULL, 0} when there is no such member.  If
 * ret_unknown is not NULL it is set to the name (a string token, quotes
 * included) of the first member whose name is not in keys, or {NULL, 0}. */
int kura_jspan_members(struct kura_slice obj, const char *const *keys, size_t nkeys,
		       struct kura_slice *ret_values, struct kura_slice *ret_unknown);

/* Decode the string token str (quotes included, as the span functions
 * return it) into out, which has room for cap bytes; *ret_len is the number
 * written, never more than str.len - 2.  No NUL is added.  KURA_EINVAL if
 * str is not exactly one string token or holds an unpaired surrogate escape;
 * KURA_ETOOBIG if it does not fit, with out holding a prefix of whole
 * characters. */
int kura_jspan_string(struct kura_slice str, uint8_t *out, size_t cap,
		      size_t *ret_len);

/* Iteration over the elements of one JSON array.  Fields are private. */
struct kura_jspan_iter {
	struct kura_slice rest; /* what is not scanned yet */
	size_t index;           /* elements returned so far */
	int done;               /* 0 running, 1 finished, < 0 the error */
};

/* Start iterating array, which must begin (after whitespace) with '['.
 * Only the '[' is checked here; the rest is checked as it is reached. */
int kura_jspan_array_begin(struct kura_slice array, struct kura_jspan_iter *ret_it);

/* 1 with *ret_elem set to the next element's bytes; 0 at the end, once the
 * closing ']' and that nothing but whitespace follows it were checked; a
 * negative code on error (and on every later call). */
int kura_jspan_array_next(struct kura_jspan_iter *it, struct kura_slice *ret_elem);

/* kura_utf8_text_valid() is in util/utf8.h. */
#include "util/utf8.h"

#endif
