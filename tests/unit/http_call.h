/*
 * http_call.h - one request to a kura serve handler, in-process and without
 * a network, for the unit tests of the HTTP API (test_serve_api.c,
 * test_ui_records.c, test_ui_audit.c): build it (call_new, hdr, body), run a
 * handler on it (run: the status, the JSON answer parsed into c->j), read
 * its headers (resp_hdr), free it (done).  Include after <cmocka.h>.
 */
#ifndef KURA_TESTS_HTTP_CALL_H
#define KURA_TESTS_HTTP_CALL_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/http.h"
#include "serve/serve.h"

struct call {
	struct kura_http_header h[8];
	char scratch[128]; /* a header value the call owns (a cookie, "Bearer ...") */
	struct kura_http_peer peer;
	struct kura_http_req req;
	struct kura_http_resp resp;
	json_t *j; /* the answer's body, parsed */
};

/* A request from ip on the loop th; no headers, no body. */
static inline struct call *call_new(struct kura_serve_thread *th, const char *ip, int method,
				    const char *path, const char *query)
{
	struct call *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	snprintf(c->peer.ip, sizeof(c->peer.ip), "%s", ip);
	c->req = (struct kura_http_req){method, path, query, c->h, 0, NULL, 0, &c->peer, th, 1};
	kura_buf_init(&c->resp.body, KURA_HTTP_MAX_RESP_BODY);
	return c;
}

static inline void hdr(struct call *c, const char *name, const char *value)
{
	assert_true(c->req.nheaders < 8);
	c->h[c->req.nheaders++] = (struct kura_http_header){name, value};
}

/* A header whose value is printed into the call's own scratch space. */
static inline void hdr_own(struct call *c, const char *name, const char *prefix, const char *value)
{
	snprintf(c->scratch, sizeof(c->scratch), "%s%s", prefix, value);
	hdr(c, name, c->scratch);
}

static inline void body(struct call *c, const char *text)
{
	hdr(c, "Content-Type", "application/json");
	c->req.body = (const uint8_t *)text;
	c->req.body_len = strlen(text);
}

static inline int run(struct call *c, kura_http_handler h)
{
	assert_int_equal(h(&c->req, &c->resp), 0);
	c->j = c->resp.body.len ? json_loadb((char *)c->resp.body.data, c->resp.body.len, 0, NULL)
				: NULL;
	return c->resp.status;
}

static inline void done(struct call *c)
{
	json_decref(c->j);
	kura_buf_release(&c->resp.body);
	free(c);
}

static inline const char *resp_hdr(const struct call *c, const char *name)
{
	for (size_t i = 0; i < c->resp.nheaders; i++)
		if (strcmp(c->resp.headers[i].name, name) == 0)
			return c->resp.headers[i].value;
	return NULL;
}

#endif
