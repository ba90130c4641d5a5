/*
 * fhir_search.c - FHIR search (GET /fhir/{type}?...), type and instance
 * history, and the Bundles they answer with.  Correct first: a search
 * lists every record the caller may search (one audit event carrying the
 * query), decrypts those of the type and filters them in memory.
 */
#include <stdlib.h>
#include <string.h>

#include "serve/fhir_int.h"
#include "util/err.h"
#include "util/time.h"
#include "util/banned.h"

enum pkind { P_BAD = 0, P_ID, P_LASTUPD, P_PATIENT, P_IDENT, P_CODE, P_DATE, P_STATUS,
	     P_COUNT, P_OFFSET, P_IGNORE };

struct hits {
	struct kura_leaf *v;
	size_t n, cap;
	const struct kura_fhir_type *t;
	int all_versions; /* type history: every version, retractions too */
	struct kura_vault *vault;
	int r;
};

static int hits_push(struct hits *h, const struct kura_leaf *l)
{
	if (h->n == h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 64;
		struct kura_leaf *p = realloc(h->v, cap * sizeof(*p));
		if (!p)
			return KURA_ENOMEM;
		h->v = p;
		h->cap = cap;
	}
	h->v[h->n++] = *l;
	return 0;
}

/* ---- dates ---- */

static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* n digits at *p as a number, or -1. */
static int digits(const char **p, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return -1;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return v;
}

/* "Z" or "+hh:mm"/"-hh:mm" (none: UTC) as seconds east; KURA_EINVAL. */
static int zone(const char **p, int64_t *ret)
{
	int sign = **p == '-' ? -1 : 1;
	*ret = 0;
	if (**p == 'Z' || **p == 0) {
		*p += **p == 'Z';
		return 0;
	}
	if (**p != '+' && **p != '-')
		return KURA_EINVAL;
	++*p;
	int h = digits(p, 2);
	if (h < 0 || *(*p)++ != ':')
		return KURA_EINVAL;
	int m = digits(p, 2);
	if (m < 0)
		return KURA_EINVAL;
	*ret = sign * (h * 3600 + m * 60);
	return 0;
}

static int time_part(const char **p, int64_t *secs, int64_t *us)
{
	int h = digits(p, 2), mi = -1, s = 0;
	if (h < 0 || *(*p)++ != ':' || (mi = digits(p, 2)) < 0)
		return KURA_EINVAL;
	if (**p == ':' && (++*p, (s = digits(p, 2)) < 0))
		return KURA_EINVAL;
	*us = 0;
	if (**p == '.') {
		int64_t scale = 100000;
		for (++*p; **p >= '0' && **p <= '9'; ++*p, scale /= 10)
			*us += (**p - '0') * scale;
	}
	if (h > 24 || mi > 59 || s > 60)
		return KURA_EINVAL;
	*secs = h * 3600 + mi * 60 + s;
	return 0;
}

/* YYYY[-MM[-DD]] at *p; *span 0 year, 1 month, 2 day. */
static int civil(const char **p, int *y, int *m, int *d, int *span)
{
	*m = *d = 1;
	*span = 0;
	if ((*y = digits(p, 4)) < 0)
		return KURA_EINVAL;
	if (**p != '-')
		return 0;
	++*p;
	if ((*m = digits(p, 2)) < 1 || *m > 12)
		return KURA_EINVAL;
	*span = 1;
	if (**p != '-')
		return 0;
	++*p;
	if ((*d = digits(p, 2)) < 1 || *d > 31)
		return KURA_EINVAL;
	*span = 2;
	return 0;
}

