/*
 * cmd_backup.c - kura backup run|list|status|export|verify|prune, kura
 * restore and kura drill (MISSION K6; BK-01..BK-07, BC-02, IR-01).
 *
 * Every operation on a vault is done by an authenticated administrator
 * (the administer action) and recorded in the audit trail; a restore is
 * authenticated by the key that opens the backup (the passphrase or the
 * recovery key) and recorded in the restored vault's own trail.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "auth/auth.h"
#include "backup/backup.h"
#include "backup/policy.h"
#include "backup/status.h"
#include "cli/cli.h"
#include "util/err.h"
#include "util/fs.h"
#include "util/time.h"
#include "util/banned.h"

#define MAX_TARGETS 16

/* The TLS files for receivers: options first, then the vault's settings. */
struct tls_opts {
	const char *ca, *cert, *key;
	struct kura_buf sca, scert, skey; /* from settings */
};

static void tls_release(struct tls_opts *t)
{
	kura_buf_release(&t->sca);
	kura_buf_release(&t->scert);
	kura_buf_release(&t->skey);
}

static const char *setting_str(struct kura_vault *v, const char *name, struct kura_buf *b)
{
	kura_buf_init(b, 8192);
	if (kura_setting_get(v, name, b) || kura_buf_append_byte(b, 0))
		return "";
	return (const char *)b->data;
}

static void tls_from_settings(struct kura_vault *v, struct tls_opts *t)
{
	const char *ca = setting_str(v, "backup.tls_ca", &t->sca);
	const char *cert = setting_str(v, "backup.tls_cert", &t->scert);
	const char *key = setting_str(v, "backup.tls_key", &t->skey);
	if (!t->ca && *ca)
		t->ca = ca;
	if (!t->cert && *cert)
		t->cert = cert;
	if (!t->key && *key)
		t->key = key;
}

static int open_repo(const struct cli *c, const char *target, const struct tls_opts *t, int create,
		     const uint8_t *vault_id, struct kura_repo **ret)
{
	struct kura_repo_tls tls = {t ? t->ca : NULL, t ? t->cert : NULL, t ? t->key : NULL};
	int r = kura_repo_open(target, &tls, create, vault_id, ret);
	if (r == KURA_EFOREIGN)
		return cli_fail(c, r, "%s holds another vault's backups", "%s は別の保管庫のバックアップです",
				target);
	if (r == KURA_ENOTFOUND)
		return cli_fail(c, r, "%s is not a kura backup repository",
				"%s は kura のバックアップ保存先ではありません", target);
	if (r)
		return cli_fail(c, r, "cannot open the backup target %s: %s",
				"バックアップ先 %s を開けません: %s", target, kura_strerror(r));
	return 0;
}

/* Open the vault as an administrator allowed to do action. */
static int open_admin(struct cli *c, struct cli_op *op, const char *action)
{
	int e = cli_op_open(c, op, 0);
	if (e)
		return e;
	int r = kura_access_require(&op->a, KURA_ACT_ADMINISTER, action);
	if (r) {
		e = cli_access_fail(c, op, r, action);
		cli_op_close(op);
	}
	return e;
}

/* Record an event of action with detail (and outcome) for op. */
static int audit_backup(struct cli_op *op, const char *action, int outcome, int severity,
			const char *detail)
{
	struct kura_event ev;
	kura_audit_event(&ev, &op->id.actor, action);
	KURA_AUDIT_SET(ev.detail, detail);
	ev.outcome = (uint8_t)outcome;
	ev.severity = (uint8_t)severity;
	return kura_access_record(&op->a, &ev);
}

static void hex32(const uint8_t *p, char out[65])
{
	kura_hex_encode(p, KURA_HASH_LEN, out);
}

/* ---- the vault's backup history (state rows) ---- */

static int gen_key(uint64_t gen, char out[48])
{
	return snprintf(out, 48, "generation/%020llu", (unsigned long long)gen) < 48 ? 0
										  : KURA_EINVAL;
}

/* ---- kura backup run ---- */

static int split_targets(char *list, const char **out, size_t *n)
{
	for (char *save = NULL, *t = strtok_r(list, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		if (*n == MAX_TARGETS)
			return KURA_ETOOBIG;
		out[(*n)++] = t;
	}
	return 0;
}

/* Seconds on the monotonic clock since a. */
static double seconds_since(const struct timespec *a)
{
	struct timespec b;
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a->tv_sec) + (double)(b.tv_nsec - a->tv_nsec) / 1e9;
}

/* Take a --tls-ca, --tls-cert or --tls-key option, whose option characters
 * are keys[0], keys[1] and keys[2]; 1 if o was one of them. */
static int tls_opt(struct tls_opts *t, int o, const char keys[3])
{
	const char **slot = o == keys[0]   ? &t->ca
			    : o == keys[1] ? &t->cert
			    : o == keys[2] ? &t->key
					   : NULL;
	if (slot)
		*slot = optarg;
	return slot != NULL;
}

struct run_args {
	const char *names[MAX_TARGETS];
	size_t nt;
	uint64_t level;
	struct tls_opts tls;
};

static int run_opts(struct cli *c, int argc, char **argv, struct run_args *a)
{
	static const char usage[] =
		"kura backup run [--to TARGET]... [--tls-ca F --tls-cert F --tls-key F] [--json]\n"
		"  make a new generation and write it to every target (a directory, or\n"
		"  https://HOST:PORT of a kura receiver); without --to, the targets of the\n"
		"  setting backup.targets (administrators)";
	static const struct option opts[] = {{"to", required_argument, NULL, 't'},
					     {"tls-ca", required_argument, NULL, 'a'},
					     {"tls-cert", required_argument, NULL, 'c'},
					     {"tls-key", required_argument, NULL, 'k'},
					     {"level", required_argument, NULL, 'l'},
					     {NULL, 0, NULL, 0}};
	int o;
	while ((o = cli_getopt(c, argc, argv, "", opts, usage)) != -1) {
		if (o == 't' && a->nt < MAX_TARGETS)
			a->names[a->nt++] = optarg;
		else if (tls_opt(&a->tls, o, "ack"))
			;
		else if (o == 'l' && !cli_parse_u64(optarg, &a->level) && a->level >= 1 &&
			 a->level <= 19)
			;
		else
			return EXIT_USAGE;
	}
	if (optind != argc)
		return cli_fail(c, KURA_EUSAGE, "usage: %s", "使い方: %s", usage);
	return 0;
}

/* Open every target, those of backup.targets (in list) without --to. */
static int run_targets(struct cli *c, struct cli_op *op, struct run_args *a, struct kura_buf *list,
		       struct kura_backup_target *t)
{
	uint8_t vid[16];
	int e = 0;
	if (!a->nt && !kura_setting_get(op->v, "backup.targets", list) &&
	    !kura_buf_append_byte(list, 0))
		split_targets((char *)list->data, a->names, &a->nt);
	if (!a->nt)
		return cli_fail(c, KURA_EUSAGE, "no backup target: give --to DIR or set backup.targets",
				"バックアップ先がありません。--to DIR を指定するか backup.targets を設定してください");
	kura_vault_id(op->v, vid);
	for (size_t i = 0; !e && i < a->nt; i++) {
		t[i].name = a->names[i];
		e = open_repo(c, a->names[i], &a->tls, 1, vid, &t[i].repo);
	}
	return e;
}

