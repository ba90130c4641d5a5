/*
 * fhir_scan.c - uploads are scanned with libclamav on arrival (issue 5
 * item 5, MW-01): the base64 attachments of a resource being written are
 * decoded and scanned before anything is stored; an infected one is
 * refused with an OperationOutcome and an audit event.  Nothing is ever
 * stored unscanned while scanning is on: no scanner, a scan error or an
 * attachment larger than the scanner takes refuses the write.
 */
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "backup/scan.h"
#include "fhir/b64.h"
#include "serve/fhir_int.h"
#include "util/err.h"
#include "util/banned.h"

/* Where a type carries Attachment.data: array[].data, or
 * array[].sub.data, or the resource's own data (array NULL). */
struct where {
	const char *type;
	const char *array;
	const char *sub;
};

static const struct where places[] = {
	{"Binary", NULL, NULL},
	{"DocumentReference", "content", "attachment"},
	{"DiagnosticReport", "presentedForm", NULL},
	{"Patient", "photo", NULL},
};

/* The event of a refused upload (kept by the transaction when in one). */
static int audit_refusal(struct kura_fhir_req *fr, const char *patient, const char *type,
			 int outcome, const char *detail)
{
	struct kura_event e;
	struct kura_access *a = &fr->au->a;
	kura_audit_event(&e, &a->id->actor, "write");
	e.outcome = (uint8_t)outcome;
	e.severity = KURA_SEV_ALERT;
	KURA_AUDIT_SET(e.patient_id, patient ? patient : "");
	snprintf(e.query, sizeof(e.query), "fhir upload %s", type);
	KURA_AUDIT_SET(e.detail, detail);
	return fr->tx ? kura_access_txn_note(a, fr->tx, &e) : kura_access_record(a, &e);
}

/* base64 text (FHIR allows whitespace in base64Binary) into bytes. */
static int decode(const char *s, size_t n, struct kura_buf *out)
{
	char *c = malloc(n ? n : 1);
	size_t k = 0, len = 0;
	if (!c)
		return KURA_ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			c[k++] = s[i];
	size_t max = kura_b64_max_decoded(k);
	kura_buf_reset(out);
	int r = max > KURA_SCAN_MAX_BYTES ? KURA_ETOOBIG : kura_buf_reserve(out, max);
	if (!r)
		r = kura_b64_decode(kura_slice_make(c, k), out->data, max, &len);
	if (!r)
		out->len = len;
	free(c);
	return r == KURA_ETOOBIG && max <= KURA_SCAN_MAX_BYTES ? KURA_ENOMEM : r;
}

/* Scan one attachment's data: 0 clean, else the status answered. */
static int scan_one(struct kura_fhir_req *fr, const char *type, const char *patient,
		    const json_t *data, struct kura_buf *bytes)
{
	char virus[KURA_SCAN_MAX_NAME], detail[KURA_SCAN_MAX_NAME + 64], msg[KURA_SCAN_MAX_NAME + 160];
	int r = decode(json_string_value(data), json_string_length(data), bytes);
	if (r == KURA_EINVAL)
		return kura_fhir_outcome(fr->resp, 400, "structure",
					 "an attachment's data is not base64") ? -1 : 400;
	if (r == KURA_ETOOBIG)
		return kura_fhir_outcome(fr->resp, 413, "too-costly",
					 "an attachment is larger than the malware scanner takes")
			       ? -1 : 413;
	if (r)
		return r;
	r = fr->scanner ? kura_scan_buf(fr->scanner, bytes->data, bytes->len, virus) : KURA_EIO;
	if (!fr->scanner)
		snprintf(virus, sizeof(virus), "no malware scanner loaded");
	if (r == 0)
		return 0;
	snprintf(detail, sizeof(detail), "%s: %s", r == 1 ? "malware" : "scan failed", virus);
	int e = audit_refusal(fr, patient, type, r == 1 ? KURA_OUTCOME_MINOR : KURA_OUTCOME_SERIOUS,
			      detail);
	if (e)
		return e;
	if (r == 1) {
		snprintf(msg, sizeof(msg), "malware found (%s): the upload was refused and recorded",
			 virus);
		return kura_fhir_outcome(fr->resp, 422, "security", msg) ? -1 : 422;
	}
	return kura_fhir_outcome(fr->resp, 500, "exception",
				 "the attachment could not be scanned for malware; nothing was stored")
		       ? -1 : 500;
}

/* The data member of one element (or of sub inside it), if any. */
static const json_t *data_of(const json_t *el, const char *sub)
{
	if (sub)
		el = json_object_get(el, sub);
	return json_object_get(el, "data");
}

static int scan_place(struct kura_fhir_req *fr, const struct where *w, const json_t *j,
		      const char *patient, struct kura_buf *bytes)
{
	const json_t *arr = w->array ? json_object_get(j, w->array) : NULL;
	const json_t *d;
	size_t n = w->array ? json_array_size(arr) : 1;
	int st = 0;
	for (size_t i = 0; !st && i < n; i++) {
		d = w->array ? data_of(json_array_get(arr, i), w->sub) : json_object_get(j, "data");
		if (d && !json_is_string(d))
			st = kura_fhir_outcome(fr->resp, 400, "structure",
					       "an attachment's data is not a string") ? -1 : 400;
		else if (d)
			st = scan_one(fr, w->type, patient, d, bytes);
	}
	return st;
}

int kura_fhir_scan(struct kura_fhir_req *fr, const struct kura_fhir_type *t, const json_t *j,
		   const char *patient)
{
	struct kura_buf bytes;
	int st = 0;
	if (fr->scan_off)
		return 0; /* the configuration said so; the checklist reports it */
	kura_buf_init(&bytes, (size_t)KURA_SCAN_MAX_BYTES);
	for (size_t i = 0; !st && i < sizeof(places) / sizeof(places[0]); i++)
		if (strcmp(places[i].type, t->name) == 0)
			st = scan_place(fr, &places[i], j, patient, &bytes);
	kura_buf_release_secret(&bytes);
	return st;
}
