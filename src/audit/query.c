/* query.c - time expressions, the audit query language, anomaly flags and
 * the review window (query.h, docs/internals/audit-query.md). */
#include "audit/query.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/time.h"
#include "util/utf8.h"
#include "util/banned.h"

#define US_PER_SEC INT64_C(1000000)
#define US_PER_MIN (60 * US_PER_SEC)
#define US_PER_DAY (86400 * US_PER_SEC)

/* ---- time expressions -------------------------------------------------- */

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Exactly n ASCII digits (not isdigit: it follows the locale). */
static int get_digits(const char **p, int n, int *ret)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!is_digit((*p)[i]))
			return KURA_EINVAL;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*ret = v;
	return 0;
}

static int get_char(const char **p, char c)
{
	if (**p != c)
		return KURA_EINVAL;
	(*p)++;
	return 0;
}

static int is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil), so no timegm() and no TZ environment is involved. */
static int64_t days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int parse_date(const char **p, int64_t *ret_days)
{
	int y, m, d;
	if (get_digits(p, 4, &y) || get_char(p, '-') || get_digits(p, 2, &m) ||
	    get_char(p, '-') || get_digits(p, 2, &d))
		return KURA_EINVAL;
	if (y < 1 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
		return KURA_EINVAL;
	*ret_days = days_from_civil(y, m, d);
	return 0;
}

/* ".f" of 1..6 digits, scaled to microseconds. */
static int parse_fraction(const char **p, int64_t *ret_us)
{
	int64_t v = 0;
	int n = 0;
	(*p)++;
	while (is_digit(**p) && n < 7) {
		v = v * 10 + (**p - '0');
		(*p)++;
		n++;
	}
	if (n == 0 || n > 6)
		return KURA_EINVAL;
	for (; n < 6; n++)
		v *= 10;
	*ret_us = v;
	return 0;
}

/* HH:MM[:SS[.f]] into microseconds after midnight; *ret_sec: seconds given. */
static int parse_clock(const char **p, int64_t *ret_us, int *ret_sec)
{
	int h, m, s = 0;
	int64_t frac = 0;
	*ret_sec = 0;
	if (get_digits(p, 2, &h) || get_char(p, ':') || get_digits(p, 2, &m))
		return KURA_EINVAL;
	if (**p == ':') {
		(*p)++;
		if (get_digits(p, 2, &s))
			return KURA_EINVAL;
		*ret_sec = 1;
		if (**p == '.' && parse_fraction(p, &frac))
			return KURA_EINVAL;
	}
	if (h > 23 || m > 59 || s > 59)
		return KURA_EINVAL;
	*ret_us = ((int64_t)h * 3600 + m * 60 + s) * US_PER_SEC + frac;
	return 0;
}

/* 'Z' or +hh:mm / -hh:mm; *ret_has is 0 when the string ends instead. */
static int parse_offset(const char **p, int *ret_min, int *ret_has)
{
	int sign = **p == '-' ? -1 : 1, h, m;
	*ret_has = 1;
	*ret_min = 0;
	if (**p == 'Z' || **p == 'z') {
		(*p)++;
		return 0;
	}
	if (**p != '+' && **p != '-') {
		*ret_has = 0;
		return 0;
	}
	(*p)++;
	if (get_digits(p, 2, &h) || get_char(p, ':') || get_digits(p, 2, &m) || h > 23 || m > 59)
		return KURA_EINVAL;
	*ret_min = sign * (h * 60 + m);
	return 0;
}

/* -Nd, -Nh, -Nm with 1..6 digits. */
static int parse_relative(const char *s, int64_t now_us, int64_t *ret_us)
{
	int64_t v = 0, unit;
	size_t n = 0;
	for (s++; is_digit(s[n]) && n < 7; n++)
		v = v * 10 + (s[n] - '0');
	if (n == 0 || n > 6)
		return KURA_EINVAL;
	switch (s[n]) {
	case 'd': unit = US_PER_DAY; break;
	case 'h': unit = 60 * US_PER_MIN; break;
	case 'm': unit = US_PER_MIN; break;
	default: return KURA_EINVAL;
	}
	if (s[n + 1] != '\0')
		return KURA_EINVAL;
	*ret_us = now_us - v * unit;
	return 0;
}

static int parse_absolute(const char *s, int utc_offset_min, int end_of_day, int64_t *ret_us)
{
	int64_t days, tod = 0;
	int has_sec = 0, off = utc_offset_min, has_off = 0;
	const char *p = s;
	if (parse_date(&p, &days))
		return KURA_EINVAL;
	if (*p == '\0') {
		*ret_us = (days + (end_of_day ? 1 : 0)) * US_PER_DAY - off * US_PER_MIN;
		return 0;
	}
	if ((*p != 'T' && *p != 't') || (p++, parse_clock(&p, &tod, &has_sec)))
		return KURA_EINVAL;
	if (parse_offset(&p, &off, &has_off) || *p != '\0')
		return KURA_EINVAL;
	if (has_off && !has_sec) /* RFC 3339 always has seconds */
		return KURA_EINVAL;
	if (!has_off)
		off = utc_offset_min;
	*ret_us = days * US_PER_DAY + tod - off * US_PER_MIN;
	return 0;
}

int kura_time_parse_at(const char *s, int utc_offset_min, int end_of_day, int64_t now_us,
		       int64_t *ret_us)
{
	int r = KURA_EINVAL;
	int64_t v = 0;
	*ret_us = 0;
	if (!s || utc_offset_min <= -1440 || utc_offset_min >= 1440)
		goto out;
	if (strcmp(s, "now") == 0) {
		v = now_us;
		r = 0;
	} else if (s[0] == '-') {
		r = parse_relative(s, now_us, &v);
	} else {
		r = parse_absolute(s, utc_offset_min, end_of_day, &v);
	}
	if (r == 0)
		*ret_us = v;
out:
	return r;
}

int kura_time_parse(const char *s, int utc_offset_min, int end_of_day, int64_t *ret_us)
{
	return kura_time_parse_at(s, utc_offset_min, end_of_day, kura_time_now_us(), ret_us);
}

/* ---- actions ------------------------------------------------------------ */

enum {
	ACT_ACCESS = 1, /* sessions, records, break-glass: off-hours applies */
	ACT_READ = 2    /* counted for bulk reads */
};

static const struct action {
	const char *name;
	unsigned cls;
} actions[] = {
	{"login", ACT_ACCESS}, {"login-failed", ACT_ACCESS}, {"logout", ACT_ACCESS},
	{"lockout", ACT_ACCESS}, {"unlock", ACT_ACCESS}, {"session-expired", ACT_ACCESS},
	{"read", ACT_ACCESS | ACT_READ}, {"search", ACT_ACCESS | ACT_READ},
	{"list", ACT_ACCESS | ACT_READ}, {"write", ACT_ACCESS}, {"confirm", ACT_ACCESS},
	{"retract", ACT_ACCESS}, {"import", ACT_ACCESS}, {"export", ACT_ACCESS | ACT_READ},
	{"print", ACT_ACCESS}, {"sign", ACT_ACCESS}, {"breakglass", ACT_ACCESS},
	{"account-add", 0}, {"account-change", 0}, {"account-disable", 0},
	{"account-enable", 0}, {"password-change", 0}, {"password-reset", 0},
	{"factor-enroll", 0}, {"factor-remove", 0}, {"role-change", 0},
	{"config-change", 0}, {"care-assign", 0}, {"care-end", 0}, {"patient-change", 0},
	{"grant", 0}, {"revoke", 0}, {"key-operation", 0}, {"init", 0}, {"verify", 0},
	{"audit-search", 0}, {"audit-report", 0}, {"audit-review", 0}, {"audit-export", 0},
	{"audit-forward", 0},
};

static const struct action *action_find(const char *name)
{
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (strcmp(actions[i].name, name) == 0)
			return &actions[i];
	return NULL;
}

static unsigned action_class(const char *name)
{
	const struct action *a = action_find(name);
	return a ? a->cls : 0;
}

int kura_audit_action_valid(const char *name)
{
	return name && action_find(name) != NULL;
}

/* ---- anomaly configuration ---------------------------------------------- */

static const char *const flag_names[] = {"off-hours", "bulk", "breakglass", "restricted",
					 "unreviewed"};

const char *kura_flag_name(unsigned bit)
{
	for (unsigned i = 0; i < 5; i++)
		if (bit == 1u << i)
			return flag_names[i];
	return NULL;
}

void kura_anomaly_config_default(struct kura_anomaly_config *c)
{
	/* A hospital's day shift and outpatient hours end by 20:00 and start
	 * after 07:00; night-duty staff will show up, which is the point: the
	 * reviewer looks at the few who are not on duty. */
	c->offhours_start_min = 20 * 60;
	c->offhours_end_min = 7 * 60;
	c->weekends = 1;
	c->bulk_reads = 50;
	c->bulk_window_min = 60;
}

/* A whole decimal number in [min, max]. */
static int parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *ret)
{
	char *end;
	if (!s || !is_digit(s[0]) || (s[0] == '0' && s[1] != '\0'))
		return KURA_EINVAL;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end != '\0' || v < min || v > max)
		return KURA_EINVAL;
	*ret = v;
	return 0;
}

