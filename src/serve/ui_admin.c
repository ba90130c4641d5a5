/*
 * ui_admin.c - GET /api/admin/status, the security administrator's morning
 * screen (docs/formats/ui-api.md §4): accounts (AC-04 dormant, AU-15
 * locked), roles, the password, session and lockout policy, the TLS policy
 * the server runs with (TLS-01..05), the ledger and its last verification
 * (LG-02), backups (BK-02, BK-03, BC-02) and the newest alerts (BG-02).
 * Everything comes from the vault and the server's configuration: no
 * backup target is contacted.  Needs the administer permission (a refusal
 * is 403 and recorded); the reading is recorded as `kura user list`
 * records its own (action list) before anything is shown.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/trail.h"
#include "auth/account_view.h"
#include "backup/status.h"
#include "crypto/crypto.h"
#include "crypto/tls_server.h"
#include "serve/ui_int.h"
#include "util/err.h"
#include "util/fs.h"
#include "util/limits.h"
#include "util/time.h"
#include "util/banned.h"

#define US_PER_DAY (86400LL * 1000000LL)

/* A time as text, or null when 0 (never). */
static json_t *time_or_null(int64_t us)
{
	char t[KURA_TIME_STR];
	if (!us)
		return json_null();
	kura_time_format(us, t);
	return json_string(t);
}

static int64_t jint(const json_t *o, const char *k)
{
	return (int64_t)json_integer_value(json_object_get(o, k));
}

static int append(json_t *a, json_t *x)
{
	return !x || json_array_append_new(a, x) ? KURA_ENOMEM : 0;
}

/* ---- accounts ---- */

struct accounts {
	json_t *list;
	int64_t now, dormant_days;
};

static json_t *factor_names(unsigned f)
{
	static const struct { unsigned bit; const char *name; } names[] = {
		{KURA_FACTOR_PASSWORD, "password"}, {KURA_FACTOR_TOTP, "totp"},
		{KURA_FACTOR_CERT, "certificate"}, {KURA_FACTOR_RECOVERY, "recovery-code"}};
	json_t *a = json_array();
	for (size_t i = 0; a && i < sizeof(names) / sizeof(names[0]); i++)
		if ((f & names[i].bit) && append(a, json_string(names[i].name)))
			return json_decref(a), NULL;
	return a;
}

/* What may be shown of an account: never its password hashes or secrets. */
static int account_row(void *ctx, const char *key, json_t *acc)
{
	struct accounts *x = ctx;
	int64_t lock = jint(acc, "locked_until_us");
	const char *role = json_string_value(json_object_get(acc, "role"));
	const char *status = json_string_value(json_object_get(acc, "status"));
	int locked = lock > x->now;
	/* kura_account_factors names the second factors; the password is one
	 * too when the account has one. */
	unsigned factors = kura_account_factors(acc) |
			   (json_string_length(json_object_get(acc, "password")) ? KURA_FACTOR_PASSWORD : 0);
	return append(x->list, json_pack("{s:s, s:s, s:s, s:b, s:o, s:o, s:b, s:o*, s:b}", "id", key,
			"role", role ? role : "", "status", status ? status : "", "locked", locked,
			"locked_until", time_or_null(locked ? lock : 0), "last_login",
			time_or_null(jint(acc, "last_login_us")), "dormant",
			kura_account_dormant(acc, x->now, x->dormant_days), "factors",
			factor_names(factors), "must_change",
			json_is_true(json_object_get(acc, "must_change"))));
}

static int accounts_json(struct kura_vault *v, int64_t now, json_t **ret)
{
	struct accounts x = {json_array(), now, kura_setting_int(v, "auth.dormant_days", 90)};
	int r = x.list ? kura_state_scan(v, "account", account_row, &x) : KURA_ENOMEM;
	if (r)
		json_decref(x.list);
	*ret = r ? NULL : x.list;
	return r;
}

