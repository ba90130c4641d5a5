/* cmd_vault.c - `kura init` and `kura verify`. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "crypto/crypto.h"
#include "util/fs.h"
#include "util/limits.h"
#include "util/time.h"
#include "vault/verify.h"
#include "fhir/import.h"
#include "util/banned.h"

static const char init_usage[] =
	"kura init [--vault DIR] [--kdf-ops N] [--kdf-mem-mib N] [--admin USER]\n"
	"          [--admin-password-file FILE] [--recovery-key-file FILE]\n"
	"  create a vault and its first security administrator (default 'admin')\n"
	"  with a one-time initial password (printed once, or taken from FILE),\n"
	"  which must be changed at first login, and a recovery key (printed once,\n"
	"  or written to a new 0600 FILE): print it and keep it offline; it opens\n"
	"  backups if the passphrase is lost (docs/RECOVERY.md).  The passphrase\n"
	"  comes from KURA_PASSPHRASE_FILE, KURA_PASSPHRASE or the terminal.\n"
	"  Argon2id defaults: 3 passes, 64 MiB.";

/* The first administrator and the recovery key, in one transaction with
 * its event; the key file (if any) is written before the commit (cmd_init
 * removes it if anything fails), so a key that works is never lost. */
static int admin_txn(struct kura_vault *v, const struct kura_account_spec *spec, const char *pw,
		     const struct kura_event *e, const char *rkfile, char *rkey, int *ret_file_err)
{
	struct kura_txn *t = NULL;
	int r = kura_txn_begin(v, &t);
	if (!r)
		r = kura_account_add(t, spec, pw, strlen(pw));
	if (!r)
		r = kura_txn_recovery_new(t, rkey);
	if (!r)
		r = kura_txn_event(t, e, NULL);
	if (!r && rkfile && (r = cli_write_secret_line(rkfile, rkey)))
		*ret_file_err = 1;
	return t ? kura_txn_finish(t, r, NULL) : r;
}

static int create_admin(struct cli *c, const char *admin, const char *pw, const char *rkfile,
			char *rkey)
{
	struct kura_vault *v = NULL;
	struct kura_event e;
	struct kura_actor who;
	int file_err = 0;
	int r = cli_open_vault(c, 0, &v);
	if (r)
		return r;
	struct kura_account_spec spec = {admin, "", "", "security-admin", "", 0};
	cli_where(&who);
	KURA_AUDIT_SET(who.user, admin);
	KURA_AUDIT_SET(who.role, "security-admin");
	kura_audit_event(&e, &who, "account-add");
	e.severity = KURA_SEV_NOTICE;
	snprintf(e.detail, sizeof(e.detail),
		 "first security administrator '%s' and a recovery key created by kura init", admin);
	r = admin_txn(v, &spec, pw, &e, rkfile, rkey, &file_err);
	kura_vault_close(v);
	if (file_err)
		return cli_fail(c, r, "cannot write the recovery key to '%s'; remove the vault '%s' and run kura init again",
				"復旧鍵を '%s' に書き込めません。保管庫 '%s' を削除して kura init をやり直してください",
				rkfile, c->vault_dir);
	return r ? cli_fail_code(c, r, admin) : 0;
}

/* The first security administrator (K2: 'kura init creates the first
 * security administrator and forces a password change at first login'). */
static int init_admin(struct cli *c, const char *admin, const char *pwfile, char *pw, size_t cap,
		      const char *rkfile, char *rkey)
{
	size_t n = 0;
	int r = 0;
	if (pwfile)
		r = cli_read_password_file(pwfile, pw, cap, &n);
	else
		cli_random_password(pw);
	return r ? cli_fail_file(c, r, pwfile) : create_admin(c, admin, pw, rkfile, rkey);
}

struct init_args {
	struct kura_kdf_params kdf;
	const char *admin, *pwfile, *rkfile;
};

