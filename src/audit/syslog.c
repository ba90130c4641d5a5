/*
 * syslog.c - RFC 5424 messages with RFC 5425 framing, and the forwarder
 * that sends the ledger's audit events to one receiver from a saved cursor.
 */
#include "audit/syslog.h"

#include <string.h>
#include <time.h>

#include "util/err.h"
#include "util/limits.h"
#include "util/utf8.h"
#include "util/banned.h"

/* RFC 5424 §6: field lengths. */
#define MAX_HOSTNAME 255
#define MAX_APP_NAME 48
#define MAX_PROCID 128
#define MAX_MSGID 32

/* Years RFC 3339's four digits can hold; offsets it can write (±23:59). */
#define MIN_SEC_0001 (-62135596800LL)
#define MAX_SEC_9999 253402300799LL
#define MAX_OFFSET_MIN (24 * 60 - 1)

#define DEFAULT_POLL_MS 1000
#define DEFAULT_BACKOFF_MIN_MS 100
#define DEFAULT_BACKOFF_MAX_MS 5000
#define DEFAULT_SETTLE_MS 200
#define SLEEP_SLICE_MS 50

static const uint8_t utf8_bom[3] = {0xEF, 0xBB, 0xBF};

static int utf8_valid(const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		size_t k = p[i] < 0x80 ? 1 : kura_utf8_seq_len(p + i, n - i);
		if (k == 0)
			return 0;
		i += k;
	}
	return 1;
}

/* A header field: NILVALUE for nothing, else 1..max of PRINTUSASCII. */
static int put_field(struct kura_buf *out, const char *s, size_t max)
{
	if (!s || !*s)
		return kura_buf_append_str(out, "- ");
	size_t n = strlen(s);
	if (n > max)
		return KURA_EINVAL;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 33 || s[i] > 126)
			return KURA_EINVAL;
	int r = kura_buf_append(out, s, n);
	return r ? r : kura_buf_append_byte(out, ' ');
}

/* TIMESTAMP: the local time of the event in its own offset (RFC 3339 with
 * microseconds), so that a reader in Japan sees Japanese wall-clock time. */
static int put_timestamp(struct kura_buf *out, int64_t time_us, int offset_min)
{
	if (offset_min > MAX_OFFSET_MIN || offset_min < -MAX_OFFSET_MIN)
		return KURA_EINVAL;
	int64_t sec = time_us / 1000000, frac = time_us % 1000000;
	if (frac < 0) {
		frac += 1000000;
		sec -= 1;
	}
	sec += (int64_t)offset_min * 60;
	if (sec < MIN_SEC_0001 || sec > MAX_SEC_9999)
		return KURA_EINVAL;
	time_t tt = (time_t)sec;
	struct tm tm;
	if (!gmtime_r(&tt, &tm))
		return KURA_EINVAL;
	int r = kura_buf_printf(out, "%04d-%02d-%02dT%02d:%02d:%02d.%06ld",
				tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
				tm.tm_min, tm.tm_sec, (long)frac);
	if (r)
		return r;
	if (offset_min == 0)
		return kura_buf_append_str(out, "Z ");
	int a = offset_min < 0 ? -offset_min : offset_min;
	return kura_buf_printf(out, "%c%02d:%02d ", offset_min < 0 ? '-' : '+', a / 60,
			       a % 60);
}

int kura_syslog_sd_escape(const char *s, struct kura_buf *out)
{
	size_t n = strlen(s);
	if (!utf8_valid((const uint8_t *)s, n))
		return KURA_EINVAL;
	for (size_t i = 0; i < n; i++) {
		int r = 0;
		if (s[i] == '"' || s[i] == '\\' || s[i] == ']')
			r = kura_buf_append_byte(out, '\\');
		if (!r)
			r = kura_buf_append_byte(out, (uint8_t)s[i]);
		if (r)
			return r;
	}
	return 0;
}

