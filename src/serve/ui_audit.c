/*
 * ui_audit.c - the auditor's part of the web UI's API (docs/formats/
 * ui-api.md §3; LG-01, LG-05, BG-02): GET /api/audit/events searches the
 * trail with the anomaly flags `kura audit search` shows, POST
 * /api/audit/review records a review as `kura audit review` does.  Both
 * need the audit permission (a refusal is 403 and recorded); a search is
 * recorded (audit-search) before anything is shown.  The reading and the
 * review are the audit library's (audit/trail.h), shared with the CLI.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "audit/trail.h"
#include "serve/ui_int.h"
#include "util/err.h"
#include "util/time.h"
#include "util/utf8.h"
#include "util/banned.h"

/* ---- what the two files share (ui_int.h) ---- */

static const char *outcome_name(int o)
{
	static const char *const n[] = {"success", "denied", "failed", "integrity"};
	return o >= 0 && o <= 12 && o % 4 == 0 ? n[o / 4] : "unknown";
}

static const char *severity_name(int s)
{
	return s == KURA_SEV_ALERT ? "alert" : s == KURA_SEV_WARNING ? "warning"
	       : s == KURA_SEV_NOTICE ? "notice" : s == KURA_SEV_INFO ? "info" : "unknown";
}

static json_t *flags_json(unsigned flags)
{
	json_t *a = json_array();
	for (unsigned bit = 1; a && bit <= KURA_FLAG_ALL; bit <<= 1)
		if ((flags & bit) && json_array_append_new(a, json_string(kura_flag_name(bit))))
			return json_decref(a), NULL;
	return a;
}

/* "" as null: the UI tells "none" from an empty text this way. */
static json_t *text_or_null(const char *s)
{
	return *s ? json_string(s) : json_null();
}

json_t *ui_event_json(const struct kura_event_row *row, unsigned flags)
{
	const struct kura_event *e = &row->ev;
	char t[KURA_TIME_STR];
	kura_time_format(e->time_us, t);
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o*, s:o, s:o, s:o, "
			 "s:o, s:o, s:o*}",
			 "leaf_index", (json_int_t)row->leaf_index, "time", t, "action", e->action,
			 "outcome", outcome_name(e->outcome), "severity", severity_name(e->severity),
			 "actor", text_or_null(e->actor), "role", text_or_null(e->role), "patient",
			 text_or_null(e->patient_id), "record", text_or_null(e->record_id),
			 "version", e->version ? json_integer(e->version) : json_null(), "client_ip",
			 text_or_null(e->client_ip), "terminal", text_or_null(e->terminal), "query",
			 text_or_null(e->query), "reason", text_or_null(e->reason), "detail",
			 text_or_null(e->detail), "flags", flags_json(flags));
}

int ui_reply_bad(struct kura_http_resp *resp, int status, const char *en, const char *ja)
{
	return api_reply_json(resp, status, json_pack("{s:s, s:s}", "error", en, "error_ja", ja));
}

int ui_reply_refused(const struct kura_http_auth *au, struct kura_http_resp *resp, int r)
{
	if (r != KURA_EDENIED)
		return r;
	return api_reply_json(resp, 403, json_pack("{s:s, s:s, s:s, s:b}", "error",
			      "access denied (recorded in the audit trail)", "error_ja",
			      "アクセスが拒否されました（監査証跡に記録されました）", "reason",
			      au->a.why ? au->a.why : "not permitted", "breakglass", 0));
}

/* ---- GET /api/audit/events ---- */

enum { P_PATIENT, P_USER, P_ACTION, P_FROM, P_TO, P_FLAGGED, P_LIMIT, P_OFFSET, P_COUNT };

struct search {
	struct kura_buf text; /* the query in kura audit search's language */
	int flagged;
	unsigned limit, offset;
};

static int number(const char *s, unsigned lo, unsigned hi, unsigned *ret)
{
	char *end;
	if (*s < '0' || *s > '9' || strlen(s) > 9)
		return KURA_EINVAL;
	unsigned long x = strtoul(s, &end, 10);
	if (*end || x < lo || x > hi)
		return KURA_EINVAL;
	*ret = (unsigned)x;
	return 0;
}

/* One parameter into s; a value becomes one term of the query text, so it
 * may hold no space (the parser then checks it as the CLI's would). */
