/*
 * server.c - `kura serve`'s listeners and event loops (serve.h): one
 * libevent loop per thread, each with its own SO_REUSEPORT sockets, its own
 * evhttp per listener (the mtls mode is per listener) and its own vault
 * handle; TLS from crypto/tls_server.h over OpenSSL bufferevents; requests
 * turned into struct kura_http_req for the router, answers written back
 * with the security headers; limits, JSON-line logs, signals.
 */
#include <errno.h>
#include <stdarg.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crypto/tls_server.h"
#include "serve/commit.h"
#include "serve/serve_int.h"
#include "util/err.h"
#include "util/time.h"
#include "util/banned.h"

#define BACKLOG 1024
#define DRAIN_TICK_MS 100
#define DRAIN_QUIET_US 2000000 /* no request for this long and none in flight: done */
#define LOG_LINE 1024
#define HDR_SLACK 4 /* evhttp reads up to this many times max_header_bytes */

enum { CMD_NONE = 0, CMD_CLOSE, CMD_OPEN, CMD_STOP };

struct worker;
struct pend;

/* One (loop, listener) pair: its evhttp and bound socket. */
struct lsn {
	struct worker *w;
	unsigned index;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
};

struct worker {
	struct kura_server *srv;
	pthread_t th;
	int started;
	struct event_base *base;
	struct lsn lsn[KURA_SERVE_MAX_LISTENERS];
	struct event *ctl, *tick;
	struct kura_serve_thread t;
	_Atomic int cmd;
	int draining;
	int64_t drain_deadline_us, last_request_us;
	int64_t inflight;
	/* Answers waiting for their read event (commit.h): waiting is the
	 * loop's own list; done gets them back from the committer's thread
	 * (under mu), then wake runs on the loop. */
	struct event *wake;
	pthread_mutex_t mu;
	int mu_ok;
	struct pend *done, *waiting;
	unsigned ndeferred;
};

struct kura_server {
	struct kura_serve_config cfg;
	struct kura_tls_server *tls[3]; /* by enum kura_mtls */
	struct kura_scanner *scanner;
	struct kura_serve_metrics metrics;
	struct kura_serve_limiter *limiter;
	struct kura_committer *committer;
	struct worker *w;
	unsigned nw;
	char url[KURA_SERVE_MAX_LISTENERS][300];
	struct sockaddr_storage addr[KURA_SERVE_MAX_LISTENERS];
	socklen_t addrlen[KURA_SERVE_MAX_LISTENERS];
	char hsts[64];
	_Atomic uint64_t next_id;
};

/* One TLS connection, from accept to the SSL object's free. */
struct conn {
	struct worker *w;
	struct bufferevent *bev;
	struct event *deadline;
	char ip[64];
	int admitted, handshaken, served;
};

/* ---- logs ---- */

static void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_line(const char *fmt, ...)
{
	char line[LOG_LINE], t[KURA_TIME_STR];
	va_list ap;
	kura_time_format(kura_time_now_us(), t);
	int n = snprintf(line, sizeof(line), "{\"time\":\"%s\",", t);
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(line))
		n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 2)
		return;
	line[n++] = '}';
	line[n++] = '\n';
	ssize_t wr = write(STDERR_FILENO, line, (size_t)n);
	(void)wr;
}

/* ---- connections: admission, deadlines, accounting (tls_server hooks) ---- */

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	(void)fd;
	(void)what;
	evutil_socket_t s = c->bev ? bufferevent_getfd(c->bev) : -1;
	if (s >= 0)
		shutdown(s, SHUT_RDWR); /* evhttp sees the end and frees the connection */
}

static int conn_admit(void *arg, int fd)
{
	struct conn *c = arg;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char serv[NI_MAXSERV];
	if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &len) < 0 ||
	    getnameinfo((struct sockaddr *)&ss, len, c->ip, sizeof(c->ip), serv, sizeof(serv),
			NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		return -1;
	if (c->w->draining || kura_limiter_conn_open(c->w->srv->limiter, c->ip)) {
		atomic_fetch_add(&c->w->srv->metrics.conn_refused, 1);
		return -1;
	}
	c->admitted = 1;
	return 0;
}

