/*
 * outcome.c - FHIR OperationOutcome answers, and which HTTP status a kura
 * error code becomes at /fhir.
 */
#include <stdlib.h>
#include <string.h>

#include "serve/fhir_int.h"
#include "util/err.h"
#include "util/utf8.h"
#include "util/banned.h"

/* diagnostics often quote the client's bytes (a search parameter, cut with
 * "%.100s" possibly inside a character): anything that is not well-formed
 * UTF-8, and control characters, become '?', or jansson refuses the string
 * and a hostile query would be a 500. */
static void clean_text(char *dst, size_t cap, const char *src)
{
	const uint8_t *p = (const uint8_t *)src;
	size_t n = strlen(src), i = 0, o = 0;
	while (i < n && o + 5 < cap) {
		size_t len = p[i] < 0x80 ? 1 : kura_utf8_seq_len(p + i, n - i);
		if (len == 0 || (len == 1 && (p[i] < 0x20 || p[i] == 0x7f))) {
			dst[o++] = '?';
			i++;
			continue;
		}
		memcpy(dst + o, p + i, len);
		o += len;
		i += len;
	}
	dst[o] = '\0';
}

int kura_fhir_outcome(struct kura_http_resp *resp, int status, const char *code,
		      const char *diagnostics)
{
	char diag[1024];
	clean_text(diag, sizeof(diag), diagnostics ? diagnostics : "");
	json_t *o = json_pack("{s:s, s:[{s:s, s:s, s:s}]}", "resourceType", "OperationOutcome",
			      "issue", "severity", status >= 400 ? "error" : "information", "code",
			      code, "diagnostics", diag);
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