/* The latest manifest recorded in the vault, if any, into prev. */
static void latest_manifest(struct kura_vault *v, struct kura_buf *prev)
{
	json_t *lj = NULL;
	if (!kura_state_get(v, KURA_BACKUP_STATE_KIND, KURA_BACKUP_LATEST, &lj)) {
		const char *m = json_string_value(json_object_get(lj, "manifest"));
		if (m)
			kura_buf_append(prev, m, strlen(m));
	}
	json_decref(lj);
}

static int run_failed(struct cli *c, struct cli_op *op, int r, const struct kura_backup_target *t,
		      size_t nt)
{
	char detail[600];
	snprintf(detail, sizeof(detail), "failed: %s%s%s", kura_strerror(r),
		 nt && *t[0].err ? ": " : "", nt ? t[0].err : "");
	audit_backup(op, "backup-run", KURA_OUTCOME_SERIOUS, KURA_SEV_WARNING, detail);
	return cli_fail(c, r, "the backup failed: %s", "バックアップに失敗しました: %s",
			nt && *t[0].err ? t[0].err : kura_strerror(r));
}

static void print_run_json(const struct kura_backup_result *res,
			   const struct kura_backup_target *t, size_t nt, double secs)
{
	json_t *tj = json_array();
	for (size_t i = 0; i < nt; i++)
		json_array_append_new(tj, kura_backup_target_json(&t[i]));
	cli_print_json(json_pack(
		"{sI sI so sI sI sI sI sI sI sI sI sf so}", "generation",
		(json_int_t)res->generation, "base_generation", (json_int_t)res->base_generation,
		"sth", kura_backup_sth_json(&res->sth), "new_leaves", (json_int_t)res->new_leaves, "versions",
		(json_int_t)res->versions, "events", (json_int_t)res->events, "content_bytes",
		(json_int_t)res->content_bytes, "objects", (json_int_t)res->objects, "new_objects",
		(json_int_t)res->new_objects, "new_bytes", (json_int_t)res->new_bytes,
		"dedup_chunks", (json_int_t)res->dedup_chunks, "seconds", secs, "targets", tj));
}

static void print_run_text(const struct cli *c, const struct kura_backup_result *res,
			   const struct kura_backup_target *t, size_t nt, double secs)
{
	printf(L(c, "generation %llu: tree size %llu, %llu new leaves (%llu versions, %llu events), %llu bytes of content, %.2f s\n",
		 "世代 %llu: ツリーサイズ %llu、新しい葉 %llu（版 %llu、イベント %llu）、内容 %llu バイト、%.2f 秒\n"),
	       (unsigned long long)res->generation, (unsigned long long)res->sth.tree_size,
	       (unsigned long long)res->new_leaves, (unsigned long long)res->versions,
	       (unsigned long long)res->events, (unsigned long long)res->content_bytes, secs);
	for (size_t i = 0; i < nt; i++)
		printf("  %s %s: %s%s%llu %s\n", t[i].ok ? "ok  " : "FAIL", t[i].name,
		       t[i].ok ? "" : t[i].err, t[i].ok ? "" : " — ",
		       (unsigned long long)t[i].put_objects,
		       L(c, "new objects", "個の新しいオブジェクト"));
}

/* Report a generation made and recorded: EXIT_OK when every target has it. */
static int run_report(const struct cli *c, const struct kura_backup_result *res,
		      const struct kura_backup_target *t, size_t nt, double secs)
{
	size_t ok = 0;
	for (size_t i = 0; i < nt; i++)
		ok += t[i].ok;
	if (c->json)
		print_run_json(res, t, nt, secs);
	else
		print_run_text(c, res, t, nt, secs);
	return ok == nt ? EXIT_OK : cli_exit_code(KURA_EIO);
}

/* Make the generation from the latest manifest, record it and report it. */
static int run_backup(struct cli *c, struct cli_op *op, const struct run_args *a,
		      struct kura_backup_target *t)
{
	struct kura_backup_opts bo = {.zstd_level = (int)a->level, .progress = cli_progress, .pctx = c};
	struct kura_backup_result res = {0};
	struct kura_buf prev;
	struct timespec t0;
	int e;
	kura_buf_init(&prev, KURA_MANIFEST_MAX);
	latest_manifest(op->v, &prev);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int r = kura_backup_run(op->v, prev.data, prev.len, t, a->nt, &bo, &res);
	double secs = seconds_since(&t0);
	cli_progress_end(c);
	if (r)
		e = run_failed(c, op, r, t, a->nt);
	else if ((r = kura_backup_record_run(op->v, &op->id.actor, &res, t, a->nt, secs)))
		e = cli_fail(c, r, "generation %llu was written but cannot be recorded in the vault: %s",
			     "世代 %llu は書き込みましたが保管庫に記録できません: %s",
			     (unsigned long long)res.generation, kura_strerror(r));
	else
		e = run_report(c, &res, t, a->nt, secs);
	kura_buf_release(&res.manifest);
	kura_buf_release(&prev);
	return e;
}

static int bk_run(struct cli *c, int argc, char **argv)
{
	struct kura_backup_target t[MAX_TARGETS];
	struct run_args a;
	struct kura_buf list;
	struct cli_op op;
	int e;
	memset(t, 0, sizeof(t));
	memset(&a, 0, sizeof(a));
	kura_buf_init(&list, 8192);
	if ((e = run_opts(c, argc, argv, &a)))
		return e;
	if ((e = open_admin(c, &op, "backup-run")))
		return e;
	tls_from_settings(op.v, &a.tls);
	e = run_targets(c, &op, &a, &list, t);
	if (!e)
		e = run_backup(c, &op, &a, t);
	for (size_t i = 0; i < a.nt; i++)
		kura_repo_close(t[i].repo);
	kura_buf_release(&list);
	tls_release(&a.tls);
	cli_op_close(&op);
	return e;
}

/* ---- kura backup list / status ---- */

static void policy_of(struct kura_vault *v, struct kura_policy *p)
{
	kura_policy_default(p);
	p->keep_min = (unsigned)kura_setting_int(v, "backup.keep_min", 3);
	p->daily = (unsigned)kura_setting_int(v, "backup.keep_daily", 7);
	p->weekly = (unsigned)kura_setting_int(v, "backup.keep_weekly", 4);
	p->monthly = (unsigned)kura_setting_int(v, "backup.keep_monthly", 12);
	p->lock_us = 0;
}

/* Does a generation have a copy the vault host cannot change: on a
 * receiver (no delete in its protocol), offline, or immutable? */
static int protected_copy(const json_t *gen, int *offline)
{
	int immutable;
	return kura_backup_copies(gen, &immutable, offline);
}

static int no_args(struct cli *c, int argc, char **argv, const char *usage)
{
	int o;
	while ((o = cli_getopt(c, argc, argv, "", NULL, usage)) != -1)
		return EXIT_USAGE;
	return optind == argc ? 0 : cli_fail(c, KURA_EUSAGE, "usage: %s", "使い方: %s", usage);
}

static void print_list_json(json_t *gens, const struct kura_policy_gen *pg)
{
	json_t *g;
	size_t i;
	json_array_foreach(gens, i, g) {
		int off = 0;
		json_object_set_new(g, "protected", json_boolean(protected_copy(g, &off)));
		json_object_set_new(g, "offline", json_boolean(off));
		json_object_set_new(g, "policy_keeps", json_boolean(pg[i].keep));
		json_object_set_new(g, "policy_reason", pg[i].why ? json_string(pg[i].why)
								   : json_null());
	}
	cli_print_json(json_pack("{sO}", "generations", gens));
}