static uint64_t wrap_sequence(uint64_t seq)
{
	return (seq - 1) % KURA_SYSLOG_SEQ_MAX + 1;
}

/* STRUCTURED-DATA: [meta sequenceId] (RFC 5424 §7.3.1) and ours. */
static int put_sd(struct kura_buf *out, const struct kura_syslog_msg *m)
{
	int r = 0;
	if (m->sequence)
		r = kura_buf_printf(out, "[meta sequenceId=\"%llu\"]",
				    (unsigned long long)wrap_sequence(m->sequence));
	if (!r)
		r = kura_buf_printf(out, "[" KURA_SYSLOG_SDID " leaf=\"%llu\"",
				    (unsigned long long)m->leaf_index);
	if (!r && m->log_id && *m->log_id) {
		r = kura_buf_append_str(out, " log=\"");
		if (!r)
			r = kura_syslog_sd_escape(m->log_id, out);
		if (!r)
			r = kura_buf_append_byte(out, '"');
	}
	return r ? r : kura_buf_append_byte(out, ']');
}

static int put_header(struct kura_buf *out, const struct kura_syslog_msg *m)
{
	int r = kura_buf_printf(out, "<%d>1 ", KURA_SYSLOG_FACILITY * 8 + m->severity);
	if (!r)
		r = put_timestamp(out, m->time_us, m->utc_offset_min);
	if (!r)
		r = put_field(out, m->hostname, MAX_HOSTNAME);
	if (!r)
		r = put_field(out, m->app_name, MAX_APP_NAME);
	if (!r)
		r = put_field(out, m->procid, MAX_PROCID);
	if (!r)
		r = put_field(out, m->msgid ? m->msgid : KURA_SYSLOG_MSGID_ATNA,
			      MAX_MSGID);
	return r;
}

int kura_syslog_format(const struct kura_syslog_msg *m, struct kura_buf *out)
{
	size_t start = out->len;
	int r = KURA_EINVAL;
	if (m->severity > 7 || (m->body_len && !m->body) ||
	    !utf8_valid(m->body, m->body_len))
		goto out;
	r = put_header(out, m);
	if (!r)
		r = put_sd(out, m);
	if (!r && m->body_len) {
		r = kura_buf_append_byte(out, ' ');
		if (!r)
			r = kura_buf_append(out, utf8_bom, sizeof(utf8_bom));
		if (!r)
			r = kura_buf_append(out, m->body, m->body_len);
	}
	if (!r && out->len - start > KURA_MAX_SYSLOG_MSG)
		r = KURA_ETOOBIG;
out:
	if (r && out->data) {
		out->len = start;
		out->data[start] = 0;
	}
	return r;
}

int kura_syslog_frame(const uint8_t *msg, size_t len, struct kura_buf *out)
{
	size_t start = out->len;
	int r = kura_buf_printf(out, "%zu ", len);
	if (!r)
		r = kura_buf_append(out, msg, len);
	if (r && out->data) {
		out->len = start;
		out->data[start] = 0;
	}
	return r;
}

/* ------------------------------------------------------------------ */
/* The forwarder. */

struct fwd {
	const struct kura_tls_config *cfg;
	const struct kura_forward_source *src;
	struct kura_forward_opts o; /* with the defaults filled in */
	struct kura_forward_stats *st;
	struct kura_tls *t;
	int connected_before;
	int failing;	       /* the last delivery attempt failed */
	int backoff_ms;	       /* the next wait after a failure */
	int64_t deadline;      /* CLOCK_MONOTONIC ms; 0: none */
	struct kura_buf batch; /* the framed messages of one batch */
	struct kura_buf msg;   /* one SYSLOG-MSG */
	struct kura_buf body;  /* one MSG body */
	unsigned count;	       /* events in batch */
	uint64_t end_leaf;     /* the cursor after batch */
	uint64_t end_seq;
	struct kura_event_row row;
};

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int stopped(const struct fwd *f)
{
	return f->o.stop && *f->o.stop;
}

