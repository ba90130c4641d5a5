/*
 * cmd_admin.c - administration: accounts (user), roles, settings (config),
 * care assignments, patient restrictions and grants, second factors and
 * break-glass (REQUIREMENTS 1.1, 1.2, 1.5: AU-*, AC-*, BG-*).
 *
 * Every change is made in one transaction together with its audit event;
 * a denied one is recorded by the access layer (kura_access_require).
 * Care assignments and grants need KURA_ACT_ADMINISTER: a hospital
 * information system interface account may be given a site role with
 * administer to feed them.  'kura role' and 'kura config list|get' only
 * need a login and record nothing: roles and settings are not secret.
 */
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/account_view.h"
#include "auth/password.h"
#include "auth/qr.h"
#include "auth/totp.h"
#include "audit/alert.h"
#include "audit/query.h"
#include "cli/cli.h"
#include "crypto/crypto.h"
#include "crypto/x509.h"
#include "util/fs.h"
#include "util/time.h"
#include "util/utf8.h"
#include "util/banned.h"

#define US_PER_HOUR (3600LL * 1000000LL)

/* ---- arguments shared by the commands ---- */

struct args {
	char seen[24];
	const char *role, *name, *birth, *dept, *pwfile, *until, *patient, *user, *reason, *cert;
	int emergency, dormant, restricted; /* restricted: -1 unchanged */
	int64_t hours;                      /* 0: not given */
	int npos;
	char **pos;
};

static const struct option all_opts[] = {
	{"role", required_argument, NULL, 'r'},
	{"name", required_argument, NULL, 'n'},
	{"birth-date", required_argument, NULL, 'b'},
	{"department", required_argument, NULL, 'd'},
	{"emergency", no_argument, NULL, 'e'},
	{"password-file", required_argument, NULL, 'f'},
	{"dormant", no_argument, NULL, 'D'},
	{"hours", required_argument, NULL, 'H'},
	{"until", required_argument, NULL, 'U'},
	{"patient", required_argument, NULL, 'p'},
	{"user", required_argument, NULL, 'u'},
	{"reason", required_argument, NULL, 'R'},
	{"restricted", no_argument, NULL, 'X'},
	{"unrestricted", no_argument, NULL, 'Y'},
	{"certificate", required_argument, NULL, 'C'},
	{NULL, 0, NULL, 0},
};

/* The usage text is several lines: print it as it is, then the error. */
static int usage_fail(struct cli *c, const char *usage)
{
	fprintf(stderr, "%s\n", usage);
	return cli_fail(c, KURA_EUSAGE, "bad arguments: see the usage above",
			"引数が不正です。上の使い方を参照してください");
}

static int set_hours(struct cli *c, struct args *a, const char *s)
{
	uint64_t h = 0;
	if (cli_parse_u64(s, &h) || h == 0 || h > 24 * 366)
		return cli_fail(c, KURA_EINVAL, "bad --hours '%s': give a whole number of hours (1..8784)",
				"--hours '%s' が不正です。時間数を整数（1..8784）で指定してください", s);
	a->hours = (int64_t)h;
	return 0;
}

static int take_opt(struct cli *c, struct args *a, int o)
{
	size_t n = strlen(a->seen);
	if (n + 1 < sizeof(a->seen) && !strchr(a->seen, o))
		a->seen[n] = (char)o;
	static const struct {
		char o;
		size_t off;
	} strs[] = {{'r', offsetof(struct args, role)},	  {'n', offsetof(struct args, name)},
		    {'b', offsetof(struct args, birth)},  {'d', offsetof(struct args, dept)},
		    {'f', offsetof(struct args, pwfile)}, {'U', offsetof(struct args, until)},
		    {'p', offsetof(struct args, patient)}, {'u', offsetof(struct args, user)},
		    {'R', offsetof(struct args, reason)}, {'C', offsetof(struct args, cert)}};
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		if (strs[i].o == o) {
			*(const char **)(void *)((char *)a + strs[i].off) = optarg;
			return 0;
		}
	switch (o) {
	case 'e': a->emergency = 1; break;
	case 'D': a->dormant = 1; break;
	case 'H': return set_hours(c, a, optarg);
	case 'X': a->restricted = 1; break;
	case 'Y': a->restricted = 0; break;
	default: return EXIT_USAGE;
	}
	return 0;
}

static int parse_args(struct cli *c, int argc, char **argv, const char *usage, struct args *a)
{
	int o, e;
	memset(a, 0, sizeof(*a));
	a->restricted = -1;
	while ((o = cli_getopt(c, argc, argv, "", all_opts, usage)) != -1)
		if ((e = take_opt(c, a, o)))
			return e;
	a->npos = argc - optind;
	a->pos = argv + optind;
	/* Free text goes into audit events and account rows: one line of
	 * UTF-8 within its field, or a clear error (never cut short). */
	if ((a->reason && (strlen(a->reason) > KURA_MAX_REASON || !kura_utf8_text_valid(a->reason))) ||
	    (a->name && (strlen(a->name) > KURA_MAX_NAME || !kura_utf8_text_valid(a->name))))
		return cli_fail(c, KURA_EINVAL, "--reason and --name take one line of text (at most %u and %u bytes)",
				"--reason と --name は1行のテキストです（最大 %u バイトと %u バイト）",
				KURA_MAX_REASON, KURA_MAX_NAME);
	return 0;
}

/* The subcommand uses only the options in allowed and exactly npos words. */
static int check_args(struct cli *c, const struct args *a, const char *allowed, int npos,
		      const char *usage)
{
	for (const char *s = a->seen; *s; s++)
		if (!strchr(allowed, *s))
			return usage_fail(c, usage);
	return a->npos == npos ? 0 : usage_fail(c, usage);
}

/* YYYY-MM-DD: access lasts to the end of that day, local time (the audit
 * query's date rule, audit/query.h). */
static int parse_date(const char *s, int64_t *ret)
{
	return strlen(s) == 10 ? kura_time_parse(s, kura_audit_utc_offset(kura_time_now_us()), 1, ret)
			       : KURA_EINVAL;
}

/* until_us from --until or --hours; def_hours when neither (0: no end). */
static int until_of(struct cli *c, const struct args *a, int64_t def_hours, int64_t *ret)
{
	int64_t now = kura_time_now_us();
	*ret = 0;
	if (a->until && a->hours)
		return cli_fail(c, KURA_EUSAGE, "give --until or --hours, not both",
				"--until と --hours はどちらか一方を指定してください");
	if (a->until && (parse_date(a->until, ret) || *ret <= now))
		return cli_fail(c, KURA_EINVAL, "bad --until '%s': give a date YYYY-MM-DD from today on",
				"--until '%s' が不正です。今日以降の日付を YYYY-MM-DD で指定してください",
				a->until);
	if (!a->until)
		*ret = a->hours ? now + a->hours * US_PER_HOUR : def_hours ? now + def_hours * US_PER_HOUR : 0;
	return 0;
}

static void time_text(int64_t us, char out[KURA_TIME_STR])
{
	if (us)
		kura_time_format(us, out);
	else
		snprintf(out, KURA_TIME_STR, "never");
}

/* ---- operations ---- */

static int require_admin(struct cli *c, struct cli_op *op, const char *action)
{
	int r = kura_access_require(&op->a, KURA_ACT_ADMINISTER, action);
	return r ? cli_access_fail(c, op, r, action) : 0;
}

