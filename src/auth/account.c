/*
 * account.c - accounts (AU-01..11, AC-04, BG-03): one person, one account,
 * kept as a JSON object in the vault's MAC'd state (docs/formats/state.md).
 * Passwords are Argon2id strings; the TOTP key is sealed; recovery codes
 * are kept only as keyed digests.
 */
#include <string.h>

#include "audit/query.h"
#include "auth/auth.h"
#include "auth/auth_int.h"
#include "auth/password.h"
#include "auth/totp.h"
#include "fhir/import.h"
#include "util/time.h"
#include "util/utf8.h"
#include "util/banned.h"

int kura_factor_types(unsigned f)
{
	int knowledge = (f & KURA_FACTOR_PASSWORD) != 0;
	/* An authenticator app, a certificate and a recovery code are all
	 * something the user has: together they are still one type (AU-13). */
	int possession = (f & (KURA_FACTOR_TOTP | KURA_FACTOR_CERT | KURA_FACTOR_RECOVERY)) != 0;
	return knowledge + possession;
}

void auth_policy(struct kura_vault *v, struct kura_pw_policy *p)
{
	struct kura_buf b;
	kura_pw_policy_default(p);
	kura_buf_init(&b, 256);
	for (size_t i = 0; kura_setting_names[i]; i++) {
		const char *n = kura_setting_names[i];
		json_t *j = NULL;
		if (strncmp(n, "password.", 9) != 0 || kura_state_get(v, "config", n, &j))
			continue;
		const char *s = json_string_value(json_object_get(j, "value"));
		if (s)
			kura_pw_policy_set(p, n, s);
		json_decref(j);
	}
	kura_buf_release(&b);
}

int auth_valid_departments(const char *list)
{
	size_t n = 0, count = 0;
	for (const char *p = list; *p; p++) {
		if (*p == ',') {
			if (n == 0)
				return 0;
			n = 0;
			count++;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
			return 0;
		if (++n > KURA_MAX_DEPT)
			return 0;
	}
	return (n > 0 || !*list) && count < KURA_MAX_DEPTS;
}

int auth_role_exists(struct kura_vault *v, const char *role)
{
	struct kura_role r;
	return kura_role_get(v, role, &r) == 0;
}

int kura_account_get(struct kura_vault *v, const char *id, json_t **ret)
{
	if (!kura_valid_id(id)) {
		*ret = NULL;
		return KURA_EINVAL;
	}
	return kura_state_get(v, "account", id, ret);
}

int kura_account_put(struct kura_txn *t, json_t *a)
{
	const char *id = json_string_value(json_object_get(a, "id"));
	return id ? kura_state_put(t, "account", id, a) : KURA_EINVAL;
}

static int hash_password(struct kura_vault *v, const char *pw, size_t len,
			 char out[KURA_PWHASH_STRLEN])
{
	struct kura_pw_policy p;
	auth_policy(v, &p);
	return kura_pw_hash(&p, pw, len, out);
}

static int valid_spec(struct kura_vault *v, const struct kura_account_spec *s)
{
	const char *name = s->name ? s->name : "", *bd = s->birth_date ? s->birth_date : "";
	int64_t t;
	/* A birth date is a calendar date YYYY-MM-DD (the password rules look
	 * for it, AU-09), or none. */
	if (*bd && (strlen(bd) != 10 || kura_time_parse(bd, 0, 0, &t)))
		return 0;
	return kura_valid_id(s->id) && auth_valid_departments(s->departments ? s->departments : "") &&
	       auth_role_exists(v, s->role) && kura_utf8_text_valid(name) &&
	       strlen(name) <= KURA_MAX_NAME;
}

int kura_account_add(struct kura_txn *t, const struct kura_account_spec *s,
		     const char *password, size_t len)
{
	struct kura_vault *v = kura_txn_vault(t);
	char hash[KURA_PWHASH_STRLEN];
	json_t *old = NULL;
	if (!valid_spec(v, s))
		return KURA_EINVAL;
	int r = kura_account_get(v, s->id, &old);
	json_decref(old);
	if (r == 0)
		return KURA_EEXIST;
	if (r != KURA_ENOTFOUND)
		return r;
	if ((r = hash_password(v, password, len, hash)))
		return r;
	int64_t now = kura_time_now_us();
	json_t *a = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:I, s:s, s:I, s:b, s:[], "
			      "s:i, s:I, s:I, s:I, s:i, s:i}",
			      "id", s->id, "name", s->name ? s->name : "", "birth_date",
			      s->birth_date ? s->birth_date : "", "role", s->role, "departments",
			      s->departments ? s->departments : "", "status",
			      s->emergency ? "disabled" : "active", "emergency", s->emergency,
			      "emergency_until_us", (json_int_t)0, "password", hash,
			      "password_set_us", (json_int_t)now, "must_change", 1, "history",
			      "failures", 0, "locked_until_us", (json_int_t)0, "last_login_us",
			      (json_int_t)0, "created_us", (json_int_t)now, "epoch", 1,
			      "max_age_days", 0);
	kura_wipe(hash, sizeof(hash));
	if (!a)
		return KURA_ENOMEM;
	r = kura_account_put(t, a);
	json_decref(a);
	return r;
}