static void conn_done(void *arg)
{
	struct conn *c = arg;
	const struct kura_serve_limits *l = &c->w->srv->cfg.limits;
	struct timeval tv = {(time_t)(l->header_timeout_s + l->body_timeout_s), 0};
	if (c->handshaken)
		return;
	c->handshaken = 1;
	atomic_fetch_add(&c->w->srv->metrics.handshakes, 1);
	/* The first request must arrive whole within this (slow clients). */
	if (c->deadline)
		evtimer_add(c->deadline, &tv);
}

static void conn_release(void *arg)
{
	struct conn *c = arg;
	struct kura_server *srv = c->w->srv;
	if (c->admitted)
		kura_limiter_conn_close(srv->limiter, c->ip);
	if (!c->handshaken)
		atomic_fetch_add(&srv->metrics.handshake_failures, 1);
	atomic_fetch_sub(&srv->metrics.connections, 1);
	if (c->deadline)
		event_free(c->deadline);
	free(c);
}

static struct bufferevent *make_bev(struct event_base *base, void *arg)
{
	struct lsn *ls = arg;
	struct worker *w = ls->w;
	struct conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->w = w;
	c->deadline = evtimer_new(base, on_deadline, c);
	int mode = w->srv->cfg.listen[ls->index].mtls;
	struct ssl_st *ssl = c->deadline ? kura_tls_server_ssl_conn(w->srv->tls[mode], c) : NULL;
	if (!ssl) {
		if (c->deadline)
			event_free(c->deadline);
		free(c);
		return NULL;
	}
	atomic_fetch_add(&w->srv->metrics.connections, 1);
	c->bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
						BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev)
		return NULL; /* libevent freed ssl, so conn_release ran */
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	struct timeval tv = {(time_t)w->srv->cfg.limits.handshake_timeout_s, 0};
	evtimer_add(c->deadline, &tv);
	return c->bev;
}

/* ---- requests ---- */

static int method_of(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET: return KURA_HTTP_GET;
	case EVHTTP_REQ_HEAD: return KURA_HTTP_HEAD;
	case EVHTTP_REQ_POST: return KURA_HTTP_POST;
	case EVHTTP_REQ_PUT: return KURA_HTTP_PUT;
	case EVHTTP_REQ_DELETE: return KURA_HTTP_DELETE;
	case EVHTTP_REQ_PATCH: return KURA_HTTP_PATCH;
	case EVHTTP_REQ_OPTIONS: return KURA_HTTP_OPTIONS;
	default: return KURA_HTTP_OTHER;
	}
}

static const char *const method_names[] = {"OTHER", "GET", "HEAD", "POST", "PUT", "DELETE",
					   "PATCH", "OPTIONS"};

/* What a request carries that kura_http_req points into. */
struct call {
	struct kura_http_req req;
	struct kura_http_peer peer;
	struct kura_http_header headers[KURA_HTTP_MAX_HEADERS];
	char path[2048];
	int too_many_headers; /* more than max_headers, or more than max_header_bytes */
};

static void security_headers(struct worker *w, struct evkeyvalq *h, const char *type)
{
	evhttp_add_header(h, "Strict-Transport-Security", w->srv->hsts);
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	/* the web UI's files (static.c) set their own caching and policy */
	if (!evhttp_find_header(h, "Cache-Control"))
		evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Frame-Options", "DENY");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	/* ...unless a handler's own policy already forbids framing (static.c) */
	const char *csp = evhttp_find_header(h, "Content-Security-Policy");
	if (strncmp(type, "text/html", 9) != 0 && !(csp && strstr(csp, "frame-ancestors")))
		evhttp_add_header(h, "Content-Security-Policy",
				  "default-src 'none'; frame-ancestors 'none'");
	if (w->draining)
		evhttp_add_header(h, "Connection", "close");
}

static void on_complete(struct evhttp_request *req, void *arg)
{
	struct worker *w = arg;
	(void)req;
	w->inflight--;
	atomic_fetch_sub(&w->srv->metrics.inflight, 1);
}

static void send_resp(struct worker *w, struct evhttp_request *r, int method,
		      struct kura_http_resp *resp)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(r);
	struct evbuffer *out = evbuffer_new();
	char ra[16];
	if (resp->content_type[0])
		evhttp_add_header(h, "Content-Type", resp->content_type);
	for (size_t i = 0; i < resp->nheaders; i++)
		evhttp_add_header(h, resp->headers[i].name, resp->headers[i].value);
	if ((resp->status == 503 || resp->status == 429) && !evhttp_find_header(h, "Retry-After")) {
		snprintf(ra, sizeof(ra), "%u", resp->retry_after ? resp->retry_after : 1);
		evhttp_add_header(h, "Retry-After", ra);
	}
	security_headers(w, h, resp->content_type);
	/* (evhttp does not read a body for a method it does not know: what the
	 * client sent after the head must not be taken for the next request) */
	if (method == KURA_HTTP_OTHER && !w->draining)
		evhttp_add_header(h, "Connection", "close");
	if (out && resp->body.len)
		evbuffer_add(out, resp->body.data, resp->body.len);
	evhttp_send_reply(r, resp->status, NULL, out);
	if (out)
		evbuffer_free(out);
}