static int parse_init(struct cli *c, int argc, char **argv, struct init_args *a)
{
	static const struct option opts[] = {
		{"kdf-ops", required_argument, NULL, 'o'},
		{"kdf-mem-mib", required_argument, NULL, 'm'},
		{"admin", required_argument, NULL, 'A'},
		{"admin-password-file", required_argument, NULL, 'P'},
		{"recovery-key-file", required_argument, NULL, 'R'},
		{NULL, 0, NULL, 0},
	};
	uint64_t v;
	int o;
	while ((o = cli_getopt(c, argc, argv, "", opts, init_usage)) != -1) {
		if (o == '?')
			return EXIT_USAGE;
		if (o == 'A' || o == 'P' || o == 'R') {
			*(o == 'A' ? &a->admin : o == 'P' ? &a->pwfile : &a->rkfile) = optarg;
			continue;
		}
		if (cli_parse_u64(optarg, &v) || v == 0 || v > 1u << 20)
			return cli_fail(c, KURA_EUSAGE, "invalid number '%s'", "不正な数値 '%s'", optarg);
		if (o == 'o')
			a->kdf.ops = v;
		else
			a->kdf.mem_kib = v * 1024;
	}
	if (optind != argc)
		return cli_fail(c, KURA_EUSAGE, "usage: %s", "使い方: %s", init_usage);
	if (!kura_valid_id(a->admin))
		return cli_fail(c, KURA_EINVAL, "invalid administrator id '%s'", "不正な管理者 ID '%s'",
				a->admin);
	return 0;
}

/* What init made; pw and rkey are NULL when they went to files. */
static int print_init(struct cli *c, const struct kura_sth *sth, const struct init_args *a,
		      const char *pw, const char *rkey)
{
	if (c->json)
		return cli_print_json(json_pack("{s:s, s:o, s:s, s:s?, s:s?, s:s?}", "vault",
						c->vault_dir, "sth", kura_sth_to_json(sth), "admin",
						a->admin, "initial_password", pw, "recovery_key", rkey,
						"recovery_key_file", a->rkfile));
	printf(L(c, "created vault '%s' (ledger public key in %s/%s)\n",
		 "保管庫 '%s' を作成しました（台帳の公開鍵: %s/%s）\n"),
	       c->vault_dir, c->vault_dir, KURA_VAULT_PUBKEY);
	if (pw)
		printf(L(c, "security administrator '%s', initial password (shown once, change it at first login): %s\n",
			 "セキュリティ管理者 '%s' の初期パスワード（一度だけ表示、初回ログイン時に変更）: %s\n"),
		       a->admin, pw);
	if (rkey)
		printf(L(c, "recovery key (shown once; print it, keep two copies offline, see docs/RECOVERY.md):\n  %s\n",
			 "復旧鍵（一度だけ表示。印刷して 2 部をオフラインで保管してください。docs/RECOVERY.md 参照）:\n  %s\n"),
		       rkey);
	else
		printf(L(c, "recovery key written to '%s' (mode 0600): print it, keep it offline, then delete the file\n",
			 "復旧鍵を '%s' に書き出しました（モード 0600）。印刷してオフラインで保管し、ファイルは削除してください\n"),
		       a->rkfile);
	return fflush(stdout) ? EXIT_IO : 0;
}

static int init_vault(struct cli *c, const struct init_args *ia)
{
	struct kura_kdf_params kdf = ia->kdf;
	const char *admin = ia->admin, *pwfile = ia->pwfile;
	char *pass;
	size_t n;
	int e = cli_passphrase(c, 1, &pass, &n);
	if (e)
		return e;
	struct kura_sth sth;
	int r = kura_vault_init(c->vault_dir, pass, n, &kdf, &sth);
	kura_secret_free(pass);
	if (r == KURA_EEXIST)
		return cli_fail(c, r, "a vault already exists at '%s'; choose another --vault DIR",
				"'%s' には既に保管庫があります。別の --vault DIR を指定してください",
				c->vault_dir);
	if (r == KURA_EINVAL)
		return cli_fail(c, r, "Argon2id parameters out of range (ops >= 1, memory >= 1 MiB)",
				"Argon2id のパラメータが範囲外です（ops >= 1、メモリ >= 1 MiB）");
	if (r == KURA_ENOMEM)
		return cli_fail(c, r, "not enough memory for Argon2id with %llu MiB; choose a smaller --kdf-mem-mib",
				"Argon2id に %llu MiB のメモリを確保できません。--kdf-mem-mib を小さくしてください",
				(unsigned long long)(kdf.mem_kib / 1024));
	if (r)
		return cli_fail_code(c, r, c->vault_dir);
	/* Both secrets in one locked allocation: the password, then the key. */
	char *pw = kura_secret_alloc(KURA_MAX_PASSWORD + 2 + KURA_RECOVERY_KEY_TEXT_LEN + 1);
	char *rkey = pw ? pw + KURA_MAX_PASSWORD + 2 : NULL;
	e = pw ? init_admin(c, admin, pwfile, pw, KURA_MAX_PASSWORD + 1, ia->rkfile, rkey)
	       : EXIT_INTERNAL;
	if (!e)
		e = print_init(c, &sth, ia, pwfile ? NULL : pw, ia->rkfile ? NULL : rkey);
	kura_secret_free(pw);
	return e;
}