static int parse_hhmm(const char *s, int *ret_min)
{
	int h, m;
	const char *p = s;
	if (!s || get_digits(&p, 2, &h) || get_char(&p, ':') || get_digits(&p, 2, &m) ||
	    *p != '\0' || h > 23 || m > 59)
		return KURA_EINVAL;
	*ret_min = h * 60 + m;
	return 0;
}

static int parse_onoff(const char *s, int *ret)
{
	static const char *const on[] = {"on", "true", "1"}, *const off[] = {"off", "false", "0"};
	for (size_t i = 0; s && i < 3; i++) {
		if (strcmp(s, on[i]) == 0 || strcmp(s, off[i]) == 0) {
			*ret = strcmp(s, on[i]) == 0;
			return 0;
		}
	}
	return KURA_EINVAL;
}

int kura_anomaly_config_set(struct kura_anomaly_config *c, const char *key, const char *value)
{
	unsigned long v;
	int r = KURA_ENOTFOUND;
	if (!key)
		return r;
	if (strcmp(key, "audit.offhours_start") == 0) {
		r = parse_hhmm(value, &c->offhours_start_min);
	} else if (strcmp(key, "audit.offhours_end") == 0) {
		r = parse_hhmm(value, &c->offhours_end_min);
	} else if (strcmp(key, "audit.weekends") == 0) {
		r = parse_onoff(value, &c->weekends);
	} else if (strcmp(key, "audit.bulk_reads") == 0) {
		r = parse_uint(value, 0, 1000000, &v);
		if (r == 0)
			c->bulk_reads = (unsigned)v;
	} else if (strcmp(key, "audit.bulk_window_min") == 0) {
		r = parse_uint(value, 1, 10080, &v);
		if (r == 0)
			c->bulk_window_min = (unsigned)v;
	}
	return r;
}