static void call_peer(struct call *c, struct evhttp_request *r)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(r);
	struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
	struct ssl_st *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
	struct conn *k = kura_tls_conn(ssl);
	if (k) {
		memcpy(c->peer.ip, k->ip, sizeof(c->peer.ip));
		if (!k->served && k->deadline)
			evtimer_del(k->deadline);
		k->served = 1;
	}
	kura_tls_peer_fingerprint(ssl, c->peer.cert_fp);
	kura_tls_peer_subject(ssl, c->peer.cert_subject, sizeof(c->peer.cert_subject));
	if (conn) {
		struct timeval idle = {(time_t)c->req.thread->limits->idle_timeout_s, 0};
		evhttp_connection_set_timeout_tv(conn, &idle);
	}
}

static int call_init(struct call *c, struct worker *w, struct evhttp_request *r)
{
	const char *uri = evhttp_request_get_uri(r);
	struct evkeyvalq *in = evhttp_request_get_input_headers(r);
	struct evbuffer *body = evhttp_request_get_input_buffer(r);
	size_t n = strcspn(uri, "?#");
	if (n >= sizeof(c->path))
		return KURA_ETOOBIG;
	memcpy(c->path, uri, n);
	c->path[n] = '\0';
	c->req.path = c->path;
	c->req.query = uri[n] == '?' ? uri + n + 1 : NULL;
	c->req.method = method_of(evhttp_request_get_command(r));
	c->req.thread = &w->t;
	c->req.peer = &c->peer;
	c->req.id = atomic_fetch_add(&w->srv->next_id, 1);
	size_t bytes = strlen(uri) + 16;
	for (struct evkeyval *kv = in->tqh_first; kv; kv = kv->next.tqe_next) {
		bytes += strlen(kv->key) + strlen(kv->value) + 4;
		if (c->req.nheaders == w->srv->cfg.limits.max_headers ||
		    bytes > w->srv->cfg.limits.max_header_bytes) {
			c->too_many_headers = 1;
			break;
		}
		c->headers[c->req.nheaders].name = kv->key;
		c->headers[c->req.nheaders++].value = kv->value;
	}
	c->req.headers = c->headers;
	c->req.body_len = evbuffer_get_length(body);
	c->req.body = c->req.body_len ? evbuffer_pullup(body, -1) : NULL;
	call_peer(c, r);
	return 0;
}

static void handle(struct worker *w, struct call *c, struct kura_http_resp *resp, int *route)
{
	static const char toolong[] = "{\"error\":\"request headers too many or too large\"}";
	static const char fail[] = "{\"error\":\"internal error\"}";
	*route = KURA_ROUTE_NONE;
	if (c->too_many_headers) {
		kura_http_reply(resp, 431, "application/json", toolong, sizeof(toolong) - 1);
		return;
	}
	int r = kura_serve_dispatch(&c->req, resp, route);
	if (r || resp->status < 100 || resp->status > 599) {
		log_line("\"event\":\"handler_error\",\"thread\":%u,\"id\":%llu,\"route\":\"%s\","
			 "\"error\":\"%s\"", w->t.index, (unsigned long long)c->req.id,
			 kura_route_name(*route), kura_strerror(r));
		memset(resp->headers, 0, sizeof(resp->headers));
		resp->nheaders = resp->store_used = 0;
		resp->defer.on = 0; /* nothing of the prepared answer is sent */
		kura_buf_reset(&resp->body);
		kura_http_reply(resp, 500, "application/json", fail, sizeof(fail) - 1);
	}
}