int cmd_init(struct cli *c, int argc, char **argv)
{
	struct init_args ia = {{KURA_KDF_DEFAULT_OPS, KURA_KDF_DEFAULT_MEM_KIB}, "admin", NULL, NULL};
	int e = parse_init(c, argc, argv, &ia);
	if (e || (ia.rkfile && (e = cli_claim_new_file(c, ia.rkfile, "--recovery-key-file"))))
		return e;
	e = init_vault(c, &ia);
	if (e && ia.rkfile)
		unlink(ia.rkfile);
	return e;
}

static const char verify_usage[] =
	"kura verify [--vault DIR] [--against STH_FILE] [--json]\n"
	"  recompute every ciphertext, hash, version chain, leaf, tree head and\n"
	"  tree node; with --against, also check consistency with a tree head\n"
	"  saved earlier (kura sth -o FILE).  Exit 1 names every problem.";

/* Japanese text for each finding code of verify.h (the library's detail
 * line is English; the code and location say the rest). */
static const struct {
	const char *code, *ja;
} finding_ja[] = {
	{"store-damaged", "データベースの構造が破損しています"},
	{"sth-missing", "署名付きツリーヘッドがありません"},
	{"sth-signature", "ツリーヘッドの署名を検証できません"},
	{"sth-order", "ツリーヘッドの順序または時刻が不正です"},
	{"sth-root", "ツリーヘッドがリーフと一致しません"},
	{"sth-size", "ツリーヘッドのサイズが保存された版の数を超えています"},
	{"leaf-missing", "リーフに対応する版がありません（行の削除？）"},
	{"leaf-extra", "署名済みツリーの外に版があります（行の挿入？）"},
	{"leaf-encoding", "版の項目が範囲外です"},
	{"leaf-hash", "版の行が台帳のリーフと一致しません（行の改ざん？）"},
	{"row-damaged", "版の行を読み取れません"},
	{"chain", "版の連鎖（版番号・前版ハッシュ・患者・種別）が不正です"},
	{"after-retraction", "取消の後に版があります"},
	{"authors", "入力者・確定者の規則に反しています（AUTH-06 など）"},
	{"ciphertext", "暗号文を認証できません"},
	{"content-hash", "復号した内容がハッシュと一致しません"},
	{"commitment", "内容が台帳のコミットメントと一致しません"},
	{"length", "内容の長さが台帳と異なります"},
	{"patient-key", "患者のデータ鍵がないか破損しています"},
	{"content", "取消の版に内容があります"},
	{"node", "保存されたツリーノードがリーフと一致しません"},
	{"node-extra", "ツリーの外にノードがあります"},
	{"node-missing", "ツリーノードが欠けています"},
	{"against-key", "保存されたツリーヘッドはこの保管庫の鍵で署名されていません（置き換え？）"},
	{"against-rollback", "保管庫が保存されたツリーヘッドより古くなっています（巻き戻し？）"},
	{"against-root", "保存されたツリーヘッドと履歴が異なります（履歴の書き換え）"},
	{"leaf-duplicate", "同じリーフを複数の行が主張しています（行の挿入？）"},
	{"event-encoding", "監査イベントの項目が範囲外です"},
	{"event-hash", "監査イベントの行が台帳のリーフと一致しません（行の改ざん？）"},
	{"state-mac", "状態の行に保管庫の MAC がありません（kura 外での編集？）"},
};