/* Administer or audit (auditors may see accounts); a denial is recorded
 * once, as a denial of audit. */
static int require_admin_or_audit(struct cli *c, struct cli_op *op, const char *action)
{
	const char *why = NULL;
	if (kura_authz_check(op->v, &op->id, KURA_ACT_ADMINISTER, NULL, NULL, NULL, &why) == 0)
		return 0;
	int r = kura_access_require(&op->a, KURA_ACT_AUDIT, action);
	return r ? cli_access_fail(c, op, r, action) : 0;
}

typedef int (*change_fn)(struct kura_txn *t, void *ctx);

/* Make a change and append its event in one transaction. */
static int commit_change(struct cli_op *op, change_fn fn, void *ctx, struct kura_event *e,
			 uint64_t *ret_leaf)
{
	struct kura_txn *t = NULL;
	int r = kura_txn_begin(op->v, &t);
	if (!r)
		r = fn(t, ctx);
	if (!r)
		r = kura_txn_event(t, e, ret_leaf);
	return t ? kura_txn_finish(t, r, NULL) : r;
}

static void event_init(struct kura_event *e, struct cli_op *op, const char *action, int severity,
		       const char *patient)
{
	kura_audit_event(e, &op->id.actor, action);
	e->severity = (uint8_t)severity;
	if (patient)
		KURA_AUDIT_SET(e->patient_id, patient);
}

/* Print "ok" text, or {"ok": true, ...extra} with --json (extra is stolen). */
static int done(struct cli *c, json_t *extra, const char *en, const char *ja)
{
	if (c->json) {
		json_t *j = extra ? extra : json_object();
		json_object_set_new(j, "ok", json_true());
		return cli_print_json(j) ? EXIT_INTERNAL : EXIT_OK;
	}
	json_decref(extra);
	printf("%s\n", L(c, en, ja));
	return EXIT_OK;
}

/* ---- passwords ---- */

/* The password from file, or a random one; pw holds KURA_MAX_PASSWORD + 1. */
static int initial_password(struct cli *c, const char *file, char *pw)
{
	size_t n = 0;
	int r = 0;
	if (file)
		r = cli_read_password_file(file, pw, KURA_MAX_PASSWORD + 1, &n);
	else
		cli_random_password(pw);
	return r ? cli_fail_file(c, r, file) : 0;
}

static void print_password(struct cli *c, const char *id, const char *pw)
{
	if (c->json)
		return;
	printf(L(c, "temporary password of '%s' (shown once; it must be changed at first login): %s\n",
		 "'%s' の仮パスワード（一度だけ表示、初回ログイン時に変更が必要）: %s\n"),
	       id, pw);
}

/* ---- kura user ---- */

static const char user_usage[] =
	"kura user add ID --role ROLE [--name TEXT] [--birth-date YYYY-MM-DD]\n"
	"                 [--department D[,D]] [--emergency] [--password-file FILE]\n"
	"kura user list [--dormant]\n"
	"kura user show ID\n"
	"kura user disable ID\n"
	"kura user enable ID [--hours N]   (emergency accounts: for N hours)\n"
	"kura user unlock ID\n"
	"kura user passwd ID [--password-file FILE]\n"
	"kura user role ID [--role ROLE] [--department D[,D]]";

struct add_ctx {
	struct kura_account_spec spec;
	const char *pw;
};

static int do_add(struct kura_txn *t, void *ctx)
{
	struct add_ctx *x = ctx;
	return kura_account_add(t, &x->spec, x->pw, strlen(x->pw));
}

static int user_add_result(struct cli *c, struct cli_op *op, const struct args *a, int r,
			   const char *pw)
{
	if (r == KURA_EINVAL)
		return cli_fail(c, r, "cannot add '%s': check the id, the role (kura role list), the departments and the birth date",
				"'%s' を追加できません。ID・ロール（kura role list）・診療科・生年月日を確認してください",
				a->pos[1]);
	if (r)
		return cli_access_fail(c, op, r, a->pos[1]);
	if (c->json)
		return cli_print_json(json_pack("{s:b, s:s, s:s?}", "ok", 1, "user", a->pos[1],
						"initial_password", a->pwfile ? NULL : pw))
			       ? EXIT_INTERNAL : 0;
	printf(L(c, "added '%s' (%s)\n", "'%s'（%s）を追加しました\n"), a->pos[1], a->role);
	if (!a->pwfile)
		print_password(c, a->pos[1], pw);
	return 0;
}

static int user_add(struct cli *c, struct cli_op *op, const struct args *a)
{
	struct kura_event e;
	int r = check_args(c, a, "rnbdef", 2, user_usage);
	if (r || (r = a->role ? 0 : usage_fail(c, user_usage)) || (r = require_admin(c, op, "account-add")))
		return r;
	char *pw = kura_secret_alloc(KURA_MAX_PASSWORD + 2);
	if (!pw)
		return cli_fail_code(c, KURA_ENOMEM, NULL);
	if ((r = initial_password(c, a->pwfile, pw))) {
		kura_secret_free(pw);
		return r;
	}
	struct add_ctx x = {{a->pos[1], a->name ? a->name : "", a->birth ? a->birth : "", a->role,
			     a->dept ? a->dept : "", a->emergency}, pw};
	event_init(&e, op, "account-add", KURA_SEV_NOTICE, NULL);
	snprintf(e.detail, sizeof(e.detail), "account '%s' role %s departments %s%s", a->pos[1],
		 a->role, a->dept ? a->dept : "-", a->emergency ? " emergency" : "");
	r = user_add_result(c, op, a, commit_change(op, do_add, &x, &e, NULL), pw);
	kura_secret_free(pw);
	return r;
}

static json_t *factor_names(unsigned f)
{
	json_t *j = json_array();
	if (f & KURA_FACTOR_TOTP)
		json_array_append_new(j, json_string("totp"));
	if (f & KURA_FACTOR_CERT)
		json_array_append_new(j, json_string("cert"));
	if (f & KURA_FACTOR_RECOVERY)
		json_array_append_new(j, json_string("recovery"));
	return j;
}

static int64_t jint(const json_t *o, const char *k)
{
	return (int64_t)json_integer_value(json_object_get(o, k));
}

static const char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

/* AC-04: no login (or, never used, no creation) for dormant_days. */
static int is_dormant(const json_t *acc, int64_t now, int64_t days)
{
	return kura_account_dormant(acc, now, days);
}

/* What may be shown of an account: never its password hashes or secrets. */
static json_t *account_view(const json_t *acc, int64_t now, int64_t dormant_days)
{
	char last[KURA_TIME_STR], eu[KURA_TIME_STR];
	time_text(jint(acc, "last_login_us"), last);
	time_text(jint(acc, "emergency_until_us"), eu);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:b, s:o, s:s, s:b, s:b}", "id",
			 jstr(acc, "id"), "name", jstr(acc, "name"), "role", jstr(acc, "role"),
			 "departments", jstr(acc, "departments"), "status", jstr(acc, "status"),
			 "emergency", json_is_true(json_object_get(acc, "emergency")),
			 "emergency_until", eu, "locked", jint(acc, "locked_until_us") > now,
			 "factors", factor_names(kura_account_factors(acc)), "last_login", last,
			 "must_change", json_is_true(json_object_get(acc, "must_change")), "dormant",
			 is_dormant(acc, now, dormant_days));
}