/* Send the answer, count and log it, free the request's memory. */
static void finish(struct worker *w, struct evhttp_request *r, struct call *c,
		   struct kura_http_resp *resp, int route, int64_t t0)
{
	send_resp(w, r, c->req.method, resp);
	uint64_t us = (uint64_t)(kura_time_now_us() - t0);
	kura_metrics_request(&w->srv->metrics, route, resp->status, us);
	log_line("\"event\":\"request\",\"thread\":%u,\"id\":%llu,\"method\":\"%s\",\"route\":\"%s\","
		 "\"status\":%d,\"us\":%llu,\"tls_client\":%s", w->t.index,
		 (unsigned long long)c->req.id, method_names[c->req.method], kura_route_name(route),
		 resp->status, (unsigned long long)us, c->peer.cert_fp[0] ? "true" : "false");
	kura_buf_release_secret(&resp->body); /* answers carry record content */
	free(resp);
	free(c);
}

/* ---- answers waiting for their read event (group commit, commit.h) ---- */

struct pend {
	struct pend *prev, *next; /* in worker.waiting */
	struct pend *dnext;       /* in worker.done */
	struct worker *w;
	struct evhttp_request *r; /* NULL once evhttp took the request back */
	struct call *c;
	struct kura_http_resp *resp;
	int route, result;
	int64_t t0;
};

/* The committer's thread: hand p back to its loop. */
static void on_durable(void *ctx, int result)
{
	struct pend *p = ctx;
	struct worker *w = p->w;
	p->result = result;
	pthread_mutex_lock(&w->mu);
	p->dnext = w->done;
	w->done = p;
	pthread_mutex_unlock(&w->mu);
	event_active(w->wake, EV_READ, 0);
}

/* The read was not recorded: nothing of the prepared answer goes out. */
static void commit_failed(struct pend *p)
{
	static const char body[] = "{\"resourceType\":\"OperationOutcome\",\"issue\":[{\"severity\":"
		"\"error\",\"code\":\"exception\",\"diagnostics\":\"the read could not be "
		"recorded; nothing was sent\"}]}";
	struct kura_http_resp *resp = p->resp;
	log_line("\"event\":\"handler_error\",\"thread\":%u,\"id\":%llu,\"route\":\"%s\","
		 "\"error\":\"%s\"", p->w->t.index, (unsigned long long)p->c->req.id,
		 kura_route_name(p->route), kura_strerror(p->result));
	kura_buf_release_secret(&resp->body);
	kura_buf_init(&resp->body, KURA_HTTP_MAX_RESP_BODY);
	memset(resp->headers, 0, sizeof(resp->headers));
	memset(resp->header_store, 0, sizeof(resp->header_store));
	resp->nheaders = resp->store_used = 0;
	kura_http_reply(resp, 500, "application/fhir+json; charset=utf-8", body, sizeof(body) - 1);
}

static void unlink_pend(struct worker *w, struct pend *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		w->waiting = p->next;
	if (p->next)
		p->next->prev = p->prev;
	w->ndeferred--;
}

static void complete(struct pend *p)
{
	struct worker *w = p->w;
	unlink_pend(w, p);
	if (p->result)
		commit_failed(p);
	if (!p->r) {
		kura_buf_release_secret(&p->resp->body);
		free(p->resp);
		free(p->c);
	} else {
		/* A request whose connection is gone is freed by the send,
		 * without on_complete. */
		if (!evhttp_request_get_connection(p->r))
			on_complete(p->r, w);
		finish(w, p->r, p->c, p->resp, p->route, p->t0);
	}
	free(p);
}

/* The loop: answer what the committer finished, in submission order. */
static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct pend *list, *rev = NULL;
	(void)fd;
	(void)what;
	pthread_mutex_lock(&w->mu);
	list = w->done;
	w->done = NULL;
	pthread_mutex_unlock(&w->mu);
	while (list) {
		struct pend *next = list->dnext;
		list->dnext = rev;
		rev = list;
		list = next;
	}
	while (rev) {
		struct pend *next = rev->dnext;
		complete(rev);
		rev = next;
	}
}

/* Keep the request until its read event is durable; 0 or an error (then
 * the caller answers at once). */
static int defer(struct worker *w, struct evhttp_request *r, struct call *c,
		 struct kura_http_resp *resp, int route, int64_t t0)
{
	struct pend *p = calloc(1, sizeof(*p));
	if (!p)
		return KURA_ENOMEM;
	*p = (struct pend){.w = w, .r = r, .c = c, .resp = resp, .route = route, .t0 = t0};
	int e = kura_committer_submit(w->srv->committer, &resp->defer.event, resp->defer.session,
				      on_durable, p);
	if (e) {
		free(p);
		return e;
	}
	p->next = w->waiting;
	if (w->waiting)
		w->waiting->prev = p;
	w->waiting = p;
	w->ndeferred++;
	return 0;
}