static void print_list_row(const struct cli *c, json_t *g, const struct kura_policy_gen *pg)
{
	char tm[KURA_TIME_STR];
	int off = 0, prot = protected_copy(g, &off);
	json_t *t;
	size_t k;
	kura_time_format(json_integer_value(json_object_get(g, "created_us")), tm);
	printf("%-5lld %-27s %10lld %12lld  %-9s", (long long)pg->generation, tm,
	       (long long)json_integer_value(json_object_get(json_object_get(g, "sth"), "tree_size")),
	       (long long)json_integer_value(json_object_get(g, "new_bytes")),
	       off ? "offline" : prot ? "immutable" : "-");
	json_array_foreach(json_object_get(g, "targets"), k, t)
		printf(" %s%s", json_string_value(json_object_get(t, "target")),
		       json_is_true(json_object_get(t, "ok")) ? "" : "(FAILED)");
	printf("%s\n", pg->keep ? "" : L(c, "  [policy: may be pruned]", "  [保持方針: 削除対象]"));
}

static void print_list_text(const struct cli *c, json_t *gens, const struct kura_policy_gen *pg)
{
	json_t *g;
	size_t i;
	printf("%-5s %-27s %10s %12s  %-9s %s\n", L(c, "gen", "世代"), L(c, "time", "時刻"),
	       L(c, "tree", "ツリー"), L(c, "bytes", "バイト"), L(c, "copy", "保護"),
	       L(c, "targets", "保存先"));
	json_array_foreach(gens, i, g)
		print_list_row(c, g, &pg[i]);
}

static int bk_list(struct cli *c, int argc, char **argv)
{
	static const char usage[] = "kura backup list [--json]\n"
				    "  every generation made: time, tree head, size, targets, and whether\n"
				    "  a copy is immutable or offline; which the retention policy keeps";
	json_t *gens = NULL;
	struct cli_op op;
	struct kura_policy pol;
	int e;
	if ((e = no_args(c, argc, argv, usage)))
		return e;
	if ((e = open_admin(c, &op, "backup-list")))
		return e;
	int r = kura_backup_history(op.v, &gens);
	size_t n = json_array_size(gens), i;
	struct kura_policy_gen *pg = calloc(n ? n : 1, sizeof(*pg));
	json_t *g;
	if (!r && !pg)
		r = KURA_ENOMEM;
	policy_of(op.v, &pol);
	json_array_foreach(gens, i, g) {
		pg[i].generation = (uint64_t)json_integer_value(json_object_get(g, "generation"));
		pg[i].created_us = json_integer_value(json_object_get(g, "created_us"));
	}
	if (!r)
		kura_policy_apply(&pol, kura_time_now_us(), pg, n);
	if (!r)
		r = audit_backup(&op, "backup-list", 0, KURA_SEV_INFO, "");
	if (r)
		e = cli_fail(c, r, "cannot list the backups: %s", "バックアップを一覧できません: %s",
			     kura_strerror(r));
	else if (c->json)
		print_list_json(gens, pg);
	else
		print_list_text(c, gens, pg);
	free(pg);
	json_decref(gens);
	cli_op_close(&op);
	return e;
}

static void print_status_json(const struct kura_backup_status *s, int all, const char *last,
			      const char *drill)
{
	cli_print_json(json_pack("{sb sI sb sI sb ss sb ss sb sO}", "ok", all, "generations",
				 (json_int_t)s->generations, "generations_ok", s->ok_count,
				 "protected_old", (json_int_t)s->protected_old, "protected_ok",
				 s->ok_protect, "last_backup", last, "last_backup_ok", s->ok_age,
				 "last_drill", drill, "drill_ok", s->ok_drill, "drill",
				 s->drill ? s->drill : json_null()));
}

static void print_status_text(const struct cli *c, const struct kura_backup_status *s, const char *last,
			      const char *drill)
{
	printf("%s %s: %zu\n", s->ok_count ? "ok  " : "FAIL",
	       L(c, "generations (at least 3, BK-02)", "世代数（3 以上, BK-02）"), s->generations);
	printf("%s %s: %zu\n", s->ok_protect ? "ok  " : "FAIL",
	       L(c, "third and older out of reach: receiver, offline or immutable (BK-03)",
		 "3 世代目以降が到達不能（受信サーバ・オフライン・不変, BK-03）"),
	       s->protected_old);
	printf("%s %s: %s\n", s->ok_age ? "ok  " : "FAIL",
	       L(c, "last backup (backup.max_age_hours)", "最終バックアップ（backup.max_age_hours）"),
	       last);
	printf("%s %s: %s\n", s->ok_drill ? "ok  " : "FAIL",
	       L(c, "last successful drill (backup.drill_days, BC-02)",
		 "最終の成功した復旧訓練（backup.drill_days, BC-02）"),
	       drill);
}

/* Report the evaluation: EXIT_OK when every expectation holds. */
static int status_report(const struct cli *c, const struct kura_backup_status *s)
{
	int all = s->ok_count && s->ok_protect && s->ok_age && s->ok_drill;
	char last[KURA_TIME_STR] = "-", drill[KURA_TIME_STR] = "-";
	if (s->last_us)
		kura_time_format(s->last_us, last);
	if (s->drill_us)
		kura_time_format(s->drill_us, drill);
	if (c->json)
		print_status_json(s, all, last, drill);
	else
		print_status_text(c, s, last, drill);
	return all ? EXIT_OK : EXIT_VERIFY;
}

static int bk_status(struct cli *c, int argc, char **argv)
{
	static const char usage[] =
		"kura backup status [--json]\n"
		"  whether the guideline's expectations hold: at least 3 generations, the\n"
		"  third and older out of the vault host's reach (receiver, offline or\n"
		"  immutable), the last backup recent, a recent successful drill;\n"
		"  exit status 1 when one does not";
	json_t *gens = NULL;
	struct kura_backup_status s = {0}; /* released even when the history cannot be read */
	struct cli_op op;
	int e;
	if ((e = no_args(c, argc, argv, usage)))
		return e;
	if ((e = open_admin(c, &op, "backup-status")))
		return e;
	int r = kura_backup_history(op.v, &gens);
	if (!r)
		kura_backup_status_eval(op.v, gens, kura_time_now_us(), &s);
	if (!r)
		r = audit_backup(&op, "backup-status", 0, KURA_SEV_INFO, "");
	if (r)
		e = cli_fail(c, r, "cannot read the backup history: %s",
			     "バックアップ履歴を読めません: %s", kura_strerror(r));
	else
		e = status_report(c, &s);
	kura_backup_status_release(&s);
	json_decref(gens);
	cli_op_close(&op);
	return e;
}

/* ---- kura backup export / verify / prune ---- */

/* The first target of the setting backup.targets, held in list; NULL if none. */
static const char *default_target(struct kura_vault *v, struct kura_buf *list)
{
	const char *names[MAX_TARGETS];
	size_t nt = 0;
	if (!kura_setting_get(v, "backup.targets", list) && !kura_buf_append_byte(list, 0) &&
	    !split_targets((char *)list->data, names, &nt) && nt)
		return names[0];
	return NULL;
}