static const char *detail_text(const struct cli *c, const struct kura_verify_problem *p)
{
	if (c->lang == LANG_JA)
		for (size_t i = 0; i < sizeof(finding_ja) / sizeof(finding_ja[0]); i++)
			if (strcmp(finding_ja[i].code, p->code) == 0)
				return finding_ja[i].ja;
	return p->detail;
}

static void print_problem(void *ctx, const struct kura_verify_problem *p)
{
	struct cli *c = ctx;
	FILE *f = c->json ? stderr : stdout;
	if (c->progress)
		fputc('\n', stderr);
	fprintf(f, "%s [%s]", L(c, "FAIL", "不一致"), p->code);
	if (p->record_id[0]) {
		char id[KURA_MAX_ID + 1];
		size_t i = 0;
		for (; p->record_id[i]; i++)
			id[i] = (unsigned char)p->record_id[i] < 0x20 || p->record_id[i] == 0x7f
					? '?' : p->record_id[i];
		id[i] = 0;
		fprintf(f, L(c, " record %s version %u", " 記録 %s 版 %u"), id, p->version);
	}
	if (p->leaf_index != KURA_NO_LEAF)
		fprintf(f, L(c, " leaf %llu", " リーフ %llu"), (unsigned long long)p->leaf_index);
	if (p->tree_size)
		fprintf(f, L(c, " tree-size %llu", " ツリーサイズ %llu"), (unsigned long long)p->tree_size);
	const char *text = detail_text(c, p);
	/* Numbers that only the English detail carries (a node's place, sizes)
	 * are kept beside the Japanese text. */
	if (text != p->detail && strpbrk(p->detail, "0123456789"))
		fprintf(f, ": %s（%s）\n", text, p->detail);
	else
		fprintf(f, ": %s\n", text);
}

struct json_problems {
	struct cli *c;
	json_t *list;
};

static void collect_problem(void *ctx, const struct kura_verify_problem *p)
{
	struct json_problems *jp = ctx;
	json_t *o = json_pack("{s:s, s:s}", "code", p->code, "detail", p->detail);
	if (!o)
		return;
	if (p->record_id[0]) {
		json_object_set_new(o, "record", json_string(p->record_id));
		json_object_set_new(o, "version", json_integer(p->version));
	}
	if (p->leaf_index != KURA_NO_LEAF)
		json_object_set_new(o, "leaf_index", json_integer((json_int_t)p->leaf_index));
	if (p->tree_size)
		json_object_set_new(o, "tree_size", json_integer((json_int_t)p->tree_size));
	json_array_append_new(jp->list, o);
}

static void verify_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct json_problems *jp = ctx;
	cli_progress(jp->c, done, total);
}

static void json_problem(void *ctx, const struct kura_verify_problem *p)
{
	struct json_problems *jp = ctx;
	if (jp->c->json)
		collect_problem(jp, p);
	else
		print_problem(jp->c, p);
}

static int load_against(struct cli *c, const char *path, struct kura_sth *ret)
{
	struct kura_buf b;
	kura_buf_init(&b, KURA_MAX_PROOF_FILE);
	int r = kura_fs_read(path, b.max, &b);
	json_t *j = r ? NULL : json_loadb((char *)b.data, b.len, JSON_REJECT_DUPLICATES, NULL);
	kura_buf_release(&b);
	if (r)
		return cli_fail_file(c, r, path);
	r = kura_sth_from_json(j, ret);
	json_decref(j);
	if (r)
		return cli_fail(c, KURA_EINVAL, "'%s' is not a kura tree head (save one with 'kura sth -o FILE')",
				"'%s' は kura のツリーヘッドではありません（'kura sth -o FILE' で保存できます）",
				path);
	return 0;
}