/* evhttp called on_request again for a request still waiting (a broken
 * connection): it is evhttp's again, the waiting answer must not use it. */
static void forget(struct worker *w, struct evhttp_request *r)
{
	for (struct pend *p = w->waiting; p; p = p->next)
		if (p->r == r)
			p->r = NULL;
}

static void on_request(struct evhttp_request *r, void *arg)
{
	struct lsn *ls = arg;
	struct worker *w = ls->w;
	int64_t t0 = kura_time_now_us();
	w->last_request_us = t0;
	if (!evhttp_request_get_uri(r)) {
		forget(w, r);
		return evhttp_send_error(r, 400, NULL); /* evhttp answers these itself in 2.1 */
	}
	struct call *c = calloc(1, sizeof(*c));
	struct kura_http_resp *resp = calloc(1, sizeof(*resp));
	int route = KURA_ROUTE_NONE;
	if (!c || !resp || call_init(c, w, r)) {
		free(c);
		free(resp);
		return evhttp_send_error(r, 400, NULL);
	}
	kura_buf_init(&resp->body, KURA_HTTP_MAX_RESP_BODY);
	w->inflight++;
	atomic_fetch_add(&w->srv->metrics.inflight, 1);
	evhttp_request_set_on_complete_cb(r, on_complete, w);
	handle(w, c, resp, &route);
	if (resp->defer.on && w->srv->committer) {
		struct pend fail = {.w = w, .c = c, .resp = resp, .route = route};
		fail.result = defer(w, r, c, resp, route, t0);
		if (!fail.result)
			return;
		commit_failed(&fail);
	}
	finish(w, r, c, resp, route, t0);
}

/* ---- listeners ---- */