static int export_opts(struct cli *c, int argc, char **argv, const char **from, const char **to,
		       uint64_t *gen)
{
	static const char usage[] =
		"kura backup export [--generation G] [--from TARGET] --to DIR\n"
		"  write generation G (default: the newest) as a self-contained repository\n"
		"  for removable media: objects, manifest, SHA256SUMS, README.txt";
	static const struct option opts[] = {{"generation", required_argument, NULL, 'g'},
					     {"from", required_argument, NULL, 'f'},
					     {"to", required_argument, NULL, 't'},
					     {NULL, 0, NULL, 0}};
	int o;
	while ((o = cli_getopt(c, argc, argv, "", opts, usage)) != -1) {
		if (o == 'g' && !cli_parse_u64(optarg, gen) && *gen)
			;
		else if (o == 'f' || o == 't')
			*(o == 'f' ? from : to) = optarg;
		else
			return EXIT_USAGE;
	}
	if (optind != argc || !*to)
		return cli_fail(c, KURA_EUSAGE, "usage: %s", "使い方: %s", usage);
	return 0;
}

/* The generation's summary gains an offline copy. */
static void export_mark_offline(struct cli_op *op, uint64_t got, const char *to)
{
	char key[48];
	json_t *g = NULL;
	if (!gen_key(got, key) && !kura_state_get(op->v, KURA_BACKUP_STATE_KIND, key, &g)) {
		struct kura_txn *txn = NULL;
		json_array_append_new(json_object_get(g, "targets"),
				      json_pack("{ss ss sb sb}", "target", to, "kind", "offline",
						"immutable", 0, "ok", 1));
		int x = kura_txn_begin(op->v, &txn);
		if (!x)
			x = kura_state_put(txn, KURA_BACKUP_STATE_KIND, key, g);
		if (txn)
			kura_txn_finish(txn, x, NULL);
	}
	json_decref(g);
}

/* Export generation gen (0: the newest) of src to the directory to. */
static int export_run(struct cli *c, struct cli_op *op, struct kura_repo *src, uint64_t gen,
		      const char *to)
{
	uint64_t bytes = 0, got = 0;
	char detail[256];
	int r = kura_backup_export(src, gen, to, cli_progress, c, &got, &bytes);
	cli_progress_end(c);
	snprintf(detail, sizeof(detail), "generation %llu to %s: %s", (unsigned long long)got, to,
		 r ? kura_strerror(r) : "ok");
	if (!r)
		export_mark_offline(op, got, to);
	audit_backup(op, "backup-export", r ? KURA_OUTCOME_SERIOUS : 0,
		     r ? KURA_SEV_WARNING : KURA_SEV_NOTICE, detail);
	if (r)
		return cli_fail(c, r, "the export failed: %s", "書き出しに失敗しました: %s",
				kura_strerror(r));
	if (c->json)
		cli_print_json(json_pack("{sI ss sI}", "generation", (json_int_t)got, "to", to,
					 "bytes", (json_int_t)bytes));
	else
		printf(L(c, "generation %llu written to %s (%llu bytes); keep it offline\n",
			 "世代 %llu を %s に書き出しました（%llu バイト）。オフラインで保管してください\n"),
		       (unsigned long long)got, to, (unsigned long long)bytes);
	return 0;
}

static int bk_export(struct cli *c, int argc, char **argv)
{
	const char *from = NULL, *to = NULL;
	struct tls_opts tls = {0};
	struct kura_buf list;
	struct kura_repo *src = NULL;
	struct cli_op op;
	uint64_t gen = 0;
	uint8_t vid[16];
	int e;
	kura_buf_init(&list, 8192);
	if ((e = export_opts(c, argc, argv, &from, &to, &gen)))
		return e;
	if ((e = open_admin(c, &op, "backup-export")))
		return e;
	tls_from_settings(op.v, &tls);
	if (!from)
		from = default_target(op.v, &list);
	kura_vault_id(op.v, vid);
	if (!from)
		e = cli_fail(c, KURA_EUSAGE, "give --from TARGET (or set backup.targets)",
			     "--from TARGET を指定してください（または backup.targets を設定）");
	if (!e)
		e = open_repo(c, from, &tls, 0, vid, &src);
	if (!e)
		e = export_run(c, &op, src, gen, to);
	kura_repo_close(src);
	kura_buf_release(&list);
	tls_release(&tls);
	cli_op_close(&op);
	return e;
}

static void print_problem(void *ctx, const char *line)
{
	const struct cli *c = ctx;
	if (!c->json)
		printf("PROBLEM %s\n", line);
}

static int read_pubkey(const struct cli *c, const char *path, uint8_t pub[KURA_PUBKEY_LEN])
{
	struct kura_buf b;
	kura_buf_init(&b, 65536);
	int r = kura_fs_read(path, 65536, &b);
	if (!r)
		r = kura_ed25519_public_from_pem(b.data, b.len, pub);
	kura_buf_release(&b);
	return r ? cli_fail(c, r, "cannot read the public key %s", "公開鍵 %s を読めません", path) : 0;
}

struct verify_args {
	const char *from, *pubfile;
	int read_data;
	struct tls_opts tls;
};

static int verify_opts(struct cli *c, int argc, char **argv, struct verify_args *a)
{
	static const char usage[] =
		"kura backup verify --from TARGET [--pubkey FILE] [--read-data]\n"
		"  check every generation: manifest signatures, consistent history, every\n"
		"  object present and matching its id; --read-data also decrypts everything\n"
		"  and recomputes each generation's tree head (needs the vault: administrators).\n"
		"  Without --pubkey the vault's ledger-pubkey.pem is used when present";
	static const struct option opts[] = {{"from", required_argument, NULL, 'f'},
					     {"pubkey", required_argument, NULL, 'p'},
					     {"read-data", no_argument, NULL, 'r'},
					     {"tls-ca", required_argument, NULL, 'a'},
					     {"tls-cert", required_argument, NULL, 'c'},
					     {"tls-key", required_argument, NULL, 'k'},
					     {NULL, 0, NULL, 0}};
	int o;
	while ((o = cli_getopt(c, argc, argv, "", opts, usage)) != -1) {
		if (o == 'f' || o == 'p')
			*(o == 'f' ? &a->from : &a->pubfile) = optarg;
		else if (o == 'r')
			a->read_data = 1;
		else if (!tls_opt(&a->tls, o, "ack"))
			return EXIT_USAGE;
	}
	if (optind < argc && !a->from)
		a->from = argv[optind++];
	if (optind != argc || !a->from)
		return cli_fail(c, KURA_EUSAGE, "usage: %s", "使い方: %s", usage);
	return 0;
}

/* The vault's ledger public key from its directory, if readable: 1 if read. */
static int vault_pubkey_file(const struct cli *c, uint8_t pub[KURA_PUBKEY_LEN])
{
	struct kura_buf p;
	int have = 0;
	kura_buf_init(&p, 8192);
	if (!kura_buf_printf(&p, "%s/%s", c->vault_dir, KURA_VAULT_PUBKEY) &&
	    !kura_buf_append_byte(&p, 0) && access((char *)p.data, R_OK) == 0)
		have = !read_pubkey(c, (char *)p.data, pub);
	kura_buf_release(&p);
	return have;
}

/* For --read-data: the vault's settings, its public key unless one was
 * given, and the backup keys. */
static int verify_vault_keys(struct cli *c, struct cli_op *op, struct verify_args *a,
			     int have_pub, uint8_t pub[KURA_PUBKEY_LEN],
			     struct kura_backup_keys *keys)
{
	tls_from_settings(op->v, &a->tls);
	if (!have_pub)
		kura_vault_pubkey(op->v, pub);
	if (kura_backup_keys_of(op->v, keys))
		return cli_fail(c, KURA_EINTERNAL, "cannot derive the backup keys",
				"バックアップ鍵を導出できません");
	return 0;
}

