/*
 * jspan.h - the exact bytes of JSON values, as written.
 *
 * jansson re-serialises what it parses (7.20 comes back as
 * 7.2000000000000002), so when kura must store a value byte for byte, it
 * validates the text with jansson and then finds the value's bytes with this
 * scanner.  The scanner is also safe on its own on any input: it never reads
 * outside the slice it is given, never nests deeper than KURA_MAX_JSON_DEPTH
 * (util/limits.h), and fails cleanly on anything that is not JSON.  It checks
 * the RFC 8259 grammar except for UTF-8 validity inside strings, which is
 * left to jansson.
 *
 * Spans point into the input; nothing is allocated, nothing is owned.
 *
 * Errors: KURA_EINVAL malformed JSON, or not the kind of value asked for;
 * KURA_ETOOBIG nested deeper than KURA_MAX_JSON_DEPTH; KURA_ENOTFOUND no
 * member of that name.
 */
#ifndef KURA_FHIR_JSPAN_H
#define KURA_FHIR_JSPAN_H

#include <stddef.h>

#include "util/slice.h"

/* Take the one value at the start of *cursor, after any whitespace.
 * *ret_value is its bytes without surrounding whitespace, and *cursor moves
 * to just after it.  On error *cursor is unchanged. */
int kura_jspan_value(struct kura_slice *cursor, struct kura_slice *ret_value);

/* 1 if s holds nothing but JSON whitespace (space, tab, CR, LF), else 0. */
int kura_jspan_is_blank(struct kura_slice s);

/* obj must be exactly one JSON object, whitespace around it allowed.  The
 * whole object is checked, then *ret_value is the value of the member named
 * key (names are compared after unescaping, so "\u0069d" is "id").  A name
 * that occurs twice is KURA_EINVAL, because the answer would be ambiguous. */
int kura_jspan_member(struct kura_slice obj, const char *key,
		      struct kura_slice *ret_value);

/* Iteration over the elements of one JSON array.  Fields are private. */
struct kura_jspan_iter {
	struct kura_slice rest; /* what is not scanned yet */
	size_t index;           /* elements returned so far */
	int done;
};

/* Start iterating array, which must begin (after whitespace) with '['.
 * Only the '[' is checked here; the rest is checked as it is reached. */
int kura_jspan_array_begin(struct kura_slice array, struct kura_jspan_iter *ret_it);

/* 1 with *ret_elem set to the next element's bytes; 0 at the end, once the
 * closing ']' and that nothing but whitespace follows it were checked; a
 * negative code on error (and on every later call). */
int kura_jspan_array_next(struct kura_jspan_iter *it, struct kura_slice *ret_elem);

#endif
