/*
 * fhir_audit.c - AuditEvent read and search for auditors (issue 5 item 4):
 * the audit trail (store event_query/event_scan) as FHIR R4 AuditEvents
 * made by the exporter (audit/export.h, IHE BALP).  Only a role with the
 * audit permission may read the trail (a refusal is 403 and recorded), and
 * every reading is itself recorded (action audit-search, as `kura audit
 * search` does) before anything is shown.
 *
 * The id of an AuditEvent is its leaf index in the ledger ("kura-N", what
 * `kura audit export` writes, is read too).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit.h"
#include "audit/export.h"
#include "crypto/crypto.h"
#include "serve/fhir_int.h"
#include "util/err.h"
#include "util/banned.h"

struct trail {
	struct kura_event_row *rows;
	size_t n, total;
	unsigned count, offset;
	uint64_t want; /* read: the leaf index asked for */
};

struct site {
	char host[256];
	char log_id[2 * KURA_HASH_LEN + 1];
	struct kura_export_site s;
};

static void site_of(struct kura_vault *v, struct site *ret)
{
	uint8_t pub[KURA_PUBKEY_LEN], h[KURA_HASH_LEN];
	if (gethostname(ret->host, sizeof(ret->host) - 1) != 0 || !ret->host[0])
		snprintf(ret->host, sizeof(ret->host), "localhost");
	ret->host[sizeof(ret->host) - 1] = 0;
	kura_vault_pubkey(v, pub);
	kura_sha256(pub, sizeof(pub), h);
	kura_hex_encode(h, sizeof(h), ret->log_id);
	ret->s = (struct kura_export_site){ret->host, "", ret->log_id};
}

/* The reading of the trail, recorded before anything is shown. */
static int record_read(struct kura_fhir_req *fr, const char *what, size_t n)
{
	struct kura_event ev;
	char detail[64];
	kura_audit_event(&ev, &fr->au->id.actor, "audit-search");
	snprintf(ev.query, sizeof(ev.query), "fhir %s%s%.900s", what,
		 fr->http->query && *fr->http->query ? "?" : "",
		 fr->http->query ? fr->http->query : "");
	snprintf(detail, sizeof(detail), "%zu events", n);
	KURA_AUDIT_SET(ev.detail, detail);
	return kura_access_record(&fr->au->a, &ev);
}

/* Append one event as an AuditEvent whose id is its leaf index. */
static int append_event(struct kura_buf *b, const struct kura_event_row *row,
			const struct site *st)
{
	char id[24];
	json_t *j = kura_export_fhir(row, &st->s);
	snprintf(id, sizeof(id), "%llu", (unsigned long long)row->leaf_index);
	if (!j || json_object_set_new(j, "id", json_string(id))) {
		json_decref(j);
		return KURA_ENOMEM;
	}
	char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (!text)
		return KURA_ENOMEM;
	int r = kura_buf_append_str(b, text);
	free(text);
	return r;
}

/* ---- read ---- */

static int first_row(void *ctx, const struct kura_event_row *row)
{
	struct trail *t = ctx;
	if (row->leaf_index == t->want) {
		t->rows[0] = *row;
		t->n = 1;
	}
	return 1; /* stop: the first at or after want is the only candidate */
}

static int parse_index(const char *id, uint64_t *ret)
{
	char *end;
	if (strncmp(id, "kura-", 5) == 0)
		id += 5;
	if (*id < '0' || *id > '9' || strlen(id) > 19 || (*id == '0' && id[1]))
		return KURA_EINVAL;
	unsigned long long v = strtoull(id, &end, 10);
	*ret = (uint64_t)v;
	return *end ? KURA_EINVAL : 0;
}

