/*
 * query.h - reading the audit trail: time expressions, the query language of
 * `kura audit search`, anomaly flags and the review-window encoding
 * (LG-01, LG-05, BG-02; docs/internals/audit-query.md).
 *
 * Everything here is pure: no store, no clock except where a function says
 * it reads "now", no output.  The store selects rows with the
 * struct kura_event_filter view of a query; the CLI then narrows them with
 * kura_audit_query_match() and computes flags with kura_anomaly_flags().
 */
#ifndef KURA_AUDIT_QUERY_H
#define KURA_AUDIT_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/event.h"
#include "util/buf.h"

/* ---- time expressions -------------------------------------------------- */

/*
 * Parse a time expression into UTC microseconds since the epoch:
 *   2026-12-01T09:30:00Z, 2026-12-01T09:30:00.123+09:00  RFC 3339 (seconds
 *                             required, fraction of 1..6 digits, 'T'/'Z'
 *                             also lowercase, -00:00 taken as +00:00)
 *   2026-12-01T09:30[:SS[.f]] local time at utc_offset_min (JST: 540)
 *   2026-12-01                local midnight; with end_of_day the next
 *                             midnight, so "to=2026-12-01" includes that day
 *   -7d, -24h, -30m, now      relative to the clock (1..6 digits)
 * Years 0001..9999; months, days per month (leap years), hours 00..23,
 * minutes and seconds 00..59 (no leap second) and offsets are checked.
 * end_of_day only changes the date-only form.  KURA_EINVAL on anything else,
 * on a NULL s, or on |utc_offset_min| >= 1440.  *ret_us is 0 on error.
 */
int kura_time_parse(const char *s, int utc_offset_min, int end_of_day, int64_t *ret_us);

/* As kura_time_parse() with "now" given (for tests and for one consistent
 * "now" across the terms of a query). */
int kura_time_parse_at(const char *s, int utc_offset_min, int end_of_day, int64_t now_us,
		       int64_t *ret_us);

/* ---- anomaly flags ----------------------------------------------------- */

enum {
	KURA_FLAG_OFFHOURS = 1,   /* outside working hours, local to the event */
	KURA_FLAG_BULK = 2,       /* part of a burst of reads by one user */
	KURA_FLAG_BREAKGLASS = 4, /* emergency access (BG-02) */
	KURA_FLAG_RESTRICTED = 8, /* a patient marked restricted (VIP, staff) */
	KURA_FLAG_UNREVIEWED = 16 /* break-glass not yet covered by a review */
};
#define KURA_FLAG_ALL 31u

/* The stable English name of one flag bit ("off-hours", "bulk",
 * "breakglass", "restricted", "unreviewed"), or NULL. */
const char *kura_flag_name(unsigned bit);

struct kura_anomaly_config {
	int offhours_start_min;   /* local minutes after midnight; 20:00 */
	int offhours_end_min;     /* 07:00; start == end: no off-hours */
	int weekends;             /* Saturday and Sunday are off-hours: 1 */
	unsigned bulk_reads;      /* more than this many in the window: 50; 0 off */
	unsigned bulk_window_min; /* the sliding window: 60 minutes */
};

void kura_anomaly_config_default(struct kura_anomaly_config *c);

/*
 * Apply one setting: audit.offhours_start and audit.offhours_end ("HH:MM",
 * 00:00..23:59), audit.weekends (on/off, true/false, 1/0), audit.bulk_reads
 * (0..1000000), audit.bulk_window_min (1..10080).  KURA_ENOTFOUND for a key
 * that is not one of these (so a caller can offer every setting), KURA_EINVAL
 * for a bad value (c unchanged).
 */
int kura_anomaly_config_set(struct kura_anomaly_config *c, const char *key, const char *value);