struct list_ctx {
	json_t *rows;
	int64_t now, days;
	int dormant_only;
};

static int list_row(void *ctx, const char *key, json_t *acc)
{
	struct list_ctx *x = ctx;
	(void)key;
	if (x->dormant_only && !is_dormant(acc, x->now, x->days))
		return 0;
	return json_array_append_new(x->rows, account_view(acc, x->now, x->days)) ? KURA_ENOMEM : 0;
}

static void print_account_row(const json_t *v)
{
	json_t *f = json_object_get(v, "factors"), *x;
	size_t i;
	printf("%-20s %-15s %-16s %-9s %-6s ", jstr(v, "id"), jstr(v, "role"),
	       *jstr(v, "departments") ? jstr(v, "departments") : "-", jstr(v, "status"),
	       json_is_true(json_object_get(v, "locked")) ? "locked" : "-");
	json_array_foreach(f, i, x) printf("%s%s", i ? "," : "", json_string_value(x));
	printf("%s %s%s\n", json_array_size(f) ? "" : "-", jstr(v, "last_login"),
	       json_is_true(json_object_get(v, "dormant")) ? " dormant" : "");
}

static int user_list(struct cli *c, struct cli_op *op, const struct args *a)
{
	struct kura_event e;
	struct list_ctx x = {json_array(), kura_time_now_us(), 0, a->dormant};
	int r = check_args(c, a, "D", 1, user_usage);
	if (r || (r = require_admin_or_audit(c, op, "list"))) {
		json_decref(x.rows);
		return r;
	}
	x.days = kura_setting_int(op->v, "auth.dormant_days", 90);
	r = kura_state_scan(op->v, "account", list_row, &x);
	event_init(&e, op, "list", KURA_SEV_INFO, NULL);
	KURA_AUDIT_SET(e.query, a->dormant ? "accounts dormant" : "accounts");
	snprintf(e.detail, sizeof(e.detail), "%zu accounts shown", json_array_size(x.rows));
	if (!r)
		r = kura_access_record(&op->a, &e);
	if (r) {
		json_decref(x.rows);
		return cli_access_fail(c, op, r, NULL);
	}
	if (c->json)
		return cli_print_json(x.rows) ? EXIT_INTERNAL : 0;
	json_t *v;
	size_t i;
	json_array_foreach(x.rows, i, v) print_account_row(v);
	json_decref(x.rows);
	return 0;
}

static void print_account(struct cli *c, const json_t *v, const json_t *certs)
{
	const char *keys[] = {"id", "name", "role", "departments", "status", "emergency_until",
			      "last_login", NULL};
	json_t *x;
	size_t i;
	for (size_t k = 0; keys[k]; k++)
		printf("%-16s %s\n", keys[k], jstr(v, keys[k]));
	printf("%-16s %s\n", "emergency", json_is_true(json_object_get(v, "emergency")) ? "yes" : "no");
	printf("%-16s %s\n", "locked", json_is_true(json_object_get(v, "locked")) ? "yes" : "no");
	printf("%-16s %s\n", "must_change", json_is_true(json_object_get(v, "must_change")) ? "yes" : "no");
	printf("%-16s %s\n", "dormant", json_is_true(json_object_get(v, "dormant")) ? "yes" : "no");
	printf("%-16s", "factors");
	json_array_foreach(json_object_get(v, "factors"), i, x) printf(" %s", json_string_value(x));
	printf("\n");
	json_array_foreach(certs, i, x) printf("%-16s %s %s\n", "certificate", jstr(x, "fp"), jstr(x, "subject"));
	(void)c;
}

static json_t *certs_view(const json_t *acc)
{
	json_t *out = json_array(), *x;
	size_t i;
	json_array_foreach(json_object_get(acc, "certs"), i, x)
		json_array_append_new(out, json_pack("{s:s, s:s}", "fp", jstr(x, "fp"), "subject",
						     jstr(x, "subject")));
	return out;
}

static int user_show(struct cli *c, struct cli_op *op, const struct args *a)
{
	struct kura_event e;
	json_t *acc = NULL;
	int r = check_args(c, a, "", 2, user_usage);
	if (r || (r = require_admin_or_audit(c, op, "list")))
		return r;
	r = kura_account_get(op->v, a->pos[1], &acc);
	event_init(&e, op, "list", KURA_SEV_INFO, NULL);
	snprintf(e.query, sizeof(e.query), "account '%s'", a->pos[1]);
	KURA_AUDIT_SET(e.detail, r ? kura_strerror(r) : "1 account shown");
	int rr = kura_access_record(&op->a, &e);
	if (r || rr) {
		json_decref(acc);
		return r == KURA_ENOTFOUND ? cli_fail(c, r, "no account '%s'; see 'kura user list'",
						      "アカウント '%s' はありません。'kura user list' を参照してください",
						      a->pos[1])
					   : cli_access_fail(c, op, r ? r : rr, NULL);
	}
	json_t *v = account_view(acc, kura_time_now_us(), kura_setting_int(op->v, "auth.dormant_days", 90));
	json_t *certs = certs_view(acc);
	json_decref(acc);
	if (c->json) {
		json_object_set_new(v, "certificates", certs);
		return cli_print_json(v) ? EXIT_INTERNAL : 0;
	}
	print_account(c, v, certs);
	json_decref(v);
	json_decref(certs);
	return 0;
}

/* disable, enable, unlock, role: one account changed by a library call. */
struct acc_change {
	const char *id, *role, *dept;
	int what; /* 'd' disable, 'e' enable, 'u' unlock, 'r' role */
	int64_t window_s;
};

static int do_acc_change(struct kura_txn *t, void *ctx)
{
	struct acc_change *x = ctx;
	switch (x->what) {
	case 'd': return kura_account_disable(t, x->id);
	case 'e': return kura_account_enable(t, x->id, x->window_s);
	case 'u': return kura_account_unlock(t, x->id);
	default: return kura_account_set_role(t, x->id, x->role, x->dept);
	}
}

static int acc_change_fail(struct cli *c, struct cli_op *op, int r, const char *id)
{
	if (r == KURA_ENOTFOUND)
		return cli_fail(c, r, "no account '%s'; see 'kura user list'",
				"アカウント '%s' はありません。'kura user list' を参照してください", id);
	if (r == KURA_EINVAL)
		return cli_fail(c, r, "cannot change '%s': check the role (kura role list) and the departments",
				"'%s' を変更できません。ロール（kura role list）と診療科を確認してください", id);
	return cli_access_fail(c, op, r, id);
}

static int run_acc_change(struct cli *c, struct cli_op *op, struct acc_change *x, const char *action,
			  int severity, const char *detail)
{
	struct kura_event e;
	int r = require_admin(c, op, action);
	if (r)
		return r;
	event_init(&e, op, action, severity, NULL);
	KURA_AUDIT_SET(e.detail, detail);
	r = commit_change(op, do_acc_change, x, &e, NULL);
	return r ? acc_change_fail(c, op, r, x->id) : 0;
}

static int user_disable(struct cli *c, struct cli_op *op, const struct args *a)
{
	char d[KURA_MAX_DETAIL + 1];
	struct acc_change x = {a->pos[1], NULL, NULL, 'd', 0};
	int r = check_args(c, a, "", 2, user_usage);
	snprintf(d, sizeof(d), "account '%s' disabled", x.id);
	if (r || (r = run_acc_change(c, op, &x, "account-disable", KURA_SEV_NOTICE, d)))
		return r;
	return done(c, NULL, "disabled; its sessions have ended", "無効化しました。セッションは終了しました");
}