static int one_param(struct search *s, int k, const char *v)
{
	static const char *const key[] = {"patient", "user", "action", "from", "to"};
	if (k == P_FLAGGED) {
		if (strcmp(v, "1") && strcmp(v, "0"))
			return KURA_EINVAL;
		s->flagged = v[0] == '1';
		return 0;
	}
	if (k == P_LIMIT)
		return number(v, 1, KURA_UI_AUDIT_MAX_LIMIT, &s->limit);
	if (k == P_OFFSET)
		return number(v, 0, KURA_UI_AUDIT_MAX_OFFSET, &s->offset);
	if (!*v || strchr(v, ' '))
		return KURA_EINVAL;
	return kura_buf_printf(&s->text, "%s%s=%s", s->text.len ? " " : "", key[k], v);
}

/* Parse the query string: 0, or KURA_EINVAL (unknown, repeated or bad). */
static int parse_search(const char *query, struct search *s)
{
	static const char *const names[P_COUNT] = {"patient", "user", "action", "from",
						   "to", "flagged", "limit", "offset"};
	char name[KURA_HTTP_QUERY_MAX_NAME], value[KURA_HTTP_QUERY_MAX_VALUE];
	struct kura_http_query_iter it;
	unsigned seen = 0;
	int r;
	kura_http_query_init(&it, query);
	while ((r = kura_http_query_next(&it, name, sizeof(name), value, sizeof(value))) == 1) {
		int k = 0;
		while (k < P_COUNT && strcmp(name, names[k]) != 0)
			k++;
		if (k == P_COUNT || (seen & (1u << k)))
			return KURA_EINVAL;
		seen |= 1u << k;
		if ((r = one_param(s, k, value)))
			return KURA_EINVAL;
	}
	return r ? KURA_EINVAL : 0;
}

static int record_search(struct kura_http_auth *au, const char *query, size_t n)
{
	struct kura_event ev;
	char detail[64], text[KURA_MAX_QUERY + 1];
	kura_audit_event(&ev, &au->id.actor, "audit-search");
	snprintf(text, sizeof(text), "ui events%s%s", query && *query ? "?" : "", query ? query : "");
	KURA_AUDIT_SET(ev.query, text); /* cut at a character, controls replaced */
	snprintf(detail, sizeof(detail), "%zu events", n);
	KURA_AUDIT_SET(ev.detail, detail);
	return kura_access_record(&au->a, &ev);
}

/* The page [offset, offset + limit) of the n selected rows, newest first. */
static json_t *page_json(const struct kura_audit_rows *all, const unsigned *flags,
			 const struct search *s)
{
	json_t *a = json_array();
	for (size_t k = s->offset; a && k < all->n && k < (size_t)s->offset + s->limit; k++) {
		size_t i = all->n - 1 - k;
		if (json_array_append_new(a, ui_event_json(&all->v[i], flags[i])))
			return json_decref(a), NULL;
	}
	return a ? json_pack("{s:o, s:I}", "events", a, "total", (json_int_t)all->n) : NULL;
}

static int search_bad(struct kura_http_resp *resp, const char *why)
{
	char en[320];
	snprintf(en, sizeof(en), "bad search: %s (parameters: patient, user, action, from, to, "
		 "flagged=1, limit=1..%u, offset)", why, KURA_UI_AUDIT_MAX_LIMIT);
	return ui_reply_bad(resp, 400, en, "検索条件が正しくありません");
}

static int events(const struct kura_http_req *req, struct kura_http_auth *au,
		  struct kura_http_resp *resp)
{
	struct search s = {.limit = KURA_UI_AUDIT_DEFAULT_LIMIT};
	struct kura_audit_query q;
	struct kura_event_filter f;
	struct kura_audit_rows all = {0};
	unsigned *flags = NULL;
	memset(&q, 0, sizeof(q));
	kura_buf_init(&s.text, KURA_MAX_AUDIT_QUERY + 1);
	int r = parse_search(req->query, &s);
	int64_t now = kura_time_now_us();
	if (!r)
		r = kura_audit_query_parse_at(s.text.data ? (char *)s.text.data : "",
					      kura_audit_utc_offset(now), now, &q);
	kura_buf_release(&s.text);
	if (r)
		return search_bad(resp, r == KURA_EINVAL && q.errmsg[0] ? q.errmsg
				  : "unknown, repeated or malformed parameter");
	if (s.flagged)
		q.flags = KURA_FLAG_ALL;
	kura_audit_query_filter(&q, &f);
	r = kura_audit_collect(au->a.v, f.from_us, f.to_us, KURA_UI_AUDIT_MAX_PERIOD, &all,
			       &flags);
	if (!r)
		kura_audit_select(&q, s.flagged, &all, flags);
	if (!r)
		r = record_search(au, req->query, all.n);
	if (!r)
		r = api_reply_json(resp, 200, page_json(&all, flags, &s));
	else if (r == KURA_ETOOBIG)
		r = ui_reply_bad(resp, 400, "the period holds too many events: narrow it with from and to",
				 "期間内のイベントが多すぎます。from と to で期間を狭めてください");
	free(flags);
	kura_audit_rows_free(&all);
	return r;
}