/*
 * Flag each of the n rows (any order) into ret_flags[0..n-1]:
 *   off-hours   an access (session, record or break-glass action) by a
 *               known actor at a local time (the event's own utc_offset_min)
 *               in [offhours_start, offhours_end), or on Saturday/Sunday
 *               when weekends is set;
 *   bulk        read/search/list/export events of one actor of which more
 *               than bulk_reads fall within bulk_window_min (t_last - t_first
 *               < window): every event of such a burst is flagged;
 *   breakglass  action "breakglass", or a reason beginning "breakglass:";
 *   restricted  a patient for which is_restricted(ctx, id) returns 1
 *               (is_restricted may be NULL: never);
 *   unreviewed  a "breakglass" event with no successful "audit-review" event
 *               at or after its time whose window (query field, see
 *               kura_review_window_parse) covers its time.
 * Flags are computed over the rows given, so pass the whole period plus the
 * review events, not a patient's or an action's subset.  Returns 0,
 * KURA_ENOMEM, or a negative value from is_restricted (passed on).
 */
int kura_anomaly_flags(const struct kura_anomaly_config *c, const struct kura_event_row *rows,
		       size_t n, int (*is_restricted)(void *ctx, const char *patient_id),
		       void *ctx, unsigned *ret_flags);

/* ---- the review window -------------------------------------------------- */

/*
 * An "audit-review" event's query field says which period was reviewed, in
 * exactly this form: "from=<us> to=<us>", both UTC microseconds since the
 * epoch in canonical decimal (optional '-', no leading zeros, no '+'), one
 * space, from < to; the window is [from, to).
 * _format appends it to out (KURA_EINVAL if from >= to; KURA_ETOOBIG).
 * _parse is strict: KURA_EINVAL on anything else; outputs 0 on error.
 */
int kura_review_window_format(int64_t from, int64_t to, struct kura_buf *out);
int kura_review_window_parse(const char *s, int64_t *ret_from, int64_t *ret_to);

/* ---- the query language ------------------------------------------------- */

#define KURA_AUDIT_MAX_ACTIONS 16
#define KURA_AUDIT_ERRMSG 160

/* 1 if name is one of the actions listed in ledger/event.h, else 0. */
int kura_audit_action_valid(const char *name);

/* A parsed query.  Strings are copies; "" and 0 mean "not given". */
struct kura_audit_query {
	char patient_id[KURA_MAX_ID + 1];
	char actor[KURA_MAX_ID + 1];
	char actions[KURA_AUDIT_MAX_ACTIONS][KURA_MAX_ACTION + 1];
	size_t n_actions;      /* any of them matches */
	int outcome;           /* -1: any, else an enum kura_outcome value */
	int64_t from_us;       /* [from, to) in UTC microseconds */
	int64_t to_us;
	int has_from, has_to;
	unsigned flags;        /* KURA_FLAG_*: any of them matches; 0 any */
	uint64_t limit;        /* 0: KURA_MAX_AUDIT_RESULTS */
	char errmsg[KURA_AUDIT_ERRMSG]; /* on error: which term and why */
};

/*
 * Parse a query: space-separated key=value terms, each key at most once:
 *   patient=ID  user=ID  action=read,write,...  (up to 16, names from
 *   event.h)  outcome=success|denied|failed|integrity|0|4|8|12
 *   from=TIME  to=TIME  (kura_time_parse; to= is end-of-day for a date;
 *   from must be before to)  flag=off-hours,bulk,breakglass,restricted,
 *   unreviewed  limit=1..KURA_MAX_AUDIT_RESULTS
 * An empty query matches everything.  The query must be valid UTF-8 without
 * control characters.  Returns 0, KURA_EINVAL (ret->errmsg names the term,
 * in English, with the term quoted) or KURA_ETOOBIG (longer than
 * KURA_MAX_AUDIT_QUERY).  Relative times read the clock once.
 */
int kura_audit_query_parse(const char *q, int utc_offset_min, struct kura_audit_query *ret);

/* As kura_audit_query_parse() with "now" given. */
int kura_audit_query_parse_at(const char *q, int utc_offset_min, int64_t now_us,
			      struct kura_audit_query *ret);

/* The store's view of q: pointers into q (valid while q is), action only
 * when exactly one was given (else NULL: the store returns all actions and
 * kura_audit_query_match() decides). */
void kura_audit_query_filter(const struct kura_audit_query *q, struct kura_event_filter *ret);

/* 1 if row matches every term of q except flag=, else 0. */
int kura_audit_query_match(const struct kura_audit_query *q, const struct kura_event_row *row);

/* 1 if a row with these flags (from kura_anomaly_flags) passes flag=. */
int kura_audit_query_match_flags(const struct kura_audit_query *q, unsigned flags);

#endif