static int user_unlock(struct cli *c, struct cli_op *op, const struct args *a)
{
	char d[KURA_MAX_DETAIL + 1];
	struct acc_change x = {a->pos[1], NULL, NULL, 'u', 0};
	int r = check_args(c, a, "", 2, user_usage);
	snprintf(d, sizeof(d), "account '%s' unlocked", x.id);
	if (r || (r = run_acc_change(c, op, &x, "unlock", KURA_SEV_NOTICE, d)))
		return r;
	return done(c, NULL, "unlocked", "ロックを解除しました");
}

static int user_enable(struct cli *c, struct cli_op *op, const struct args *a)
{
	char d[KURA_MAX_DETAIL + 1], until[KURA_TIME_STR];
	json_t *acc = NULL;
	int r = check_args(c, a, "H", 2, user_usage);
	if (r)
		return r;
	if ((r = kura_account_get(op->v, a->pos[1], &acc)))
		return acc_change_fail(c, op, r, a->pos[1]);
	int emergency = json_is_true(json_object_get(acc, "emergency"));
	json_decref(acc);
	int64_t hours = a->hours ? a->hours : kura_setting_int(op->v, "emergency.window_hours", 8);
	struct acc_change x = {a->pos[1], NULL, NULL, 'e', emergency ? hours * 3600 : 0};
	kura_time_format(kura_time_now_us() + hours * US_PER_HOUR, until);
	if (emergency)
		snprintf(d, sizeof(d), "emergency account '%s' enabled until %s", x.id, until);
	else
		snprintf(d, sizeof(d), "account '%s' enabled", x.id);
	r = run_acc_change(c, op, &x, "account-enable", emergency ? KURA_SEV_ALERT : KURA_SEV_NOTICE, d);
	if (r)
		return r;
	if (!emergency)
		return done(c, NULL, "enabled", "有効化しました");
	if (c->json)
		return done(c, json_pack("{s:s}", "until", until), "", "");
	printf(L(c, "emergency account enabled until %s (BG-03)\n", "緊急用アカウントを %s まで有効化しました（BG-03）\n"),
	       until);
	return 0;
}

static int user_role(struct cli *c, struct cli_op *op, const struct args *a)
{
	char d[KURA_MAX_DETAIL + 1];
	struct acc_change x = {a->pos[1], a->role, a->dept, 'r', 0};
	int r = check_args(c, a, "rd", 2, user_usage);
	if (!r && !a->role && !a->dept)
		r = usage_fail(c, user_usage);
	if (r)
		return r;
	snprintf(d, sizeof(d), "account '%s' role %s departments %s", x.id, a->role ? a->role : "(same)",
		 a->dept ? a->dept : "(same)");
	r = run_acc_change(c, op, &x, a->role ? "role-change" : "account-change", KURA_SEV_NOTICE, d);
	if (r)
		return r;
	return done(c, NULL, "changed; the account's sessions have ended",
		    "変更しました。このアカウントのセッションは終了しました");
}

struct pw_ctx {
	const char *id, *pw;
	int reason;
};

static int do_passwd(struct kura_txn *t, void *ctx)
{
	struct pw_ctx *x = ctx;
	return kura_account_set_password(t, x->id, x->pw, strlen(x->pw), 0, &x->reason);
}

static int user_passwd(struct cli *c, struct cli_op *op, const struct args *a)
{
	struct kura_event e;
	int r = check_args(c, a, "f", 2, user_usage);
	if (r || (r = require_admin(c, op, "password-reset")))
		return r;
	char *pw = kura_secret_alloc(KURA_MAX_PASSWORD + 2);
	if (!pw)
		return cli_fail_code(c, KURA_ENOMEM, NULL);
	struct pw_ctx x = {a->pos[1], pw, 0};
	if (!(r = initial_password(c, a->pwfile, pw))) {
		event_init(&e, op, "password-reset", KURA_SEV_NOTICE, NULL);
		snprintf(e.detail, sizeof(e.detail), "password of '%s' reset; must be changed at next login",
			 x.id);
		r = commit_change(op, do_passwd, &x, &e, NULL);
		if (r == KURA_EPOLICY)
			r = cli_password_error(c, r, x.reason);
		else if (r)
			r = acc_change_fail(c, op, r, x.id);
		else if (c->json)
			r = cli_print_json(json_pack("{s:b, s:s, s:s?}", "ok", 1, "user", x.id,
						     "temporary_password", a->pwfile ? NULL : pw))
				    ? EXIT_INTERNAL : 0;
		else if (!a->pwfile)
			print_password(c, x.id, pw);
		else
			printf("%s\n", L(c, "password reset", "パスワードを再設定しました"));
	}
	kura_secret_free(pw);
	return r;
}

int cmd_user(struct cli *c, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(struct cli *, struct cli_op *, const struct args *);
	} subs[] = {{"add", user_add},	       {"list", user_list},	{"show", user_show},
		    {"disable", user_disable}, {"enable", user_enable}, {"unlock", user_unlock},
		    {"passwd", user_passwd},   {"role", user_role}};
	struct args a;
	struct cli_op op;
	int e = parse_args(c, argc, argv, user_usage, &a);
	if (e)
		return e;
	for (size_t i = 0; a.npos > 0 && i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcmp(a.pos[0], subs[i].name) == 0) {
			if ((e = cli_op_open(c, &op, 0)))
				return e;
			e = subs[i].fn(c, &op, &a);
			cli_op_close(&op);
			return e;
		}
	return usage_fail(c, user_usage);
}

/* ---- kura role ---- */

static const char role_usage[] = "kura role list\nkura role show NAME";

/* A role as authorization sees it: built-in defaults with the site's
 * role.<name>.* settings over them, or a site role (auth/authz.c). */
static json_t *role_json(const struct kura_role *r, int builtin)
{
	struct kura_buf b;
	kura_buf_init(&b, KURA_MAX_ROLE_RULES + 1);
	kura_rbac_format(r, &b);
	json_t *j = json_pack("{s:s, s:s, s:s, s:b, s:b, s:s#}", "name", r->name, "display", r->display,
			      "scope", kura_scope_name(r->scope), "breakglass", r->breakglass, "builtin",
			      builtin, "rules", b.data ? (char *)b.data : "", b.len);
	kura_buf_release(&b);
	return j;
}

/* Site role names from the stored role.<name>.rules settings. */
static int site_role(void *ctx, const char *key, json_t *value)
{
	json_t *names = ctx;
	size_t n = strlen(key);
	(void)value;
	if (strncmp(key, "role.", 5) || n < 11 || strcmp(key + n - 6, ".rules"))
		return 0;
	char name[KURA_MAX_ROLE_NAME + 1];
	if (n - 11 > KURA_MAX_ROLE_NAME)
		return 0;
	memcpy(name, key + 5, n - 11);
	name[n - 11] = 0;
	if (kura_rbac_builtin_rules(name))
		return 0;
	return json_array_append_new(names, json_string(name)) ? KURA_ENOMEM : 0;
}