int kura_fhir_date_range(const char *s, int64_t *lo, int64_t *hi)
{
	const char *p = s;
	int y, m, d, span;
	int64_t secs = 0, us = 0, off = 0;
	if (civil(&p, &y, &m, &d, &span))
		return KURA_EINVAL;
	if (span == 2 && *p == 'T') {
		++p;
		if (time_part(&p, &secs, &us) || zone(&p, &off))
			return KURA_EINVAL;
		span = 3;
	}
	if (*p)
		return KURA_EINVAL;
	int64_t day = days_from_civil(y, m, d), M = INT64_C(1000000);
	*lo = (day * 86400 + secs - off) * M + us;
	if (span == 3)
		*hi = *lo + (us ? 1 : M);
	else if (span == 2)
		*hi = *lo + 86400 * M;
	else if (span == 1)
		*hi = days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) * 86400 * M;
	else
		*hi = days_from_civil(y + 1, 1, 1) * 86400 * M;
	return 0;
}

/* ---- one parameter against one resource ---- */

static const struct {
	const char *name;
	enum pkind kind;
} common[] = {
	{"_id", P_ID}, {"_lastUpdated", P_LASTUPD}, {"_count", P_COUNT}, {"_offset", P_OFFSET},
	{"_format", P_IGNORE}, {"_pretty", P_IGNORE},
};

static int is_patient_param(const struct kura_fhir_type *t, const char *name)
{
	int subj = t->patient_ref && strcmp(t->patient_ref, "subject") == 0;
	int pat = t->patient_ref && strcmp(t->patient_ref, "patient") == 0;
	return (strcmp(name, "patient") == 0 && (subj || pat)) ||
	       (strcmp(name, "subject") == 0 && subj);
}

static enum pkind kind_of(const struct kura_fhir_type *t, const char *name)
{
	for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
		if (strcmp(name, common[i].name) == 0)
			return common[i].kind;
	if (is_patient_param(t, name))
		return P_PATIENT;
	if (strcmp(name, "identifier") == 0 && strcmp(t->name, "Binary") != 0)
		return P_IDENT;
	if (strcmp(name, "code") == 0 && t->code)
		return P_CODE;
	if (strcmp(name, "date") == 0 && t->dates)
		return P_DATE;
	if (strcmp(name, "status") == 0 && t->has_status)
		return P_STATUS;
	return P_BAD;
}

enum cmp { C_EQ, C_NE, C_GT, C_LT, C_GE, C_LE };

static enum cmp prefix(const char **v)
{
	static const char *const names[] = {"eq", "ne", "gt", "lt", "ge", "le"};
	for (int i = 0; i < 6; i++)
		if (strncmp(*v, names[i], 2) == 0) {
			*v += 2;
			return (enum cmp)i;
		}
	return C_EQ;
}

static int date_cmp(const char *v, int64_t rlo, int64_t rhi)
{
	int64_t lo, hi;
	enum cmp c = prefix(&v);
	if (kura_fhir_date_range(v, &lo, &hi))
		return KURA_EINVAL;
	switch (c) {
	case C_EQ: return rlo >= lo && rhi <= hi;
	case C_NE: return !(rlo >= lo && rhi <= hi);
	case C_GT: return rhi > hi;
	case C_LT: return rlo < lo;
	case C_GE: return rhi > lo;
	default: return rlo < hi;
	}
}

/* The interval of a date, dateTime, instant or Period value. */
static int value_range(const json_t *v, int64_t *lo, int64_t *hi)
{
	int64_t a, b;
	if (json_is_string(v))
		return kura_fhir_date_range(json_string_value(v), lo, hi);
	const char *s = json_string_value(json_object_get(v, "start"));
	const char *e = json_string_value(json_object_get(v, "end"));
	if (!s && !e)
		return KURA_EINVAL;
	*lo = INT64_MIN;
	*hi = INT64_MAX;
	if (s && kura_fhir_date_range(s, lo, &b))
		return KURA_EINVAL;
	if (e && kura_fhir_date_range(e, &a, hi))
		return KURA_EINVAL;
	return 0;
}

