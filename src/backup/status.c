/*
 * status.c - the vault's backup history and what `kura backup status`
 * expects of it (status.h; BK-02, BK-03, BC-02).  Moved out of the CLI so
 * the web UI's administrator screen reads the same rows the same way.
 */
#include <stdio.h>
#include <string.h>

#include "auth/auth.h"
#include "backup/status.h"
#include "crypto/crypto.h"
#include "util/err.h"
#include "util/time.h"
#include "util/banned.h"

#define US_PER_HOUR (3600 * 1000000LL)

static int gen_key(uint64_t gen, char out[48])
{
	return snprintf(out, 48, "generation/%020llu", (unsigned long long)gen) < 48 ? 0
										  : KURA_EINVAL;
}

static int collect_gen(void *ctx, const char *key, json_t *value)
{
	if (strncmp(key, "generation/", 11) == 0)
		return json_array_append(ctx, value) ? KURA_ENOMEM : 0;
	return 0;
}

int kura_backup_history(struct kura_vault *v, json_t **ret)
{
	json_t *gens = json_array();
	*ret = NULL;
	int r = gens ? kura_state_scan(v, KURA_BACKUP_STATE_KIND, collect_gen, gens) : KURA_ENOMEM;
	if (r) {
		json_decref(gens);
		return r;
	}
	*ret = gens;
	return 0;
}

int kura_backup_copies(const json_t *gen, int *ret_immutable, int *ret_offline)
{
	json_t *t;
	size_t i;
	*ret_immutable = *ret_offline = 0;
	json_array_foreach(json_object_get(gen, "targets"), i, t) {
		const char *kind = json_string_value(json_object_get(t, "kind"));
		if (!json_is_true(json_object_get(t, "ok")) || !kind)
			continue;
		if (strcmp(kind, "offline") == 0)
			*ret_offline = 1;
		else if (strcmp(kind, "receiver") == 0 || json_is_true(json_object_get(t, "immutable")))
			*ret_immutable = 1;
	}
	return *ret_immutable || *ret_offline;
}

static int reached(const json_t *gen)
{
	json_t *t;
	size_t k;
	int any = 0;
	json_array_foreach(json_object_get(gen, "targets"), k, t)
		any |= json_is_true(json_object_get(t, "ok"));
	return any;
}

void kura_backup_status_eval(struct kura_vault *v, const json_t *gens, int64_t now,
			     struct kura_backup_status *ret)
{
	size_t n = json_array_size(gens), good = 0, old = 0, prot = 0;
	int imm, off;
	memset(ret, 0, sizeof(*ret));
	/* Newest first: generations that reached at least one target. */
	for (size_t i = n; i-- > 0;) {
		const json_t *g = json_array_get(gens, i);
		if (!reached(g))
			continue;
		if (!good)
			ret->last_us = json_integer_value(json_object_get(g, "created_us"));
		good++;
		/* BK-03: from the third generation back, a copy out of reach. */
		if (good >= 3) {
			old++;
			prot += kura_backup_copies(g, &imm, &off) != 0;
		}
	}
	ret->generations = good;
	ret->protected_old = prot;
	ret->ok_count = good >= 3;
	ret->ok_protect = good >= 3 && prot == old;
	ret->ok_age = good && now - ret->last_us <=
				      kura_setting_int(v, "backup.max_age_hours", 26) * US_PER_HOUR;
	if (!kura_state_get(v, KURA_BACKUP_STATE_KIND, "drill", &ret->drill)) {
		ret->drill_us = json_integer_value(json_object_get(ret->drill, "time_us"));
		ret->ok_drill = json_is_true(json_object_get(ret->drill, "ok")) &&
				now - ret->drill_us <=
					kura_setting_int(v, "backup.drill_days", 90) * 24 * US_PER_HOUR;
	}
}

void kura_backup_status_release(struct kura_backup_status *s)
{
	if (!s)
		return;
	json_decref(s->drill);
	s->drill = NULL;
}

/* ---- what a run and a drill record ---- */

json_t *kura_backup_sth_json(const struct kura_sth *s)
{
	char root[2 * KURA_HASH_LEN + 1], t[KURA_TIME_STR];
	kura_hex_encode(s->root, KURA_HASH_LEN, root);
	kura_time_format(s->time_us, t);
	return json_pack("{sI ss ss}", "tree_size", (json_int_t)s->tree_size, "root", root, "time", t);
}

json_t *kura_backup_target_json(const struct kura_backup_target *t)
{
	return json_pack("{ss ss sb sb ss sI sI}", "target", t->name, "kind",
			 t->kind == KURA_REPO_RECEIVER ? "receiver" : "dir", "immutable",
			 t->immutable || t->kind == KURA_REPO_RECEIVER, "ok", t->ok, "error", t->err,
			 "objects_sent", (json_int_t)t->put_objects, "bytes_sent",
			 (json_int_t)t->put_bytes);
}