/* Load, change with fn, store: the shape of every administrative change. */
static int update(struct kura_txn *t, const char *id, int (*fn)(json_t *a, void *ctx), void *ctx)
{
	json_t *a = NULL;
	int r = kura_account_get(kura_txn_vault(t), id, &a);
	if (!r)
		r = fn(a, ctx);
	if (!r)
		r = kura_account_put(t, a);
	json_decref(a);
	return r;
}

static int set_disabled(json_t *a, void *ctx)
{
	(void)ctx;
	json_object_set_new(a, "status", json_string("disabled"));
	json_object_set_new(a, "emergency_until_us", json_integer(0));
	json_object_set_new(a, "epoch", json_integer(json_integer_value(json_object_get(a, "epoch")) + 1));
	return 0;
}

int kura_account_disable(struct kura_txn *t, const char *id)
{
	int r = update(t, id, set_disabled, NULL);
	return r ? r : kura_auth_end_sessions(t, id);
}

static int set_enabled(json_t *a, void *ctx)
{
	int64_t window_s = *(int64_t *)ctx;
	int emergency = json_is_true(json_object_get(a, "emergency"));
	json_object_set_new(a, "status", json_string("active"));
	json_object_set_new(a, "failures", json_integer(0));
	json_object_set_new(a, "locked_until_us", json_integer(0));
	/* BG-03: an emergency account is usable only inside its window. */
	json_object_set_new(a, "emergency_until_us",
			    json_integer(emergency ? kura_time_now_us() + window_s * 1000000 : 0));
	return 0;
}

int kura_account_enable(struct kura_txn *t, const char *id, int64_t window_s)
{
	return update(t, id, set_enabled, &window_s);
}

static int set_unlocked(json_t *a, void *ctx)
{
	(void)ctx;
	json_object_set_new(a, "failures", json_integer(0));
	json_object_set_new(a, "locked_until_us", json_integer(0));
	return 0;
}

int kura_account_unlock(struct kura_txn *t, const char *id)
{
	return update(t, id, set_unlocked, NULL);
}

struct role_change {
	struct kura_vault *v;
	const char *role, *departments;
};

static int set_role(json_t *a, void *ctx)
{
	struct role_change *c = ctx;
	if (c->role && !auth_role_exists(c->v, c->role))
		return KURA_EINVAL;
	if (c->departments && !auth_valid_departments(c->departments))
		return KURA_EINVAL;
	if (c->role)
		json_object_set_new(a, "role", json_string(c->role));
	if (c->departments)
		json_object_set_new(a, "departments", json_string(c->departments));
	json_object_set_new(a, "epoch", json_integer(json_integer_value(json_object_get(a, "epoch")) + 1));
	return 0;
}

int kura_account_set_role(struct kura_txn *t, const char *id, const char *role,
			  const char *departments)
{
	struct role_change c = {kura_txn_vault(t), role, departments};
	int r = update(t, id, set_role, &c);
	return r ? r : kura_auth_end_sessions(t, id);
}