static int match_date(const struct kura_fhir_type *t, const json_t *j, const char *v)
{
	int64_t lo, hi;
	for (size_t i = 0; t->dates[i]; i++) {
		const json_t *d = json_object_get(j, t->dates[i]);
		if (d)
			return value_range(d, &lo, &hi) ? 0 : date_cmp(v, lo, hi);
	}
	return 0;
}

/* "system|code", "|code" (no system), "system|" or "code" against one
 * {system, <field>} object. */
static int token_is(const json_t *o, const char *field, const char *v)
{
	const char *bar = strchr(v, '|');
	const char *sys = json_string_value(json_object_get(o, "system"));
	const char *val = json_string_value(json_object_get(o, field));
	if (!bar)
		return val && strcmp(val, v) == 0;
	size_t sl = (size_t)(bar - v);
	int sys_ok = sl ? sys && strlen(sys) == sl && strncmp(sys, v, sl) == 0 : !sys;
	return sys_ok && (!bar[1] || (val && strcmp(val, bar + 1) == 0));
}

static int any_token(const json_t *list, const char *field, const char *v)
{
	size_t i;
	json_t *e;
	if (json_is_object(list))
		return token_is(list, field, v);
	json_array_foreach(list, i, e)
		if (token_is(e, field, v))
			return 1;
	return 0;
}

static int match_patient(const struct kura_fhir_type *t, const json_t *j, const char *v)
{
	const char *ref = json_string_value(json_object_get(json_object_get(j, t->patient_ref),
							    "reference"));
	if (!ref)
		return 0;
	if (strchr(v, '/'))
		return strcmp(ref, v) == 0;
	return strncmp(ref, "Patient/", 8) == 0 && strcmp(ref + 8, v) == 0;
}

/* One alternative of one parameter: 1 match, 0 not, KURA_EINVAL. */
static int match_one(const struct kura_fhir_type *t, const struct kura_leaf *l, const json_t *j,
		     enum pkind k, const char *v)
{
	const char *s;
	switch (k) {
	case P_ID: return strcmp(l->record_id, v) == 0;
	case P_LASTUPD: return date_cmp(v, l->time_us, l->time_us + 1);
	case P_PATIENT: return match_patient(t, j, v);
	case P_IDENT: return any_token(json_object_get(j, "identifier"), "value", v);
	case P_CODE:
		return any_token(json_object_get(json_object_get(j, t->code), "coding"), "code", v);
	case P_DATE: return match_date(t, j, v);
	case P_STATUS:
		s = json_string_value(json_object_get(j, "status"));
		return s && strcmp(s, v) == 0;
	default: return 1;
	}
}

/* value "a,b,c": any alternative matches. */
static int match_param(const struct kura_fhir_type *t, const struct kura_leaf *l, const json_t *j,
		       enum pkind k, char *value)
{
	int any = 0;
	for (char *p = value, *next; p && !any; p = next) {
		next = strchr(p, ',');
		if (next)
			*next++ = 0;
		int m = match_one(t, l, j, k, p);
		if (m < 0)
			return m;
		any = m;
		if (next)
			next[-1] = ',';
	}
	return any;
}

/* ---- the parameters ---- */

struct page {
	unsigned count, offset;
};

struct qbuf {
	char name[KURA_HTTP_QUERY_MAX_NAME];
	char value[KURA_HTTP_QUERY_MAX_VALUE];
};

static int number(const char *s, unsigned *ret)
{
	char *end;
	if (*s < '0' || *s > '9' || strlen(s) > 9)
		return KURA_EINVAL;
	*ret = (unsigned)strtoul(s, &end, 10);
	return *end ? KURA_EINVAL : 0;
}

