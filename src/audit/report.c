/* report.c - audit events as text, JSON and CSV, and the patient and user
 * reports (report.h).  Every stored string goes through one of three
 * escapers; nothing from the ledger reaches the output raw. */
#include "audit/report.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/query.h"
#include "util/err.h"
#include "util/utf8.h"
#include "util/banned.h"

#define TSTR 48
#define MAX_REASONS 8
#define BAD_BYTE UINT32_MAX

/* ---- escaping ----------------------------------------------------------- */

/* One unit at p: its length, and *cp the code point or BAD_BYTE. */
static size_t next_unit(const uint8_t *p, size_t n, uint32_t *cp)
{
	size_t k = p[0] < 0x80 ? 1 : kura_utf8_seq_len(p, n);
	if (k == 0) {
		*cp = BAD_BYTE;
		return 1;
	}
	*cp = k == 1 ? p[0] : (uint32_t)(p[0] & (0x7f >> k));
	for (size_t i = 1; i < k; i++)
		*cp = *cp << 6 | (p[i] & 0x3f);
	return k;
}

/* Code points a terminal or spreadsheet would act on rather than show:
 * controls, line separators and bidirectional formatting ("Trojan Source"). */
static int unsafe_cp(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c || cp == 0x200e ||
	       cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
	       cp == BAD_BYTE;
}

static int text_escape(struct kura_buf *b, uint32_t cp, uint8_t byte)
{
	switch (cp) {
	case '\\': return kura_buf_append_str(b, "\\\\");
	case '\n': return kura_buf_append_str(b, "\\n");
	case '\r': return kura_buf_append_str(b, "\\r");
	case '\t': return kura_buf_append_str(b, "\\t");
	case BAD_BYTE: return kura_buf_printf(b, "\\x%02x", byte);
	default: break;
	}
	if (cp < 0x80)
		return kura_buf_printf(b, "\\x%02x", (unsigned)cp);
	return kura_buf_printf(b, "\\u{%04" PRIx32 "}", cp);
}

/* Text and CSV: backslash escapes, so the escaped form is unambiguous. */
static int put_text(struct kura_buf *b, const char *s)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t n = strlen(s);
	int r = 0;
	for (size_t i = 0, k; i < n && r == 0; i += k) {
		uint32_t cp;
		k = next_unit(p + i, n - i, &cp);
		if (cp == '\\' || unsafe_cp(cp))
			r = text_escape(b, cp, p[i]);
		else
			r = kura_buf_append(b, p + i, k);
	}
	return r;
}

static int put_text_or_dash(struct kura_buf *b, const char *s)
{
	int r = kura_buf_append_str(b, " | ");
	return r ? r : put_text(b, s[0] ? s : "-");
}

static int json_escape(struct kura_buf *b, uint32_t cp)
{
	switch (cp) {
	case '"': return kura_buf_append_str(b, "\\\"");
	case '\\': return kura_buf_append_str(b, "\\\\");
	case '\n': return kura_buf_append_str(b, "\\n");
	case '\r': return kura_buf_append_str(b, "\\r");
	case '\t': return kura_buf_append_str(b, "\\t");
	case BAD_BYTE: return kura_buf_append_str(b, "\\ufffd");
	default: return kura_buf_printf(b, "\\u%04" PRIx32, cp);
	}
}

/* A JSON string (RFC 8259); invalid UTF-8 becomes U+FFFD. */
static int put_json(struct kura_buf *b, const char *s)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t n = strlen(s);
	int r = kura_buf_append_byte(b, '"');
	for (size_t i = 0, k; i < n && r == 0; i += k) {
		uint32_t cp;
		k = next_unit(p + i, n - i, &cp);
		if (cp == '"' || cp == '\\' || unsafe_cp(cp))
			r = json_escape(b, cp);
		else
			r = kura_buf_append(b, p + i, k);
	}
	return r ? r : kura_buf_append_byte(b, '"');
}

/* A CSV cell (RFC 4180): escaped as text, a leading ' against formulas,
 * quoted when it holds a comma or a quote. */
static int put_csv(struct kura_buf *b, const char *s)
{
	struct kura_buf t;
	int r;
	kura_buf_init(&t, b->max);
	r = s[0] && strchr("=+-@\t\r", s[0]) ? kura_buf_append_byte(&t, '\'') : 0;
	if (r == 0)
		r = put_text(&t, s);
	if (r == 0 && t.len && strpbrk((char *)t.data, ",\"")) {
		r = kura_buf_append_byte(b, '"');
		for (size_t i = 0; i < t.len && r == 0; i++)
			r = t.data[i] == '"' ? kura_buf_append_str(b, "\"\"")
					     : kura_buf_append_byte(b, t.data[i]);
		r = r ? r : kura_buf_append_byte(b, '"');
	} else if (r == 0 && t.len) {
		r = kura_buf_append(b, t.data, t.len);
	}
	kura_buf_release(&t);
	return r;
}