static void print_role(const json_t *r)
{
	printf("%-15s %-6s breakglass=%-3s %s%s\n  %s\n", jstr(r, "name"), jstr(r, "scope"),
	       json_is_true(json_object_get(r, "breakglass")) ? "on" : "off", jstr(r, "display"),
	       json_is_true(json_object_get(r, "builtin")) ? "" : " (site)", jstr(r, "rules"));
}

/* Print the roles found (out is consumed), or the error r. */
static int role_print(struct cli *c, const char *only, json_t *out, int r)
{
	json_t *n;
	size_t i;
	if (!r && only && json_array_size(out) == 0)
		r = KURA_ENOTFOUND;
	if (r) {
		json_decref(out);
		return r == KURA_ENOTFOUND ? cli_fail(c, r, "no role '%s'; see 'kura role list'",
						      "ロール '%s' はありません。'kura role list' を参照してください",
						      only ? only : "")
					   : cli_fail_code(c, r, NULL);
	}
	json_t *j = only ? json_incref(json_array_get(out, 0)) : json_incref(out);
	if (c->json)
		r = cli_print_json(j) ? EXIT_INTERNAL : 0;
	else
		json_array_foreach(out, i, n) print_role(n);
	if (!c->json)
		json_decref(j);
	json_decref(out);
	return r;
}

static int role_list(struct cli *c, struct cli_op *op, const char *only)
{
	json_t *names = json_array(), *out = json_array(), *n;
	struct kura_role *role = malloc(sizeof(*role));
	size_t i;
	for (i = 0; kura_rbac_builtin_names[i]; i++)
		json_array_append_new(names, json_string(kura_rbac_builtin_names[i]));
	int r = role ? kura_state_scan(op->v, "config", site_role, names) : KURA_ENOMEM;
	json_array_foreach(names, i, n) {
		const char *name = json_string_value(n);
		if (r || (only && strcmp(only, name)))
			continue;
		r = kura_role_get(op->v, name, role);
		if (!r)
			json_array_append_new(out, role_json(role, kura_rbac_builtin_rules(name) != NULL));
	}
	free(role);
	json_decref(names);
	return role_print(c, only, out, r);
}

int cmd_role(struct cli *c, int argc, char **argv)
{
	struct args a;
	struct cli_op op;
	int e = parse_args(c, argc, argv, role_usage, &a);
	if (e)
		return e;
	int list = a.npos == 1 && strcmp(a.pos[0], "list") == 0;
	int show = a.npos == 2 && strcmp(a.pos[0], "show") == 0;
	if ((!list && !show) || a.seen[0])
		return usage_fail(c, role_usage);
	if ((e = cli_op_open(c, &op, 0)))
		return e;
	e = role_list(c, &op, show ? a.pos[1] : NULL);
	cli_op_close(&op);
	return e;
}

/* ---- kura config ---- */

static const char config_usage[] = "kura config list\nkura config get NAME\nkura config set NAME VALUE";

static int config_add(json_t *out, struct kura_vault *v, const char *name)
{
	struct kura_buf b;
	kura_buf_init(&b, 8192);
	int r = kura_setting_get(v, name, &b);
	if (!r)
		json_object_set_new(out, name, json_stringn(b.data ? (char *)b.data : "", b.len));
	kura_buf_release(&b);
	return r;
}

/* Site settings (role.*, syslog.*) that are stored. */
static int config_row(void *ctx, const char *key, json_t *value)
{
	json_t *out = ctx;
	if (!json_object_get(out, key))
		json_object_set(out, key, json_object_get(value, "value"));
	return 0;
}

static int config_show(struct cli *c, struct cli_op *op, const char *name)
{
	json_t *out = json_object(), *v;
	const char *k;
	int r = 0;
	for (size_t i = 0; !r && !name && kura_setting_names[i]; i++)
		r = config_add(out, op->v, kura_setting_names[i]);
	if (!r)
		r = name ? config_add(out, op->v, name) : kura_state_scan(op->v, "config", config_row, out);
	if (r) {
		json_decref(out);
		return r == KURA_ENOTFOUND ? cli_fail(c, r, "no setting '%s'; see 'kura config list'",
						      "設定 '%s' はありません。'kura config list' を参照してください",
						      name ? name : "")
					   : cli_fail_code(c, r, NULL);
	}
	if (c->json)
		return cli_print_json(out) ? EXIT_INTERNAL : 0;
	json_object_foreach(out, k, v) {
		if (name)
			printf("%s\n", json_string_value(v));
		else
			printf("%s=%s\n", k, json_string_value(v));
	}
	json_decref(out);
	return 0;
}

struct set_ctx {
	const char *name, *value;
};

static int do_set(struct kura_txn *t, void *ctx)
{
	struct set_ctx *x = ctx;
	return kura_setting_set(t, x->name, x->value);
}

static int config_set(struct cli *c, struct cli_op *op, const char *name, const char *value)
{
	struct kura_event e;
	struct set_ctx x = {name, value};
	int r = require_admin(c, op, "config-change");
	if (r)
		return r;
	event_init(&e, op, "config-change", KURA_SEV_NOTICE, NULL);
	snprintf(e.detail, sizeof(e.detail), "%s=%s", name, value);
	r = commit_change(op, do_set, &x, &e, NULL);
	if (r == KURA_ENOTFOUND)
		return cli_fail(c, r, "no setting '%s'; see 'kura config list'",
				"設定 '%s' はありません。'kura config list' を参照してください", name);
	if (r == KURA_EINVAL)
		return cli_fail(c, r, "bad value '%s' for %s; see docs/CONFIG.md for what it takes",
				"%2$s の値 '%1$s' が不正です。docs/CONFIG.md を参照してください", value, name);
	if (r)
		return cli_access_fail(c, op, r, name);
	return done(c, json_pack("{s:s, s:s}", "name", name, "value", value), "setting changed",
		    "設定を変更しました");
}

int cmd_config(struct cli *c, int argc, char **argv)
{
	struct args a;
	struct cli_op op;
	int e = parse_args(c, argc, argv, config_usage, &a);
	if (e)
		return e;
	const char *sub = a.npos ? a.pos[0] : "";
	int list = a.npos == 1 && strcmp(sub, "list") == 0;
	int get = a.npos == 2 && strcmp(sub, "get") == 0;
	int set = a.npos == 3 && strcmp(sub, "set") == 0;
	if ((!list && !get && !set) || a.seen[0])
		return usage_fail(c, config_usage);
	if ((e = cli_op_open(c, &op, 0)))
		return e;
	e = set ? config_set(c, &op, a.pos[1], a.pos[2]) : config_show(c, &op, get ? a.pos[1] : NULL);
	cli_op_close(&op);
	return e;
}

/* ---- kura care, kura patient (state rows about a user and a patient) ---- */

static const char care_usage[] =
	"kura care assign --patient P --user U [--until YYYY-MM-DD | --hours N]\n"
	"kura care end --patient P --user U";
static const char patient_usage[] =
	"kura patient set P [--department D[,D]] [--restricted | --unrestricted]\n"
	"kura patient grant P --user U --reason TEXT [--until YYYY-MM-DD | --hours N]\n"
	"kura patient revoke P --user U";

struct row_ctx {
	const char *kind;
	char key[2 * KURA_MAX_ID + 2];
	json_t *value; /* NULL: delete the row */
};

static int do_row(struct kura_txn *t, void *ctx)
{
	struct row_ctx *x = ctx;
	return x->value ? kura_state_put(t, x->kind, x->key, x->value) : kura_state_del(t, x->kind, x->key);
}