static int check_one(const struct kura_fhir_type *t, struct page *pg, struct qbuf *q,
		     int history)
{
	struct kura_leaf l = {0};
	enum pkind k = kind_of(t, q->name);
	if (k == P_BAD || (history && k != P_COUNT && k != P_OFFSET && k != P_IGNORE))
		return KURA_ENOTFOUND;
	if (k == P_COUNT && number(q->value, &pg->count))
		return KURA_EINVAL;
	if (k == P_OFFSET && number(q->value, &pg->offset))
		return KURA_EINVAL;
	if ((k == P_DATE || k == P_LASTUPD) &&
	    match_param(t, &l, json_null(), P_LASTUPD, q->value) < 0)
		return KURA_EINVAL;
	return 0;
}

/* Check every parameter once (names, numbers, dates) and take the page;
 * *ret_bad names the first bad one. */
static int check_params(struct kura_fhir_req *fr, const struct kura_fhir_type *t,
			struct page *pg, struct qbuf *q, int history)
{
	struct kura_http_query_iter it;
	int r;
	pg->count = KURA_FHIR_DEFAULT_COUNT < fr->max_count ? KURA_FHIR_DEFAULT_COUNT : fr->max_count;
	pg->offset = 0;
	kura_http_query_init(&it, fr->http->query);
	while ((r = kura_http_query_next(&it, q->name, sizeof(q->name), q->value,
					 sizeof(q->value))) == 1)
		if ((r = check_one(t, pg, q, history)) != 0)
			return r;
	if (pg->count > fr->max_count)
		pg->count = fr->max_count;
	return r;
}

static int params_answer(struct kura_fhir_req *fr, int r, const struct qbuf *q)
{
	char msg[256];
	if (r == KURA_ENOTFOUND)
		snprintf(msg, sizeof(msg), "unsupported search parameter '%.100s' (see /fhir/metadata)",
			 q->name);
	else
		snprintf(msg, sizeof(msg), "bad value of search parameter '%.100s'", q->name);
	return kura_fhir_outcome(fr->resp, 400, r == KURA_ENOTFOUND ? "not-supported" : "invalid",
				 msg);
}

/* Does the resource match every parameter? */
static int matches(struct kura_fhir_req *fr, const struct kura_fhir_type *t,
		   const struct kura_leaf *l, const json_t *j, struct qbuf *q)
{
	struct kura_http_query_iter it;
	int r, m = 1;
	kura_http_query_init(&it, fr->http->query);
	while (m == 1 && (r = kura_http_query_next(&it, q->name, sizeof(q->name), q->value,
						   sizeof(q->value))) == 1)
		m = match_param(t, l, j, kind_of(t, q->name), q->value);
	return m;
}

/* ---- Bundles ---- */

static int append_url_enc(struct kura_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int r = 0;
	for (; !r && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    strchr("-._~|:,", c))
			r = kura_buf_append_byte(b, c);
		else
			r = kura_buf_printf(b, "%%%c%c", hex[c >> 4], hex[c & 15]);
	}
	return r;
}

/* base + path + "?" + the query without _count/_offset + the page. */
static int page_url(struct kura_fhir_req *fr, const char *path, unsigned count, unsigned offset,
		    struct kura_buf *out)
{
	struct kura_http_query_iter it;
	struct qbuf q;
	int r = kura_buf_printf(out, "%s%s?", fr->base, path);
	kura_http_query_init(&it, fr->http->query);
	while (!r && kura_http_query_next(&it, q.name, sizeof(q.name), q.value, sizeof(q.value)) == 1) {
		if (strcmp(q.name, "_count") == 0 || strcmp(q.name, "_offset") == 0)
			continue;
		r = append_url_enc(out, q.name);
		if (!r)
			r = kura_buf_append_byte(out, '=');
		if (!r)
			r = append_url_enc(out, q.value);
		if (!r)
			r = kura_buf_append_byte(out, '&');
	}
	if (!r)
		r = kura_buf_printf(out, "_count=%u&_offset=%u", count, offset);
	return r ? r : kura_buf_append_byte(out, 0);
}