/* ---- the review window -------------------------------------------------- */

int kura_review_window_format(int64_t from, int64_t to, struct kura_buf *out)
{
	if (from >= to)
		return KURA_EINVAL;
	return kura_buf_printf(out, "from=%" PRId64 " to=%" PRId64, from, to);
}

/* A canonical decimal int64 after prefix, ending at stop; advances *p. */
static int get_canonical_i64(const char **p, const char *prefix, char stop, int64_t *ret)
{
	size_t n = strlen(prefix);
	const char *s = *p + n, *digits;
	char *end;
	if (strncmp(*p, prefix, n) != 0)
		return KURA_EINVAL;
	digits = s + (*s == '-');
	if (!is_digit(digits[0]) || (digits[0] == '0' && (digits[1] != stop || *s == '-')))
		return KURA_EINVAL;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end != stop)
		return KURA_EINVAL;
	*ret = v;
	*p = end;
	return 0;
}

int kura_review_window_parse(const char *s, int64_t *ret_from, int64_t *ret_to)
{
	int64_t from = 0, to = 0;
	const char *p = s;
	*ret_from = 0;
	*ret_to = 0;
	if (!s || get_canonical_i64(&p, "from=", ' ', &from) ||
	    get_canonical_i64(&p, " to=", '\0', &to) || from >= to)
		return KURA_EINVAL;
	*ret_from = from;
	*ret_to = to;
	return 0;
}