/* ---- roles: the built-in ones and those the site defined ---- */

struct roles {
	struct kura_vault *v;
	struct kura_role *role; /* about 12 KiB: on the heap */
	json_t *list, *names;
};

static int role_add(struct roles *x, const char *name)
{
	if (json_object_get(x->names, name))
		return 0;
	int r = kura_role_get(x->v, name, x->role);
	if (r == KURA_ENOTFOUND)
		return 0;
	if (!r && json_object_set_new(x->names, name, json_true()))
		r = KURA_ENOMEM;
	if (!r)
		r = append(x->list, json_pack("{s:s, s:s, s:s, s:b}", "name", name, "display",
						x->role->display, "scope",
						kura_scope_name(x->role->scope), "breakglass",
						x->role->breakglass));
	return r;
}

/* A setting role.<name>.rules|scope|breakglass names a role. */
static int role_setting(void *ctx, const char *key, json_t *value)
{
	char name[KURA_MAX_ROLE_NAME + 1];
	const char *dot = strrchr(key, '.');
	(void)value;
	if (strncmp(key, "role.", 5) != 0 || !dot || dot - key - 5 <= 0 ||
	    (size_t)(dot - key - 5) > KURA_MAX_ROLE_NAME)
		return 0;
	memcpy(name, key + 5, (size_t)(dot - key - 5));
	name[dot - key - 5] = 0;
	return kura_rbac_valid_role_name(name) ? role_add(ctx, name) : 0;
}

static int roles_json(struct kura_vault *v, json_t **ret)
{
	struct roles x = {v, malloc(sizeof(struct kura_role)), json_array(), json_object()};
	int r = x.role && x.list && x.names ? 0 : KURA_ENOMEM;
	for (size_t i = 0; !r && kura_rbac_builtin_names[i]; i++)
		r = role_add(&x, kura_rbac_builtin_names[i]);
	if (!r)
		r = kura_state_scan(v, "config", role_setting, &x);
	free(x.role);
	json_decref(x.names);
	if (r)
		json_decref(x.list);
	*ret = r ? NULL : x.list;
	return r;
}

/* ---- the policy in force (settings, their defaults when unset) ---- */

static json_t *ints(struct kura_vault *v, const char *const *keys, size_t n, size_t skip)
{
	json_t *o = json_object();
	for (size_t i = 0; o && i < n; i++)
		if (json_object_set_new(o, keys[i] + skip, json_integer(kura_setting_int(v, keys[i], 0))))
			return json_decref(o), NULL;
	return o;
}

static json_t *policy_json(struct kura_vault *v)
{
	static const char *const pw[] = {"password.min_length", "password.long_length",
					 "password.min_classes", "password.max_age_days",
					 "password.history", "password.dictionary"};
	static const char *const ses[] = {"auth.idle_minutes", "auth.session_hours"};
	static const char *const lock[] = {"auth.max_failures", "auth.lockout_minutes"};
	struct kura_buf second;
	kura_buf_init(&second, 64);
	int r = kura_setting_get(v, "auth.require_second_factor", &second);
	if (!r)
		r = kura_buf_append_byte(&second, 0);
	json_t *j = json_pack("{s:o*, s:o*, s:o*, s:s, s:I, s:I}", "password", ints(v, pw, 6, 9),
			      "session", ints(v, ses, 2, 5), "lockout", ints(v, lock, 2, 5),
			      "require_second_factor", r ? "" : (char *)second.data, "dormant_days",
			      (json_int_t)kura_setting_int(v, "auth.dormant_days", 90),
			      "breakglass_hours", (json_int_t)kura_setting_int(v, "breakglass.hours", 4));
	kura_buf_release(&second);
	return j;
}

/* ---- TLS: the policy of crypto/tls_server.h and this server's files ---- */

/* A ':'-separated list as an array. */
static json_t *split(const char *s)
{
	json_t *a = json_array();
	while (a && *s) {
		size_t n = strcspn(s, ":");
		if (append(a, json_stringn(s, n)))
			return json_decref(a), NULL;
		s += n + (s[n] == ':');
	}
	return a;
}