/* The user must exist and both ids be valid; fills x->key "U/P". */
static int pair_check(struct cli *c, struct cli_op *op, const char *user, const char *patient,
		      struct row_ctx *x)
{
	json_t *acc = NULL;
	if (!kura_valid_id(patient) || !kura_valid_id(user))
		return cli_fail(c, KURA_EINVAL, "bad patient or user id '%s/%s'",
				"患者 ID または利用者 ID '%s/%s' が不正です", patient, user);
	if (kura_account_get(op->v, user, &acc))
		return cli_fail(c, KURA_ENOTFOUND, "no account '%s'; see 'kura user list'",
				"アカウント '%s' はありません。'kura user list' を参照してください", user);
	json_decref(acc);
	snprintf(x->key, sizeof(x->key), "%s/%s", user, patient);
	return 0;
}

static int row_commit(struct cli *c, struct cli_op *op, struct row_ctx *x, struct kura_event *e)
{
	int r = commit_change(op, do_row, x, e, NULL);
	json_decref(x->value);
	x->value = NULL;
	if (r == KURA_ENOTFOUND)
		return cli_fail(c, r, "nothing to change for '%s'", "'%s' に変更対象がありません", x->key);
	return r ? cli_access_fail(c, op, r, x->key) : 0;
}

static int care_assign(struct cli *c, struct cli_op *op, const struct args *a)
{
	struct kura_event e;
	struct row_ctx x = {"care", "", NULL};
	int64_t until = 0;
	char ut[KURA_TIME_STR];
	int r = check_args(c, a, "puUH", 1, care_usage);
	if (!r && (!a->patient || !a->user))
		r = usage_fail(c, care_usage);
	if (r || (r = until_of(c, a, 0, &until)) || (r = require_admin(c, op, "care-assign")) ||
	    (r = pair_check(c, op, a->user, a->patient, &x)))
		return r;
	x.value = json_pack("{s:s, s:I, s:I, s:b}", "by", op->id.actor.user, "from_us",
			    (json_int_t)kura_time_now_us(), "until_us", (json_int_t)until, "ended", 0);
	time_text(until, ut);
	event_init(&e, op, "care-assign", KURA_SEV_NOTICE, a->patient);
	snprintf(e.detail, sizeof(e.detail), "care by '%s' until %s", a->user, until ? ut : "ended");
	if ((r = row_commit(c, op, &x, &e)))
		return r;
	return done(c, json_pack("{s:s, s:s, s:s}", "user", a->user, "patient", a->patient, "until",
				 until ? ut : ""),
		    "care assignment recorded", "担当の割り当てを記録しました");
}

static int care_end(struct cli *c, struct cli_op *op, const struct args *a)
{
	struct kura_event e;
	struct row_ctx x = {"care", "", NULL};
	int r = check_args(c, a, "pu", 1, care_usage);
	if (!r && (!a->patient || !a->user))
		r = usage_fail(c, care_usage);
	if (r || (r = require_admin(c, op, "care-end")) || (r = pair_check(c, op, a->user, a->patient, &x)))
		return r;
	if ((r = kura_state_get(op->v, "care", x.key, &x.value)))
		return r == KURA_ENOTFOUND ? cli_fail(c, r, "'%s' has no care assignment for this patient",
						      "'%s' にはこの患者の担当割り当てがありません", a->user)
					   : cli_fail_code(c, r, NULL);
	json_object_set_new(x.value, "ended", json_true());
	json_object_set_new(x.value, "ended_us", json_integer(kura_time_now_us()));
	json_object_set_new(x.value, "ended_by", json_string(op->id.actor.user));
	event_init(&e, op, "care-end", KURA_SEV_NOTICE, a->patient);
	snprintf(e.detail, sizeof(e.detail), "care by '%s' ended", a->user);
	if ((r = row_commit(c, op, &x, &e)))
		return r;
	return done(c, NULL, "care assignment ended", "担当の割り当てを終了しました");
}

int cmd_care(struct cli *c, int argc, char **argv)
{
	struct args a;
	struct cli_op op;
	int e = parse_args(c, argc, argv, care_usage, &a);
	if (e)
		return e;
	int assign = a.npos >= 1 && strcmp(a.pos[0], "assign") == 0;
	int end = a.npos >= 1 && strcmp(a.pos[0], "end") == 0;
	if (!assign && !end)
		return usage_fail(c, care_usage);
	if ((e = cli_op_open(c, &op, 0)))
		return e;
	e = assign ? care_assign(c, &op, &a) : care_end(c, &op, &a);
	cli_op_close(&op);
	return e;
}

static int valid_departments(const char *s)
{
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-,") == strlen(s) && s[0] != ',' &&
	       !strstr(s, ",,") && (!*s || s[strlen(s) - 1] != ',');
}

static int patient_set(struct cli *c, struct cli_op *op, const struct args *a)
{
	struct kura_event e;
	struct row_ctx x = {"patient", "", NULL};
	const char *p = a->pos[1];
	int r = check_args(c, a, "dXY", 2, patient_usage);
	if (!r && !a->dept && a->restricted < 0)
		r = usage_fail(c, patient_usage);
	if (!r && (!kura_valid_id(p) || (a->dept && !valid_departments(a->dept))))
		r = cli_fail(c, KURA_EINVAL, "bad patient id '%s' or departments (a,b of [a-z0-9_-])",
			     "患者 ID '%s' または診療科（[a-z0-9_-] をカンマ区切り）が不正です", p);
	if (r || (r = require_admin(c, op, "patient-change")))
		return r;
	snprintf(x.key, sizeof(x.key), "%s", p);
	if (kura_state_get(op->v, "patient", p, &x.value))
		x.value = json_pack("{s:s, s:b}", "departments", "", "restricted", 0);
	if (a->dept)
		json_object_set_new(x.value, "departments", json_string(a->dept));
	if (a->restricted >= 0)
		json_object_set_new(x.value, "restricted", json_boolean(a->restricted));
	event_init(&e, op, "patient-change", KURA_SEV_NOTICE, p);
	snprintf(e.detail, sizeof(e.detail), "departments %s restricted %s",
		 jstr(x.value, "departments"), json_is_true(json_object_get(x.value, "restricted")) ? "yes" : "no");
	if ((r = row_commit(c, op, &x, &e)))
		return r;
	return done(c, NULL, "patient settings changed", "患者の設定を変更しました");
}

static int patient_grant(struct cli *c, struct cli_op *op, const struct args *a)
{
	struct kura_event e;
	struct row_ctx x = {"grant", "", NULL};
	int64_t until = 0;
	char ut[KURA_TIME_STR];
	int r = check_args(c, a, "uRUH", 2, patient_usage);
	if (!r && (!a->user || !a->reason || !*a->reason))
		r = usage_fail(c, patient_usage);
	if (r || (r = until_of(c, a, 0, &until)) || (r = require_admin(c, op, "grant")) ||
	    (r = pair_check(c, op, a->user, a->pos[1], &x)))
		return r;
	x.value = json_pack("{s:s, s:I, s:I, s:s}", "by", op->id.actor.user, "from_us",
			    (json_int_t)kura_time_now_us(), "until_us", (json_int_t)until, "reason", a->reason);
	time_text(until, ut);
	event_init(&e, op, "grant", KURA_SEV_NOTICE, a->pos[1]);
	KURA_AUDIT_SET(e.reason, a->reason);
	snprintf(e.detail, sizeof(e.detail), "grant to '%s' until %s", a->user, ut);
	if ((r = row_commit(c, op, &x, &e)))
		return r;
	return done(c, json_pack("{s:s, s:s}", "user", a->user, "until", until ? ut : ""), "access granted",
		    "アクセスを許可しました");
}

