/*
 * fhir_scan.c - uploads are scanned with libclamav on arrival (issue 5
 * item 5, MW-01): the base64 attachments of a resource being written are
 * decoded and scanned before anything is stored; an infected one is
 * refused with an OperationOutcome and an audit event.  Nothing is ever
 * stored unscanned while scanning is on: no scanner, a scan error or an
 * attachment larger than the scanner takes refuses the write.
 *
 * The whole resource is walked (contained resources, extensions, any
 * Attachment anywhere): every string member named "data" or
 * "valueBase64Binary" is scanned, decoded when it is base64 and as its
 * own text when it is not (SampledData.data is not base64).
 */
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "backup/scan.h"
#include "fhir/b64.h"
#include "serve/fhir_int.h"
#include "util/err.h"
#include "util/banned.h"

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

/* The bytes to scan: base64 decoded, or the text as it is (SampledData). */
static int bytes_of(const json_t *data, int text, struct kura_buf *bytes)
{
	if (!text)
		return decode(json_string_value(data), json_string_length(data), bytes);
	kura_buf_reset(bytes);
	return kura_buf_append(bytes, json_string_value(data), json_string_length(data));
}

/* Scan one attachment's data: 0 clean, else the status answered. */
static int scan_one(struct kura_fhir_req *fr, const char *type, const char *patient,
		    const json_t *data, int text, struct kura_buf *bytes)
{
	char virus[KURA_SCAN_MAX_NAME], detail[KURA_SCAN_MAX_NAME + 64], msg[KURA_SCAN_MAX_NAME + 160];
	int r = bytes_of(data, text, bytes);
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

#define SCAN_MAX_DEPTH 128 /* deeper resources are refused before this (max_json_depth) */

static int is_data_member(const char *key)
{
	return strcmp(key, "data") == 0 || strcmp(key, "valueBase64Binary") == 0;
}

/* Every data member anywhere in v: 0 when all are clean, else the status. */
static int scan_tree(struct kura_fhir_req *fr, const char *type, const json_t *v,
		     const char *patient, struct kura_buf *bytes, unsigned depth)
{
	const char *key;
	json_t *m;
	size_t i;
	int st = 0;
	if (depth > SCAN_MAX_DEPTH)
		return kura_fhir_outcome(fr->resp, 400, "structure", "the resource is nested too deeply")
			       ? -1 : 400;
	if (json_is_array(v)) {
		json_array_foreach(v, i, m) {
			if ((st = scan_tree(fr, type, m, patient, bytes, depth + 1)))
				break;
		}
		return st;
	}
	json_object_foreach((json_t *)v, key, m) {
		if (is_data_member(key) && json_is_string(m))
			/* a SampledData (it has dimensions) carries text, the rest base64 */
			st = scan_one(fr, type, patient, m,
				      strcmp(key, "data") == 0 && json_object_get(v, "dimensions") != NULL,
				      bytes);
		else if (json_is_object(m) || json_is_array(m))
			st = scan_tree(fr, type, m, patient, bytes, depth + 1);
		if (st)
			break;
	}
	return st;
}

int kura_fhir_scan(struct kura_fhir_req *fr, const struct kura_fhir_type *t, const json_t *j,
		   const char *patient)
{
	struct kura_buf bytes;
	if (fr->scan_off)
		return 0; /* the configuration said so; the checklist reports it */
	kura_buf_init(&bytes, (size_t)KURA_SCAN_MAX_BYTES);
	int st = scan_tree(fr, t->name, j, patient, &bytes, 0);
	kura_buf_release_secret(&bytes);
	return st;
}