static int audit_read(struct kura_fhir_req *fr, const char *id)
{
	struct kura_store *s = kura_vault_store(fr->au->a.v);
	struct trail t = {0};
	struct site st;
	if (parse_index(id, &t.want))
		return kura_fhir_outcome(fr->resp, 404, "not-found", "no such AuditEvent");
	t.rows = malloc(sizeof(*t.rows));
	if (!t.rows)
		return KURA_ENOMEM;
	int r = s->ops->event_scan(s, t.want, first_row, &t);
	if (r == 1)
		r = 0;
	if (!r)
		r = record_read(fr, "read AuditEvent", t.n);
	if (!r && !t.n)
		r = kura_fhir_outcome(fr->resp, 404, "not-found", "no such AuditEvent");
	else if (!r) {
		site_of(fr->au->a.v, &st);
		kura_buf_reset(&fr->resp->body);
		r = append_event(&fr->resp->body, &t.rows[0], &st);
		fr->resp->status = 200;
		memcpy(fr->resp->content_type, KURA_FHIR_CT, sizeof(KURA_FHIR_CT));
	}
	free(t.rows);
	return r;
}

/* ---- search ---- */

struct params {
	struct kura_event_filter f;
	char patient[KURA_MAX_ID + 1], agent[KURA_MAX_ID + 1];
	unsigned count, offset;
};

static int number(const char *s, unsigned *ret)
{
	char *end;
	if (*s < '0' || *s > '9' || strlen(s) > 9)
		return KURA_EINVAL;
	*ret = (unsigned)strtoul(s, &end, 10);
	return *end ? KURA_EINVAL : 0;
}

static void narrow_from(struct params *p, int64_t v)
{
	if (v > p->f.from_us)
		p->f.from_us = v;
}

static void narrow_to(struct params *p, int64_t v)
{
	if (!p->f.to_us || v < p->f.to_us)
		p->f.to_us = v;
}

/* date=[ge|gt|le|lt|eq]VALUE narrows [from, to). */
static int date_param(struct params *p, const char *v)
{
	int64_t lo, hi;
	char pre[3] = "eq";
	if (strlen(v) > 2 && v[0] >= 'a' && v[0] <= 'z') {
		memcpy(pre, v, 2);
		v += 2;
	}
	if (kura_fhir_date_range(v, &lo, &hi))
		return KURA_EINVAL;
	if (strcmp(pre, "eq") == 0) {
		narrow_from(p, lo);
		narrow_to(p, hi);
	} else if (strcmp(pre, "ge") == 0) {
		narrow_from(p, lo);
	} else if (strcmp(pre, "gt") == 0) {
		narrow_from(p, hi);
	} else if (strcmp(pre, "le") == 0) {
		narrow_to(p, hi);
	} else if (strcmp(pre, "lt") == 0) {
		narrow_to(p, lo);
	} else {
		return KURA_EINVAL;
	}
	return 0;
}

/* patient=Patient/{FHIR id} (the kura patient of that record) or a kura
 * patient id as it is. */
static int patient_param(struct kura_fhir_req *fr, struct params *p, const char *v)
{
	struct kura_version_row row;
	struct kura_buf leaf;
	if (strncmp(v, "Patient/", 8) == 0) {
		kura_buf_init(&leaf, KURA_MAX_LEAF);
		int r = kura_valid_id(v + 8) ? kura_vault_locate(fr->au->a.v, v + 8, 0, &row, &leaf)
					     : KURA_EINVAL;
		kura_buf_release(&leaf);
		if (r == KURA_ENOTFOUND || (!r && strcmp(row.leaf.type, "Patient") != 0))
			r = KURA_EINVAL;
		if (r)
			return r;
		v = row.leaf.patient_id;
	}
	if (strlen(v) > KURA_MAX_ID)
		return KURA_EINVAL;
	memcpy(p->patient, v, strlen(v) + 1);
	p->f.patient_id = p->patient;
	return 0;
}

static int one_param(struct kura_fhir_req *fr, struct params *p, const char *name, const char *v)
{
	if (strcmp(name, "patient") == 0)
		return patient_param(fr, p, v);
	if (strcmp(name, "agent") == 0 || strcmp(name, "user") == 0) {
		if (strlen(v) > KURA_MAX_ID)
			return KURA_EINVAL;
		memcpy(p->agent, v, strlen(v) + 1);
		p->f.actor = p->agent;
		return 0;
	}
	if (strcmp(name, "date") == 0)
		return date_param(p, v);
	if (strcmp(name, "_count") == 0)
		return number(v, &p->count);
	if (strcmp(name, "_offset") == 0)
		return number(v, &p->offset);
	if (strcmp(name, "_format") == 0 || strcmp(name, "_pretty") == 0)
		return 0;
	return KURA_ENOTFOUND;
}

