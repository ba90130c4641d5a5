/* api_int.h - private to session.c, api.c and ledger_api.c: answers in
 * JSON and what the handlers share about sessions. */
#ifndef KURA_SERVE_API_INT_H
#define KURA_SERVE_API_INT_H

#include <jansson.h>

#include "serve/serve.h"
#include "util/err.h"

/* Answer status with j (stolen; NULL: KURA_ENOMEM) as compact JSON with
 * sorted keys, Cache-Control: no-store. */
int api_reply_json(struct kura_http_resp *resp, int status, json_t *j);
/* Answer {"error": msg}, or a FHIR OperationOutcome (issue code fhir_code)
 * when fhir is set. */
int api_reply_error(struct kura_http_resp *resp, int fhir, const char *fhir_code, int status,
		    const char *msg);
/* 0 if req's method is method (GET admits HEAD); else 1 after answering
 * 405 with Allow, or an error. */
int api_only(const struct kura_http_req *req, struct kura_http_resp *resp, int method,
	     const char *allow);
/* What a handler returns after kura_serve_authenticate failed with r: 0
 * when resp holds the answer, r when it is an internal error. */
static inline int api_answered(int r)
{
	return r == KURA_EAUTH || r == KURA_EEXPIRED || r == KURA_ELOCKED || r == KURA_EDENIED ? 0 : r;
}
/* The value of parameter name in a query string (a=b&c=d), percent-decoded
 * into out: 0, or KURA_ENOTFOUND, or KURA_EINVAL (malformed, too long,
 * given twice). */
int api_query_get(const char *q, const char *name, char *out, size_t cap);
/* 0 if every parameter of q is one of names (NULL-terminated, at most 32)
 * and none repeats; KURA_EINVAL otherwise (then answer 400). */
int api_query_only(const char *q, const char *const *names);
/* A decimal integer in [1, max]; KURA_EINVAL. */
int api_parse_pos(const char *s, uint64_t max, uint64_t *ret);
/* The request's body as a JSON object (duplicate members refused): 0 with
 * *ret (json_decref it), or the status to answer (415 not JSON, 400 not an
 * object) with *ret_msg.  The server has capped the body's size. */
int api_body(const struct kura_http_req *req, json_t **ret, const char **ret_msg);
/* 403 after the access layer refused (and recorded) an access:
 * {"error", "error_ja", "reason": a->why, "breakglass"} and, when
 * breakglass is set, "patient" (whom the emergency access would be for). */
int api_reply_denied(struct kura_http_resp *resp, const struct kura_access *a, int breakglass,
		     const char *patient);
/* Set-Cookie that ends the browser's session cookie. */
int api_clear_cookie(struct kura_http_resp *resp);
/* Drop a loop's cached certificate session with this state key (logout). */
void session_forget(struct kura_serve_thread *th, const char *session_key);
/* Who and where for the audit trail: address, certificate, user agent. */
void session_where(const struct kura_http_req *req, struct kura_actor *ret);
/* The account whose certificates include fp (ret_user, ret_role), or
 * KURA_ENOTFOUND. */
int session_cert_account(struct kura_vault *v, const char *fp, char ret_user[KURA_MAX_ID + 1],
			 char ret_role[KURA_MAX_ROLE + 1]);

#endif