/* ---- anomaly flags ------------------------------------------------------ */

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static int is_offhours(const struct kura_anomaly_config *c, const struct kura_event *e)
{
	int64_t local_min = floor_div(e->time_us, US_PER_MIN) + e->utc_offset_min;
	int64_t day = floor_div(local_min, 1440);
	int m = (int)(local_min - day * 1440);
	int wday = (int)((day % 7 + 7 + 4) % 7); /* 1970-01-01 was a Thursday (4) */
	int s = c->offhours_start_min, t = c->offhours_end_min;
	if (c->weekends && (wday == 0 || wday == 6))
		return 1;
	if (s == t)
		return 0;
	return s < t ? m >= s && m < t : m >= s || m < t;
}

static int is_breakglass(const struct kura_event *e)
{
	return strcmp(e->action, "breakglass") == 0 || strncmp(e->reason, "breakglass:", 11) == 0;
}

struct slot {
	const struct kura_event_row *row;
	size_t i;
};

static int slot_by_actor_time(const void *a, const void *b)
{
	const struct slot *x = a, *y = b;
	int c = strcmp(x->row->ev.actor, y->row->ev.actor);
	if (c)
		return c;
	if (x->row->ev.time_us != y->row->ev.time_us)
		return x->row->ev.time_us < y->row->ev.time_us ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* Two pointers over one actor's reads, sorted by time: [lo, hi] is the
 * window ending at hi; a burst marks each event once (marked: next unmarked). */
static void flag_bulk_run(const struct kura_anomaly_config *c, const struct slot *s, size_t n,
			  unsigned *flags)
{
	int64_t w = (int64_t)c->bulk_window_min * US_PER_MIN;
	size_t lo = 0, marked = 0;
	for (size_t hi = 0; hi < n; hi++) {
		while (s[hi].row->ev.time_us - s[lo].row->ev.time_us >= w)
			lo++;
		if (hi - lo + 1 <= c->bulk_reads)
			continue;
		for (size_t k = marked > lo ? marked : lo; k <= hi; k++)
			flags[s[k].i] |= KURA_FLAG_BULK;
		marked = hi + 1;
	}
}

static int flag_bulk(const struct kura_anomaly_config *c, const struct kura_event_row *rows,
		     size_t n, unsigned *flags)
{
	size_t m = 0;
	if (c->bulk_reads == 0 || n == 0)
		return 0;
	struct slot *s = calloc(n, sizeof(*s));
	if (!s)
		return KURA_ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (rows[i].ev.actor[0] && (action_class(rows[i].ev.action) & ACT_READ))
			s[m++] = (struct slot){&rows[i], i};
	qsort(s, m, sizeof(*s), slot_by_actor_time);
	for (size_t a = 0, b; a < m; a = b) {
		for (b = a + 1; b < m && strcmp(s[a].row->ev.actor, s[b].row->ev.actor) == 0; b++)
			;
		flag_bulk_run(c, s + a, b - a, flags);
	}
	free(s);
	return 0;
}

static int reviewed(const struct kura_event_row *rows, size_t n, int64_t t)
{
	int64_t from, to;
	for (size_t i = 0; i < n; i++) {
		const struct kura_event *e = &rows[i].ev;
		if (strcmp(e->action, "audit-review") || e->outcome != KURA_OUTCOME_SUCCESS ||
		    e->time_us < t || kura_review_window_parse(e->query, &from, &to))
			continue;
		if (from <= t && t < to)
			return 1;
	}
	return 0;
}

static int flag_one(const struct kura_anomaly_config *c, const struct kura_event_row *rows,
		    size_t n, size_t i, int (*is_restricted)(void *, const char *), void *ctx,
		    unsigned *flags)
{
	const struct kura_event *e = &rows[i].ev;
	if (e->actor[0] && (action_class(e->action) & ACT_ACCESS) && is_offhours(c, e))
		flags[i] |= KURA_FLAG_OFFHOURS;
	if (is_breakglass(e))
		flags[i] |= KURA_FLAG_BREAKGLASS;
	if (strcmp(e->action, "breakglass") == 0 && !reviewed(rows, n, e->time_us))
		flags[i] |= KURA_FLAG_UNREVIEWED;
	if (is_restricted && e->patient_id[0]) {
		int r = is_restricted(ctx, e->patient_id);
		if (r < 0)
			return r;
		if (r == 1)
			flags[i] |= KURA_FLAG_RESTRICTED;
	}
	return 0;
}

int kura_anomaly_flags(const struct kura_anomaly_config *c, const struct kura_event_row *rows,
		       size_t n, int (*is_restricted)(void *ctx, const char *patient_id),
		       void *ctx, unsigned *ret_flags)
{
	int r = 0;
	if (n)
		memset(ret_flags, 0, n * sizeof(*ret_flags));
	for (size_t i = 0; i < n && r == 0; i++)
		r = flag_one(c, rows, n, i, is_restricted, ctx, ret_flags);
	if (r == 0)
		r = flag_bulk(c, rows, n, ret_flags);
	return r;
}

/* ---- the query language ------------------------------------------------- */

/* "<why> '<term>': <hint>", quoting at most 48 bytes of the term (cut at a
 * UTF-8 boundary: the query was validated as UTF-8 before). */
static int query_err(struct kura_audit_query *q, const char *why, const char *term,
		     const char *hint)
{
	size_t n = strlen(term);
	if (n > 48) {
		n = 48;
		while (n > 0 && ((unsigned char)term[n] & 0xc0) == 0x80)
			n--;
	}
	snprintf(q->errmsg, sizeof(q->errmsg), "%s '%.*s%s': %s", why, (int)n, term,
		 n < strlen(term) ? "..." : "", hint);
	return KURA_EINVAL;
}

/* Patient and user ids: 1..KURA_MAX_ID bytes, no comma (lists) and no
 * quote; the query's UTF-8 and control check covers the rest. */
static int set_id(char *dst, const char *v)
{
	size_t n = strlen(v);
	if (n == 0 || n > KURA_MAX_ID || strpbrk(v, ",'\""))
		return KURA_EINVAL;
	memcpy(dst, v, n + 1);
	return 0;
}

static int term_patient(struct kura_audit_query *q, const char *v, int off, int64_t now)
{
	(void)off;
	(void)now;
	return set_id(q->patient_id, v);
}

static int term_user(struct kura_audit_query *q, const char *v, int off, int64_t now)
{
	(void)off;
	(void)now;
	return set_id(q->actor, v);
}

/* Walk a comma list: each item (a NUL-terminated copy) goes to fn. */
static int each_item(struct kura_audit_query *q, const char *v,
		     int (*fn)(struct kura_audit_query *, const char *))
{
	char item[KURA_MAX_ACTION + 1];
	for (const char *p = v;; p++) {
		size_t n = strcspn(p, ",");
		if (n == 0 || n > KURA_MAX_ACTION)
			return KURA_EINVAL;
		memcpy(item, p, n);
		item[n] = '\0';
		if (fn(q, item))
			return KURA_EINVAL;
		p += n;
		if (*p == '\0')
			return 0;
	}
}

static int add_action(struct kura_audit_query *q, const char *name)
{
	if (!action_find(name) || q->n_actions == KURA_AUDIT_MAX_ACTIONS)
		return KURA_EINVAL;
	for (size_t i = 0; i < q->n_actions; i++)
		if (strcmp(q->actions[i], name) == 0)
			return KURA_EINVAL;
	memcpy(q->actions[q->n_actions++], name, strlen(name) + 1);
	return 0;
}

static int term_action(struct kura_audit_query *q, const char *v, int off, int64_t now)
{
	(void)off;
	(void)now;
	return each_item(q, v, add_action);
}

static int add_flag(struct kura_audit_query *q, const char *name)
{
	for (unsigned i = 0; i < 5; i++) {
		if (strcmp(flag_names[i], name) == 0 && !(q->flags & 1u << i)) {
			q->flags |= 1u << i;
			return 0;
		}
	}
	return KURA_EINVAL;
}

static int term_flag(struct kura_audit_query *q, const char *v, int off, int64_t now)
{
	(void)off;
	(void)now;
	return each_item(q, v, add_flag);
}

static int term_outcome(struct kura_audit_query *q, const char *v, int off, int64_t now)
{
	static const char *const names[] = {"success", "denied", "failed", "integrity"};
	static const char *const codes[] = {"0", "4", "8", "12"};
	(void)off;
	(void)now;
	for (int i = 0; i < 4; i++) {
		if (strcmp(v, names[i]) == 0 || strcmp(v, codes[i]) == 0) {
			q->outcome = i * 4;
			return 0;
		}
	}
	return KURA_EINVAL;
}

static int term_from(struct kura_audit_query *q, const char *v, int off, int64_t now)
{
	q->has_from = 1;
	return kura_time_parse_at(v, off, 0, now, &q->from_us);
}

static int term_to(struct kura_audit_query *q, const char *v, int off, int64_t now)
{
	q->has_to = 1;
	return kura_time_parse_at(v, off, 1, now, &q->to_us);
}

static int term_limit(struct kura_audit_query *q, const char *v, int off, int64_t now)
{
	unsigned long n;
	(void)off;
	(void)now;
	if (parse_uint(v, 1, KURA_MAX_AUDIT_RESULTS, &n))
		return KURA_EINVAL;
	q->limit = n;
	return 0;
}

static const struct term {
	const char *key;
	int (*parse)(struct kura_audit_query *q, const char *v, int off, int64_t now);
	const char *why, *hint; /* the error message when the value is bad */
} terms[] = {
	{"patient", term_patient, "bad patient id", "give 1 to 64 characters, no comma or quote"},
	{"user", term_user, "bad user id", "give 1 to 64 characters, no comma or quote"},
	{"action", term_action, "unknown or repeated action",
	 "give up to 16 action names from 'kura audit search --help', comma-separated"},
	{"outcome", term_outcome, "bad outcome", "use success, denied, failed or integrity"},
	{"from", term_from, "bad time", "use 2026-12-01, 2026-12-01T09:00, RFC 3339, -7d or now"},
	{"to", term_to, "bad time", "use 2026-12-01, 2026-12-01T09:00, RFC 3339, -7d or now"},
	{"flag", term_flag, "unknown or repeated flag",
	 "use off-hours, bulk, breakglass, restricted or unreviewed, comma-separated"},
	{"limit", term_limit, "bad limit", "give a number from 1 to 1000000"},
};

/* One NUL-terminated "key=value" term; seen: keys already given. */
static int parse_term(struct kura_audit_query *q, char *t, int off, int64_t now, unsigned *seen)
{
	char *eq = strchr(t, '=');
	if (!eq || eq == t || eq[1] == '\0')
		return query_err(q, "not a key=value term", t, "write key=value with no spaces");
	*eq = '\0';
	for (size_t i = 0; i < sizeof(terms) / sizeof(terms[0]); i++) {
		if (strcmp(terms[i].key, t) != 0)
			continue;
		*eq = '=';
		if (*seen & 1u << i)
			return query_err(q, "term given twice", t, "give each key once");
		*seen |= 1u << i;
		if (terms[i].parse(q, eq + 1, off, now))
			return query_err(q, terms[i].why, t, terms[i].hint);
		return 0;
	}
	*eq = '=';
	return query_err(q, "unknown term", t,
			 "use patient, user, action, outcome, from, to, flag or limit");
}

static void query_clear(struct kura_audit_query *q)
{
	memset(q, 0, sizeof(*q));
	q->outcome = -1;
}

static int parse_terms(struct kura_audit_query *q, char *s, int off, int64_t now)
{
	unsigned seen = 0;
	for (char *p = s;;) {
		p += strspn(p, " \t");
		if (*p == '\0')
			break;
		size_t n = strcspn(p, " \t");
		char save = p[n];
		p[n] = '\0';
		if (parse_term(q, p, off, now, &seen))
			return KURA_EINVAL;
		p[n] = save;
		p += n;
	}
	if (q->has_from && q->has_to && q->from_us >= q->to_us) {
		snprintf(q->errmsg, sizeof(q->errmsg), "from= is not before to=: swap them or widen the period");
		return KURA_EINVAL;
	}
	return 0;
}

/* Control characters other than the separators, or broken UTF-8. */
static int query_text_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		size_t k = c < 0x80 ? 1 : kura_utf8_seq_len((const uint8_t *)s + i, n - i);
		if (k == 0 || (c < 0x20 && c != '\t') || c == 0x7f)
			return 0;
		i += k;
	}
	return 1;
}