/* The server certificate: subject, expiry, key; null if unreadable. */
static json_t *certificate_json(const char *path)
{
	struct kura_cert_info ci;
	struct kura_buf b;
	char key[KURA_CERT_KEY_DESC];
	json_t *j = json_null();
	kura_buf_init(&b, KURA_MAX_CERTFILE);
	if (!kura_fs_read(path, KURA_MAX_CERTFILE, &b) && b.len &&
	    !kura_x509_info(b.data, b.len, &ci) && !kura_x509_key_desc(b.data, b.len, key))
		j = json_pack("{s:s, s:s, s:o, s:o, s:s, s:s}", "subject", ci.subject, "issuer",
			      ci.issuer, "not_before", time_or_null(ci.not_before_us), "not_after",
			      time_or_null(ci.not_after_us), "key", key, "fingerprint",
			      ci.fingerprint);
	kura_buf_release(&b);
	return j;
}

static json_t *listeners_json(const struct kura_serve_config *cfg)
{
	static const char *const mtls[] = {"off", "optional", "required"};
	json_t *a = json_array();
	for (unsigned i = 0; a && i < cfg->nlisten; i++)
		if (append(a, json_pack("{s:s, s:s}", "address", cfg->listen[i].addr, "mtls",
					mtls[cfg->listen[i].mtls % 3])))
			return json_decref(a), NULL;
	return a;
}

/* null outside a running server (no configuration to tell). */
static json_t *tls_json(const struct kura_serve_config *cfg)
{
	struct kura_tls_policy p;
	if (!cfg)
		return json_null();
	kura_tls_server_policy(&p);
	return json_pack("{s:o*, s:o*, s:o*, s:o*, s:i, s:o*, s:o*, s:b, s:b, s:I}", "protocols",
			 split(p.protocols), "tls13_suites", split(p.tls13_suites),
			 "tls12_ciphers", split(p.tls12_ciphers), "groups", split(p.groups),
			 "security_level", p.security_level, "listeners", listeners_json(cfg),
			 "certificate", certificate_json(cfg->cert), "client_ca", cfg->client_ca[0] != 0,
			 "crl", cfg->crl[0] != 0, "hsts_max_age", (json_int_t)cfg->hsts_max_age);
}

/* ---- the ledger and its last verification ---- */

static int keep_last(void *ctx, const struct kura_event_row *row)
{
	*(struct kura_event_row *)ctx = *row;
	return 0;
}

static int ledger_json(struct kura_vault *v, json_t **ret)
{
	struct kura_store *s = kura_vault_store(v);
	struct kura_event_filter f = {.action = "verify", .outcome = -1};
	struct kura_event_row *last = calloc(1, sizeof(*last));
	struct kura_sth sth;
	char root[2 * KURA_HASH_LEN + 1];
	json_t *lv = json_null();
	*ret = NULL;
	int r = last ? kura_vault_sth(v, &sth) : KURA_ENOMEM;
	if (!r)
		r = s->ops->event_query(s, &f, keep_last, last);
	if (!r && last->ev.time_us)
		lv = json_pack("{s:o, s:b, s:s, s:s}", "time", time_or_null(last->ev.time_us), "ok",
			       last->ev.outcome == KURA_OUTCOME_SUCCESS, "actor", last->ev.actor,
			       "detail", last->ev.detail);
	free(last);
	if (r) {
		json_decref(lv);
		return r;
	}
	kura_hex_encode(sth.root, KURA_HASH_LEN, root);
	*ret = json_pack("{s:I, s:{s:I, s:o, s:s}, s:o*}", "size", (json_int_t)sth.tree_size, "sth",
			 "tree_size", (json_int_t)sth.tree_size, "time", time_or_null(sth.time_us),
			 "root", root, "last_verify", lv);
	return *ret ? 0 : KURA_ENOMEM;
}