static int lsn_bind(struct lsn *ls)
{
	struct kura_server *srv = ls->w->srv;
	unsigned i = ls->index;
	if (ls->bound)
		return 0;
	struct evconnlistener *l = evconnlistener_new_bind(
		ls->w->base, NULL, NULL,
		LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT | LEV_OPT_CLOSE_ON_FREE |
			LEV_OPT_CLOSE_ON_EXEC,
		BACKLOG, (struct sockaddr *)&srv->addr[i], (int)srv->addrlen[i]);
	if (!l)
		return KURA_EIO;
	/* Accepted sockets inherit TCP_NODELAY from the listener (Linux).
	 * Without it Nagle holds a response's last TLS record until the
	 * client's delayed ACK, some 40 ms later, on every keep-alive request. */
	int one = 1;
	(void)setsockopt(evconnlistener_get_fd(l), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ls->bound = evhttp_bind_listener(ls->http, l);
	if (!ls->bound) {
		evconnlistener_free(l);
		return KURA_EIO;
	}
	/* A port 0 becomes the port the first loop got; the others share it. */
	socklen_t len = sizeof(srv->addr[i]);
	return getsockname(evhttp_bound_socket_get_fd(ls->bound), (struct sockaddr *)&srv->addr[i],
			   &len) < 0 ? KURA_EIO : 0;
}

static void lsn_close(struct lsn *ls)
{
	if (ls->bound)
		evhttp_del_accept_socket(ls->http, ls->bound);
	ls->bound = NULL;
}

static void worker_listen(struct worker *w, int on)
{
	for (unsigned i = 0; i < w->srv->cfg.nlisten; i++) {
		if (!on) {
			lsn_close(&w->lsn[i]);
		} else if (lsn_bind(&w->lsn[i])) {
			log_line("\"event\":\"listen_failed\",\"thread\":%u,\"listen\":\"%s\"",
				 w->t.index, w->srv->cfg.listen[i].addr);
		}
	}
}

static void drain_tick(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	(void)fd;
	(void)what;
	int64_t now = kura_time_now_us();
	int64_t conns = atomic_load(&w->srv->metrics.connections);
	int quiet = w->inflight <= 0 && now - w->last_request_us > DRAIN_QUIET_US;
	if (w->ndeferred)
		return; /* the committer answers every one of them, then the loop may end */
	if (!(conns <= 0 || quiet || now > w->drain_deadline_us))
		return;
	for (unsigned i = 0; i < w->srv->cfg.nlisten; i++)
		if (w->lsn[i].http) {
			evhttp_free(w->lsn[i].http); /* closes the connections left (idle ones) */
			w->lsn[i].http = NULL;
		}
	event_base_loopexit(w->base, NULL);
}

static void on_ctl(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	(void)fd;
	(void)what;
	int cmd = atomic_exchange(&w->cmd, CMD_NONE);
	if (w->draining)
		return;
	if (cmd == CMD_CLOSE || cmd == CMD_OPEN) {
		worker_listen(w, cmd == CMD_OPEN);
		return;
	}
	if (cmd != CMD_STOP)
		return;
	worker_listen(w, 0);
	w->draining = 1;
	w->drain_deadline_us =
		kura_time_now_us() + (int64_t)w->srv->cfg.limits.drain_timeout_s * 1000000;
	struct timeval tick = {0, DRAIN_TICK_MS * 1000};
	if (w->last_request_us < kura_time_now_us() - DRAIN_QUIET_US)
		w->last_request_us = kura_time_now_us() - DRAIN_QUIET_US + 500000;
	event_add(w->tick, &tick);
}

static void on_rotate(evutil_socket_t fd, short what, void *arg)
{
	struct kura_server *srv = arg;
	(void)fd;
	(void)what;
	for (int m = 0; m < 3; m++)
		if (srv->tls[m])
			kura_tls_server_rotate_tickets(srv->tls[m]);
}

/* ---- the server's life ---- */

static int worker_setup(struct kura_server *srv, struct worker *w, unsigned index)
{
	const struct kura_serve_limits *l = &srv->cfg.limits;
	struct timeval to = {(time_t)l->header_timeout_s, 0};
	w->srv = srv;
	w->t = (struct kura_serve_thread){.scanner = srv->scanner, .scan_off = !srv->cfg.scanning,
					  .limits = l, .base_url = srv->url[0], .index = index,
					  .server = w, .metrics = &srv->metrics,
					  .limiter = srv->limiter, .cfg = &srv->cfg};
	w->base = event_base_new();
	if (!w->base)
		return KURA_ENOMEM;
	w->ctl = event_new(w->base, -1, 0, on_ctl, w);
	w->tick = event_new(w->base, -1, EV_PERSIST, drain_tick, w);
	w->wake = event_new(w->base, -1, 0, on_wake, w);
	if (!w->ctl || !w->tick || !w->wake)
		return KURA_ENOMEM;
	if (pthread_mutex_init(&w->mu, NULL))
		return KURA_ENOMEM;
	w->mu_ok = 1;
	for (unsigned i = 0; i < srv->cfg.nlisten; i++) {
		struct lsn *ls = &w->lsn[i];
		*ls = (struct lsn){.w = w, .index = i, .http = evhttp_new(w->base)};
		if (!ls->http)
			return KURA_ENOMEM;
		/* Every method reaches the router, which answers 404 or 405 with
		 * Allow: a method evhttp is not allowed to pass (TRACE, CONNECT, or
		 * an unknown name, which 2.1 marks with an internal bit) would get
		 * evhttp's own 501 without the security headers (and the issue
		 * allows no 5xx but 503).  A request with a method kura has no use
		 * for ends its connection (send_resp). */
		evhttp_set_allowed_methods(ls->http, 0xffff);
		/* evhttp's own limit answers a bare 400: ours (431) comes first. */
		evhttp_set_max_headers_size(ls->http, (ev_ssize_t)l->max_header_bytes * HDR_SLACK);
		evhttp_set_max_body_size(ls->http, (ev_ssize_t)l->max_body_bytes);
		evhttp_set_timeout_tv(ls->http, &to);
		evhttp_set_bevcb(ls->http, make_bev, ls);
		evhttp_set_gencb(ls->http, on_request, ls);
	}
	return 0;
}

static int resolve(struct kura_server *srv, unsigned i)
{
	const struct kura_serve_listener *l = &srv->cfg.listen[i];
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV}, *res = NULL;
	char port[8];
	snprintf(port, sizeof(port), "%u", l->port);
	if (getaddrinfo(l->host, port, &hints, &res) != 0 || !res)
		return KURA_EINVAL;
	memcpy(&srv->addr[i], res->ai_addr, res->ai_addrlen);
	srv->addrlen[i] = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static int open_tls(struct kura_server *srv, char err[256])
{
	const struct kura_serve_config *cfg = &srv->cfg;
	for (unsigned i = 0; i < cfg->nlisten; i++) {
		int m = cfg->listen[i].mtls;
		struct kura_tls_server_opts o = {
			.cert_file = cfg->cert, .key_file = cfg->key,
			.client_ca_file = cfg->client_ca[0] ? cfg->client_ca : NULL,
			.crl_file = cfg->crl[0] ? cfg->crl : NULL, .mtls = m,
			.session_context = "kura-serve", .admit = conn_admit, .done = conn_done,
			.release = conn_release};
		if (srv->tls[m])
			continue;
		int r = kura_tls_server_open(&o, &srv->tls[m]);
		if (r) {
			snprintf(err, 256, "cannot load cert '%.40s', key '%.40s', client_ca '%.40s' "
				 "or crl '%.40s' (or a key is weaker than the policy)", cfg->cert, cfg->key,
				 cfg->client_ca, cfg->crl);
			return r;
		}
	}
	return 0;
}

static int open_scanner(struct kura_server *srv, char err[256])
{
	unsigned sigs = 0;
	char msg[256];
	if (!srv->cfg.scanning)
		return 0;
	int r = kura_scan_open(srv->cfg.clamav_db, &srv->scanner, &sigs, msg);
	if (r == KURA_EINVAL)
		snprintf(err, 256, "no malware signature in '%.100s': refusing to start (install "
			 "signatures, or set [scan] scanning = off)", srv->cfg.clamav_db);
	else if (r)
		snprintf(err, 256, "cannot load the signatures in '%.100s': %.100s", srv->cfg.clamav_db,
			 r == KURA_ENOTFOUND ? "no such directory" : msg);
	return r;
}

static int open_vaults(struct kura_server *srv, const char *pass, size_t passlen, char err[256])
{
	for (unsigned i = 0; i < srv->nw; i++) {
		int r = kura_vault_open(srv->cfg.vault_dir, pass, passlen, 0, &srv->w[i].t.v);
		if (r) {
			snprintf(err, 256, "cannot open the vault '%.120s': %.80s", srv->cfg.vault_dir,
				 kura_strerror(r));
			return r;
		}
	}
	return 0;
}

/* The group committer of reads (commit.h), with a vault handle of its own. */
static int open_committer(struct kura_server *srv, const char *pass, size_t passlen,
			  char err[256])
{
	int r = kura_committer_new(srv->cfg.vault_dir, pass, passlen, &srv->committer);
	if (r) {
		snprintf(err, 256, "cannot start the committer: %.80s", kura_strerror(r));
		return r;
	}
	for (unsigned i = 0; i < srv->nw; i++)
		srv->w[i].t.committer = srv->committer;
	return 0;
}

static int server_open(struct kura_server *srv, const char *pass, size_t passlen, char err[256])
{
	int r = kura_limiter_new(&srv->cfg.limits, &srv->limiter);
	for (unsigned i = 0; !r && i < srv->cfg.nlisten; i++)
		if ((r = resolve(srv, i)))
			snprintf(err, 256, "cannot resolve '%.200s'", srv->cfg.listen[i].addr);
	if (!r)
		r = open_tls(srv, err);
	if (!r)
		r = open_scanner(srv, err);
	srv->w = r ? NULL : calloc(srv->cfg.threads, sizeof(*srv->w));
	if (!r && !srv->w)
		r = KURA_ENOMEM;
	for (unsigned i = 0; !r && i < srv->cfg.threads; i++, srv->nw++)
		r = worker_setup(srv, &srv->w[i], i);
	if (!r)
		r = open_vaults(srv, pass, passlen, err);
	if (!r)
		r = open_committer(srv, pass, passlen, err);
	return r;
}

int kura_server_new(const struct kura_serve_config *cfg, const char *pass, size_t passlen,
		    struct kura_server **ret, char err[256])
{
	*ret = NULL;
	err[0] = '\0';
	if (evthread_use_pthreads())
		return KURA_EINTERNAL;
	struct kura_server *srv = calloc(1, sizeof(*srv));
	if (!srv)
		return KURA_ENOMEM;
	srv->cfg = *cfg;
	snprintf(srv->hsts, sizeof(srv->hsts), "max-age=%u; includeSubDomains", cfg->hsts_max_age);
	int r = server_open(srv, pass, passlen, err);
	if (r) {
		if (!err[0])
			snprintf(err, 256, "%s", kura_strerror(r));
		kura_server_free(srv);
		return r;
	}
	*ret = srv;
	return 0;
}

static void set_url(struct kura_server *srv, unsigned i)
{
	char name[NI_MAXHOST], serv[NI_MAXSERV];
	if (getnameinfo((struct sockaddr *)&srv->addr[i], srv->addrlen[i], name, sizeof(name), serv,
			sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		return;
	snprintf(srv->url[i], sizeof(srv->url[i]),
		 srv->addr[i].ss_family == AF_INET6 ? "https://[%s]:%s" : "https://%s:%s", name, serv);
}

int kura_server_bind(struct kura_server *srv, char err[256])
{
	err[0] = '\0';
	for (unsigned i = 0; i < srv->cfg.nlisten; i++) {
		for (unsigned k = 0; k < srv->nw; k++)
			if (lsn_bind(&srv->w[k].lsn[i])) {
				snprintf(err, 256, "cannot listen on '%.100s': %.100s", srv->cfg.listen[i].addr,
					 strerror(errno));
				return KURA_EIO;
			}
		set_url(srv, i);
	}
	return 0;
}

const char *kura_server_url(const struct kura_server *srv, unsigned i)
{
	return i < srv->cfg.nlisten ? srv->url[i] : "";
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	event_base_dispatch(w->base);
	return NULL;
}

static void broadcast(struct kura_server *srv, int cmd)
{
	for (unsigned i = 0; i < srv->nw; i++) {
		atomic_store(&srv->w[i].cmd, cmd);
		event_active(srv->w[i].ctl, EV_READ, 0);
	}
}

/* The main thread: wait for signals and tell the loops. */
static void signal_loop(struct kura_server *srv, const sigset_t *set)
{
	for (;;) {
		int sig = 0;
		if (sigwait(set, &sig) != 0)
			continue;
		if (sig == SIGUSR1 || sig == SIGUSR2) {
			log_line("\"event\":\"%s\",\"signal\":%d",
				 sig == SIGUSR1 ? "listeners_closed" : "listeners_opened", sig);
			broadcast(srv, sig == SIGUSR1 ? CMD_CLOSE : CMD_OPEN);
			continue;
		}
		log_line("\"event\":\"stopping\",\"signal\":%d", sig);
		broadcast(srv, CMD_STOP);
		return;
	}
}

int kura_server_run(struct kura_server *srv)
{
	sigset_t set;
	struct event *rot = NULL;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	signal(SIGPIPE, SIG_IGN);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) || !srv->nw)
		return KURA_EINTERNAL;
	struct timeval every = {(time_t)srv->cfg.ticket_rotate_s, 0};
	rot = event_new(srv->w[0].base, -1, EV_PERSIST, on_rotate, srv);
	if (!rot || event_add(rot, &every))
		return KURA_ENOMEM;
	log_line("\"event\":\"start\",\"threads\":%u,\"listeners\":%u", srv->nw, srv->cfg.nlisten);
	for (unsigned i = 0; i < srv->nw; i++)
		srv->w[i].started = pthread_create(&srv->w[i].th, NULL, worker_main, &srv->w[i]) == 0;
	signal_loop(srv, &set);
	for (unsigned i = 0; i < srv->nw; i++)
		if (srv->w[i].started) {
			pthread_join(srv->w[i].th, NULL);
			srv->w[i].started = 0;
		}
	event_free(rot);
	log_line("\"event\":\"stopped\"");
	return 0;
}

void kura_server_free(struct kura_server *srv)
{
	if (!srv)
		return;
	kura_committer_free(srv->committer); /* the loops waited for its answers */
	for (unsigned i = 0; i < srv->nw; i++) {
		struct worker *w = &srv->w[i];
		for (unsigned k = 0; k < srv->cfg.nlisten; k++)
			if (w->lsn[k].http)
				evhttp_free(w->lsn[k].http);
		if (w->ctl)
			event_free(w->ctl);
		if (w->tick)
			event_free(w->tick);
		if (w->wake)
			event_free(w->wake);
		if (w->mu_ok)
			pthread_mutex_destroy(&w->mu);
		if (w->base)
			event_base_free(w->base);
		kura_serve_auth_cache_free(&w->t); /* before the vault it refers to */
		kura_vault_close(w->t.v);
	}
	free(srv->w);
	for (int m = 0; m < 3; m++)
		kura_tls_server_free(srv->tls[m]);
	kura_scan_close(srv->scanner);
	kura_limiter_free(srv->limiter);
	free(srv);
}