static void verify_audit(struct cli_op *op, const char *from, const struct kura_check_result *res,
			 int r)
{
	char detail[256];
	snprintf(detail, sizeof(detail), "%s: %llu generations, %llu objects, %llu problems", from,
		 (unsigned long long)res->generations, (unsigned long long)res->objects,
		 (unsigned long long)res->problems);
	audit_backup(op, "backup-verify", r ? KURA_OUTCOME_MAJOR : 0,
		     r ? KURA_SEV_ALERT : KURA_SEV_INFO, detail);
}

static void print_verify(const struct cli *c, const struct verify_args *a,
			 const struct kura_check_result *res, int r, int have_pub)
{
	if (c->json)
		cli_print_json(json_pack("{sb sI sI sI sI sb sb}", "ok", r == 0, "generations",
					 (json_int_t)res->generations, "objects",
					 (json_int_t)res->objects, "bytes", (json_int_t)res->bytes,
					 "problems", (json_int_t)res->problems, "read_data",
					 a->read_data, "trusted_key", have_pub));
	else
		printf(L(c, "%s: %llu generations, %llu objects, %llu bytes: %s%s\n",
			 "%s: %llu 世代、%llu オブジェクト、%llu バイト: %s%s\n"),
		       a->from, (unsigned long long)res->generations,
		       (unsigned long long)res->objects, (unsigned long long)res->bytes,
		       r ? L(c, "PROBLEMS FOUND", "問題あり") : "ok",
		       have_pub ? "" : L(c, " (no trusted key: give --pubkey)",
					 "（信頼する鍵なし: --pubkey を指定してください）"));
}

/* Check the repository; op is open (and audited) only with --read-data. */
static int verify_check(struct cli *c, struct cli_op *op, const struct verify_args *a,
			struct kura_repo *repo, const uint8_t *pub, struct kura_backup_keys *keys)
{
	struct kura_check_result res;
	int r = kura_backup_check(repo, pub, a->read_data ? keys : NULL, print_problem, c, &res);
	kura_wipe(keys, sizeof(*keys));
	if (a->read_data)
		verify_audit(op, a->from, &res, r);
	if (r && r != KURA_EVERIFY)
		return cli_fail(c, r, "cannot check %s: %s", "%s を検査できません: %s", a->from,
				kura_strerror(r));
	print_verify(c, a, &res, r, pub != NULL);
	return r ? EXIT_VERIFY : EXIT_OK;
}

static int bk_verify(struct cli *c, int argc, char **argv)
{
	struct verify_args a;
	struct kura_repo *repo = NULL;
	struct kura_backup_keys keys;
	struct cli_op op = {0};
	uint8_t pub[KURA_PUBKEY_LEN];
	int e, have_pub = 0;
	memset(&a, 0, sizeof(a));
	if ((e = verify_opts(c, argc, argv, &a)))
		return e;
	if (a.pubfile) {
		if ((e = read_pubkey(c, a.pubfile, pub)))
			return e;
		have_pub = 1;
	}
	if (a.read_data) {
		if ((e = open_admin(c, &op, "backup-verify")))
			return e;
		e = verify_vault_keys(c, &op, &a, have_pub, pub, &keys);
		have_pub = 1;
	} else if (!have_pub) {
		have_pub = vault_pubkey_file(c, pub);
	}
	if (!e)
		e = open_repo(c, a.from, &a.tls, 0, NULL, &repo);
	if (!e)
		e = verify_check(c, &op, &a, repo, have_pub ? pub : NULL, &keys);
	kura_repo_close(repo);
	tls_release(&a.tls);
	if (a.read_data)
		cli_op_close(&op);
	return e;
}

static int prune_opts(struct cli *c, int argc, char **argv, const char **to, int *dry)
{
	static const char usage[] =
		"kura backup prune --to DIR [--dry-run]\n"
		"  remove the generations of a directory target that the retention policy\n"
		"  (backup.keep_*) no longer keeps, and the objects nothing needs; never fewer\n"
		"  than 3.  Immutable files need CAP_LINUX_IMMUTABLE.  Receivers prune\n"
		"  themselves";
	static const struct option opts[] = {{"to", required_argument, NULL, 't'},
					     {"dry-run", no_argument, NULL, 'n'},
					     {NULL, 0, NULL, 0}};
	int o;
	while ((o = cli_getopt(c, argc, argv, "", opts, usage)) != -1) {
		if (o == 't')
			*to = optarg;
		else if (o == 'n')
			*dry = 1;
		else
			return EXIT_USAGE;
	}
	if (optind != argc || !*to || strncmp(*to, "https://", 8) == 0)
		return cli_fail(c, KURA_EUSAGE, "usage: %s", "使い方: %s", usage);
	return 0;
}

/* The repository's generations, each with the retention policy's verdict. */
static int prune_plan(struct cli_op *op, struct kura_repo *repo, struct kura_repo_gen **gens,
		      size_t *n, struct kura_policy_gen **ret_pg)
{
	struct kura_policy pol;
	policy_of(op->v, &pol);
	int r = repo->ops->manifest_list(repo, gens, n);
	struct kura_policy_gen *pg = r ? NULL : calloc(*n ? *n : 1, sizeof(*pg));
	if (!r && !pg)
		r = KURA_ENOMEM;
	for (size_t i = 0; !r && i < *n; i++) {
		pg[i].generation = (*gens)[i].generation;
		pg[i].created_us = (*gens)[i].created_us;
	}
	if (!r)
		kura_policy_apply(&pol, kura_time_now_us(), pg, *n);
	*ret_pg = pg;
	return r;
}

struct prune_counts {
	size_t removed;
	uint64_t objs, freed;
};

/* Remove the generations the policy does not keep, or with dry only say so. */
static int prune_remove(const struct cli *c, struct kura_repo *repo,
			const struct kura_policy_gen *pg, size_t n, int dry, size_t *removed)
{
	int r = 0;
	for (size_t i = 0; i < n; i++) {
		if (pg[i].keep)
			continue;
		if (!dry)
			r = kura_repo_dir_remove_generation(repo, pg[i].generation);
		if (r)
			break;
		(*removed)++;
		if (c->json)
			;
		else if (dry)
			printf(L(c, "would remove generation %llu\n", "世代 %llu を削除予定\n"),
			       (unsigned long long)pg[i].generation);
		else
			printf(L(c, "removed generation %llu\n", "世代 %llu を削除\n"),
			       (unsigned long long)pg[i].generation);
	}
	return r;
}

static int prune_report(struct cli *c, struct cli_op *op, struct kura_repo *repo, const char *to,
			int r, int dry, const struct prune_counts *p)
{
	char detail[256];
	snprintf(detail, sizeof(detail), "%s: %zu generations, %llu objects, %llu bytes removed%s", to,
		 p->removed, (unsigned long long)p->objs, (unsigned long long)p->freed,
		 dry ? " (dry run)" : "");
	audit_backup(op, "backup-prune", r ? KURA_OUTCOME_SERIOUS : 0, KURA_SEV_NOTICE, detail);
	if (r)
		return cli_fail(c, r, "pruning %s failed: %s (%s)", "%s の整理に失敗しました: %s（%s）",
				to, kura_strerror(r), repo->err);
	if (c->json)
		cli_print_json(json_pack("{sI sI sI sb}", "generations_removed",
					 (json_int_t)p->removed, "objects_removed",
					 (json_int_t)p->objs, "bytes_freed", (json_int_t)p->freed,
					 "dry_run", dry));
	return 0;
}