/* ---- fields ------------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* RFC 3339 at the given offset: "Z" when utc, microseconds when frac. */
static void fmt_time(int64_t us, int off_min, int utc, int frac, char out[TSTR])
{
	int64_t sec = floor_div(us, 1000000);
	long f = (long)(us - sec * 1000000);
	time_t t = (time_t)(sec + (utc ? 0 : off_min * 60));
	struct tm tm;
	char fs[16] = "", zs[8] = "Z";
	if (!gmtime_r(&t, &tm)) {
		snprintf(out, TSTR, "invalid-time");
		return;
	}
	int year = tm.tm_year + 1900;
	year = year < 0 ? 0 : year > 9999 ? 9999 : year;
	int aoff = off_min < 0 ? -off_min : off_min;
	if (frac)
		snprintf(fs, sizeof(fs), ".%06ld", f % 1000000);
	if (!utc)
		snprintf(zs, sizeof(zs), "%c%02d:%02d", off_min < 0 ? '-' : '+', aoff / 60 % 100,
			 aoff % 60);
	snprintf(out, TSTR, "%04d-%02d-%02dT%02d:%02d:%02d%s%s", year, (tm.tm_mon + 1) % 100,
		 tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100, tm.tm_sec % 100, fs, zs);
}

static const char *outcome_name(int o, int ja)
{
	static const char *const en[] = {"success", "denied", "failed", "integrity"};
	static const char *const jp[] = {"成功", "拒否", "失敗", "完全性異常"};
	if (o < 0 || o > 12 || o % 4)
		return ja ? "不明" : "unknown";
	return ja ? jp[o / 4] : en[o / 4];
}

static const char *clock_name(int c)
{
	return c == KURA_CLOCK_SYNCED ? "synced" : c == KURA_CLOCK_UNSYNCED ? "unsynced" : "unknown";
}

static const char *flag_label(unsigned bit, int ja)
{
	static const char *const jp[] = {"時間外", "大量参照", "緊急アクセス", "制限患者",
					 "未レビュー"};
	for (unsigned i = 0; ja && i < 5; i++)
		if (bit == 1u << i)
			return jp[i];
	return kura_flag_name(bit);
}

/* Flag names joined by sep; quoted for JSON. */
static int put_flags(struct kura_buf *b, unsigned flags, const char *sep, int ja, int json)
{
	int r = 0, first = 1;
	for (unsigned bit = 1; bit <= 16 && r == 0; bit <<= 1) {
		if (!(flags & bit))
			continue;
		r = first ? 0 : kura_buf_append_str(b, sep);
		if (r == 0)
			r = json ? kura_buf_printf(b, "\"%s\"", kura_flag_name(bit))
				 : kura_buf_append_str(b, flag_label(bit, ja));
		first = 0;
	}
	return r;
}

/* ---- the three row formats ---------------------------------------------- */

/* A list of rows: through slots when given, else rows[0..n-1] in order. */
struct slot {
	const struct kura_event_row *row;
	size_t i;
};

struct view {
	const struct kura_event_row *rows;
	const struct slot *slots;
	size_t n;
	const unsigned *flags;
};

static const struct kura_event_row *view_row(const struct view *v, size_t k, unsigned *ret_flags)
{
	size_t i = v->slots ? v->slots[k].i : k;
	*ret_flags = v->flags ? v->flags[i] : 0;
	return v->slots ? v->slots[k].row : &v->rows[k];
}

static int text_header(struct kura_buf *b, int ja)
{
	return kura_buf_append_str(
		b, ja ? "日時（現地 / UTC） | 利用者（役割） | 操作 | 結果 | 患者 | 記録@版"
			" | 端末/IP | 理由 | 警告\n"
		      : "time (local / UTC) | user (role) | action | outcome | patient"
			" | record@version | terminal/ip | reason | flags\n");
}

/* "actor (role)", full-width parentheses in Japanese. */
static int text_actor(struct kura_buf *b, const struct kura_event *e, int ja)
{
	int r = put_text(b, e->actor[0] ? e->actor : "-");
	r = r ? r : kura_buf_append_str(b, ja ? "（" : " (");
	r = r ? r : put_text(b, e->role[0] ? e->role : "-");
	return r ? r : kura_buf_append_str(b, ja ? "）" : ")");
}