unsigned kura_account_factors(const json_t *a)
{
	unsigned f = 0;
	if (json_object_get(a, "totp"))
		f |= KURA_FACTOR_TOTP;
	if (json_array_size(json_object_get(a, "certs")))
		f |= KURA_FACTOR_CERT;
	if (json_array_size(json_object_get(a, "recovery")))
		f |= KURA_FACTOR_RECOVERY;
	return f;
}

struct pw_change {
	struct kura_vault *v;
	const char *pw;
	size_t len;
	int self;
	int reason;
};

/* The stored hashes this password must not repeat (AU-09): the current one
 * and the history, newest first. */
static size_t old_hashes(json_t *a, const char **out, size_t cap)
{
	size_t n = 0;
	json_t *h = json_object_get(a, "history"), *x;
	size_t i;
	if (json_string_value(json_object_get(a, "password")) && n < cap)
		out[n++] = json_string_value(json_object_get(a, "password"));
	json_array_foreach(h, i, x) if (n < cap && json_string_value(x)) out[n++] = json_string_value(x);
	return n;
}

static int check_new_password(struct pw_change *c, json_t *a, const struct kura_pw_policy *p,
			      unsigned *ret_age)
{
	const char *old[32];
	enum kura_pw_reason why = KURA_PW_OK;
	struct kura_pw_person who = {json_string_value(json_object_get(a, "id")),
				     json_string_value(json_object_get(a, "name")),
				     json_string_value(json_object_get(a, "birth_date"))};
	int has2 = kura_account_factors(a) != 0;
	int r = kura_pw_check(p, c->pw, c->len, &who, has2, &why, ret_age);
	size_t n = old_hashes(a, old, p->history < 32 ? p->history : 32);
	if (!r && n && kura_pw_reused(old, n, c->pw, c->len)) {
		why = KURA_PW_REUSED;
		r = KURA_EPOLICY;
	}
	c->reason = (int)why;
	return r;
}

/* Keep the last (history - 1) old hashes besides the new current one. */
static void push_history(json_t *a, unsigned keep)
{
	json_t *h = json_object_get(a, "history");
	const char *cur = json_string_value(json_object_get(a, "password"));
	if (!json_is_array(h)) {
		h = json_array();
		json_object_set_new(a, "history", h);
	}
	if (cur)
		json_array_insert_new(h, 0, json_string(cur));
	while (json_array_size(h) > (keep > 0 ? keep - 1 : 0))
		json_array_remove(h, json_array_size(h) - 1);
}

static int set_password(json_t *a, void *ctx)
{
	struct pw_change *c = ctx;
	struct kura_pw_policy p;
	char hash[KURA_PWHASH_STRLEN];
	unsigned age = 0;
	auth_policy(c->v, &p);
	int r = c->self ? check_new_password(c, a, &p, &age) : 0;
	if (!r)
		r = kura_pw_hash(&p, c->pw, c->len, hash);
	if (r)
		return r;
	push_history(a, p.history);
	json_object_set_new(a, "password", json_string(hash));
	json_object_set_new(a, "password_set_us", json_integer(kura_time_now_us()));
	json_object_set_new(a, "max_age_days", json_integer(age));
	json_object_set_new(a, "must_change", json_boolean(!c->self)); /* AU-11 */
	json_object_set_new(a, "epoch", json_integer(json_integer_value(json_object_get(a, "epoch")) + 1));
	kura_wipe(hash, sizeof(hash));
	return 0;
}

int kura_account_set_password(struct kura_txn *t, const char *id, const char *pw, size_t len,
			      int self, int *ret_reason)
{
	struct pw_change c = {kura_txn_vault(t), pw, len, self, 0};
	int r = update(t, id, set_password, &c);
	if (ret_reason)
		*ret_reason = c.reason;
	return r ? r : kura_auth_end_sessions(t, id);
}

struct totp_enroll {
	struct kura_vault *v;
	const uint8_t *secret;
	size_t len;
	int64_t last_step;
};

