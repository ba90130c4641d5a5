/*
 * fhir_int.h - private to the FHIR R4 endpoints: fhir.c (dispatch, read,
 * vread, history, create, update, the stored form of a resource),
 * fhir_search.c (search and type history), capability.c (metadata) and
 * outcome.c (OperationOutcome).  docs/FHIR.md describes how resources map
 * to kura records.
 */
#ifndef KURA_SERVE_FHIR_INT_H
#define KURA_SERVE_FHIR_INT_H

#include <jansson.h>

#include "serve/serve.h"
#include "util/slice.h"

#define KURA_FHIR_CT "application/fhir+json; charset=utf-8"
#define KURA_FHIR_DEFAULT_COUNT 20u

/* What the per-type tables say (fhir.c). */
struct kura_fhir_type {
	const char *name;
	const char *patient_ref;  /* member holding the patient reference; NULL for Patient */
	const char *code;         /* CodeableConcept searched by `code`, or NULL */
	const char *const *dates; /* members searched by `date` (first present wins), or NULL */
	int has_status;           /* a top-level `status` to search */
};

/* The supported type of this name, or NULL. */
const struct kura_fhir_type *kura_fhir_type_find(const char *name);
/* Every supported type in order, NULL-terminated by name. */
extern const struct kura_fhir_type kura_fhir_types[];

/* One request being answered, after authentication. */
struct kura_fhir_req {
	const struct kura_http_req *http;
	struct kura_http_auth *au;
	struct kura_http_resp *resp;
	const char *base;  /* thread base URL or "" */
	unsigned max_depth;
	unsigned max_count;
	/* Uploads (fhir_scan.c): the loop's scanner, NULL when scanning is
	 * off (scan_off); NULL without scan_off refuses every attachment. */
	struct kura_scanner *scanner;
	int scan_off;
	unsigned max_entries;          /* Bundle entries; 0: 1000 */
	/* Set while the entries of a transaction Bundle are written
	 * (fhir_bundle.c): writes go into this one vault transaction. */
	struct kura_access_txn *tx;
	int nested;                    /* an entry of a Bundle: no Bundle inside */
};

/* ---- outcome.c ---- */

/* Answer status with an OperationOutcome of one issue (severity error, the
 * FHIR issue-type code, diagnostics in English).  Returns 0 unless the
 * answer could not be built. */
int kura_fhir_outcome(struct kura_http_resp *resp, int status, const char *code,
		      const char *diagnostics);
/* The answer for a kura error code from the access layer (403 denied, 404
 * not found, 410 retracted, 422 invalid, 413 too big...); 0 or the
 * internal error to pass up (KURA_ENOMEM, KURA_EIO, KURA_ECORRUPT...). */
int kura_fhir_error(struct kura_http_resp *resp, int err);

/* ---- the stored form (fhir.c) ---- */

/*
 * Check a request body as a resource of this type and make its stored
 * form: RFC 8259 JSON (kura_jspan_check), depth at most max_depth, an
 * object whose resourceType is type; stored is the object's members in
 * their order and exact bytes with `id` left out and `meta.versionId`,
 * `meta.lastUpdated` left out of meta (meta dropped if nothing remains).
 * *ret_json (may be NULL) gets its parse.  Returns 0, or the HTTP status
 * to answer (400 not JSON or too deep, 422 not a resource of this type)
 * with *ret_why a static English reason.
 */
int kura_fhir_prepare(const uint8_t *body, size_t len, const char *type, unsigned max_depth,
		      struct kura_buf *stored, json_t **ret_json, const char **ret_why);
/* The resource a client sees: stored with id, meta.versionId and
 * meta.lastUpdated of this version added (in that order after
 * resourceType).  KURA_ECORRUPT if stored is not an object. */
int kura_fhir_render(const struct kura_leaf *l, struct kura_slice stored, struct kura_buf *out);
/* Content-Type application/fhir+json or application/json (any parameters). */
int kura_fhir_content_type_ok(const struct kura_http_req *req);
/* Append s as a JSON string. */
int kura_fhir_append_str(struct kura_buf *b, const char *s);

/* ---- fhir_search.c ---- */

/* GET /fhir/{type}?... (search) and GET /fhir/{type}/_history. */
int kura_fhir_search(struct kura_fhir_req *fr, const struct kura_fhir_type *t);
int kura_fhir_type_history(struct kura_fhir_req *fr, const struct kura_fhir_type *t);
/* GET /fhir/{type}/{id}/_history. */
int kura_fhir_instance_history(struct kura_fhir_req *fr, const struct kura_fhir_type *t,
			       const char *id);
/* A date or dateTime (FHIR forms: YYYY, YYYY-MM, YYYY-MM-DD, with time and
 * offset) as the interval [*lo, *hi) in microseconds; KURA_EINVAL. */
int kura_fhir_date_range(const char *s, int64_t *lo, int64_t *hi);

/* ---- fhir_scan.c ---- */

/*
 * Scan the attachments of a resource being written (Binary.data,
 * DocumentReference.content[].attachment.data, DiagnosticReport.
 * presentedForm[].data, Patient.photo[].data): each is decoded from base64
 * and scanned with libclamav before anything is stored (MW-01).  Returns 0
 * when the write may go on (clean, nothing to scan, or scanning off), else
 * the HTTP status answered in fr->resp: 400 bad base64, 413 larger than
 * the scanner takes, 422 malware (code "security", the signature named,
 * and an audit event: action write, outcome minor, severity alert, detail
 * "malware: NAME"), 500 the scan failed or there is no scanner (also
 * audited); or a negative internal error.
 */
int kura_fhir_scan(struct kura_fhir_req *fr, const struct kura_fhir_type *t, const json_t *j,
		   const char *patient);

/* ,"link":[self, next, previous] of a searchset page at path (the
 * request's query with _count and _offset replaced). */
int kura_fhir_links(struct kura_fhir_req *fr, struct kura_buf *b, const char *path, size_t total,
		    unsigned count, unsigned offset);

/* ---- fhir_audit.c ---- */

/* GET /fhir/AuditEvent/{id} and GET /fhir/AuditEvent?... for auditors
 * (the audit permission), from the audit trail; id NULL for a search. */
int kura_fhir_audit(struct kura_fhir_req *fr, const char *id);

/* ---- fhir_bundle.c ---- */

/* POST /fhir: a batch or transaction Bundle (docs/FHIR.md "Bundles"). */
int kura_fhir_bundle(struct kura_fhir_req *fr);

/* ---- capability.c ---- */

int kura_fhir_capability(struct kura_http_resp *resp, const char *base);

/* ---- fhir.c: the core after authentication (tests call it) ---- */

int kura_fhir_dispatch(struct kura_fhir_req *fr);

#endif