static int parse_params(struct kura_fhir_req *fr, struct params *p, char name[],
			size_t name_cap, char value[], size_t value_cap)
{
	struct kura_http_query_iter it;
	int r;
	memset(p, 0, sizeof(*p));
	p->f.outcome = -1;
	p->count = KURA_FHIR_DEFAULT_COUNT < fr->max_count ? KURA_FHIR_DEFAULT_COUNT : fr->max_count;
	kura_http_query_init(&it, fr->http->query);
	while ((r = kura_http_query_next(&it, name, name_cap, value, value_cap)) == 1)
		if ((r = one_param(fr, p, name, value)) != 0)
			return r;
	if (p->count > fr->max_count)
		p->count = fr->max_count;
	return r < 0 ? KURA_EINVAL : 0;
}

static int keep_page(void *ctx, const struct kura_event_row *row)
{
	struct trail *t = ctx;
	if (t->total >= t->offset && t->n < t->count)
		t->rows[t->n++] = *row;
	t->total++;
	return 0;
}

static int search_answer(struct kura_fhir_req *fr, const struct trail *t)
{
	struct kura_buf *b = &fr->resp->body;
	struct site st;
	site_of(fr->au->a.v, &st);
	kura_buf_reset(b);
	int r = kura_buf_printf(b, "{\"resourceType\":\"Bundle\",\"type\":\"searchset\","
				"\"total\":%zu", t->total);
	if (!r)
		r = kura_fhir_links(fr, b, "/fhir/AuditEvent", t->total, t->count, t->offset);
	if (!r)
		r = kura_buf_append_str(b, ",\"entry\":[");
	for (size_t i = 0; !r && i < t->n; i++) {
		r = kura_buf_printf(b, "%s{\"fullUrl\":\"%s/fhir/AuditEvent/%llu\",\"resource\":",
				    i ? "," : "", fr->base, (unsigned long long)t->rows[i].leaf_index);
		if (!r)
			r = append_event(b, &t->rows[i], &st);
		if (!r)
			r = kura_buf_append_str(b, ",\"search\":{\"mode\":\"match\"}}");
	}
	if (!r)
		r = kura_buf_append_str(b, "]}");
	fr->resp->status = 200;
	memcpy(fr->resp->content_type, KURA_FHIR_CT, sizeof(KURA_FHIR_CT));
	return r;
}

static int audit_search(struct kura_fhir_req *fr)
{
	struct kura_store *s = kura_vault_store(fr->au->a.v);
	struct params p;
	struct trail t = {0};
	char name[KURA_HTTP_QUERY_MAX_NAME], value[KURA_HTTP_QUERY_MAX_VALUE], msg[200];
	int r = parse_params(fr, &p, name, sizeof(name), value, sizeof(value));
	if (r) {
		snprintf(msg, sizeof(msg), "%s search parameter '%.100s' (AuditEvent takes patient, "
			 "agent, date, _count, _offset)", r == KURA_ENOTFOUND ? "unsupported" : "bad",
			 name);
		return kura_fhir_outcome(fr->resp, 400, r == KURA_ENOTFOUND ? "not-supported"
					 : "invalid", msg);
	}
	t.count = p.count;
	t.offset = p.offset;
	t.rows = calloc(t.count ? t.count : 1, sizeof(*t.rows));
	if (!t.rows)
		return KURA_ENOMEM;
	r = s->ops->event_query(s, &p.f, keep_page, &t);
	if (!r)
		r = record_read(fr, "search AuditEvent", t.n);
	if (!r)
		r = search_answer(fr, &t);
	free(t.rows);
	return r;
}

int kura_fhir_audit(struct kura_fhir_req *fr, const char *id)
{
	int get = fr->http->method == KURA_HTTP_GET || fr->http->method == KURA_HTTP_HEAD;
	if (!get)
		return kura_fhir_outcome(fr->resp, 405, "not-supported",
					 "AuditEvents are read-only: the audit trail is written by "
					 "kura itself");
	int r = kura_access_require(&fr->au->a, KURA_ACT_AUDIT, "audit-search");
	if (r)
		return kura_fhir_error(fr->resp, r); /* 403, recorded */
	return id ? audit_read(fr, id) : audit_search(fr);
}