static int link(struct kura_fhir_req *fr, struct kura_buf *b, const char *rel, const char *path,
		unsigned count, unsigned offset, int first)
{
	struct kura_buf u;
	kura_buf_init(&u, 64 * 1024);
	int r = page_url(fr, path, count, offset, &u);
	if (!r)
		r = kura_buf_printf(b, "%s{\"relation\":\"%s\",\"url\":", first ? "" : ",", rel);
	if (!r)
		r = kura_fhir_append_str(b, (const char *)u.data);
	if (!r)
		r = kura_buf_append_byte(b, '}');
	kura_buf_release(&u);
	return r;
}

static int links(struct kura_fhir_req *fr, struct kura_buf *b, const char *path, size_t total,
		 const struct page *pg)
{
	int r = kura_buf_append_str(b, ",\"link\":[");
	if (!r)
		r = link(fr, b, "self", path, pg->count, pg->offset, 1);
	if (!r && pg->count && (size_t)pg->offset + pg->count < total)
		r = link(fr, b, "next", path, pg->count, pg->offset + pg->count, 0);
	if (!r && pg->offset)
		r = link(fr, b, "previous", path, pg->count,
			 pg->offset > pg->count ? pg->offset - pg->count : 0, 0);
	return r ? r : kura_buf_append_byte(b, ']');
}

int kura_fhir_links(struct kura_fhir_req *fr, struct kura_buf *b, const char *path, size_t total,
		    unsigned count, unsigned offset)
{
	struct page pg = {count, offset};
	return links(fr, b, path, total, &pg);
}

/* request and response of a history entry. */
static int history_parts(struct kura_buf *b, const struct kura_leaf *l)
{
	char when[KURA_TIME_STR];
	int del = l->status == KURA_STATUS_ENTERED_IN_ERROR;
	kura_time_format(l->time_us, when);
	return kura_buf_printf(b,
			       ",\"request\":{\"method\":\"%s\",\"url\":\"%s/%s\"},"
			       "\"response\":{\"status\":\"%s\",\"etag\":\"W/\\\"%u\\\"\","
			       "\"lastModified\":\"%s\"}",
			       del ? "DELETE" : l->version == 1 ? "POST" : "PUT", l->type,
			       l->record_id, del ? "410" : l->version == 1 ? "201" : "200",
			       (unsigned)l->version, when);
}

static int entry(struct kura_fhir_req *fr, struct kura_buf *b, const struct kura_leaf *hit,
		 int history, struct kura_buf *c)
{
	struct kura_leaf l;
	int r = kura_buf_printf(b, "{\"fullUrl\":\"%s/fhir/%s/%s\"", fr->base, hit->type,
				hit->record_id);
	if (!r && hit->status != KURA_STATUS_ENTERED_IN_ERROR) {
		kura_buf_reset(c);
		r = kura_vault_get(fr->au->a.v, hit->record_id, hit->version, &l, c);
		if (!r)
			r = kura_buf_append_str(b, ",\"resource\":");
		if (!r)
			r = kura_fhir_render(&l, kura_buf_slice(c), b);
	}
	if (!r)
		r = history ? history_parts(b, hit)
			    : kura_buf_append_str(b, ",\"search\":{\"mode\":\"match\"}");
	return r ? r : kura_buf_append_byte(b, '}');
}

/* Before a page's content leaves: one read event per patient on it. */
static int disclose(struct kura_fhir_req *fr, const struct hits *h, const struct page *pg)
{
	size_t end = (size_t)pg->offset + pg->count < h->n ? (size_t)pg->offset + pg->count : h->n;
	size_t n = 0, cap = end > pg->offset ? end - pg->offset : 0;
	const char **pats = calloc(cap ? cap : 1, sizeof(*pats));
	unsigned *counts = calloc(cap ? cap : 1, sizeof(*counts));
	char query[512];
	int r = pats && counts ? 0 : KURA_ENOMEM;
	for (size_t i = pg->offset; !r && i < end; i++) {
		size_t k = 0;
		while (k < n && strcmp(pats[k], h->v[i].patient_id) != 0)
			k++;
		if (k == n)
			pats[n++] = h->v[i].patient_id;
		counts[k]++;
	}
	snprintf(query, sizeof(query), "fhir %s?%.400s", h->t->name,
		 fr->http->query ? fr->http->query : "");
	if (!r && n)
		r = kura_access_disclosed(&fr->au->a, pats, counts, n, query);
	free(pats);
	free(counts);
	return r;
}