int kura_audit_query_parse_at(const char *q, int utc_offset_min, int64_t now_us,
			      struct kura_audit_query *ret)
{
	char copy[KURA_MAX_AUDIT_QUERY + 1];
	int r = KURA_EINVAL;
	query_clear(ret);
	size_t n = q ? strnlen(q, KURA_MAX_AUDIT_QUERY + 1) : 0;
	if (!q) {
		snprintf(ret->errmsg, sizeof(ret->errmsg), "no query");
		goto out;
	}
	if (n > KURA_MAX_AUDIT_QUERY) {
		snprintf(ret->errmsg, sizeof(ret->errmsg),
			 "query longer than %u bytes: narrow it", KURA_MAX_AUDIT_QUERY);
		r = KURA_ETOOBIG;
		goto out;
	}
	if (!query_text_ok(q, n)) {
		snprintf(ret->errmsg, sizeof(ret->errmsg),
			 "query is not UTF-8 text or holds control characters");
		goto out;
	}
	memcpy(copy, q, n + 1);
	r = parse_terms(ret, copy, utc_offset_min, now_us);
out:
	if (r) {
		char msg[KURA_AUDIT_ERRMSG];
		memcpy(msg, ret->errmsg, sizeof(msg));
		query_clear(ret);
		memcpy(ret->errmsg, msg, sizeof(msg));
	}
	return r;
}

