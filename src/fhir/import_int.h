/*
 * import_int.h - private to the import parser: import.c (entry point,
 * result, messages), ndjson.c (NDJSON records) and bundle.c (FHIR Bundles).
 */
#ifndef KURA_FHIR_IMPORT_INT_H
#define KURA_FHIR_IMPORT_INT_H

#include <jansson.h>

#include "fhir/import.h"

/* Bundles are parsed with these: duplicate keys would make "which value did
 * kura store" ambiguous, and integers as reals means a big integer such as
 * 12345678901234567890 is not refused (its bytes are kept anyway). */
#define KURA_IMPORT_JSON_FLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL)

/* Input bytes a quoted value shows in a message, and room for a quote of up
 * to 160 input bytes (each may become "\xNN"), "…" and a NUL. */
#define KURA_IMPORT_QUOTE 40u
#define KURA_IMPORT_QUOTE_BUF (4u * 160u + 4u)

enum kura_import_kind {
	KURA_IMPORT_OBJECT = 1, /* content is a JSON object, stored raw */
	KURA_IMPORT_ARRAY,      /* a JSON array, stored raw */
	KURA_IMPORT_TEXT,       /* a JSON string, stored decoded */
	KURA_IMPORT_BINARY,     /* content_base64, stored decoded */
};

struct kura_import_ctx {
	struct kura_import *imp;     /* the result being built */
	const char *default_patient; /* NULL or a valid id */
	struct kura_buf *errmsg;     /* NULL or the caller's */
};

/* Reset errmsg to the formatted line (when there is an errmsg); returns err,
 * so that callers can write `return kura_import_fail(c, KURA_EINVAL, ...)`. */
int kura_import_fail(struct kura_import_ctx *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A printable copy of at most max (<= 160) bytes of p for a message:
 * control bytes and invalid UTF-8 become \xNN, a cut ends in "…".  Returns
 * out. */
const char *kura_import_quote(const void *p, size_t n, size_t max,
			      char out[KURA_IMPORT_QUOTE_BUF]);

/* kura_import_quote() of a C string, KURA_IMPORT_QUOTE bytes at most. */
const char *kura_import_quote_str(const char *s, char out[KURA_IMPORT_QUOTE_BUF]);

/* Append a zeroed item.  KURA_ETOOBIG past KURA_MAX_BUNDLE_ENTRIES,
 * KURA_ENOMEM. */
int kura_import_push(struct kura_import *imp, struct kura_import_item **ret_item);

/* n (>= 1) bytes that live as long as imp.  KURA_ENOMEM. */
int kura_import_alloc(struct kura_import *imp, size_t n, uint8_t **ret_mem);

/* Copy src, already known to fit, into a field of cap bytes. */
void kura_import_set(char *dst, size_t cap, const char *src);

/* One record object: text is its bytes in the file, already accepted by
 * kura_jspan_check(); line is its 1-based line.  Appends one item or fails
 * with a message. */
int kura_import_record(struct kura_import_ctx *c, struct kura_slice text, size_t line);

/* All lines of an NDJSON file. */
int kura_import_ndjson(struct kura_import_ctx *c, struct kura_slice data);

/* A Bundle: text is the whole file, already accepted by kura_jspan_check();
 * root is its parse. */
int kura_import_bundle(struct kura_import_ctx *c, struct kura_slice text, json_t *root);

#endif