static int bundle(struct kura_fhir_req *fr, const char *path, const struct hits *h,
		  const struct page *pg, int history)
{
	int d = disclose(fr, h, pg);
	if (d)
		return d;
	struct kura_buf *b = &fr->resp->body, c;
	kura_buf_reset(b);
	kura_buf_init(&c, KURA_MAX_CONTENT);
	int r = kura_buf_printf(b, "{\"resourceType\":\"Bundle\",\"type\":\"%s\",\"total\":%zu",
				history ? "history" : "searchset", h->n);
	if (!r)
		r = links(fr, b, path, h->n, pg);
	/* FHIR JSON has no empty arrays: no "entry" on an empty page. */
	int any = pg->offset < h->n && pg->count > 0;
	if (!r && any)
		r = kura_buf_append_str(b, ",\"entry\":[");
	for (size_t i = pg->offset; !r && i < h->n && i < (size_t)pg->offset + pg->count; i++) {
		if (i > pg->offset)
			r = kura_buf_append_byte(b, ',');
		if (!r)
			r = entry(fr, b, &h->v[i], history, &c);
	}
	kura_buf_release_secret(&c);
	if (!r)
		r = kura_buf_append_str(b, any ? "]}" : "}");
	if (!r) {
		fr->resp->status = 200;
		memcpy(fr->resp->content_type, KURA_FHIR_CT, sizeof(KURA_FHIR_CT));
	}
	return r;
}

/* ---- search ---- */

static int keep_type(void *ctx, const struct kura_version_row *row)
{
	struct hits *h = ctx;
	if (strcmp(row->leaf.type, h->t->name) != 0)
		return 0;
	if (row->leaf.status == KURA_STATUS_ENTERED_IN_ERROR && !h->all_versions)
		return 0;
	return hits_push(h, &row->leaf);
}

/* The listing through the access layer: one audited search event. */
static int list_type(struct kura_fhir_req *fr, const char *what, struct hits *h)
{
	struct kura_buf q;
	kura_buf_init(&q, 4096);
	int r = kura_buf_printf(&q, "fhir %s %s?%.3000s", what, h->t->name,
				fr->http->query ? fr->http->query : "");
	if (!r)
		r = kura_buf_append_byte(&q, 0);
	if (!r)
		r = kura_access_search(&fr->au->a, (const char *)q.data, keep_type, h);
	kura_buf_release(&q);
	return r;
}

/* Keep the hits whose content matches. */
static int filter(struct kura_fhir_req *fr, struct hits *h, struct qbuf *q)
{
	struct kura_buf c;
	struct kura_leaf l;
	size_t kept = 0;
	int r = 0;
	kura_buf_init(&c, KURA_MAX_CONTENT);
	for (size_t i = 0; !r && i < h->n; i++) {
		kura_buf_reset(&c);
		r = kura_vault_get(fr->au->a.v, h->v[i].record_id, h->v[i].version, &l, &c);
		json_t *j = r ? NULL : json_loadb((const char *)c.data, c.len, 0, NULL);
		if (!r && !j)
			r = KURA_ECORRUPT;
		if (!r && matches(fr, h->t, &h->v[i], j, q) == 1)
			h->v[kept++] = h->v[i];
		json_decref(j);
	}
	kura_buf_release_secret(&c);
	h->n = kept;
	return r;
}