/* ---- backups: what the vault recorded (backup/status.h) ---- */

static json_t *gen_targets(const json_t *gen)
{
	json_t *a = json_array(), *t;
	size_t i;
	json_array_foreach(json_object_get(gen, "targets"), i, t) {
		const char *name = json_string_value(json_object_get(t, "target"));
		const char *kind = json_string_value(json_object_get(t, "kind"));
		if (append(a, json_pack("{s:s, s:s, s:b}", "name", name ? name : "", "kind",
					kind ? kind : "", "ok", json_is_true(json_object_get(t, "ok")))))
			return json_decref(a), NULL;
	}
	return a;
}

static json_t *generation_json(const json_t *g)
{
	int imm, off;
	kura_backup_copies(g, &imm, &off);
	return json_pack("{s:I, s:o, s:I, s:I, s:b, s:b, s:o*}", "id", (json_int_t)jint(g, "generation"),
			 "time", time_or_null(jint(g, "created_us")), "tree_size",
			 (json_int_t)jint(json_object_get(g, "sth"), "tree_size"), "bytes",
			 (json_int_t)jint(g, "new_bytes"), "immutable", imm, "offline", off,
			 "targets", gen_targets(g));
}

static json_t *check_json(const char *name, int ok, const char *detail)
{
	return json_pack("{s:s, s:b, s:s}", "name", name, "ok", ok, "detail", detail);
}

static json_t *checks_json(const struct kura_backup_status *s)
{
	char a[96], b[128];
	snprintf(a, sizeof(a), "%zu generations (at least 3, BK-02)", s->generations);
	snprintf(b, sizeof(b), "%zu of the third and older have a receiver, offline or immutable "
		 "copy (BK-03)", s->protected_old);
	return json_pack("[o*, o*, o*, o*]", check_json("generations", s->ok_count, a),
			 check_json("protected", s->ok_protect, b),
			 check_json("last-backup", s->ok_age, "the last backup within "
				    "backup.max_age_hours"),
			 check_json("drill", s->ok_drill, "a successful drill within "
				    "backup.drill_days (BC-02)"));
}

static json_t *drill_json(const json_t *d)
{
	if (!d)
		return json_null();
	return json_pack("{s:o, s:b, s:f, s:f, s:I, s:I, s:s}", "time",
			 time_or_null(jint(d, "time_us")), "ok", json_is_true(json_object_get(d, "ok")),
			 "rto_s", json_real_value(json_object_get(d, "rto_seconds")), "rpo_s",
			 json_real_value(json_object_get(d, "rpo_seconds")), "rpo_entries",
			 (json_int_t)jint(d, "rpo_entries"), "generation",
			 (json_int_t)jint(d, "generation"), "from",
			 json_string_value(json_object_get(d, "from")) ? json_string_value(json_object_get(d, "from")) : "");
}

static int backups_json(struct kura_vault *v, int64_t now, json_t **ret)
{
	struct kura_backup_status s = {0};
	json_t *gens = NULL, *list = json_array();
	*ret = NULL;
	int r = list ? kura_backup_history(v, &gens) : KURA_ENOMEM;
	for (size_t i = json_array_size(gens); !r && i-- > 0;) /* newest first */
		r = append(list, generation_json(json_array_get(gens, i)));
	if (!r) {
		kura_backup_status_eval(v, gens, now, &s);
		*ret = json_pack("{s:O, s:o, s:o, s:o*, s:b}", "generations", list, "last_backup",
				 time_or_null(s.last_us), "last_drill", drill_json(s.drill), "checks",
				 checks_json(&s), "ok", s.ok_count && s.ok_protect && s.ok_age &&
				 s.ok_drill);
		r = *ret ? 0 : KURA_ENOMEM;
	}
	kura_backup_status_release(&s);
	json_decref(gens);
	json_decref(list);
	return r;
}