static int expired(const struct fwd *f)
{
	return f->deadline && mono_ms() >= f->deadline;
}

/* Sleep ms, in slices, returning early on stop or at the deadline. */
static void nap(const struct fwd *f, int ms)
{
	int64_t end = mono_ms() + ms;
	while (!stopped(f) && !expired(f)) {
		int64_t left = end - mono_ms();
		if (left <= 0)
			return;
		if (left > SLEEP_SLICE_MS)
			left = SLEEP_SLICE_MS;
		struct timespec ts = {0, (long)left * 1000000L};
		nanosleep(&ts, NULL);
	}
}

static void opts_resolve(const struct kura_forward_opts *o, struct kura_forward_opts *ret)
{
	static const struct kura_forward_opts none = {0};
	*ret = o ? *o : none;
	if (!ret->app_name)
		ret->app_name = "kura";
	if (ret->batch == 0)
		ret->batch = KURA_FORWARD_BATCH;
	if (ret->poll_ms <= 0)
		ret->poll_ms = DEFAULT_POLL_MS;
	if (ret->backoff_min_ms <= 0)
		ret->backoff_min_ms = DEFAULT_BACKOFF_MIN_MS;
	if (ret->backoff_max_ms <= 0)
		ret->backoff_max_ms = DEFAULT_BACKOFF_MAX_MS;
	if (ret->backoff_max_ms < ret->backoff_min_ms)
		ret->backoff_max_ms = ret->backoff_min_ms;
	if (ret->settle_ms == 0)
		ret->settle_ms = DEFAULT_SETTLE_MS;
}

/* Format one event with sequence number seq and frame it into the batch. */
static int add_event(struct fwd *f, uint64_t seq)
{
	const struct kura_event *ev = &f->row.ev;
	kura_buf_reset(&f->body);
	kura_buf_reset(&f->msg);
	int r = f->src->format(f->src->ctx, &f->row, &f->body);
	if (r)
		return r;
	struct kura_syslog_msg m = {
		.time_us = ev->time_us,
		.utc_offset_min = ev->utc_offset_min,
		.severity = ev->severity,
		.hostname = f->o.hostname,
		.app_name = f->o.app_name,
		.procid = f->o.procid,
		.msgid = f->o.msgid,
		.sequence = seq,
		.leaf_index = f->row.leaf_index,
		.log_id = f->o.log_id,
		.body = f->body.data,
		.body_len = f->body.len,
	};
	r = kura_syslog_format(&m, &f->msg);
	return r ? r : kura_syslog_frame(f->msg.data, f->msg.len, &f->batch);
}

/* The next batch from the saved cursor; the same cursor gives the same
 * batch, sequence numbers included. */
static int build_batch(struct fwd *f)
{
	uint64_t leaf = f->st->next_leaf, seq = f->st->next_seq;
	kura_buf_reset(&f->batch);
	f->count = 0;
	while (f->count < f->o.batch) {
		int r = f->src->next(f->src->ctx, leaf, &f->row);
		if (r == KURA_ENOTFOUND)
			break;
		if (r)
			return r;
		if (f->row.leaf_index < leaf)
			return KURA_EINTERNAL; /* the source broke its contract */
		r = add_event(f, seq);
		if (r)
			return r;
		leaf = f->row.leaf_index + 1;
		seq++;
		f->count++;
	}
	f->end_leaf = leaf;
	f->end_seq = seq;
	return 0;
}

/* rsyslog (gtls, x509/name) checks our name only after the handshake and
 * then drops the connection: give it settle_ms to do so before we trust
 * the connection with a batch. */
static int settle(struct fwd *f)
{
	int64_t end = mono_ms() + (f->o.settle_ms > 0 ? f->o.settle_ms : 0);
	do {
		if (kura_tls_peer_closed(f->t))
			return KURA_EDENIED;
		struct timespec ts = {0, 10 * 1000000L};
		nanosleep(&ts, NULL);
	} while (mono_ms() < end);
	return 0;
}