static int text_who_what(struct kura_buf *b, const struct kura_event *e, int ja)
{
	int r = text_actor(b, e, ja);
	r = r ? r : put_text_or_dash(b, e->action);
	r = r ? r : put_text_or_dash(b, outcome_name(e->outcome, ja));
	r = r ? r : put_text_or_dash(b, e->patient_id);
	r = r ? r : kura_buf_append_str(b, " | ");
	r = r ? r : put_text(b, e->record_id[0] ? e->record_id : "-");
	if (r == 0 && e->version)
		r = kura_buf_printf(b, "@%" PRIu32, e->version);
	return r;
}

static int text_row(struct kura_buf *b, const struct kura_event_row *row, unsigned flags, int ja)
{
	const struct kura_event *e = &row->ev;
	char local[TSTR], utc[TSTR];
	fmt_time(e->time_us, e->utc_offset_min, 0, 0, local);
	fmt_time(e->time_us, 0, 1, 0, utc);
	int r = kura_buf_printf(b, "%s (%s) | ", local, utc);
	r = r ? r : text_who_what(b, e, ja);
	r = r ? r : put_text_or_dash(b, e->terminal);
	r = r ? r : kura_buf_append_byte(b, '/');
	r = r ? r : put_text(b, e->client_ip[0] ? e->client_ip : "-");
	r = r ? r : put_text_or_dash(b, e->reason);
	r = r ? r : kura_buf_append_str(b, " | ");
	r = r ? r : flags ? put_flags(b, flags, ",", ja, 0) : kura_buf_append_byte(b, '-');
	return r ? r : kura_buf_append_byte(b, '\n');
}

static int json_field(struct kura_buf *b, const char *key, const char *v)
{
	int r = kura_buf_printf(b, ",\"%s\":", key);
	return r ? r : put_json(b, v);
}

static int json_strings(struct kura_buf *b, const struct kura_event *e)
{
	int r = json_field(b, "action", e->action);
	r = r ? r : json_field(b, "actor", e->actor);
	r = r ? r : json_field(b, "role", e->role);
	r = r ? r : json_field(b, "terminal", e->terminal);
	r = r ? r : json_field(b, "client_ip", e->client_ip);
	r = r ? r : json_field(b, "cert_fp", e->cert_fp);
	r = r ? r : json_field(b, "patient_id", e->patient_id);
	r = r ? r : json_field(b, "record_id", e->record_id);
	r = r ? r : kura_buf_printf(b, ",\"version\":%" PRIu32, e->version);
	r = r ? r : json_field(b, "query", e->query);
	r = r ? r : json_field(b, "reason", e->reason);
	return r ? r : json_field(b, "detail", e->detail);
}

static int json_row(struct kura_buf *b, const struct kura_event_row *row, unsigned flags)
{
	const struct kura_event *e = &row->ev;
	char local[TSTR], utc[TSTR];
	fmt_time(e->time_us, e->utc_offset_min, 0, 1, local);
	fmt_time(e->time_us, 0, 1, 1, utc);
	int r = kura_buf_printf(b,
				"{\"leaf_index\":%" PRIu64 ",\"time_utc\":\"%s\",\"time_local\":"
				"\"%s\",\"time_us\":%" PRId64 ",\"utc_offset_min\":%d,"
				"\"clock\":\"%s\",\"severity\":%d,\"outcome\":%d,"
				"\"outcome_name\":\"%s\"",
				row->leaf_index, utc, local, e->time_us, e->utc_offset_min,
				clock_name(e->clock), e->severity, e->outcome,
				outcome_name(e->outcome, 0));
	r = r ? r : json_strings(b, e);
	r = r ? r : kura_buf_append_str(b, ",\"flags\":[");
	r = r ? r : put_flags(b, flags, ",", 0, 1);
	return r ? r : kura_buf_append_str(b, "]}");
}

static const char csv_head[] = "leaf_index,time_utc,time_local,actor,role,action,outcome,"
			       "patient_id,record_id,version,terminal,client_ip,cert_fp,"
			       "query,reason,detail,clock,severity,flags\r\n";

static int csv_cells(struct kura_buf *b, const char *const *cells, size_t n)
{
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		r = i ? kura_buf_append_byte(b, ',') : 0;
		r = r ? r : put_csv(b, cells[i]);
	}
	return r;
}