int kura_audit_query_parse(const char *q, int utc_offset_min, struct kura_audit_query *ret)
{
	return kura_audit_query_parse_at(q, utc_offset_min, kura_time_now_us(), ret);
}

void kura_audit_query_filter(const struct kura_audit_query *q, struct kura_event_filter *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->patient_id = q->patient_id[0] ? q->patient_id : NULL;
	ret->actor = q->actor[0] ? q->actor : NULL;
	ret->action = q->n_actions == 1 ? q->actions[0] : NULL;
	ret->from_us = q->has_from ? q->from_us : 0;
	ret->to_us = q->has_to ? q->to_us : 0;
	ret->outcome = q->outcome;
	ret->limit = q->limit;
}

static int match_action(const struct kura_audit_query *q, const char *action)
{
	if (q->n_actions == 0)
		return 1;
	for (size_t i = 0; i < q->n_actions; i++)
		if (strcmp(q->actions[i], action) == 0)
			return 1;
	return 0;
}

int kura_audit_query_match(const struct kura_audit_query *q, const struct kura_event_row *row)
{
	const struct kura_event *e = &row->ev;
	if (q->patient_id[0] && strcmp(q->patient_id, e->patient_id) != 0)
		return 0;
	if (q->actor[0] && strcmp(q->actor, e->actor) != 0)
		return 0;
	if (q->outcome >= 0 && q->outcome != e->outcome)
		return 0;
	if ((q->has_from && e->time_us < q->from_us) || (q->has_to && e->time_us >= q->to_us))
		return 0;
	return match_action(q, e->action);
}

int kura_audit_query_match_flags(const struct kura_audit_query *q, unsigned flags)
{
	return q->flags == 0 || (q->flags & flags) != 0;
}
