/*
 * trail.c - the audit trail of a vault read with its anomaly flags, and
 * reviews recorded (trail.h): shared by the CLI (cli/cmd_audit.c) and the
 * web UI's API (serve/ui_audit.c) so both flag alike.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/trail.h"
#include "auth/auth.h"
#include "store/store.h"
#include "util/err.h"
#include "util/limits.h"
#include "util/banned.h"

int kura_audit_rows_add(void *ctx, const struct kura_event_row *row)
{
	struct kura_audit_rows *r = ctx;
	size_t max = r->max && r->max < KURA_MAX_AUDIT_RESULTS ? r->max : KURA_MAX_AUDIT_RESULTS;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 256;
		if (cap > max)
			cap = max;
		if (cap <= r->n)
			return KURA_ETOOBIG;
		void *p = realloc(r->v, cap * sizeof(*r->v));
		if (!p)
			return KURA_ENOMEM;
		r->v = p;
		r->cap = cap;
	}
	r->v[r->n++] = *row;
	return 0;
}

void kura_audit_rows_free(struct kura_audit_rows *r)
{
	if (!r)
		return;
	free(r->v);
	memset(r, 0, sizeof(*r));
}

static int rows_query(struct kura_vault *v, const struct kura_event_filter *f,
		      struct kura_audit_rows *r)
{
	struct kura_store *s = kura_vault_store(v);
	return s->ops->event_query(s, f, kura_audit_rows_add, r);
}

int kura_anomaly_config_load(struct kura_vault *v, struct kura_anomaly_config *ret)
{
	static const char *const keys[] = {"audit.offhours_start", "audit.offhours_end",
					   "audit.weekends", "audit.bulk_reads",
					   "audit.bulk_window_min"};
	struct kura_buf b;
	int r = 0;
	kura_anomaly_config_default(ret);
	kura_buf_init(&b, 256);
	for (size_t i = 0; !r && i < sizeof(keys) / sizeof(keys[0]); i++) {
		kura_buf_reset(&b);
		r = kura_setting_get(v, keys[i], &b);
		if (!r)
			r = b.data ? kura_anomaly_config_set(ret, keys[i], (char *)b.data) : 0;
		else if (r == KURA_ENOTFOUND)
			r = 0;
	}
	kura_buf_release(&b);
	return r;
}

int kura_audit_restricted(void *ctx, const char *patient_id)
{
	json_t *j = NULL;
	int r = kura_state_get(ctx, "patient", patient_id, &j);
	if (r == KURA_ENOTFOUND)
		return 0;
	if (r)
		return r;
	r = json_is_true(json_object_get(j, "restricted")) ? 1 : 0;
	json_decref(j);
	return r;
}

int kura_audit_collect(struct kura_vault *v, int64_t from, int64_t to, uint64_t max_rows,
		       struct kura_audit_rows *all, unsigned **ret_flags)
{
	struct kura_anomaly_config ac;
	struct kura_event_filter f = {.outcome = -1};
	*ret_flags = NULL;
	int r = kura_anomaly_config_load(v, &ac);
	if (r)
		return r;
	f.from_us = from ? from - (int64_t)ac.bulk_window_min * 60 * 1000000 : 0;
	f.from_us = f.from_us > 0 ? f.from_us : 0;
	f.to_us = to;
	all->max = max_rows;
	r = rows_query(v, &f, all);
	if (!r && to) {
		struct kura_event_filter fr = {.action = "audit-review", .from_us = to, .outcome = -1};
		r = rows_query(v, &fr, all);
	}
	unsigned *flags = r ? NULL : calloc(all->n ? all->n : 1, sizeof(*flags));
	if (!r && !flags)
		r = KURA_ENOMEM;
	if (!r)
		r = kura_anomaly_flags(&ac, all->v, all->n, kura_audit_restricted, v, flags);
	if (r) {
		free(flags);
		return r;
	}
	*ret_flags = flags;
	return 0;
}

size_t kura_audit_select(const struct kura_audit_query *q, int use_flags,
			 struct kura_audit_rows *all, unsigned *flags)
{
	uint64_t limit = q->limit ? q->limit : KURA_MAX_AUDIT_RESULTS;
	size_t k = 0;
	for (size_t i = 0; i < all->n && k < limit; i++) {
		if (!kura_audit_query_match(q, &all->v[i]))
			continue;
		if (use_flags && !kura_audit_query_match_flags(q, flags[i]))
			continue;
		if (k != i) {
			all->v[k] = all->v[i];
			flags[k] = flags[i];
		}
		k++;
	}
	all->n = k;
	return k;
}

static int count_event(void *ctx, const struct kura_event_row *row)
{
	struct kura_audit_review_result *n = ctx;
	n->events++;
	n->breakglass += strcmp(row->ev.action, "breakglass") == 0;
	return 0;
}

int kura_audit_review(struct kura_vault *v, const struct kura_actor *who, int64_t from,
		      int64_t to, const char *note, struct kura_audit_review_result *ret)
{
	struct kura_store *s = kura_vault_store(v);
	struct kura_event_filter f = {.from_us = from, .to_us = to, .outcome = -1};
	struct kura_event ev;
	struct kura_buf w;
	struct kura_txn *t = NULL;
	char detail[96];
	memset(ret, 0, sizeof(*ret));
	int r = s->ops->event_query(s, &f, count_event, ret);
	kura_buf_init(&w, 128);
	if (!r)
		r = kura_review_window_format(from, to, &w);
	if (r) {
		kura_buf_release(&w);
		return r;
	}
	kura_audit_event(&ev, who, "audit-review");
	KURA_AUDIT_SET(ev.query, (char *)w.data);
	KURA_AUDIT_SET(ev.reason, note ? note : "");
	snprintf(detail, sizeof(detail), "%llu events reviewed, %llu break-glass",
		 (unsigned long long)ret->events, (unsigned long long)ret->breakglass);
	KURA_AUDIT_SET(ev.detail, detail);
	ev.severity = KURA_SEV_NOTICE;
	kura_buf_release(&w);
	r = kura_txn_begin(v, &t);
	if (!r)
		r = kura_txn_event(t, &ev, &ret->leaf_index);
	return t ? kura_txn_finish(t, r, &ret->sth) : r;
}
