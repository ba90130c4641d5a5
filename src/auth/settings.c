/*
 * settings.c - the configurable rules (docs/CONFIG.md): each setting has a
 * default from the guideline or a documented choice, and is stored in the
 * vault's MAC'd state only when changed, so every change is an audit event
 * (config-change) and an edit outside kura fails closed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "audit/query.h"
#include "auth/auth.h"
#include "auth/password.h"
#include "util/utf8.h"
#include "util/banned.h"

struct setting {
	const char *name, *def;
	int (*check)(const char *name, const char *value);
};

static int check_uint(const char *value, long long lo, long long hi)
{
	char *end;
	errno = 0;
	long long n = strtoll(value, &end, 10);
	return *value && !*end && !errno && n >= lo && n <= hi ? 0 : KURA_EINVAL;
}

static int check_password(const char *name, const char *value)
{
	struct kura_pw_policy p;
	kura_pw_policy_default(&p);
	return kura_pw_policy_set(&p, name, value);
}

static int check_audit(const char *name, const char *value)
{
	struct kura_anomaly_config c;
	kura_anomaly_config_default(&c);
	return kura_anomaly_config_set(&c, name, value);
}

static int check_small(const char *name, const char *value)
{
	(void)name;
	return check_uint(value, 1, 1000);
}

static int check_hours(const char *name, const char *value)
{
	(void)name;
	return check_uint(value, 1, 72);
}

static int check_days(const char *name, const char *value)
{
	(void)name;
	return check_uint(value, 1, 3650);
}

static int check_second(const char *name, const char *value)
{
	(void)name;
	return strcmp(value, "all") == 0 || strcmp(value, "privileged") == 0 ||
			       strcmp(value, "off") == 0
		       ? 0 : KURA_EINVAL;
}

static int check_command(const char *name, const char *value)
{
	(void)name;
	/* an absolute path or none */
	return *value == 0 || (*value == '/' && strlen(value) < 4096 && kura_utf8_text_valid(value))
		       ? 0 : KURA_EINVAL;
}

static int check_path(const char *name, const char *value)
{
	(void)name;
	return (*value == 0 || *value == '/') && strlen(value) < 4096 && kura_utf8_text_valid(value) ? 0
										  : KURA_EINVAL;
}

/* Space-separated backup targets: absolute directories or https:// URLs. */
static int check_targets(const char *name, const char *value)
{
	char buf[4096];
	(void)name;
	if (strlen(value) >= sizeof(buf) || !kura_utf8_text_valid(value))
		return KURA_EINVAL;
	memcpy(buf, value, strlen(value) + 1);
	for (char *save = NULL, *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save))
		if (*t != '/' && strncmp(t, "https://", 8) != 0)
			return KURA_EINVAL;
	return 0;
}

static int check_keep(const char *name, const char *value)
{
	/* never fewer than 3 generations (BK-02) */
	return check_uint(value, strcmp(name, "backup.keep_min") == 0 ? 3 : 0, 1000);
}

static const struct setting settings[] = {
	{"backup.targets", "", check_targets},            /* BK-01..04 */
	{"backup.tls_ca", "", check_path},
	{"backup.tls_cert", "", check_path},
	{"backup.tls_key", "", check_path},
	{"backup.clamav_db", "/var/lib/clamav", check_path}, /* BK-05, MW-01 */
	{"backup.keep_min", "3", check_keep},             /* BK-02 */
	{"backup.keep_daily", "7", check_keep},
	{"backup.keep_weekly", "4", check_keep},
	{"backup.keep_monthly", "12", check_keep},
	{"backup.max_age_hours", "26", check_hours},
	{"backup.drill_days", "90", check_days},          /* BC-02 */
	{"auth.max_failures", "5", check_small},           /* AU-15 */
	{"auth.lockout_minutes", "15", check_small},
	{"auth.idle_minutes", "15", check_small},          /* AC-01 */
	{"auth.session_hours", "12", check_hours},
	{"auth.dormant_days", "90", check_days},           /* AC-04 */
	{"auth.require_second_factor", "privileged", check_second}, /* AU-12 */
	{"breakglass.hours", "4", check_hours},            /* BG-01..03 */
	{"emergency.window_hours", "8", check_hours},
	{"alert.command", "", check_command},
	{"password.min_length", "8", check_password},      /* AU-07..11 */
	{"password.long_length", "13", check_password},
	{"password.min_classes", "3", check_password},
	{"password.max_age_days", "60", check_password},
	{"password.history", "5", check_password},
	{"password.dictionary", "on", check_password},
	{"password.argon2_ops", NULL, check_password},
	{"password.argon2_mem_mib", NULL, check_password},
	{"audit.offhours_start", "20:00", check_audit},    /* anomaly flags */
	{"audit.offhours_end", "07:00", check_audit},
	{"audit.weekends", "on", check_audit},
	{"audit.bulk_reads", "50", check_audit},
	{"audit.bulk_window_min", "60", check_audit},
};