static int csv_row(struct kura_buf *b, const struct kura_event_row *row, unsigned flags)
{
	const struct kura_event *e = &row->ev;
	char local[TSTR], utc[TSTR], leaf[24], ver[16], sev[8];
	struct kura_buf fl;
	fmt_time(e->time_us, e->utc_offset_min, 0, 1, local);
	fmt_time(e->time_us, 0, 1, 1, utc);
	snprintf(leaf, sizeof(leaf), "%" PRIu64, row->leaf_index);
	snprintf(ver, sizeof(ver), "%" PRIu32, e->version);
	snprintf(sev, sizeof(sev), "%d", e->severity);
	kura_buf_init(&fl, 256);
	int r = put_flags(&fl, flags, ";", 0, 0);
	const char *cells[] = {leaf, utc, local, e->actor, e->role, e->action,
			       outcome_name(e->outcome, 0), e->patient_id, e->record_id, ver,
			       e->terminal, e->client_ip, e->cert_fp, e->query, e->reason,
			       e->detail, clock_name(e->clock), sev, fl.data ? (char *)fl.data : ""};
	r = r ? r : csv_cells(b, cells, sizeof(cells) / sizeof(cells[0]));
	kura_buf_release(&fl);
	return r ? r : kura_buf_append_str(b, "\r\n");
}

static int format_view(enum kura_audit_fmt fmt, const struct view *v, int ja, struct kura_buf *b)
{
	int r = fmt == KURA_AUDIT_TEXT ? text_header(b, ja)
		: fmt == KURA_AUDIT_JSON ? kura_buf_append_byte(b, '[')
		: fmt == KURA_AUDIT_CSV	 ? kura_buf_append_str(b, csv_head)
					 : KURA_EINVAL;
	for (size_t k = 0; k < v->n && r == 0; k++) {
		unsigned fl;
		const struct kura_event_row *row = view_row(v, k, &fl);
		if (fmt == KURA_AUDIT_TEXT)
			r = text_row(b, row, v->flags ? fl : 0, ja);
		else if (fmt == KURA_AUDIT_CSV)
			r = csv_row(b, row, fl);
		else if ((r = kura_buf_append_str(b, k ? ",\n" : "\n")) == 0)
			r = json_row(b, row, fl);
	}
	if (r == 0 && fmt == KURA_AUDIT_JSON)
		r = kura_buf_append_str(b, v->n ? "\n]" : "]");
	return r;
}

int kura_audit_format(enum kura_audit_fmt fmt, const struct kura_event_row *rows, size_t n,
		      const unsigned *flags, int japanese, struct kura_buf *out)
{
	struct view v = {rows, NULL, n, flags};
	int r = format_view(fmt, &v, japanese, out);
	if (r == 0 && fmt == KURA_AUDIT_JSON)
		r = kura_buf_append_byte(out, '\n');
	return r;
}

/* ---- reports: shared parts ---------------------------------------------- */

