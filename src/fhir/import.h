/*
 * import.h - parse a file given to `kura import` into the records to store.
 *
 * Two formats, told apart by their content (docs/internals/import.md):
 *
 *  - NDJSON: one JSON object per non-empty line,
 *      {"patient": "P123", "type": "Observation", "content": {...},
 *       "content_type": "application/fhir+json"}
 *    where content is a JSON object, array or string, or "content_base64"
 *    holds strict base64 instead of "content" for binary documents.
 *    Object and array content is stored as the exact bytes it has in the
 *    file (numbers such as 7.20 are never re-serialised); string content is
 *    stored as the decoded string.  A file holding one such object, on one
 *    line or pretty-printed, is one record.
 *
 *  - a FHIR R4 Bundle (the whole file is one object with resourceType
 *    "Bundle") of type batch, transaction or collection: each
 *    entry.resource becomes one record of type resourceType whose content
 *    is the exact bytes of entry.resource.  A transaction Bundle is atomic:
 *    the caller must commit all of its records in one transaction.
 *
 * kura_import_parse() validates the whole input before it returns, so a
 * caller that parses first and writes afterwards changes nothing when any
 * part of the input is bad.
 */
#ifndef KURA_FHIR_IMPORT_H
#define KURA_FHIR_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/limits.h"
#include "util/slice.h"

enum kura_import_format {
	KURA_IMPORT_NDJSON = 1,
	KURA_IMPORT_BUNDLE = 2,
};

/* One record to store.  The strings are valid by the rules below:
 * kura_valid_id(patient), kura_valid_record_type(type),
 * kura_valid_content_type(content_type). */
struct kura_import_item {
	char patient[KURA_MAX_ID + 1];
	char type[KURA_MAX_TYPE + 1];
	char content_type[KURA_MAX_TYPE + 1];
	/* 1..KURA_MAX_CONTENT bytes, pointing into the caller's input or into
	 * memory owned by the struct kura_import. */
	struct kura_slice content;
	/* Where it came from, for messages: the 1-based line number (NDJSON)
	 * or the 0-based entry index (Bundle). */
	size_t origin;
};

struct kura_import_blob; /* private */

/* The parsed file.  Read-only for the caller. */
struct kura_import {
	struct kura_import_item *items; /* in file order */
	size_t count;                   /* 1..KURA_MAX_BUNDLE_ENTRIES */
	int atomic;                     /* 1: commit all items in one transaction */
	int format;                     /* enum kura_import_format */
	/* private */
	size_t cap;
	struct kura_import_blob *blobs; /* decoded content owned by this */
};

/*
 * Parse and validate a whole import file.
 *
 * data (len bytes, need not be NUL-terminated) must outlive *ret, whose
 * items point into it.  default_patient (may be NULL) is the patient of
 * Bundle entries whose own references name none, and of NDJSON lines without
 * "patient"; it must pass kura_valid_id().  errmsg may be NULL; otherwise on
 * failure it is reset to one lowercase English line saying what is wrong and
 * where ("line 3: ...", "bundle entry 4: ..."), and on success left alone.
 *
 * On success *ret is a new struct kura_import for kura_import_free().  On
 * failure *ret is NULL and the result is
 *   KURA_EINVAL   anything malformed or not allowed (every rule is in
 *                 docs/internals/import.md), including an empty file;
 *   KURA_ETOOBIG  over a limit of util/limits.h: KURA_MAX_IMPORT_FILE,
 *                 KURA_MAX_BUNDLE_FILE, KURA_MAX_NDJSON_LINE,
 *                 KURA_MAX_CONTENT, KURA_MAX_BUNDLE_ENTRIES (records per
 *                 file, both formats), KURA_MAX_JSON_DEPTH;
 *   KURA_ENOMEM.
 */
int kura_import_parse(const uint8_t *data, size_t len, const char *default_patient,
		      struct kura_import **ret, struct kura_buf *errmsg);

/* Free a result and the content memory it owns; NULL is fine. */
void kura_import_free(struct kura_import *imp);

/* Validators, also for the CLI.  Each takes a NUL-terminated string (NULL is
 * invalid) and returns 1 if it is valid, else 0. */

/* A patient, record or user id: [A-Za-z0-9._-]{1,64} (the FHIR id rule,
 * plus '_'). */
int kura_valid_id(const char *s);

/* A FHIR resource type by its form: [A-Z][A-Za-z]{0,63}. */
int kura_is_fhir_type(const char *s);

/* A record type: a FHIR resource type, "hl7v2", or a lowercase MIME type
 * "type/subtype" of RFC 6838 restricted-name characters, at most
 * KURA_MAX_TYPE bytes in all. */
int kura_valid_record_type(const char *s);

/* A content type: a MIME type "type/subtype" (any case) with optional
 * parameters ("; charset=utf-8"), printable ASCII, at most KURA_MAX_TYPE
 * bytes. */
int kura_valid_content_type(const char *s);

/* 0 if content fits a record of this type: for a FHIR resource type, a JSON
 * object whose resourceType equals type; other valid types accept any
 * bytes.  KURA_EINVAL otherwise (also for an invalid type). */
int kura_fhir_check_content(const char *type, const uint8_t *content, size_t len);

#endif