/* ---- alerts: the newest events of severity alert, with their flags ---- */

static int alerts_json(struct kura_vault *v, int64_t now, json_t **ret)
{
	struct kura_audit_rows all = {0};
	unsigned *flags = NULL;
	json_t *a = json_array();
	*ret = NULL;
	/* The last 30 days; in a busier month the last day, then the last hour
	 * (KURA_UI_AUDIT_MAX_PERIOD rows at most, each read). */
	static const int64_t spans[] = {KURA_UI_ALERT_DAYS * US_PER_DAY, US_PER_DAY,
					US_PER_DAY / 24};
	int r = a ? KURA_ETOOBIG : KURA_ENOMEM;
	for (size_t i = 0; r == KURA_ETOOBIG && i < sizeof(spans) / sizeof(spans[0]); i++) {
		kura_audit_rows_free(&all);
		r = kura_audit_collect(v, now - spans[i], 0, KURA_UI_AUDIT_MAX_PERIOD, &all, &flags);
	}
	for (size_t i = all.n; !r && i-- > 0 && json_array_size(a) < KURA_UI_MAX_ALERTS;)
		if (all.v[i].ev.severity == KURA_SEV_ALERT)
			r = append(a, ui_event_json(&all.v[i], flags[i]));
	free(flags);
	kura_audit_rows_free(&all);
	if (r)
		json_decref(a);
	*ret = r ? NULL : a;
	return r;
}

/* ---- the whole screen ---- */

static int record_status(struct kura_http_auth *au, size_t accounts, size_t alerts)
{
	struct kura_event ev;
	char detail[96];
	kura_audit_event(&ev, &au->id.actor, "list");
	KURA_AUDIT_SET(ev.query, "admin status");
	snprintf(detail, sizeof(detail), "%zu accounts, %zu alerts shown", accounts, alerts);
	KURA_AUDIT_SET(ev.detail, detail);
	return kura_access_record(&au->a, &ev);
}

static int status(const struct kura_http_req *req, struct kura_http_auth *au,
		  struct kura_http_resp *resp)
{
	struct kura_vault *v = au->a.v;
	int64_t now = kura_time_now_us();
	json_t *acc = NULL, *roles = NULL, *ledger = NULL, *backups = NULL, *alerts = NULL;
	int r = accounts_json(v, now, &acc);
	if (!r)
		r = roles_json(v, &roles);
	if (!r)
		r = ledger_json(v, &ledger);
	if (!r)
		r = backups_json(v, now, &backups);
	if (!r)
		r = alerts_json(v, now, &alerts);
	if (!r)
		r = record_status(au, json_array_size(acc), json_array_size(alerts));
	if (r) {
		json_decref(acc), json_decref(roles), json_decref(ledger);
		json_decref(backups), json_decref(alerts);
		return r;
	}
	return api_reply_json(resp, 200, json_pack("{s:o, s:o, s:o*, s:o*, s:o, s:o, s:o}",
			      "accounts", acc, "roles", roles, "policy", policy_json(v), "tls",
			      tls_json(req->thread->cfg), "ledger", ledger, "backups", backups,
			      "alerts", alerts));
}

int kura_api_admin(const struct kura_http_req *req, struct kura_http_resp *resp)
{
	struct kura_http_auth au;
	const char *p = req->path ? req->path : "";
	if (strcmp(p, "/api/admin/status") != 0)
		return api_reply_error(resp, 0, NULL, 404, "no such admin resource");
	int r = api_only(req, resp, KURA_HTTP_GET, "GET, HEAD");
	if (r)
		return r < 0 ? r : 0;
	if ((r = kura_serve_authenticate(req, 0, &au, resp)))
		return api_answered(r);
	r = kura_access_require(&au.a, KURA_ACT_ADMINISTER, "list");
	if (r)
		return ui_reply_refused(&au, resp, r); /* 403, recorded */
	return status(req, &au, resp);
}