/* ---- POST /api/audit/review ---- */

static int is_json(const char *ct)
{
	static const char t[] = "application/json";
	return ct && strncasecmp(ct, t, sizeof(t) - 1) == 0 &&
	       (ct[sizeof(t) - 1] == 0 || ct[sizeof(t) - 1] == ';' || ct[sizeof(t) - 1] == ' ');
}

struct review_req {
	int64_t from, to;
	const char *note;
};

/* The body {"from", "to", "note"?}: 0, or the status to answer (msg set). */
static int parse_review(const struct kura_http_req *req, json_t **j, struct review_req *rv,
			const char **msg)
{
	const char *from, *to;
	json_error_t err;
	int64_t now = kura_time_now_us();
	int off = kura_audit_utc_offset(now);
	*msg = "body must be JSON {\"from\", \"to\", \"note\"?}";
	if (!is_json(kura_http_header(req, "Content-Type")))
		return *msg = "Content-Type must be application/json", 415;
	if (req->body_len > KURA_UI_MAX_REVIEW_BODY)
		return *msg = "review body too large", 413;
	*j = json_loadb(req->body_len ? (const char *)req->body : "", req->body_len,
			JSON_REJECT_DUPLICATES, &err);
	if (!*j || json_unpack_ex(*j, &err, JSON_STRICT, "{s:s, s:s, s?s}", "from", &from, "to",
				  &to, "note", &rv->note))
		return 400;
	if (kura_time_parse_at(from, off, 0, now, &rv->from) ||
	    kura_time_parse_at(to, off, 1, now, &rv->to))
		return *msg = "bad from or to: use e.g. 2026-12-01, 2026-12-01T09:00, -7d or now", 400;
	if (rv->from >= rv->to)
		return *msg = "from must be before to", 400;
	if (rv->note && (strlen(rv->note) > KURA_MAX_REASON || !kura_utf8_text_valid(rv->note)))
		return *msg = "note must be text of at most 500 bytes", 400;
	return 0;
}

static int review(const struct kura_http_req *req, struct kura_http_auth *au,
		  struct kura_http_resp *resp)
{
	struct review_req rv = {0};
	struct kura_audit_review_result res;
	const char *msg;
	json_t *j = NULL;
	int status = parse_review(req, &j, &rv, &msg);
	if (status) {
		json_decref(j);
		return ui_reply_bad(resp, status, msg, "レビュー期間の指定が正しくありません");
	}
	int r = kura_audit_review(au->a.v, &au->id.actor, rv.from, rv.to, rv.note, &res);
	json_decref(j);
	if (r)
		return r;
	return api_reply_json(resp, 200, json_pack("{s:I, s:I, s:I, s:I}", "reviewed",
			      (json_int_t)res.events, "breakglass", (json_int_t)res.breakglass,
			      "leaf_index", (json_int_t)res.leaf_index, "tree_size",
			      (json_int_t)res.sth.tree_size));
}

int kura_api_audit(const struct kura_http_req *req, struct kura_http_resp *resp)
{
	struct kura_http_auth au;
	const char *p = req->path ? req->path : "";
	int is_review = strcmp(p, "/api/audit/review") == 0;
	if (!is_review && strcmp(p, "/api/audit/events") != 0)
		return api_reply_error(resp, 0, NULL, 404, "no such audit resource");
	int r = is_review ? api_only(req, resp, KURA_HTTP_POST, "POST")
			  : api_only(req, resp, KURA_HTTP_GET, "GET, HEAD");
	if (r)
		return r < 0 ? r : 0;
	if ((r = kura_serve_authenticate(req, 0, &au, resp)))
		return api_answered(r);
	r = kura_access_require(&au.a, KURA_ACT_AUDIT, is_review ? "audit-review" : "audit-search");
	if (r)
		return ui_reply_refused(&au, resp, r); /* 403, recorded */
	return is_review ? review(req, &au, resp) : events(req, &au, resp);
}
