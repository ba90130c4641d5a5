/*
 * metrics.c - the counters behind /metrics (OpenMetrics text) and the
 * limiter of connections and request rates (serve_int.h).  Counters are
 * relaxed atomics: a scrape may see one request counted in one family and
 * not yet in another, which OpenMetrics allows.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "serve/serve_int.h"
#include "util/err.h"
#include "util/time.h"
#include "util/banned.h"

static const int statuses[KURA_METRIC_NSTATUS - 1] = {
	200, 201, 204, 304, 400, 401, 403, 404, 405, 409, 412, 413, 415, 422, 429, 431, 500, 501, 503};
static const uint64_t bucket_us[KURA_METRIC_NBUCKETS - 1] = {
	1000, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000};
static const char *const bucket_le[KURA_METRIC_NBUCKETS] = {
	"0.001", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf"};

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)
#define ADD(x, n) atomic_fetch_add_explicit(&(x), (n), memory_order_relaxed)

void kura_metrics_request(struct kura_serve_metrics *m, int route, int status,
			  uint64_t duration_us)
{
	size_t s = KURA_METRIC_NSTATUS - 1, b = 0;
	if (!m || route < 0 || route >= KURA_ROUTE_COUNT)
		return;
	for (size_t i = 0; i < KURA_METRIC_NSTATUS - 1; i++)
		if (statuses[i] == status)
			s = i;
	while (b < KURA_METRIC_NBUCKETS - 1 && duration_us > bucket_us[b])
		b++;
	ADD(m->requests[route][s], 1);
	ADD(m->latency[route][b], 1);
	ADD(m->latency_sum_us[route], duration_us);
}

static int render_requests(struct kura_serve_metrics *m, struct kura_buf *out)
{
	int r = kura_buf_append_str(out, "# TYPE kura_http_requests counter\n"
					 "# HELP kura_http_requests Requests answered, by route and status.\n");
	for (int rt = 0; !r && rt < KURA_ROUTE_COUNT; rt++)
		for (size_t s = 0; !r && s < KURA_METRIC_NSTATUS; s++) {
			uint64_t n = LOAD(m->requests[rt][s]);
			if (!n)
				continue;
			char code[8];
			snprintf(code, sizeof(code), "%d", s < KURA_METRIC_NSTATUS - 1 ? statuses[s] : 0);
			r = kura_buf_printf(out, "kura_http_requests_total{route=\"%s\",status=\"%s\"} %llu\n",
					    kura_route_name(rt),
					    s < KURA_METRIC_NSTATUS - 1 ? code : "other",
					    (unsigned long long)n);
		}
	return r;
}

static int render_latency(struct kura_serve_metrics *m, struct kura_buf *out)
{
	int r = kura_buf_append_str(out, "# TYPE kura_http_request_duration_seconds histogram\n"
					 "# UNIT kura_http_request_duration_seconds seconds\n");
	for (int rt = 0; !r && rt < KURA_ROUTE_COUNT; rt++) {
		uint64_t cum = 0;
		for (size_t b = 0; !r && b < KURA_METRIC_NBUCKETS; b++) {
			cum += LOAD(m->latency[rt][b]);
			r = kura_buf_printf(out, "kura_http_request_duration_seconds_bucket{route=\"%s\","
					    "le=\"%s\"} %llu\n", kura_route_name(rt), bucket_le[b],
					    (unsigned long long)cum);
		}
		uint64_t sum = LOAD(m->latency_sum_us[rt]);
		if (!r)
			r = kura_buf_printf(out, "kura_http_request_duration_seconds_count{route=\"%s\"} %llu\n"
					    "kura_http_request_duration_seconds_sum{route=\"%s\"} %llu.%06llu\n",
					    kura_route_name(rt), (unsigned long long)cum, kura_route_name(rt),
					    (unsigned long long)(sum / 1000000), (unsigned long long)(sum % 1000000));
	}
	return r;
}

int kura_metrics_render(struct kura_serve_metrics *m, uint64_t tree_size, struct kura_buf *out)
{
	int r = render_requests(m, out);
	if (!r)
		r = render_latency(m, out);
	if (!r)
		r = kura_buf_printf(out,
			"# TYPE kura_tls_handshakes counter\nkura_tls_handshakes_total %llu\n"
			"# TYPE kura_tls_handshake_failures counter\nkura_tls_handshake_failures_total %llu\n"
			"# TYPE kura_auth_failures counter\nkura_auth_failures_total %llu\n"
			"# TYPE kura_connections_refused counter\nkura_connections_refused_total %llu\n"
			"# TYPE kura_rate_limited counter\nkura_rate_limited_total %llu\n"
			"# TYPE kura_connections gauge\nkura_connections %lld\n"
			"# TYPE kura_queue_depth gauge\n"
			"# HELP kura_queue_depth Requests read and not yet answered.\nkura_queue_depth %lld\n"
			"# TYPE kura_ledger_tree_size gauge\nkura_ledger_tree_size %llu\n# EOF\n",
			(unsigned long long)LOAD(m->handshakes),
			(unsigned long long)LOAD(m->handshake_failures),
			(unsigned long long)LOAD(m->auth_failures),
			(unsigned long long)LOAD(m->conn_refused),
			(unsigned long long)LOAD(m->rate_limited), (long long)LOAD(m->connections),
			(long long)LOAD(m->inflight), (unsigned long long)tree_size);
	return r;
}

/* ---- the limiter ---- */