static int cmp_time(const struct slot *x, const struct slot *y)
{
	if (x->row->ev.time_us != y->row->ev.time_us)
		return x->row->ev.time_us < y->row->ev.time_us ? -1 : 1;
	if (x->row->leaf_index != y->row->leaf_index)
		return x->row->leaf_index < y->row->leaf_index ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

static int by_time(const void *a, const void *b)
{
	return cmp_time(a, b);
}

static int by_actor_action(const void *a, const void *b)
{
	const struct slot *x = a, *y = b;
	int c = strcmp(x->row->ev.actor, y->row->ev.actor);
	c = c ? c : strcmp(x->row->ev.action, y->row->ev.action);
	return c ? c : cmp_time(x, y);
}

static int by_action(const void *a, const void *b)
{
	const struct slot *x = a, *y = b;
	int c = strcmp(x->row->ev.action, y->row->ev.action);
	return c ? c : cmp_time(x, y);
}

static int by_patient(const void *a, const void *b)
{
	const struct slot *x = a, *y = b;
	int c = strcmp(x->row->ev.patient_id, y->row->ev.patient_id);
	return c ? c : cmp_time(x, y);
}

/* What a report works on: the selected rows as slots, and their flags. */
struct report {
	struct slot *s;
	size_t m;
	const unsigned *flags;
	unsigned *own_flags;
	enum kura_audit_fmt fmt;
	int ja;
};

static void report_release(struct report *rp)
{
	free(rp->s);
	free(rp->own_flags);
}

/* Select rows whose field (patient_id or actor, by offset) equals key. */
static int report_init(struct report *rp, const struct kura_event_row *rows, size_t n,
		       size_t field, const char *key, const unsigned *flags)
{
	memset(rp, 0, sizeof(*rp));
	rp->flags = flags;
	if (!key || (rp->s = calloc(n ? n : 1, sizeof(*rp->s))) == NULL)
		return key ? KURA_ENOMEM : KURA_EINVAL;
	for (size_t i = 0; i < n; i++)
		if (strcmp((const char *)&rows[i].ev + field, key) == 0)
			rp->s[rp->m++] = (struct slot){&rows[i], i};
	if (flags)
		return 0;
	struct kura_anomaly_config c;
	kura_anomaly_config_default(&c);
	if ((rp->own_flags = calloc(n ? n : 1, sizeof(unsigned))) == NULL)
		return KURA_ENOMEM;
	rp->flags = rp->own_flags;
	return kura_anomaly_flags(&c, rows, n, NULL, NULL, rp->own_flags);
}

static unsigned slot_flags(const struct report *rp, size_t k)
{
	return rp->flags[rp->s[k].i];
}

static int put_action_name(struct kura_buf *b, const char *name, enum kura_audit_fmt fmt)
{
	if (fmt == KURA_AUDIT_JSON)
		return put_json(b, name);
	return fmt == KURA_AUDIT_CSV ? kura_buf_append_str(b, name) : put_text(b, name);
}

/* "read 2, write 1" (text), {"read":2} (JSON), or "read=2;write=1" unescaped
 * (CSV: the caller passes it through put_csv()) over slots [a, b) sorted by
 * action. */
static int put_action_counts(struct kura_buf *b, const struct slot *s, size_t a, size_t bnd,
			     enum kura_audit_fmt fmt)
{
	static const char *const sep[] = {", ", ",", ";"}, *const count[] = {" %zu", ":%zu", "=%zu"};
	int r = fmt == KURA_AUDIT_JSON ? kura_buf_append_byte(b, '{') : 0;
	for (size_t i = a, j; i < bnd && r == 0; i = j) {
		for (j = i + 1; j < bnd && strcmp(s[i].row->ev.action, s[j].row->ev.action) == 0; j++)
			;
		r = i == a ? 0 : kura_buf_append_str(b, sep[fmt]);
		r = r ? r : put_action_name(b, s[i].row->ev.action, fmt);
		r = r ? r : kura_buf_printf(b, count[fmt], j - i);
	}
	return r == 0 && fmt == KURA_AUDIT_JSON ? kura_buf_append_byte(b, '}') : r;
}

/* The events part of a report, in time order (re-sorts rp->s). */
static int report_events(struct report *rp, struct kura_buf *b)
{
	struct view v = {NULL, rp->s, rp->m, rp->flags};
	qsort(rp->s, rp->m, sizeof(*rp->s), by_time);
	int r = rp->fmt == KURA_AUDIT_JSON ? kura_buf_append_str(b, ",\"events\":")
		: rp->fmt == KURA_AUDIT_CSV ? kura_buf_append_str(b, "\r\n")
					    : kura_buf_append_byte(b, '\n');
	r = r ? r : format_view(rp->fmt, &v, rp->ja, b);
	return r ? r : kura_buf_append_str(b, rp->fmt == KURA_AUDIT_JSON ? "}\n" : "");
}

static int put_cell_or_json(struct kura_buf *b, enum kura_audit_fmt fmt, const char *s)
{
	return fmt == KURA_AUDIT_JSON ? put_json(b, s) : fmt == KURA_AUDIT_CSV ? put_csv(b, s)
										: put_text(b, s);
}

/* ---- the patient report ------------------------------------------------- */

struct actor_sum {
	size_t a, b; /* slots of one actor, sorted by action then time */
	size_t last; /* slot of the latest event */
	int64_t first_us;
	int breakglass;
	const char *reasons[MAX_REASONS];
	size_t n_reasons;
};

static void actor_sum(const struct report *rp, size_t a, size_t b, struct actor_sum *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->a = a;
	ret->b = b;
	ret->last = a;
	ret->first_us = rp->s[a].row->ev.time_us;
	for (size_t k = a; k < b; k++) {
		const struct kura_event *e = &rp->s[k].row->ev;
		if (e->time_us < ret->first_us)
			ret->first_us = e->time_us;
		if (cmp_time(&rp->s[k], &rp->s[ret->last]) > 0)
			ret->last = k;
		ret->breakglass |= (slot_flags(rp, k) & KURA_FLAG_BREAKGLASS) != 0;
		size_t j = 0;
		while (j < ret->n_reasons && strcmp(ret->reasons[j], e->reason) != 0)
			j++;
		if (e->reason[0] && j == ret->n_reasons && j < MAX_REASONS)
			ret->reasons[ret->n_reasons++] = e->reason;
	}
}

static int put_reasons(struct kura_buf *b, const struct actor_sum *as, enum kura_audit_fmt fmt)
{
	struct kura_buf t;
	int r = 0;
	if (fmt == KURA_AUDIT_JSON) {
		r = kura_buf_append_byte(b, '[');
		for (size_t i = 0; i < as->n_reasons && r == 0; i++)
			r = (i ? kura_buf_append_byte(b, ',') : 0) || put_json(b, as->reasons[i])
				    ? KURA_ETOOBIG : 0;
		return r ? r : kura_buf_append_byte(b, ']');
	}
	kura_buf_init(&t, b->max);
	for (size_t i = 0; i < as->n_reasons && r == 0; i++)
		r = (i ? kura_buf_append_str(&t, " / ") : 0) || kura_buf_append_str(&t, as->reasons[i])
			    ? KURA_ETOOBIG : 0;
	if (r == 0)
		r = put_cell_or_json(b, fmt, t.data ? (char *)t.data : "");
	kura_buf_release(&t);
	return r;
}

/* "; reasons: ...; BREAK-GLASS\n" */
static int patient_actor_tail(struct kura_buf *b, const struct actor_sum *as, int ja)
{
	int r = 0;
	if (as->n_reasons) {
		r = kura_buf_append_str(b, ja ? "；理由: " : "; reasons: ");
		r = r ? r : put_reasons(b, as, KURA_AUDIT_TEXT);
	}
	if (r == 0 && as->breakglass)
		r = kura_buf_append_str(b, ja ? "；緊急アクセスあり" : "; BREAK-GLASS");
	return r ? r : kura_buf_append_byte(b, '\n');
}

static int patient_actor_text(struct kura_buf *b, const struct report *rp,
			      const struct actor_sum *as)
{
	const struct kura_event *last = &rp->s[as->last].row->ev;
	char t1[TSTR], t2[TSTR];
	fmt_time(as->first_us, last->utc_offset_min, 0, 0, t1);
	fmt_time(last->time_us, last->utc_offset_min, 0, 0, t2);
	int r = kura_buf_append_str(b, "  ");
	r = r ? r : text_actor(b, last, rp->ja);
	r = r ? r : kura_buf_printf(b, rp->ja ? "：%zu 件、最初 %s、最後 %s；"
					      : ": %zu events, first %s, last %s; ",
				    as->b - as->a, t1, t2);
	r = r ? r : put_action_counts(b, rp->s, as->a, as->b, KURA_AUDIT_TEXT);
	return r ? r : patient_actor_tail(b, as, rp->ja);
}

static int patient_actor_json(struct kura_buf *b, const struct report *rp,
			      const struct actor_sum *as, int first)
{
	const struct kura_event *last = &rp->s[as->last].row->ev;
	char t1[TSTR], t2[TSTR];
	fmt_time(as->first_us, 0, 1, 1, t1);
	fmt_time(last->time_us, 0, 1, 1, t2);
	int r = kura_buf_append_str(b, first ? "\n{\"actor\":" : ",\n{\"actor\":");
	r = r ? r : put_json(b, last->actor);
	r = r ? r : json_field(b, "role", last->role);
	r = r ? r : kura_buf_printf(b, ",\"first_utc\":\"%s\",\"last_utc\":\"%s\",\"count\":%zu,"
				    "\"actions\":", t1, t2, as->b - as->a);
	r = r ? r : put_action_counts(b, rp->s, as->a, as->b, KURA_AUDIT_JSON);
	r = r ? r : kura_buf_append_str(b, ",\"reasons\":");
	r = r ? r : put_reasons(b, as, KURA_AUDIT_JSON);
	r = r ? r : kura_buf_printf(b, ",\"breakglass\":%s}", as->breakglass ? "true" : "false");
	return r;
}

static int patient_actor_csv(struct kura_buf *b, const struct report *rp,
			     const struct actor_sum *as)
{
	const struct kura_event *last = &rp->s[as->last].row->ev;
	char t1[TSTR], t2[TSTR];
	struct kura_buf acts;
	fmt_time(as->first_us, 0, 1, 1, t1);
	fmt_time(last->time_us, 0, 1, 1, t2);
	kura_buf_init(&acts, b->max);
	int r = put_action_counts(&acts, rp->s, as->a, as->b, KURA_AUDIT_CSV);
	const char *cells[] = {last->actor, last->role, t1, t2};
	r = r ? r : csv_cells(b, cells, 4);
	r = r ? r : kura_buf_printf(b, ",%zu,", as->b - as->a);
	r = r ? r : put_csv(b, acts.data ? (char *)acts.data : "");
	r = r ? r : kura_buf_append_byte(b, ',');
	r = r ? r : put_reasons(b, as, KURA_AUDIT_CSV);
	r = r ? r : kura_buf_printf(b, ",%s\r\n", as->breakglass ? "yes" : "no");
	kura_buf_release(&acts);
	return r;
}

static int patient_head(struct kura_buf *b, const struct report *rp, const char *pid,
			size_t n_actors)
{
	int r;
	if (rp->fmt == KURA_AUDIT_JSON) {
		r = kura_buf_append_str(b, "{\"patient_id\":");
		r = r ? r : put_json(b, pid);
		return r ? r : kura_buf_append_str(b, ",\"actors\":[");
	}
	if (rp->fmt == KURA_AUDIT_CSV)
		return kura_buf_append_str(b, "actor,role,first_utc,last_utc,count,actions,"
					      "reasons,breakglass\r\n");
	r = kura_buf_append_str(b, rp->ja ? "患者 '" : "Accesses to patient '");
	r = r ? r : put_text(b, pid);
	return r ? r : kura_buf_printf(b, rp->ja ? "' へのアクセス：%zu 件、%zu 名\n"
						 : "': %zu events by %zu users\n",
				       rp->m, n_actors);
}

static size_t count_actors(const struct report *rp)
{
	size_t n = 0;
	for (size_t k = 0; k < rp->m; k++)
		n += k == 0 || strcmp(rp->s[k].row->ev.actor, rp->s[k - 1].row->ev.actor) != 0;
	return n;
}

static int patient_body(struct report *rp, const char *pid, struct kura_buf *b)
{
	struct actor_sum as;
	qsort(rp->s, rp->m, sizeof(*rp->s), by_actor_action);
	int r = patient_head(b, rp, pid, count_actors(rp));
	for (size_t a = 0, e; a < rp->m && r == 0; a = e) {
		for (e = a + 1; e < rp->m && strcmp(rp->s[a].row->ev.actor,
						     rp->s[e].row->ev.actor) == 0; e++)
			;
		actor_sum(rp, a, e, &as);
		r = rp->fmt == KURA_AUDIT_JSON ? patient_actor_json(b, rp, &as, a == 0)
		    : rp->fmt == KURA_AUDIT_CSV ? patient_actor_csv(b, rp, &as)
						 : patient_actor_text(b, rp, &as);
	}
	if (r == 0 && rp->fmt == KURA_AUDIT_JSON)
		r = kura_buf_append_str(b, rp->m ? "\n]" : "]");
	return r ? r : report_events(rp, b);
}

int kura_audit_report_patient(const char *patient_id, const struct kura_event_row *rows,
			      size_t n, const unsigned *flags, enum kura_audit_fmt fmt,
			      int japanese, struct kura_buf *out)
{
	struct report rp;
	int r = report_init(&rp, rows, n, offsetof(struct kura_event, patient_id), patient_id,
			    flags);
	rp.fmt = fmt;
	rp.ja = japanese;
	if (r == 0 && fmt != KURA_AUDIT_TEXT && fmt != KURA_AUDIT_JSON && fmt != KURA_AUDIT_CSV)
		r = KURA_EINVAL;
	if (r == 0)
		r = patient_body(&rp, patient_id, out);
	report_release(&rp);
	return r;
}

/* ---- the user report ---------------------------------------------------- */

struct user_sum {
	size_t n_patients, denied, offhours, breakglass;
};

static void user_sum(const struct report *rp, struct user_sum *ret)
{
	memset(ret, 0, sizeof(*ret));
	for (size_t k = 0; k < rp->m; k++) {
		const struct kura_event *e = &rp->s[k].row->ev;
		ret->n_patients += e->patient_id[0] &&
				   (k == 0 || strcmp(e->patient_id, rp->s[k - 1].row->ev.patient_id));
		ret->denied += e->outcome == KURA_OUTCOME_MINOR;
		ret->offhours += (slot_flags(rp, k) & KURA_FLAG_OFFHOURS) != 0;
		ret->breakglass += (slot_flags(rp, k) & KURA_FLAG_BREAKGLASS) != 0;
	}
}

/* Distinct patient ids, slots sorted by patient; sep between them.  CSV:
 * unescaped, the caller passes it through put_csv(). */
static int put_patients(struct kura_buf *b, const struct report *rp, enum kura_audit_fmt fmt,
			const char *sep)
{
	int r = 0, first = 1;
	for (size_t k = 0; k < rp->m && r == 0; k++) {
		const char *p = rp->s[k].row->ev.patient_id;
		if (!p[0] || (k && strcmp(p, rp->s[k - 1].row->ev.patient_id) == 0))
			continue;
		r = first ? 0 : kura_buf_append_str(b, sep);
		r = r ? r : fmt == KURA_AUDIT_JSON ? put_json(b, p)
			  : fmt == KURA_AUDIT_CSV  ? kura_buf_append_str(b, p)
						   : put_text(b, p);
		first = 0;
	}
	return r;
}

static int user_text(struct kura_buf *b, const struct report *rp, const char *actor,
		     const struct user_sum *us)
{
	int r = kura_buf_append_str(b, rp->ja ? "利用者 '" : "User '");
	r = r ? r : put_text(b, actor);
	r = r ? r : kura_buf_printf(b, rp->ja ? "'：%zu 件\n  患者: %zu 名: " :
					      "': %zu events\n  patients: %zu: ", rp->m,
				    us->n_patients);
	r = r ? r : put_patients(b, rp, KURA_AUDIT_TEXT, ", ");
	r = r ? r : kura_buf_printf(b, rp->ja ? "\n  拒否された操作: %zu\n  時間外: %zu\n"
						"  緊急アクセス: %zu\n  操作: "
					      : "\n  denied attempts: %zu\n  off-hours: %zu\n"
						"  break-glass: %zu\n  actions: ",
				    us->denied, us->offhours, us->breakglass);
	return r;
}

static int user_json(struct kura_buf *b, const struct report *rp, const char *actor,
		     const struct user_sum *us)
{
	int r = kura_buf_append_str(b, "{\"actor\":");
	r = r ? r : put_json(b, actor);
	r = r ? r : kura_buf_printf(b, ",\"count\":%zu,\"patients_count\":%zu,\"patients\":[",
				    rp->m, us->n_patients);
	r = r ? r : put_patients(b, rp, KURA_AUDIT_JSON, ",");
	r = r ? r : kura_buf_printf(b, "],\"denied\":%zu,\"off_hours\":%zu,\"breakglass\":%zu,"
				    "\"actions\":", us->denied, us->offhours, us->breakglass);
	return r;
}

/* The patients (1) or the action counts (0) of rp as one CSV cell. */
static int csv_list(struct kura_buf *b, const struct report *rp, int patients)
{
	struct kura_buf t;
	kura_buf_init(&t, b->max);
	int r = patients ? put_patients(&t, rp, KURA_AUDIT_CSV, ";")
			 : put_action_counts(&t, rp->s, 0, rp->m, KURA_AUDIT_CSV);
	r = r ? r : put_csv(b, t.data ? (char *)t.data : "");
	kura_buf_release(&t);
	return r;
}

static int user_csv(struct kura_buf *b, const struct report *rp, const char *actor,
		    const struct user_sum *us)
{
	int r = kura_buf_append_str(b, "key,value\r\nactor,");
	r = r ? r : put_csv(b, actor);
	r = r ? r : kura_buf_printf(b, "\r\nevents,%zu\r\npatients_count,%zu\r\npatients,",
				    rp->m, us->n_patients);
	r = r ? r : csv_list(b, rp, 1);
	r = r ? r : kura_buf_printf(b, "\r\ndenied,%zu\r\noff_hours,%zu\r\nbreakglass,%zu\r\n"
				    "actions,", us->denied, us->offhours, us->breakglass);
	return r;
}

static int user_body(struct report *rp, const char *actor, struct kura_buf *b)
{
	struct user_sum us;
	int r;
	qsort(rp->s, rp->m, sizeof(*rp->s), by_patient);
	user_sum(rp, &us);
	r = rp->fmt == KURA_AUDIT_JSON ? user_json(b, rp, actor, &us)
	    : rp->fmt == KURA_AUDIT_CSV ? user_csv(b, rp, actor, &us)
					 : user_text(b, rp, actor, &us);
	qsort(rp->s, rp->m, sizeof(*rp->s), by_action);
	if (rp->fmt == KURA_AUDIT_CSV)
		r = r ? r : csv_list(b, rp, 0);
	else
		r = r ? r : put_action_counts(b, rp->s, 0, rp->m, rp->fmt);
	if (r == 0 && rp->fmt != KURA_AUDIT_JSON)
		r = kura_buf_append_str(b, rp->fmt == KURA_AUDIT_CSV ? "\r\n" : "\n");
	return r ? r : report_events(rp, b);
}

int kura_audit_report_user(const char *actor, const struct kura_event_row *rows, size_t n,
			   const unsigned *flags, enum kura_audit_fmt fmt, int japanese,
			   struct kura_buf *out)
{
	struct report rp;
	int r = report_init(&rp, rows, n, offsetof(struct kura_event, actor), actor, flags);
	rp.fmt = fmt;
	rp.ja = japanese;
	if (r == 0 && fmt != KURA_AUDIT_TEXT && fmt != KURA_AUDIT_JSON && fmt != KURA_AUDIT_CSV)
		r = KURA_EINVAL;
	if (r == 0)
		r = user_body(&rp, actor, out);
	report_release(&rp);
	return r;
}