static int ensure_connected(struct fwd *f)
{
	if (f->t && kura_tls_peer_closed(f->t)) {
		kura_tls_close(f->t);
		f->t = NULL;
	}
	if (f->t)
		return 0;
	int r = kura_tls_connect(f->cfg, &f->t);
	if (r)
		return r;
	if (f->connected_before)
		f->st->reconnects++;
	f->connected_before = 1;
	return settle(f);
}

static int deliver(struct fwd *f)
{
	int r = ensure_connected(f);
	if (!r)
		r = kura_tls_write_all(f->t, f->batch.data, f->batch.len);
	if (!r)
		r = kura_tls_drain(f->t, 0);
	return r;
}

static void failed(struct fwd *f, int err)
{
	kura_tls_close(f->t);
	f->t = NULL;
	f->failing = 1;
	f->st->failures++;
	f->st->last_error = err;
	nap(f, f->backoff_ms);
	f->backoff_ms = f->backoff_ms > f->o.backoff_max_ms / 2 ? f->o.backoff_max_ms
								: f->backoff_ms * 2;
}

static int commit(struct fwd *f)
{
	int r = f->src->save(f->src->ctx, f->end_leaf, f->end_seq);
	if (r)
		return r;
	f->st->next_leaf = f->end_leaf;
	f->st->next_seq = f->end_seq;
	f->st->sent += f->count;
	f->st->batches++;
	f->failing = 0;
	f->backoff_ms = f->o.backoff_min_ms;
	return 0;
}

/* One step: 1 to go on, 0 when done, or an error that ends the run. */
static int step(struct fwd *f)
{
	int r = build_batch(f);
	if (r)
		return r;
	f->st->drained = f->count == 0;
	if (f->count == 0) {
		if (!f->o.follow)
			return 0;
		nap(f, f->o.poll_ms);
		return 1;
	}
	r = deliver(f);
	if (r == KURA_EINVAL || r == KURA_ENOMEM)
		return r; /* a bad configuration does not get better by retrying */
	if (r) {
		failed(f, r);
		return 1;
	}
	r = commit(f);
	return r ? r : 1;
}

static int run(struct fwd *f)
{
	for (;;) {
		if (stopped(f))
			return 0;
		if (expired(f))
			return f->failing ? f->st->last_error : 0;
		int r = step(f);
		if (r <= 0)
			return r;
	}
}

static int source_valid(const struct kura_forward_source *s)
{
	return s && s->next && s->format && s->save;
}

int kura_forward_run(const struct kura_tls_config *cfg,
		     const struct kura_forward_source *src, uint64_t next_leaf,
		     uint64_t next_seq, const struct kura_forward_opts *o,
		     struct kura_forward_stats *ret)
{
	struct fwd f = {.cfg = cfg, .src = src, .st = ret};
	int r = KURA_EINVAL;
	memset(ret, 0, sizeof(*ret));
	ret->next_leaf = next_leaf;
	ret->next_seq = next_seq;
	opts_resolve(o, &f.o);
	kura_buf_init(&f.body, KURA_MAX_SYSLOG_MSG);
	kura_buf_init(&f.msg, KURA_MAX_SYSLOG_MSG);
	kura_buf_init(&f.batch, (size_t)f.o.batch * (KURA_MAX_SYSLOG_MSG + 16));
	if (!cfg || !source_valid(src) || next_seq == 0 ||
	    f.o.batch > KURA_MAX_FORWARD_BATCH)
		goto out;
	f.backoff_ms = f.o.backoff_min_ms;
	f.deadline = f.o.max_run_ms > 0 ? mono_ms() + f.o.max_run_ms : 0;
	r = run(&f);
out:
	if (r && !ret->last_error)
		ret->last_error = r;
	kura_tls_close(f.t);
	kura_buf_release(&f.batch);
	kura_buf_release(&f.msg);
	kura_buf_release(&f.body);
	return r;
}