static int prune_run(struct cli *c, struct cli_op *op, struct kura_repo *repo, const char *to,
		     int dry)
{
	struct kura_repo_gen *gens = NULL;
	struct kura_policy_gen *pg = NULL;
	struct prune_counts p = {0};
	size_t n = 0;
	int r = prune_plan(op, repo, &gens, &n, &pg);
	if (!r)
		r = prune_remove(c, repo, pg, n, dry, &p.removed);
	if (!r && !dry)
		r = kura_repo_dir_gc(repo, 0, &p.objs, &p.freed);
	int e = prune_report(c, op, repo, to, r, dry, &p);
	free(pg);
	free(gens);
	return e;
}

static int bk_prune(struct cli *c, int argc, char **argv)
{
	const char *to = NULL;
	struct kura_repo *repo = NULL;
	struct cli_op op;
	uint8_t vid[16];
	int e, dry = 0;
	if ((e = prune_opts(c, argc, argv, &to, &dry)))
		return e;
	if ((e = open_admin(c, &op, "backup-prune")))
		return e;
	kura_vault_id(op.v, vid);
	if (!(e = open_repo(c, to, NULL, 0, vid, &repo)))
		e = prune_run(c, &op, repo, to, dry);
	kura_repo_close(repo);
	cli_op_close(&op);
	return e;
}

int cmd_backup(struct cli *c, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(struct cli *, int, char **);
	} sub[] = {{"run", bk_run},       {"list", bk_list},     {"status", bk_status},
		   {"export", bk_export}, {"verify", bk_verify}, {"prune", bk_prune}};
	static const char usage[] =
		"kura backup run|list|status|export|verify|prune ... (--help for each)";
	for (size_t i = 0; argc > 1 && i < sizeof(sub) / sizeof(sub[0]); i++)
		if (strcmp(argv[1], sub[i].name) == 0)
			return sub[i].run(c, argc - 1, argv + 1);
	return cli_fail(c, KURA_EUSAGE, "usage: %s", "使い方: %s", usage);
}

/* ---- kura restore / kura drill ---- */

static void refused_cb(void *ctx, uint64_t gen, int err, const char *why)
{
	const struct cli *c = ctx;
	(void)err;
	if (!c->json)
		fprintf(stderr, L(c, "generation %llu refused: %s\n", "世代 %llu を拒否: %s\n"),
			(unsigned long long)gen, why);
}

static int open_scanner(const struct cli *c, const char *db, struct kura_scanner **ret)
{
	char err[256] = "";
	unsigned sigs = 0;
	int r = kura_scan_open(db, ret, &sigs, err);
	if (r == KURA_EINVAL)
		return cli_fail(c, r, "no malware signature is loaded from %s: a restore would scan nothing, so it does not run (give --clamav-db DIR)",
				"%s からマルウェア定義を読み込めません。検査なしの復元は行いません（--clamav-db DIR を指定）",
				db);
	if (r)
		return cli_fail(c, r, "cannot load the malware signatures from %s: %s",
				"マルウェア定義 %s を読み込めません: %s", db, *err ? err : kura_strerror(r));
	return 0;
}

static json_t *restore_json(const struct kura_restore_result *res, const char *to, double secs)
{
	return json_pack("{sI so sI sI sI sI sI sI sI sf so sI sf sI ss sf}", "generation",
			 (json_int_t)res->generation, "sth", kura_backup_sth_json(&res->sth), "versions",
			 (json_int_t)res->versions, "events", (json_int_t)res->events, "patients",
			 (json_int_t)res->patients, "state_rows", (json_int_t)res->state_rows,
			 "content_bytes", (json_int_t)res->content_bytes, "scanned_documents",
			 (json_int_t)res->scanned_docs, "scanned_bytes", (json_int_t)res->scanned_bytes,
			 "scan_seconds", res->scan_seconds, "newest_known", kura_backup_sth_json(&res->newest),
			 "rpo_entries", (json_int_t)res->rpo_entries, "rpo_seconds",
			 (double)res->rpo_us / 1e6, "later_tree_heads_checked",
			 (json_int_t)res->later_checked, "to", to, "seconds", secs);
}

static void print_restore(const struct cli *c, const struct kura_restore_result *res,
			  const char *to, double secs)
{
	char root[65];
	hex32(res->sth.root, root);
	printf(L(c, "restored generation %llu into %s\n", "世代 %llu を %s に復元しました\n"),
	       (unsigned long long)res->generation, to);
	printf(L(c, "  tree head: size %llu, root %s\n", "  ツリーヘッド: サイズ %llu、ルート %s\n"),
	       (unsigned long long)res->sth.tree_size, root);
	printf(L(c, "  %llu versions, %llu events, %llu patients, %llu state rows\n",
		 "  版 %llu、イベント %llu、患者 %llu、状態行 %llu\n"),
	       (unsigned long long)res->versions, (unsigned long long)res->events,
	       (unsigned long long)res->patients, (unsigned long long)res->state_rows);
	printf(L(c, "  malware scan: %llu documents, %llu bytes, clean\n",
		 "  マルウェア検査: 文書 %llu、%llu バイト、検出なし\n"),
	       (unsigned long long)res->scanned_docs, (unsigned long long)res->scanned_bytes);
	printf(L(c, "  consistent with %llu later tree heads; RPO: %llu entries, %.0f s behind the newest known\n",
		 "  後続のツリーヘッド %llu 件と整合。RPO: 最新より %llu 件、%.0f 秒前\n"),
	       (unsigned long long)res->later_checked, (unsigned long long)res->rpo_entries,
	       (double)res->rpo_us / 1e6);
	printf(L(c, "  verified (kura verify passed) in %.2f s\n",
		 "  検証済み（kura verify 合格）、所要 %.2f 秒\n"), secs);
}

static int restore_fail(const struct cli *c, int r, const struct kura_restore_result *res)
{
	if (r == KURA_ESTATE)
		return cli_fail(c, KURA_EVERIFY, "generation %llu is infected (%s): not restored; try --latest-clean",
				"世代 %llu はマルウェアに感染しています（%s）。復元しません。--latest-clean を試してください",
				(unsigned long long)res->generation, res->infected);
	if (r == KURA_EDENIED)
		return cli_fail(c, r, "%s", "%s", *res->why ? res->why : "wrong passphrase or recovery key");
	return cli_fail(c, r == KURA_ECRYPTO ? KURA_EVERIFY : r, "restore refused: %s",
			"復元を拒否しました: %s", *res->why ? res->why : kura_strerror(r));
}

/* Record the restore in the restored vault's own trail. */
static int record_restore(const char *dir, const char *pass, size_t plen, const char *from,
			  const struct kura_restore_result *res, int recovery)
{
	struct kura_vault *v = NULL;
	struct kura_txn *t = NULL;
	struct kura_event ev;
	struct kura_actor who = {0};
	char detail[512];
	int r = kura_vault_open(dir, pass, plen, 0, &v);
	cli_where(&who);
	kura_audit_event(&ev, &who, "backup-restore");
	snprintf(detail, sizeof(detail),
		 "restored generation %llu (tree size %llu) from %s with the %s; %llu documents scanned clean",
		 (unsigned long long)res->generation, (unsigned long long)res->sth.tree_size, from,
		 recovery ? "recovery key" : "passphrase", (unsigned long long)res->scanned_docs);
	KURA_AUDIT_SET(ev.detail, detail);
	ev.severity = KURA_SEV_NOTICE;
	if (!r)
		r = kura_txn_begin(v, &t);
	if (!r)
		r = kura_txn_event(t, &ev, NULL);
	if (t)
		r = kura_txn_finish(t, r, NULL);
	kura_vault_close(v);
	return r;
}

