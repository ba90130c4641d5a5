/*
 * http.c - the small helpers handlers use on requests and answers (http.h).
 */
#include <string.h>
#include <strings.h>

#include "serve/http.h"
#include "util/err.h"
#include "util/banned.h"

const char *kura_http_header(const struct kura_http_req *req, const char *name)
{
	for (size_t i = 0; i < req->nheaders; i++)
		if (req->headers[i].name && strcasecmp(req->headers[i].name, name) == 0)
			return req->headers[i].value;
	return NULL;
}

int kura_http_set_header(struct kura_http_resp *resp, const char *name, const char *value)
{
	size_t n = strlen(name) + 1, v = strlen(value) + 1;
	if (resp->nheaders == KURA_HTTP_MAX_RESP_HEADERS ||
	    n + v > sizeof(resp->header_store) - resp->store_used)
		return KURA_ETOOBIG;
	char *p = resp->header_store + resp->store_used;
	memcpy(p, name, n);
	memcpy(p + n, value, v);
	resp->headers[resp->nheaders].name = p;
	resp->headers[resp->nheaders].value = p + n;
	resp->nheaders++;
	resp->store_used += n + v;
	return 0;
}

int kura_http_reply(struct kura_http_resp *resp, int status, const char *content_type,
		    const void *body, size_t len)
{
	resp->status = status;
	size_t n = content_type ? strlen(content_type) : 0;
	if (n >= sizeof(resp->content_type))
		return KURA_EINVAL;
	memcpy(resp->content_type, content_type ? content_type : "", n + 1);
	kura_buf_reset(&resp->body);
	return len ? kura_buf_append(&resp->body, body, len) : 0;
}
