/*
 * serve_int.h - what server.c, router.c and metrics.c share and handlers
 * do not see: the counters behind /metrics and the connection and rate
 * limiter.  Both are shared by every event loop; their functions are
 * thread-safe (atomics; one mutex for the limiter's table).
 */
#ifndef KURA_SERVE_INT_H
#define KURA_SERVE_INT_H

#include <stdatomic.h>
#include <stdint.h>

#include "serve/serve.h"
#include "util/buf.h"

#define KURA_METRIC_NSTATUS 20   /* the status codes counted one by one, then "other" */
#define KURA_METRIC_NBUCKETS 12  /* latency histogram buckets, +Inf last */

struct kura_serve_metrics {
	_Atomic uint64_t requests[KURA_ROUTE_COUNT][KURA_METRIC_NSTATUS];
	_Atomic uint64_t latency[KURA_ROUTE_COUNT][KURA_METRIC_NBUCKETS];
	_Atomic uint64_t latency_sum_us[KURA_ROUTE_COUNT];
	_Atomic uint64_t handshakes, handshake_failures, auth_failures;
	_Atomic uint64_t conn_refused, rate_limited;
	_Atomic int64_t connections, inflight;
};

/* Count one answered request. */
void kura_metrics_request(struct kura_serve_metrics *m, int route, int status,
			  uint64_t duration_us);
/* The OpenMetrics text (ends with "# EOF\n"); tree_size is the ledger's. */
int kura_metrics_render(struct kura_serve_metrics *m, uint64_t tree_size, struct kura_buf *out);

/* The limiter: connections in all and per client address, token buckets
 * per address and per account.  rate 0 means unlimited. */
struct kura_serve_limiter;
int kura_limiter_new(const struct kura_serve_limits *l, struct kura_serve_limiter **ret);
void kura_limiter_free(struct kura_serve_limiter *l);
/* Admit a new connection from ip: 0, or KURA_EBUSY (over a limit). */
int kura_limiter_conn_open(struct kura_serve_limiter *l, const char *ip);
void kura_limiter_conn_close(struct kura_serve_limiter *l, const char *ip);
/* Take a token from the bucket of key ("ip:..." or "acct:...") refilled at
 * rate per second (burst 2 * rate): 0, or KURA_EBUSY with the seconds to
 * wait in *ret_retry_after. */
int kura_limiter_take(struct kura_serve_limiter *l, const char *key, unsigned rate,
		      unsigned *ret_retry_after);

#endif