static json_t *run_summary(const struct kura_backup_result *res,
			   const struct kura_backup_target *t, size_t nt, double secs)
{
	json_t *targets = json_array();
	for (size_t i = 0; targets && i < nt; i++)
		if (json_array_append_new(targets, kura_backup_target_json(&t[i])))
			return json_decref(targets), NULL;
	return json_pack("{sI sI sI so sI sI sI sI sI sI sf so*}", "generation",
			 (json_int_t)res->generation, "created_us", (json_int_t)res->created_us,
			 "base_generation", (json_int_t)res->base_generation, "sth",
			 kura_backup_sth_json(&res->sth), "new_leaves", (json_int_t)res->new_leaves, "versions",
			 (json_int_t)res->versions, "events", (json_int_t)res->events,
			 "content_bytes", (json_int_t)res->content_bytes, "new_bytes",
			 (json_int_t)res->new_bytes, "objects", (json_int_t)res->objects, "seconds",
			 secs, "targets", targets);
}

/* Commit the state row (kind backup, key) with ev, and a second row when
 * key2 is set, in one transaction. */
static int put_with_event(struct kura_vault *v, const char *key, json_t *val, const char *key2,
			  json_t *val2, const struct kura_event *ev)
{
	struct kura_txn *txn = NULL;
	int r = kura_txn_begin(v, &txn);
	if (!r)
		r = kura_state_put(txn, KURA_BACKUP_STATE_KIND, key, val);
	if (!r && key2)
		r = kura_state_put(txn, KURA_BACKUP_STATE_KIND, key2, val2);
	if (!r)
		r = kura_txn_event(txn, ev, NULL);
	return txn ? kura_txn_finish(txn, r, NULL) : r;
}

int kura_backup_record_run(struct kura_vault *v, const struct kura_actor *who,
			   const struct kura_backup_result *res,
			   const struct kura_backup_target *t, size_t nt, double secs)
{
	struct kura_event ev;
	char key[48], detail[256];
	size_t ok = 0;
	for (size_t i = 0; i < nt; i++)
		ok += t[i].ok != 0;
	json_t *sum = run_summary(res, t, nt, secs);
	json_t *latest = json_pack("{ss#}", "manifest", (const char *)res->manifest.data,
				   (int)res->manifest.len);
	kura_audit_event(&ev, who, "backup-run");
	snprintf(detail, sizeof(detail), "generation %llu at tree size %llu to %zu of %zu targets",
		 (unsigned long long)res->generation, (unsigned long long)res->sth.tree_size, ok, nt);
	KURA_AUDIT_SET(ev.detail, detail);
	ev.severity = ok == nt ? KURA_SEV_INFO : KURA_SEV_WARNING;
	ev.outcome = ok == nt ? KURA_OUTCOME_SUCCESS : KURA_OUTCOME_SERIOUS;
	int r = sum && latest ? gen_key(res->generation, key) : KURA_ENOMEM;
	if (!r)
		r = put_with_event(v, key, sum, KURA_BACKUP_LATEST, latest, &ev);
	json_decref(sum);
	json_decref(latest);
	return r;
}

json_t *kura_backup_drill_json(const struct kura_backup_drill *d)
{
	char tm[KURA_TIME_STR];
	kura_time_format(d->time_us, tm);
	return json_pack("{sI ss sb ss sI sf sI sf sI ss}", "time_us", (json_int_t)d->time_us,
			 "time", tm, "ok", d->result == 0, "from", d->from, "generation",
			 (json_int_t)d->res->generation, "rto_seconds", d->rto, "rpo_entries",
			 (json_int_t)d->rpo_entries, "rpo_seconds", d->rpo_s, "scanned_documents",
			 (json_int_t)d->res->scanned_docs, "why", d->result ? d->res->why : "");
}

int kura_backup_record_drill(struct kura_vault *v, const struct kura_actor *who,
			     const struct kura_backup_drill *d, json_t *dj)
{
	struct kura_event ev;
	char detail[512];
	if (d->result)
		snprintf(detail, sizeof(detail), "drill from %s failed: %s", d->from,
			 *d->res->why ? d->res->why : kura_strerror(d->result));
	else
		snprintf(detail, sizeof(detail),
			 "drill from %s: generation %llu restored and verified, RTO %.2f s, RPO %llu entries / %.0f s",
			 d->from, (unsigned long long)d->res->generation, d->rto,
			 (unsigned long long)d->rpo_entries, d->rpo_s);
	kura_audit_event(&ev, who, "backup-drill");
	KURA_AUDIT_SET(ev.detail, detail);
	ev.outcome = d->result ? KURA_OUTCOME_SERIOUS : KURA_OUTCOME_SUCCESS;
	ev.severity = d->result ? KURA_SEV_ALERT : KURA_SEV_NOTICE;
	return dj ? put_with_event(v, "drill", dj, NULL, NULL, &ev) : KURA_ENOMEM;
}
