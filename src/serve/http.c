/*
 * http.c - the small helpers handlers use on requests and answers, and the
 * query-string iterator (http.h).
 */
#include <string.h>
#include <strings.h>

#include "serve/http.h"
#include "util/buf.h"
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

void kura_http_query_init(struct kura_http_query_iter *it, const char *query)
{
	size_t n = query ? strnlen(query, KURA_HTTP_QUERY_MAX_LEN + 1) : 0;
	it->p = query ? query : "";
	it->end = it->p + n;
	it->count = 0;
	it->err = n > KURA_HTTP_QUERY_MAX_LEN ? KURA_ETOOBIG : 0;
}

/* Decode [p, end) into out (cap bytes with the NUL). */
static int query_decode(const char *p, const char *end, char *out, size_t cap)
{
	size_t k = 0;
	while (p < end) {
		unsigned char c = (unsigned char)*p++;
		if (c < 0x20 || c == 0x7f)
			return KURA_EINVAL;
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi = end - p >= 2 ? kura_hex_digit(p[0]) : -1;
			int lo = hi >= 0 ? kura_hex_digit(p[1]) : -1;
			if (lo < 0 || (hi == 0 && lo == 0))
				return KURA_EINVAL;
			c = (unsigned char)(hi << 4 | lo);
			p += 2;
		}
		if (k + 1 >= cap)
			return KURA_ETOOBIG;
		out[k++] = (char)c;
	}
	if (cap == 0)
		return KURA_ETOOBIG;
	out[k] = '\0';
	return 0;
}

int kura_http_query_next(struct kura_http_query_iter *it, char *name, size_t name_cap,
			 char *value, size_t value_cap)
{
	if (it->err)
		return it->err;
	while (it->p < it->end && *it->p == '&')
		it->p++;
	if (it->p == it->end)
		return 0;
	if (it->count == KURA_HTTP_QUERY_MAX_PARAMS)
		return it->err = KURA_ETOOBIG;
	const char *amp = memchr(it->p, '&', (size_t)(it->end - it->p));
	const char *stop = amp ? amp : it->end;
	const char *eq = memchr(it->p, '=', (size_t)(stop - it->p));
	int r = query_decode(it->p, eq ? eq : stop, name, name_cap);
	if (!r)
		r = eq ? query_decode(eq + 1, stop, value, value_cap)
		       : query_decode(stop, stop, value, value_cap);
	if (r)
		return it->err = r;
	it->p = stop;
	it->count++;
	return 1;
}