static int patient_revoke(struct cli *c, struct cli_op *op, const struct args *a)
{
	struct kura_event e;
	struct row_ctx x = {"grant", "", NULL};
	int r = check_args(c, a, "u", 2, patient_usage);
	if (!r && !a->user)
		r = usage_fail(c, patient_usage);
	if (r || (r = require_admin(c, op, "revoke")) || (r = pair_check(c, op, a->user, a->pos[1], &x)))
		return r;
	event_init(&e, op, "revoke", KURA_SEV_NOTICE, a->pos[1]);
	snprintf(e.detail, sizeof(e.detail), "grant to '%s' revoked", a->user);
	if ((r = row_commit(c, op, &x, &e)))
		return r;
	return done(c, NULL, "grant revoked", "アクセス許可を取り消しました");
}

int cmd_patient(struct cli *c, int argc, char **argv)
{
	struct args a;
	struct cli_op op;
	int e = parse_args(c, argc, argv, patient_usage, &a);
	if (e)
		return e;
	const char *sub = a.npos ? a.pos[0] : "";
	int (*fn)(struct cli *, struct cli_op *, const struct args *) =
		strcmp(sub, "set") == 0	     ? patient_set
		: strcmp(sub, "grant") == 0  ? patient_grant
		: strcmp(sub, "revoke") == 0 ? patient_revoke
					     : NULL;
	if (!fn)
		return usage_fail(c, patient_usage);
	if ((e = cli_op_open(c, &op, 0)))
		return e;
	e = fn(c, &op, &a);
	cli_op_close(&op);
	return e;
}

/* ---- kura factor ---- */

static const char factor_usage[] =
	"kura factor enroll totp|recovery\n"
	"kura factor enroll cert --certificate FILE [--user ID]\n"
	"kura factor remove totp|cert|recovery [--user ID]\n"
	"kura factor list [--user ID]";

struct factor_ctx {
	const char *id;
	int what; /* 't' totp, 'r' recovery, 'c' cert, 'x' remove */
	unsigned factor;
	uint8_t secret[KURA_TOTP_SECRET_LEN];
	char codes[KURA_RECOVERY_CODES][24];
	struct kura_cert_info cert;
};

static int do_factor(struct kura_txn *t, void *ctx)
{
	struct factor_ctx *x = ctx;
	switch (x->what) {
	case 't': return kura_account_totp_enroll(t, x->id, x->secret, sizeof(x->secret));
	case 'r': return kura_account_recovery_new(t, x->id, x->codes, KURA_RECOVERY_CODES);
	case 'c': return kura_account_cert_add(t, x->id, x->cert.fingerprint, x->cert.subject);
	default: return kura_account_factor_remove(t, x->id, x->factor);
	}
}

static unsigned factor_of(const char *s)
{
	return strcmp(s, "totp") == 0	    ? KURA_FACTOR_TOTP
	       : strcmp(s, "cert") == 0     ? KURA_FACTOR_CERT
	       : strcmp(s, "recovery") == 0 ? KURA_FACTOR_RECOVERY
					    : 0;
}

/* Changing another account's factors needs administer. */
static int factor_target(struct cli *c, struct cli_op *op, const char *user, const char *action,
			 const char **ret)
{
	*ret = user ? user : op->id.actor.user;
	if (strcmp(*ret, op->id.actor.user) == 0)
		return 0;
	return require_admin(c, op, action);
}

static int print_totp(struct cli *c, struct factor_ctx *x)
{
	struct kura_buf uri, b32, qr;
	kura_buf_init(&uri, 4096);
	kura_buf_init(&b32, 256);
	kura_buf_init(&qr, 1 << 20);
	int r = kura_totp_uri("kura", x->id, x->secret, sizeof(x->secret), &uri);
	if (!r)
		r = kura_base32_encode(x->secret, sizeof(x->secret), &b32);
	if (!r)
		r = kura_buf_append(&uri, "", 1) || kura_buf_append(&b32, "", 1) ? KURA_ENOMEM : 0;
	if (!r && c->json)
		r = cli_print_json(json_pack("{s:b, s:s, s:s}", "ok", 1, "uri", (char *)uri.data,
					     "secret_base32", (char *)b32.data)) ? KURA_ENOMEM : 0;
	else if (!r && !(r = kura_qr_text((char *)uri.data, 0, &qr)))
		printf(L(c, "scan this code with an authenticator app, or enter the key %s\n%.*s%s\n",
			 "認証アプリでこのコードを読み取るか、鍵 %s を入力してください\n%.*s%s\n"),
		       (char *)b32.data, (int)qr.len, (char *)qr.data, (char *)uri.data);
	kura_buf_release_secret(&uri);
	kura_buf_release_secret(&b32);
	kura_buf_release_secret(&qr);
	return r ? cli_fail(c, r, "the second factor is enrolled but cannot be shown; enrol it again",
			    "二要素目は登録されましたが表示できません。もう一度登録してください")
		 : 0;
}

static int print_codes(struct cli *c, struct factor_ctx *x)
{
	if (c->json) {
		json_t *a = json_array();
		for (size_t i = 0; i < KURA_RECOVERY_CODES; i++)
			json_array_append_new(a, json_string(x->codes[i]));
		return cli_print_json(json_pack("{s:b, s:o}", "ok", 1, "recovery_codes", a)) ? EXIT_INTERNAL : 0;
	}
	printf("%s\n", L(c, "recovery codes (shown once; each works once, keep them safe):",
			 "リカバリーコード（一度だけ表示、各コードは1回のみ有効、安全に保管してください）:"));
	for (size_t i = 0; i < KURA_RECOVERY_CODES; i++)
		printf("  %s\n", x->codes[i]);
	return 0;
}

static int read_cert(struct cli *c, const char *file, struct kura_cert_info *ret)
{
	struct kura_buf b;
	kura_buf_init(&b, KURA_MAX_CERTFILE + 1);
	int r = kura_fs_read(file, KURA_MAX_CERTFILE, &b);
	if (!r)
		r = kura_x509_info(b.data, b.len, ret);
	kura_buf_release(&b);
	return r ? cli_fail(c, r, "cannot read a certificate from '%s': give a PEM or DER file",
			    "'%s' から証明書を読めません。PEM または DER ファイルを指定してください", file)
		 : 0;
}

/* A certificate is mapped by an administrator, also to oneself. */
static int enroll_cert_check(struct cli *c, struct cli_op *op, const struct args *a,
			     struct factor_ctx *x)
{
	int r = check_args(c, a, "Cu", 2, factor_usage);
	if (!r && !a->cert)
		r = usage_fail(c, factor_usage);
	if (r || (r = require_admin(c, op, "factor-enroll")))
		return r;
	x->id = a->user ? a->user : op->id.actor.user;
	return read_cert(c, a->cert, &x->cert);
}