const char *const kura_setting_names[] = {
	"auth.max_failures", "auth.lockout_minutes", "auth.idle_minutes", "auth.session_hours",
	"auth.dormant_days", "auth.require_second_factor", "breakglass.hours",
	"emergency.window_hours", "alert.command", "password.min_length",
	"password.long_length", "password.min_classes", "password.max_age_days",
	"password.history", "password.dictionary", "password.argon2_ops",
	"password.argon2_mem_mib", "audit.offhours_start", "audit.offhours_end",
	"audit.weekends", "audit.bulk_reads", "audit.bulk_window_min", "backup.targets",
	"backup.tls_ca", "backup.tls_cert", "backup.tls_key", "backup.clamav_db",
	"backup.keep_min", "backup.keep_daily", "backup.keep_weekly", "backup.keep_monthly",
	"backup.max_age_hours", "backup.drill_days", NULL,
};

#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

static const struct setting *find(const char *name)
{
	for (size_t i = 0; i < NSETTINGS; i++)
		if (strcmp(settings[i].name, name) == 0)
			return &settings[i];
	return NULL;
}

/* role.<name>.rules|scope|breakglass and syslog.<name>.<field>: named
 * families whose members sites define. */
static int check_family(const char *name, const char *value)
{
	const char *dot = strrchr(name, '.');
	struct kura_role role;
	struct kura_buf err;
	enum kura_scope scope;
	int r = KURA_ENOTFOUND;
	if (!dot)
		return r;
	if (strncmp(name, "role.", 5) == 0) {
		kura_buf_init(&err, 1024);
		if (strcmp(dot, ".rules") == 0)
			r = kura_rbac_parse(value, &role, &err);
		else if (strcmp(dot, ".scope") == 0)
			r = kura_scope_parse(value, &scope);
		else if (strcmp(dot, ".breakglass") == 0)
			r = strcmp(value, "on") == 0 || strcmp(value, "off") == 0 ? 0 : KURA_EINVAL;
		kura_buf_release(&err);
		return r;
	}
	if (strncmp(name, "syslog.", 7) == 0) {
		static const char *const fields[] = {".host", ".port", ".ca", ".cert", ".key",
						     ".server_name", ".format", NULL};
		for (size_t i = 0; fields[i]; i++)
			if (strcmp(dot, fields[i]) == 0)
				return kura_utf8_text_valid(value) && strlen(value) < 4096 ? 0
											   : KURA_EINVAL;
	}
	return r;
}

static int stored(struct kura_vault *v, const char *name, struct kura_buf *out)
{
	json_t *j = NULL;
	int r = kura_state_get(v, "config", name, &j);
	const char *s = r ? NULL : json_string_value(json_object_get(j, "value"));
	if (!r)
		r = s ? kura_buf_append_str(out, s) : KURA_ECORRUPT;
	json_decref(j);
	return r;
}

int kura_setting_get(struct kura_vault *v, const char *name, struct kura_buf *out)
{
	const struct setting *s = find(name);
	size_t mark = out->len;
	int r = stored(v, name, out);
	if (r != KURA_ENOTFOUND)
		return r;
	out->len = mark;
	if (s && s->def)
		return kura_buf_append_str(out, s->def);
	if (s) { /* Argon2id defaults come from the password module */
		struct kura_pw_policy p;
		kura_pw_policy_default(&p);
		return kura_pw_policy_get(&p, name, out);
	}
	return KURA_ENOTFOUND;
}

int64_t kura_setting_int(struct kura_vault *v, const char *name, int64_t def)
{
	struct kura_buf b;
	char *end;
	kura_buf_init(&b, 256);
	int64_t n = def;
	if (kura_setting_get(v, name, &b) == 0 && b.data) {
		long long x = strtoll((char *)b.data, &end, 10);
		if (*end == 0 && end != (char *)b.data)
			n = x;
	}
	kura_buf_release(&b);
	return n;
}

int kura_setting_set(struct kura_txn *t, const char *name, const char *value)
{
	const struct setting *s = find(name);
	int r = s ? s->check(name, value) : check_family(name, value);
	if (r)
		return r;
	json_t *j = json_pack("{s:s}", "value", value);
	if (!j)
		return KURA_ENOMEM;
	r = kura_state_put(t, "config", name, j);
	json_decref(j);
	return r;
}