#define LIMIT_SLOTS 8192 /* client addresses and accounts tracked at once */
#define LIMIT_PROBE 32

struct slot {
	char key[80];     /* "" when free */
	unsigned conns;
	double tokens;
	int64_t last_us;
};

struct kura_serve_limiter {
	pthread_mutex_t mu;
	unsigned max_conn, per_ip, total;
	struct slot slots[LIMIT_SLOTS];
};

int kura_limiter_new(const struct kura_serve_limits *l, struct kura_serve_limiter **ret)
{
	struct kura_serve_limiter *s = calloc(1, sizeof(*s));
	*ret = NULL;
	if (!s)
		return KURA_ENOMEM;
	if (pthread_mutex_init(&s->mu, NULL)) {
		free(s);
		return KURA_ENOMEM;
	}
	s->max_conn = l->max_connections;
	s->per_ip = l->max_conn_per_ip;
	*ret = s;
	return 0;
}

void kura_limiter_free(struct kura_serve_limiter *l)
{
	if (!l)
		return;
	pthread_mutex_destroy(&l->mu);
	free(l);
}

static uint64_t fnv(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* The slot of key, or a free or stale one taken for it; NULL when the
 * table is full around it (then the caller refuses: fail closed). */
static struct slot *find(struct kura_serve_limiter *l, const char *key, int64_t now)
{
	size_t h = (size_t)(fnv(key) % LIMIT_SLOTS);
	struct slot *victim = NULL;
	if (strlen(key) >= sizeof(victim->key))
		return NULL;
	for (size_t i = 0; i < LIMIT_PROBE; i++) {
		struct slot *s = &l->slots[(h + i) % LIMIT_SLOTS];
		if (strcmp(s->key, key) == 0)
			return s;
		if (s->conns == 0 && (!s->key[0] || now - s->last_us > 60000000) &&
		    (!victim || s->last_us < victim->last_us))
			victim = s;
	}
	if (victim) {
		memset(victim, 0, sizeof(*victim));
		memcpy(victim->key, key, strlen(key) + 1);
		victim->tokens = -1;
		victim->last_us = now;
	}
	return victim;
}

int kura_limiter_conn_open(struct kura_serve_limiter *l, const char *ip)
{
	char key[96];
	int r = KURA_EBUSY;
	snprintf(key, sizeof(key), "c:%s", ip);
	pthread_mutex_lock(&l->mu);
	struct slot *s = l->total < l->max_conn ? find(l, key, kura_time_now_us()) : NULL;
	if (s && s->conns < l->per_ip) {
		s->conns++;
		l->total++;
		r = 0;
	}
	pthread_mutex_unlock(&l->mu);
	return r;
}

void kura_limiter_conn_close(struct kura_serve_limiter *l, const char *ip)
{
	char key[96];
	snprintf(key, sizeof(key), "c:%s", ip);
	pthread_mutex_lock(&l->mu);
	struct slot *s = find(l, key, kura_time_now_us());
	if (s && s->conns) {
		s->conns--;
		s->last_us = kura_time_now_us();
	}
	if (l->total)
		l->total--;
	pthread_mutex_unlock(&l->mu);
}

int kura_limiter_take(struct kura_serve_limiter *l, const char *key, unsigned rate,
		      unsigned *ret_retry_after)
{
	int r = KURA_EBUSY;
	*ret_retry_after = 1;
	if (!l || rate == 0)
		return 0;
	int64_t now = kura_time_now_us();
	pthread_mutex_lock(&l->mu);
	struct slot *s = find(l, key, now);
	if (s) {
		double burst = 2.0 * rate;
		if (s->tokens < 0)
			s->tokens = burst;
		s->tokens += (double)(now - s->last_us) * rate / 1e6;
		if (s->tokens > burst)
			s->tokens = burst;
		s->last_us = now;
		if (s->tokens >= 1.0) {
			s->tokens -= 1.0;
			r = 0;
		}
	}
	pthread_mutex_unlock(&l->mu);
	return r;
}