static int factor_enroll(struct cli *c, struct cli_op *op, const struct args *a, struct factor_ctx *x)
{
	struct kura_event e;
	const char *type = a->npos == 2 ? a->pos[1] : "";
	unsigned f = factor_of(type);
	int r = f == KURA_FACTOR_CERT ? enroll_cert_check(c, op, a, x) : check_args(c, a, "", 2, factor_usage);
	if (!r && !f)
		r = usage_fail(c, factor_usage);
	if (r)
		return r;
	if (f != KURA_FACTOR_CERT)
		x->id = op->id.actor.user;
	x->what = f == KURA_FACTOR_TOTP ? 't' : f == KURA_FACTOR_RECOVERY ? 'r' : 'c';
	event_init(&e, op, "factor-enroll", KURA_SEV_NOTICE, NULL);
	snprintf(e.detail, sizeof(e.detail), "%s for '%s'%s%s", type, x->id, f == KURA_FACTOR_CERT ? " " : "",
		 f == KURA_FACTOR_CERT ? x->cert.fingerprint : "");
	if ((r = commit_change(op, do_factor, x, &e, NULL)))
		return acc_change_fail(c, op, r, x->id);
	if (f == KURA_FACTOR_TOTP)
		return print_totp(c, x);
	if (f == KURA_FACTOR_RECOVERY)
		return print_codes(c, x);
	return done(c, json_pack("{s:s, s:s, s:s}", "user", x->id, "fingerprint", x->cert.fingerprint,
				 "subject", x->cert.subject),
		    "certificate mapped to the account", "証明書をアカウントに対応付けました");
}

static int factor_remove(struct cli *c, struct cli_op *op, const struct args *a, struct factor_ctx *x)
{
	struct kura_event e;
	int r = check_args(c, a, "u", 2, factor_usage);
	if (!r && !(x->factor = factor_of(a->pos[1])))
		r = usage_fail(c, factor_usage);
	if (r || (r = factor_target(c, op, a->user, "factor-remove", &x->id)))
		return r;
	x->what = 'x';
	event_init(&e, op, "factor-remove", KURA_SEV_NOTICE, NULL);
	snprintf(e.detail, sizeof(e.detail), "%s of '%s' removed", a->pos[1], x->id);
	if ((r = commit_change(op, do_factor, x, &e, NULL)))
		return acc_change_fail(c, op, r, x->id);
	return done(c, NULL, "second factor removed", "二要素目を削除しました");
}

static int factor_list(struct cli *c, struct cli_op *op, const struct args *a)
{
	json_t *acc = NULL;
	const char *id;
	int r = check_args(c, a, "u", 1, factor_usage);
	if (r || (r = factor_target(c, op, a->user, "list", &id)))
		return r;
	if ((r = kura_account_get(op->v, id, &acc)))
		return acc_change_fail(c, op, r, id);
	json_t *j = json_pack("{s:s, s:o, s:o}", "user", id, "factors",
			      factor_names(kura_account_factors(acc)), "certificates", certs_view(acc));
	json_decref(acc);
	if (c->json)
		return cli_print_json(j) ? EXIT_INTERNAL : 0;
	json_t *x;
	size_t i;
	printf("%s:", id);
	json_array_foreach(json_object_get(j, "factors"), i, x) printf(" %s", json_string_value(x));
	printf("\n");
	json_array_foreach(json_object_get(j, "certificates"), i, x)
		printf("  cert %s %s\n", jstr(x, "fp"), jstr(x, "subject"));
	json_decref(j);
	return 0;
}

int cmd_factor(struct cli *c, int argc, char **argv)
{
	struct args a;
	struct cli_op op;
	int e = parse_args(c, argc, argv, factor_usage, &a);
	if (e)
		return e;
	const char *sub = a.npos ? a.pos[0] : "";
	int enroll = strcmp(sub, "enroll") == 0, remove = strcmp(sub, "remove") == 0;
	if (!enroll && !remove && strcmp(sub, "list"))
		return usage_fail(c, factor_usage);
	struct factor_ctx *x = kura_secret_alloc(sizeof(*x));
	if (!x)
		return cli_fail_code(c, KURA_ENOMEM, NULL);
	memset(x, 0, sizeof(*x));
	/* Enrolling is what an account that must enrol may do (AU-12). */
	if (!(e = cli_op_open(c, &op, enroll))) {
		e = enroll ? factor_enroll(c, &op, &a, x) : remove ? factor_remove(c, &op, &a, x)
								     : factor_list(c, &op, &a);
		cli_op_close(&op);
	}
	kura_wipe(x, sizeof(*x));
	kura_secret_free(x);
	return e;
}

/* ---- kura breakglass ---- */

static const char bg_usage[] =
	"kura breakglass --patient ID --reason TEXT [--hours N]\n"
	"  emergency access to a patient outside your scope (BG-01..03); the\n"
	"  security administrator is alerted and the access is reviewed";

static void alert(struct cli *c, struct cli_op *op, uint64_t leaf)
{
	struct kura_buf cmd;
	/* BG-02: the alert leaves at once, to every configured syslog
	 * receiver (a receiver that is down gets it from its cursor later). */
	cli_forward_now(op);
	kura_buf_init(&cmd, 4096);
	if (kura_setting_get(op->v, "alert.command", &cmd) == 0 && cmd.len &&
	    kura_buf_append(&cmd, "", 1) == 0 &&
	    kura_alert_run((char *)cmd.data, "breakglass", op->id.actor.user, leaf))
		fprintf(stderr, "%s\n", L(c, "kura: warning: alert.command failed; tell the security administrator",
					  "kura: 警告: alert.command が失敗しました。セキュリティ管理者に連絡してください"));
	kura_buf_release(&cmd);
}

static int breakglass(struct cli *c, struct cli_op *op, const struct args *a)
{
	int64_t until = 0;
	uint64_t leaf = 0;
	char ut[KURA_TIME_STR];
	struct row_ctx x = {"breakglass", "", NULL};
	int r = until_of(c, a, kura_setting_int(op->v, "breakglass.hours", 4), &until);
	if (r || (r = pair_check(c, op, op->id.actor.user, a->patient, &x)))
		return r;
	r = kura_breakglass_open(&op->a, a->patient, a->reason, until, &until, &leaf);
	if (r)
		return cli_access_fail(c, op, r, "break-glass");
	kura_time_format(until, ut);
	alert(c, op, leaf);
	if (c->json)
		return done(c, json_pack("{s:s, s:I}", "until", ut, "event", (json_int_t)leaf), "", "");
	printf(L(c, "emergency access to '%s' until %s; recorded and reported to the security administrator\n",
		 "'%s' への緊急アクセスを %s まで許可しました。記録され、セキュリティ管理者に通知されます\n"),
	       a->patient, ut);
	return 0;
}

int cmd_breakglass(struct cli *c, int argc, char **argv)
{
	struct args a;
	struct cli_op op;
	int e = parse_args(c, argc, argv, bg_usage, &a);
	if (e || (e = check_args(c, &a, "pRH", 0, bg_usage)))
		return e;
	if (!a.patient || !a.reason || !*a.reason)
		return cli_fail(c, KURA_EUSAGE, "give --patient ID and --reason TEXT (why the emergency access is needed)",
				"--patient ID と --reason TEXT（緊急アクセスが必要な理由）を指定してください");
	if ((e = cli_op_open(c, &op, 0)))
		return e;
	e = breakglass(c, &op, &a);
	cli_op_close(&op);
	return e;
}