static int set_totp(json_t *a, void *ctx)
{
	struct totp_enroll *e = ctx;
	struct kura_buf hex, label;
	kura_buf_init(&hex, 1024);
	kura_buf_init(&label, 256);
	int r = kura_buf_printf(&label, "totp:%s", json_string_value(json_object_get(a, "id")));
	if (!r)
		r = kura_state_seal(e->v, (char *)label.data, e->secret, e->len, &hex);
	if (!r)
		json_object_set_new(a, "totp", json_pack("{s:s, s:I, s:I}", "secret", (char *)hex.data,
							  "last_step", (json_int_t)e->last_step, "enrolled_us",
							  (json_int_t)kura_time_now_us()));
	kura_buf_release(&hex);
	kura_buf_release(&label);
	return r;
}

int kura_account_totp_enroll(struct kura_txn *t, const char *id, uint8_t *ret_secret,
			     size_t secret_len)
{
	if (secret_len != KURA_TOTP_SECRET_LEN)
		return KURA_EINVAL;
	kura_random(ret_secret, secret_len);
	return kura_account_totp_set(t, id, ret_secret, secret_len, -1);
}

int kura_account_totp_set(struct kura_txn *t, const char *id, const uint8_t *secret,
			  size_t secret_len, int64_t last_step)
{
	struct totp_enroll e = {kura_txn_vault(t), secret, secret_len, last_step};
	if (secret_len != KURA_TOTP_SECRET_LEN)
		return KURA_EINVAL;
	return update(t, id, set_totp, &e);
}

struct cert_add {
	const char *fp, *subject;
};

static int add_cert(json_t *a, void *ctx)
{
	struct cert_add *c = ctx;
	json_t *list = json_object_get(a, "certs"), *x;
	size_t i;
	if (!json_is_array(list)) {
		list = json_array();
		json_object_set_new(a, "certs", list);
	}
	json_array_foreach(list, i, x) if (strcmp(json_string_value(json_object_get(x, "fp")) ?: "",
						  c->fp) == 0) return KURA_EEXIST;
	return json_array_append_new(list, json_pack("{s:s, s:s}", "fp", c->fp, "subject",
						     c->subject)) ? KURA_ENOMEM : 0;
}

int kura_account_cert_add(struct kura_txn *t, const char *id, const char *fingerprint,
			  const char *subject)
{
	struct cert_add c = {fingerprint, subject ? subject : ""};
	if (strlen(fingerprint) != 64)
		return KURA_EINVAL;
	return update(t, id, add_cert, &c);
}

struct recovery_new {
	struct kura_vault *v;
	char (*codes)[24];
	size_t n;
};

static int set_recovery(json_t *a, void *ctx)
{
	struct recovery_new *rn = ctx;
	char text[KURA_RECOVERY_CODES][KURA_RECOVERY_TEXT_LEN + 1], norm[KURA_RECOVERY_CHARS + 1];
	char hex[2 * KURA_HASH_LEN + 1];
	const char *id = json_string_value(json_object_get(a, "id"));
	json_t *list = json_array();
	int r = kura_recovery_generate(text, KURA_RECOVERY_CODES);
	for (size_t i = 0; !r && i < KURA_RECOVERY_CODES; i++) {
		r = kura_recovery_normalize(text[i], norm);
		if (!r)
			r = kura_state_digest(rn->v, id, norm, strlen(norm), hex);
		if (!r)
			json_array_append_new(list, json_string(hex));
		if (!r && i < rn->n)
			memcpy(rn->codes[i], text[i], sizeof(text[i]));
	}
	kura_wipe(text, sizeof(text));
	kura_wipe(norm, sizeof(norm));
	if (r) {
		json_decref(list);
		return r;
	}
	json_object_set_new(a, "recovery", list);
	return 0;
}

int kura_account_recovery_new(struct kura_txn *t, const char *id, char (*ret_codes)[24], size_t n)
{
	struct recovery_new rn = {kura_txn_vault(t), ret_codes, n};
	return update(t, id, set_recovery, &rn);
}

static int remove_factor(json_t *a, void *ctx)
{
	unsigned f = *(unsigned *)ctx;
	if (f & KURA_FACTOR_TOTP)
		json_object_del(a, "totp");
	if (f & KURA_FACTOR_CERT)
		json_object_del(a, "certs");
	if (f & KURA_FACTOR_RECOVERY)
		json_object_del(a, "recovery");
	return 0;
}

int kura_account_factor_remove(struct kura_txn *t, const char *id, unsigned factor)
{
	return update(t, id, remove_factor, &factor);
}
