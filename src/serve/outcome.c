/*
 * outcome.c - FHIR OperationOutcome answers, and which HTTP status a kura
 * error code becomes at /fhir.
 */
#include <stdlib.h>
#include <string.h>

#include "serve/fhir_int.h"
#include "util/err.h"
#include "util/banned.h"

int kura_fhir_outcome(struct kura_http_resp *resp, int status, const char *code,
		      const char *diagnostics)
{
	json_t *o = json_pack("{s:s, s:[{s:s, s:s, s:s}]}", "resourceType", "OperationOutcome",
			      "issue", "severity", status >= 400 ? "error" : "information", "code",
			      code, "diagnostics", diagnostics ? diagnostics : "");
	char *text = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	if (!text)
		return KURA_ENOMEM;
	int r = kura_http_reply(resp, status, KURA_FHIR_CT, text, strlen(text));
	free(text);
	return r;
}

struct mapping {
	int err;
	int status;
	const char *code;
	const char *text;
};

static const struct mapping mappings[] = {
	{KURA_ENOTFOUND, 404, "not-found", "no such resource"},
	{KURA_EDENIED, 403, "forbidden", "access denied; the attempt was recorded"},
	{KURA_ESTATE, 410, "deleted", "the resource was retracted (entered in error)"},
	{KURA_EINVAL, 422, "invalid", "the resource is not valid"},
	{KURA_ETOOBIG, 413, "too-costly", "the request is over a size limit"},
	{KURA_EAUTH, 401, "login", "authentication required"},
	{KURA_EEXPIRED, 401, "expired", "the session expired: log in again"},
	{KURA_ELOCKED, 403, "security", "the account is locked or disabled"},
	{KURA_EBUSY, 503, "transient", "the vault is busy: retry later"},
};

int kura_fhir_error(struct kura_http_resp *resp, int err)
{
	for (size_t i = 0; i < sizeof(mappings) / sizeof(mappings[0]); i++)
		if (mappings[i].err == err) {
			if (err == KURA_EBUSY)
				resp->retry_after = 1;
			return kura_fhir_outcome(resp, mappings[i].status, mappings[i].code,
						 mappings[i].text);
		}
	return err ? err : KURA_EINTERNAL;
}