static int verify_result(struct cli *c, int r, const struct kura_verify_report *rep,
			 json_t *problems, double secs)
{
	if (r && r != KURA_EVERIFY) {
		json_decref(problems);
		return cli_fail_code(c, r, NULL);
	}
	double mb = (double)rep->content_bytes / 1e6;
	if (c->json) {
		cli_print_json(json_pack(
			       "{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:o}", "ok", !r,
			       "versions", (json_int_t)rep->versions, "events",
			       (json_int_t)rep->events, "state_rows", (json_int_t)rep->state_rows,
			       "tree_size",
			       (json_int_t)rep->tree_size, "tree_heads", (json_int_t)rep->tree_heads,
			       "nodes", (json_int_t)rep->nodes, "content_bytes",
			       (json_int_t)rep->content_bytes, "problems", (json_int_t)rep->problems,
			       "seconds", secs, "mb_per_s", secs > 0 ? mb / secs : 0.0, "findings",
			       problems));
		return r ? EXIT_VERIFY : EXIT_OK;
	}
	json_decref(problems);
	if (r) {
		printf(L(c, "verification FAILED: %llu problem(s)\n", "検証失敗: 問題 %llu 件\n"),
		       (unsigned long long)rep->problems);
		return EXIT_VERIFY;
	}
	printf(L(c, "ok: %llu versions, %llu audit events, %llu tree heads, %llu nodes, tree size %llu, %.1f MB in %.2f s\n",
		 "正常: 版 %llu、監査イベント %llu、ツリーヘッド %llu、ノード %llu、ツリーサイズ %llu、%.1f MB（%.2f 秒）\n"),
	       (unsigned long long)rep->versions, (unsigned long long)rep->events,
	       (unsigned long long)rep->tree_heads,
	       (unsigned long long)rep->nodes, (unsigned long long)rep->tree_size, mb, secs);
	return EXIT_OK;
}

int cmd_verify(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"against", required_argument, NULL, 'a'},
		{NULL, 0, NULL, 0},
	};
	const char *against = NULL;
	int o;
	while ((o = cli_getopt(c, argc, argv, "", opts, verify_usage)) != -1) {
		if (o == '?')
			return EXIT_USAGE;
		against = optarg;
	}
	if (optind != argc)
		return cli_fail(c, KURA_EUSAGE, "usage: %s", "使い方: %s", verify_usage);
	struct kura_sth old;
	int e = against ? load_against(c, against, &old) : 0;
	struct cli_op op;
	if (e || (e = cli_op_open(c, &op, 0)))
		return e;
	/* Verification reads every record's ciphertext but shows no content:
	 * security administrators and auditors may run it. */
	if (kura_authz_check(op.v, &op.id, KURA_ACT_ADMINISTER, NULL, NULL, NULL, NULL) &&
	    (e = kura_access_require(&op.a, KURA_ACT_AUDIT, "verify"))) {
		e = cli_access_fail(c, &op, e, "verify");
		cli_op_close(&op);
		return e;
	}
	struct kura_vault *v = op.v;
	struct json_problems jp = {c, json_array()};
	struct kura_verify_opts vo = {against ? &old : NULL, verify_progress, &jp, json_problem, 0};
	struct kura_verify_report rep;
	int64_t t0 = kura_time_now_us();
	int r = kura_vault_verify(v, &vo, &rep);
	double secs = (double)(kura_time_now_us() - t0) / 1e6;
	cli_progress_end(c);
	struct kura_event ev;
	kura_audit_event(&ev, &op.id.actor, "verify");
	if (r == KURA_EVERIFY) {
		ev.outcome = KURA_OUTCOME_MAJOR;
		ev.severity = KURA_SEV_ALERT;
	} else if (r)
		ev.outcome = KURA_OUTCOME_SERIOUS;
	snprintf(ev.detail, sizeof(ev.detail), "%llu versions, %llu events, %llu problems",
		 (unsigned long long)rep.versions, (unsigned long long)rep.events,
		 (unsigned long long)rep.problems);
	/* A damaged vault may refuse new writes; the report still stands. */
	kura_access_record(&op.a, &ev);
	cli_op_close(&op);
	return verify_result(c, r, &rep, jp.list, secs);
}