static int read_recovery(const struct cli *c, const char *path, char **ret, size_t *ret_len)
{
	struct kura_buf b;
	kura_buf_init(&b, 4096);
	int r = kura_fs_read(path, 4096, &b);
	while (!r && b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
		b.len--;
	char *s = r ? NULL : kura_secret_alloc(b.len + 1);
	if (!r && !s)
		r = KURA_ENOMEM;
	if (!r) {
		memcpy(s, b.data, b.len);
		s[b.len] = 0;
		*ret = s;
		*ret_len = b.len;
	}
	kura_buf_release_secret(&b);
	return r ? cli_fail(c, r, "cannot read the recovery key file %s", "復旧鍵ファイル %s を読めません",
			    path)
		 : 0;
}

struct restore_args {
	const char *from, *to, *rkey, *pubfile, *db, *against[16];
	struct tls_opts tls;
	struct kura_restore_opts ro;
};

/* Where the string option o goes; NULL if it is not one. */
static const char **restore_slot(struct restore_args *a, int o)
{
	switch (o) {
	case 'f':
		return &a->from;
	case 't':
		return &a->to;
	case 'r':
		return &a->rkey;
	case 'p':
		return &a->pubfile;
	case 'd':
		return &a->db;
	case 'A':
		return &a->tls.ca;
	case 'C':
		return &a->tls.cert;
	case 'K':
		return &a->tls.key;
	default:
		return NULL;
	}
}

static int restore_opts(struct cli *c, int argc, char **argv, struct restore_args *a)
{
	static const char usage[] =
		"kura restore --from TARGET [--generation G | --latest-clean] --to NEWDIR\n"
		"             [--recovery-key-file FILE] [--against FILE]... [--pubkey FILE]\n"
		"             [--clamav-db DIR] [--tls-ca F --tls-cert F --tls-key F] [--json]\n"
		"  restore a generation into a new vault after checking signatures, every\n"
		"  object, the ledger, consistency with later tree heads and every document\n"
		"  against malware signatures; never over an existing vault.  The passphrase\n"
		"  is asked for (KURA_PASSPHRASE_FILE); with a recovery key, a new one";
	static const struct option opts[] = {{"from", required_argument, NULL, 'f'},
					     {"to", required_argument, NULL, 't'},
					     {"generation", required_argument, NULL, 'g'},
					     {"latest-clean", no_argument, NULL, 'l'},
					     {"recovery-key-file", required_argument, NULL, 'r'},
					     {"against", required_argument, NULL, 'a'},
					     {"pubkey", required_argument, NULL, 'p'},
					     {"clamav-db", required_argument, NULL, 'd'},
					     {"tls-ca", required_argument, NULL, 'A'},
					     {"tls-cert", required_argument, NULL, 'C'},
					     {"tls-key", required_argument, NULL, 'K'},
					     {NULL, 0, NULL, 0}};
	struct kura_restore_opts *ro = &a->ro;
	const char **slot;
	int o;
	while ((o = cli_getopt(c, argc, argv, "", opts, usage)) != -1) {
		if ((slot = restore_slot(a, o)))
			*slot = optarg;
		else if (o == 'g' && !cli_parse_u64(optarg, &ro->generation) && ro->generation)
			;
		else if (o == 'l')
			ro->latest_clean = 1;
		else if (o == 'a' && ro->nagainst < 16)
			a->against[ro->nagainst++] = optarg;
		else
			return EXIT_USAGE;
	}
	if (optind != argc || !a->from || !a->to || (ro->generation && ro->latest_clean))
		return cli_fail(c, KURA_EUSAGE, "usage: %s", "使い方: %s", usage);
	return 0;
}

/* The secret that opens the backup, and with a recovery key the new
 * passphrase; both are the caller's to free. */
static int restore_secrets(struct cli *c, struct restore_args *a, char **secret, char **newpass)
{
	struct kura_restore_opts *ro = &a->ro;
	int r;
	if (!a->rkey) {
		r = cli_passphrase(c, 0, secret, &ro->secret_len);
		if (r)
			return cli_fail(c, r, "the vault passphrase is needed",
					"保管庫のパスフレーズが必要です");
	} else {
		if ((r = read_recovery(c, a->rkey, secret, &ro->secret_len)))
			return r;
		ro->recovery = 1;
		r = cli_passphrase(c, 1, newpass, &ro->new_pass_len);
		if (r)
			return cli_fail(c, r, "a new passphrase is needed for the restored vault",
					"復元した保管庫の新しいパスフレーズが必要です");
		ro->new_pass = *newpass;
	}
	ro->secret = *secret;
	return 0;
}

/* Restore, record the restore in the new vault and report it. */
static int restore_run(struct cli *c, struct kura_repo *repo, const struct restore_args *a)
{
	const struct kura_restore_opts *ro = &a->ro;
	struct kura_restore_result res;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int r = kura_restore(repo, a->to, ro, &res);
	double secs = seconds_since(&t0);
	cli_progress_end(c);
	if (!r)
		r = record_restore(a->to, ro->recovery ? ro->new_pass : ro->secret,
				   ro->recovery ? ro->new_pass_len : ro->secret_len, a->from, &res,
				   ro->recovery);
	if (r)
		return restore_fail(c, r, &res);
	if (c->json)
		cli_print_json(restore_json(&res, a->to, secs));
	else
		print_restore(c, &res, a->to, secs);
	return 0;
}

int cmd_restore(struct cli *c, int argc, char **argv)
{
	struct restore_args a;
	struct kura_repo *repo = NULL;
	struct kura_scanner *scan = NULL;
	uint8_t pub[KURA_PUBKEY_LEN];
	char *secret = NULL, *newpass = NULL;
	int e;
	memset(&a, 0, sizeof(a));
	a.db = KURA_SCAN_DEFAULT_DB;
	if ((e = restore_opts(c, argc, argv, &a)))
		return e;
	if (a.pubfile && (e = read_pubkey(c, a.pubfile, pub)))
		return e;
	if ((e = open_scanner(c, a.db, &scan)))
		return e;
	e = open_repo(c, a.from, &a.tls, 0, NULL, &repo);
	if (!e)
		e = restore_secrets(c, &a, &secret, &newpass);
	if (!e) {
		a.ro.scanner = scan;
		a.ro.trusted_pub = a.pubfile ? pub : NULL;
		a.ro.against = a.against;
		a.ro.progress = cli_progress;
		a.ro.pctx = c;
		a.ro.refused = refused_cb;
		a.ro.rctx = c;
		e = restore_run(c, repo, &a);
	}
	kura_secret_free(secret);
	kura_secret_free(newpass);
	kura_repo_close(repo);
	kura_scan_close(scan);
	return e;
}

static int rm_scratch(const char *dir)
{
	char cmd[8192];
	/* The scratch directory is ours (mkdtemp): remove it with everything in it. */
	if (snprintf(cmd, sizeof(cmd), "%s", dir) >= (int)sizeof(cmd))
		return KURA_EINVAL;
	struct kura_buf p;
	kura_buf_init(&p, 8192);
	static const char *const files[] = {KURA_VAULT_DB, KURA_VAULT_DB "-wal", KURA_VAULT_DB "-shm",
					    KURA_VAULT_PUBKEY, NULL};
	for (size_t i = 0; files[i]; i++) {
		kura_buf_reset(&p);
		if (!kura_buf_printf(&p, "%s/%s", dir, files[i]) && !kura_buf_append_byte(&p, 0))
			unlink((char *)p.data);
	}
	kura_buf_release(&p);
	return rmdir(dir) ? KURA_EIO : 0;
}

static int drill_opts(struct cli *c, int argc, char **argv, const char **from, const char **db,
		      const char **scratch_base)
{
	static const char usage[] =
		"kura drill [--from TARGET] [--clamav-db DIR] [--scratch DIR] [--json]\n"
		"  a restore drill (BC-02): restore the newest generation into a scratch\n"
		"  directory, verify it, measure RTO and RPO, remove it, and record the\n"
		"  result (administrators; asks for the vault passphrase again)";
	static const struct option opts[] = {{"from", required_argument, NULL, 'f'},
					     {"clamav-db", required_argument, NULL, 'd'},
					     {"scratch", required_argument, NULL, 's'},
					     {NULL, 0, NULL, 0}};
	int o;
	while ((o = cli_getopt(c, argc, argv, "", opts, usage)) != -1) {
		if (o == 'f' || o == 'd' || o == 's')
			*(o == 'f' ? from : o == 'd' ? db : scratch_base) = optarg;
		else
			return EXIT_USAGE;
	}
	if (optind != argc)
		return cli_fail(c, KURA_EUSAGE, "usage: %s", "使い方: %s", usage);
	return 0;
}

/* mkdtemp a scratch directory in base, else $TMPDIR, else /tmp; its name
 * is held in tmpl. */
static int make_scratch(const char *base, struct kura_buf *tmpl, char **ret)
{
	if (!base)
		base = getenv("TMPDIR");
	int r = kura_buf_printf(tmpl, "%s/kura-drill-XXXXXX", base && *base ? base : "/tmp"); /* mkdtemp fills the X's */
	if (!r)
		r = kura_buf_append_byte(tmpl, 0);
	*ret = r ? NULL : mkdtemp((char *)tmpl->data);
	return !r && !*ret ? KURA_EIO : r;
}

struct drill {
	const char *from;
	struct kura_restore_result res;
	double rto, rpo_s;
	uint64_t rpo_entries;
};

/* Restore the newest generation into a scratch directory and remove it:
 * the RTO, and the RPO against the live vault (what a loss now would take
 * back). */
static int drill_restore(struct cli *c, struct cli_op *op, struct kura_repo *repo,
			 struct kura_scanner *scan, const char *scratch_base, struct drill *d)
{
	struct kura_restore_opts ro = {0};
	struct kura_sth live;
	struct kura_buf tmpl;
	struct timespec t0;
	uint8_t pub[KURA_PUBKEY_LEN];
	char *secret = NULL, *scratch = NULL;
	kura_buf_init(&tmpl, 8192);
	kura_vault_pubkey(op->v, pub);
	int r = cli_passphrase(c, 0, &secret, &ro.secret_len);
	if (!r)
		r = kura_vault_sth(op->v, &live);
	if (!r)
		r = make_scratch(scratch_base, &tmpl, &scratch);
	ro.secret = secret;
	ro.scanner = scan;
	ro.trusted_pub = pub;
	ro.progress = cli_progress;
	ro.pctx = c;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!r)
		r = kura_restore(repo, scratch, &ro, &d->res);
	d->rto = seconds_since(&t0);
	cli_progress_end(c);
	if (scratch)
		rm_scratch(scratch);
	if (!r) {
		d->rpo_entries = live.tree_size >= d->res.sth.tree_size
					 ? live.tree_size - d->res.sth.tree_size
					 : 0;
		d->rpo_s = (double)(live.time_us - d->res.sth.time_us) / 1e6;
	}
	kura_secret_free(secret);
	kura_buf_release(&tmpl);
	return r;
}

