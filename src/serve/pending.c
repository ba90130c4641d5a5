/* TEMPORARY (branch h/srv only): the lead deletes this file at merge, when session.c, api.c, ledger_api.c and fhir*.c land. */
/*
 * pending.c - stand-ins answering 501 for the handlers other branches of
 * issue 5 implement, so the server links and runs on its own.
 */
#include "serve/serve.h"
#include "util/err.h"
#include "util/banned.h"

static int not_yet(struct kura_http_resp *resp)
{
	static const char body[] = "{\"error\":\"not implemented on this branch\"}";
	return kura_http_reply(resp, 501, "application/json", body, sizeof(body) - 1);
}

int kura_serve_authenticate(const struct kura_http_req *req, int fhir, struct kura_http_auth *ret,
			    struct kura_http_resp *resp)
{
	(void)req;
	(void)fhir;
	(void)ret;
	static const char body[] = "{\"error\":\"authentication is not built on this branch\"}";
	kura_http_reply(resp, 401, "application/json", body, sizeof(body) - 1);
	return KURA_EAUTH;
}

int kura_api_login(const struct kura_http_req *req, struct kura_http_resp *resp)
{
	(void)req;
	return not_yet(resp);
}

int kura_api_logout(const struct kura_http_req *req, struct kura_http_resp *resp)
{
	(void)req;
	return not_yet(resp);
}

int kura_api_me(const struct kura_http_req *req, struct kura_http_resp *resp)
{
	(void)req;
	return not_yet(resp);
}

int kura_api_ledger(const struct kura_http_req *req, struct kura_http_resp *resp)
{
	(void)req;
	return not_yet(resp);
}

int kura_fhir_handle(const struct kura_http_req *req, struct kura_http_resp *resp)
{
	(void)req;
	return not_yet(resp);
}