int kura_fhir_search(struct kura_fhir_req *fr, const struct kura_fhir_type *t)
{
	struct page pg;
	struct hits h = {NULL, 0, 0, t, 0, fr->au->a.v, 0};
	char path[160];
	struct qbuf *q = malloc(sizeof(*q));
	if (!q)
		return KURA_ENOMEM;
	int r = check_params(fr, t, &pg, q, 0);
	if (r) {
		r = params_answer(fr, r, q);
		goto out;
	}
	r = list_type(fr, "search", &h);
	if (r) {
		r = kura_fhir_error(fr->resp, r);
		goto out;
	}
	r = filter(fr, &h, q);
	snprintf(path, sizeof(path), "/fhir/%s", t->name);
	if (!r)
		r = bundle(fr, path, &h, &pg, 0);
out:
	free(h.v);
	free(q);
	return r;
}

/* ---- history ---- */

static int newest_first(const void *a, const void *b)
{
	const struct kura_leaf *x = a, *y = b;
	if (x->time_us != y->time_us)
		return x->time_us < y->time_us ? 1 : -1;
	return x->version < y->version ? 1 : x->version > y->version ? -1 : 0;
}

/* Every version of the listed records (their fields only). */
static int all_versions(struct kura_fhir_req *fr, struct hits *h)
{
	struct hits latest = *h;
	struct kura_version_row row;
	struct kura_buf leaf;
	int r = 0;
	h->v = NULL;
	h->n = h->cap = 0;
	kura_buf_init(&leaf, KURA_MAX_LEAF);
	for (size_t i = 0; !r && i < latest.n; i++)
		for (uint32_t v = 1; !r && v <= latest.v[i].version; v++) {
			kura_buf_reset(&leaf);
			r = kura_vault_locate(fr->au->a.v, latest.v[i].record_id, v, &row, &leaf);
			if (!r)
				r = hits_push(h, &row.leaf);
		}
	kura_buf_release(&leaf);
	free(latest.v);
	return r;
}

static int history_answer(struct kura_fhir_req *fr, const char *path, struct hits *h)
{
	struct page pg;
	struct qbuf *q = malloc(sizeof(*q));
	if (!q)
		return KURA_ENOMEM;
	int r = check_params(fr, h->t, &pg, q, 1);
	if (r)
		r = params_answer(fr, r, q);
	else {
		qsort(h->v, h->n, sizeof(h->v[0]), newest_first);
		r = bundle(fr, path, h, &pg, 1);
	}
	free(q);
	return r;
}

int kura_fhir_type_history(struct kura_fhir_req *fr, const struct kura_fhir_type *t)
{
	struct hits h = {NULL, 0, 0, t, 1, fr->au->a.v, 0};
	char path[160];
	int r = list_type(fr, "history", &h);
	if (r)
		r = kura_fhir_error(fr->resp, r);
	else if (!(r = all_versions(fr, &h))) {
		snprintf(path, sizeof(path), "/fhir/%s/_history", t->name);
		r = history_answer(fr, path, &h);
	}
	free(h.v);
	return r;
}

static int keep_version(void *ctx, const struct kura_version_row *row)
{
	return hits_push(ctx, &row->leaf);
}

int kura_fhir_instance_history(struct kura_fhir_req *fr, const struct kura_fhir_type *t,
			       const char *id)
{
	struct hits h = {NULL, 0, 0, t, 1, fr->au->a.v, 0};
	char path[200];
	int r = kura_access_history(&fr->au->a, id, keep_version, &h);
	if (!r && (h.n == 0 || strcmp(h.v[0].type, t->name) != 0))
		r = KURA_ENOTFOUND;
	if (r)
		r = kura_fhir_error(fr->resp, r);
	else {
		snprintf(path, sizeof(path), "/fhir/%s/%s/_history", t->name, id);
		r = history_answer(fr, path, &h);
	}
	free(h.v);
	return r;
}