static void print_drill(const struct cli *c, const struct drill *d, json_t *dj)
{
	if (c->json) {
		cli_print_json(json_pack("{sO sf sI sf so}", "drill", dj, "rto_seconds", d->rto,
					 "rpo_entries", (json_int_t)d->rpo_entries, "rpo_seconds",
					 d->rpo_s, "restore",
					 restore_json(&d->res, "(scratch, removed)", d->rto)));
		return;
	}
	print_restore(c, &d->res, L(c, "a scratch directory (removed)", "作業用ディレクトリ（削除済み）"),
		      d->rto);
	printf(L(c, "drill passed: RTO %.2f s, RPO %llu entries (%.0f s) behind the live vault\n",
		 "復旧訓練に合格: RTO %.2f 秒、RPO 現在の保管庫より %llu 件（%.0f 秒）\n"),
	       d->rto, (unsigned long long)d->rpo_entries, d->rpo_s);
}

/* The drill from the open repository: restore, record, report. */
static int drill_run(struct cli *c, struct cli_op *op, struct kura_repo *repo,
		     struct kura_scanner *scan, const char *from, const char *scratch_base)
{
	struct drill d;
	memset(&d, 0, sizeof(d));
	d.from = from;
	int r = drill_restore(c, op, repo, scan, scratch_base, &d);
	struct kura_backup_drill bd = {from, &d.res, r, d.rto, d.rpo_s, d.rpo_entries,
				       kura_time_now_us()};
	json_t *dj = kura_backup_drill_json(&bd);
	int x = kura_backup_record_drill(op->v, &op->id.actor, &bd, dj), e = 0;
	if (x && !r)
		r = x;
	if (r)
		e = restore_fail(c, r, &d.res);
	else
		print_drill(c, &d, dj);
	json_decref(dj);
	return e;
}

int cmd_drill(struct cli *c, int argc, char **argv)
{
	const char *from = NULL, *db = NULL, *scratch_base = NULL;
	struct tls_opts tls = {0};
	struct kura_buf list, dbs;
	struct kura_repo *repo = NULL;
	struct kura_scanner *scan = NULL;
	struct cli_op op;
	uint8_t vid[16];
	int e;
	kura_buf_init(&list, 8192);
	kura_buf_init(&dbs, 1);
	if ((e = drill_opts(c, argc, argv, &from, &db, &scratch_base)))
		return e;
	if ((e = open_admin(c, &op, "backup-drill")))
		return e;
	tls_from_settings(op.v, &tls);
	if (!db)
		db = setting_str(op.v, "backup.clamav_db", &dbs);
	if (!from)
		from = default_target(op.v, &list);
	if (!from)
		e = cli_fail(c, KURA_EUSAGE, "give --from TARGET (or set backup.targets)",
			     "--from TARGET を指定してください（または backup.targets を設定）");
	if (!e)
		e = open_scanner(c, db, &scan);
	if (!e) {
		kura_vault_id(op.v, vid);
		e = open_repo(c, from, &tls, 0, vid, &repo);
	}
	if (!e)
		e = drill_run(c, &op, repo, scan, from, scratch_base);
	kura_buf_release(&dbs);
	kura_repo_close(repo);
	kura_scan_close(scan);
	kura_buf_release(&list);
	tls_release(&tls);
	cli_op_close(&op);
	return e;
}
