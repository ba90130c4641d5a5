/* ui_records.c - part of the web UI (issue 6; docs/formats/ui-api.md): being written. */
#include "serve/api_int.h"
#include "util/banned.h"

int kura_api_patients(const struct kura_http_req *req, struct kura_http_resp *resp)
{
	(void)req;
	return api_reply_error(resp, 0, "not-found", 404, "not available yet");
}

int kura_api_records(const struct kura_http_req *req, struct kura_http_resp *resp)
{
	(void)req;
	return api_reply_error(resp, 0, "not-found", 404, "not available yet");
}

int kura_api_breakglass(const struct kura_http_req *req, struct kura_http_resp *resp)
{
	(void)req;
	return api_reply_error(resp, 0, "not-found", 404, "not available yet");
}
