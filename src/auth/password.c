/* password.c - the password policy (AU-07..AU-09) and Argon2id hashing (AU-05). */
#include "auth/password.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <crack.h>

#include "util/err.h"
#include "util/limits.h"
#include "util/utf8.h"
#include "util/banned.h"

/* cracklib keeps static state in PWOpen/FascistCheck and is not
 * thread-safe; this lock is the one global of the module, because the state
 * it guards is global inside the library. */
static pthread_mutex_t crack_lock = PTHREAD_MUTEX_INITIALIZER;

enum pw_field { F_MIN, F_LONG, F_CLASSES, F_AGE, F_HISTORY, F_DICT, F_OPS, F_MEM };

struct pw_key {
	const char *name;
	enum pw_field field;
	unsigned long lo, hi;
};

static const struct pw_key pw_keys[] = {
	{"password.min_length", F_MIN, 8, KURA_PW_MAX_RULE_LEN},
	{"password.long_length", F_LONG, 8, KURA_PW_MAX_RULE_LEN},
	{"password.min_classes", F_CLASSES, 1, 3},
	{"password.max_age_days", F_AGE, 0, 3650},
	{"password.history", F_HISTORY, 0, 24},
	{"password.dictionary", F_DICT, 0, 1},
	{"password.argon2_ops", F_OPS, 1, 10},
	{"password.argon2_mem_mib", F_MEM, 8, 4096},
};

const char *const kura_pw_policy_keys[] = {
	"password.min_length", "password.long_length", "password.min_classes",
	"password.max_age_days", "password.history", "password.dictionary",
	"password.argon2_ops", "password.argon2_mem_mib", NULL,
};

void kura_pw_policy_default(struct kura_pw_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->min_len = KURA_PW_DEFAULT_MIN_LEN;
	p->long_len = KURA_PW_DEFAULT_LONG_LEN;
	p->min_classes = KURA_PW_DEFAULT_MIN_CLASSES;
	p->max_age_days = KURA_PW_DEFAULT_MAX_AGE_DAYS;
	p->history = KURA_PW_DEFAULT_HISTORY;
	p->dictionary = 1;
	p->ops = KURA_PW_DEFAULT_OPS;
	p->mem_kib = KURA_PW_DEFAULT_MEM_KIB;
}

static const struct pw_key *find_key(const char *name)
{
	for (size_t i = 0; name && i < sizeof(pw_keys) / sizeof(pw_keys[0]); i++)
		if (strcmp(pw_keys[i].name, name) == 0)
			return &pw_keys[i];
	return NULL;
}

/* A plain decimal number: digits only, no sign, spaces or leading zeros
 * beyond "0" itself, at most 9 digits. */
static int parse_uint(const char *s, unsigned long *ret)
{
	size_t n = strlen(s);
	if (n == 0 || n > 9 || (n > 1 && s[0] == '0'))
		return KURA_EINVAL;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return KURA_EINVAL;
	*ret = strtoul(s, NULL, 10);
	return 0;
}

static int parse_value(const struct pw_key *k, const char *s, unsigned long *ret)
{
	if (k->field == F_DICT) {
		if (strcmp(s, "on") != 0 && strcmp(s, "off") != 0)
			return KURA_EINVAL;
		*ret = strcmp(s, "on") == 0;
		return 0;
	}
	if (parse_uint(s, ret) || *ret < k->lo || *ret > k->hi)
		return KURA_EINVAL;
	return 0;
}

static void store(struct kura_pw_policy *p, enum pw_field f, unsigned long v)
{
	switch (f) {
	case F_MIN:
		p->min_len = (unsigned)v;
		if (p->long_len < p->min_len)
			p->long_len = p->min_len;
		break;
	case F_LONG: p->long_len = (unsigned)v; break;
	case F_CLASSES: p->min_classes = (unsigned)v; break;
	case F_AGE: p->max_age_days = (unsigned)v; break;
	case F_HISTORY: p->history = (unsigned)v; break;
	case F_DICT: p->dictionary = (int)v; break;
	case F_OPS: p->ops = v; break;
	case F_MEM: p->mem_kib = (uint64_t)v * 1024; break;
	}
}

int kura_pw_policy_set(struct kura_pw_policy *p, const char *key, const char *value)
{
	const struct pw_key *k = find_key(key);
	unsigned long v = 0;
	if (!k)
		return KURA_ENOTFOUND;
	if (!value || parse_value(k, value, &v))
		return KURA_EINVAL;
	if (k->field == F_LONG && v < p->min_len)
		return KURA_EINVAL;
	store(p, k->field, v);
	return 0;
}

static unsigned long load(const struct kura_pw_policy *p, enum pw_field f)
{
	switch (f) {
	case F_MIN: return p->min_len;
	case F_LONG: return p->long_len;
	case F_CLASSES: return p->min_classes;
	case F_AGE: return p->max_age_days;
	case F_HISTORY: return p->history;
	case F_DICT: return p->dictionary != 0;
	case F_OPS: return (unsigned long)p->ops;
	case F_MEM: return (unsigned long)(p->mem_kib / 1024);
	}
	return 0;
}

int kura_pw_policy_get(const struct kura_pw_policy *p, const char *key, struct kura_buf *out)
{
	const struct pw_key *k = find_key(key);
	if (!k)
		return KURA_ENOTFOUND;
	if (k->field == F_DICT)
		return kura_buf_append_str(out, p->dictionary ? "on" : "off");
	return kura_buf_printf(out, "%lu", load(p, k->field));
}

const char *kura_pw_reason_text(enum kura_pw_reason r, int japanese)
{
	static const char *const en[] = {
		[KURA_PW_OK] = "the password is acceptable",
		[KURA_PW_TOO_SHORT] = "password too short: use at least 13 characters, or 8 with "
				      "letters, digits and symbols",
		[KURA_PW_TOO_LONG] = "password too long: use at most 256 bytes",
		[KURA_PW_CLASSES] = "mix letters, digits and symbols in the password",
		[KURA_PW_DICTIONARY] = "password is a dictionary word or too simple: choose "
				       "unrelated words or random characters",
		[KURA_PW_PERSONAL] = "password contains your user id, name or birth date: "
				     "choose another one",
		[KURA_PW_REUSED] = "password was used recently: choose one you have not used before",
		[KURA_PW_INVALID] = "password has control characters or invalid text: "
				    "type it again without them",
	};
	static const char *const ja[] = {
		[KURA_PW_OK] = "このパスワードは使用できます",
		[KURA_PW_TOO_SHORT] = "パスワードが短すぎます。13文字以上、または英字・数字・記号を"
				      "混ぜて8文字以上にしてください",
		[KURA_PW_TOO_LONG] = "パスワードが長すぎます。256バイト以内にしてください",
		[KURA_PW_CLASSES] = "英字・数字・記号を混ぜたパスワードにしてください",
		[KURA_PW_DICTIONARY] = "辞書にある単語か単純すぎるパスワードです。無関係な単語の"
				       "組み合わせやランダムな文字列にしてください",
		[KURA_PW_PERSONAL] = "利用者ID・氏名・生年月日を含むパスワードは使えません。"
				     "別のパスワードにしてください",
		[KURA_PW_REUSED] = "最近使ったパスワードです。使ったことのないものにしてください",
		[KURA_PW_INVALID] = "制御文字または不正な文字が含まれています。入力し直してください",
	};
	if ((unsigned)r > KURA_PW_INVALID)
		return japanese ? "パスワードを確認できません" : "the password cannot be checked";
	return japanese ? ja[r] : en[r];
}

/* The forms of one candidate password that the checks look at. */
struct pw_forms {
	char raw[KURA_MAX_PASSWORD + 1];  /* as given, NUL-terminated */
	char low[KURA_MAX_PASSWORD + 1];  /* ASCII lowercase */
	char leet[KURA_MAX_PASSWORD + 1]; /* low, de-leeted */
	char norm[KURA_MAX_PASSWORD + 1]; /* low, ends stripped, de-leeted */
	char tail[KURA_MAX_PASSWORD + 1]; /* low, end stripped, de-leeted */
	char digits[KURA_MAX_PASSWORD + 1]; /* the digits only, in order */
	size_t chars;                     /* code points */
	unsigned classes;                 /* bits: 1 letter, 2 digit, 4 symbol */
};

static int is_ascii_letter(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_ascii_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* Count code points and classes; -1 for invalid UTF-8 or control
 * characters (C0, DEL, C1), which no keyboard gives and terminals mangle. */
static int scan(const uint8_t *p, size_t n, struct pw_forms *f)
{
	for (size_t i = 0; i < n; f->chars++) {
		size_t k = 1;
		if (p[i] < 0x20 || p[i] == 0x7f)
			return -1;
		if (p[i] >= 0x80) {
			k = kura_utf8_seq_len(p + i, n - i);
			if (k == 0 || (p[i] == 0xc2 && p[i + 1] < 0xa0))
				return -1;
			f->classes |= 1;
		} else if (is_ascii_letter(p[i])) {
			f->classes |= 1;
		} else if (is_ascii_digit(p[i])) {
			f->classes |= 2;
		} else {
			f->classes |= 4;
		}
		i += k;
	}
	return 0;
}

static char deleet_char(char c)
{
	static const char from[] = "@40135$7!", to[] = "aaoiessti";
	const char *q = c ? strchr(from, c) : NULL;
	return q ? to[q - from] : c;
}

static void deleet(char *s)
{
	for (; *s; s++)
		*s = deleet_char(*s);
}

static int is_strippable(char c)
{
	return (unsigned char)c < 0x80 && !is_ascii_letter(c);
}

/* Copy low without leading (if both) and trailing digits and symbols. */
static void strip_ends(const char *low, char *out, int both)
{
	size_t b = 0, e = strlen(low);
	while (both && b < e && is_strippable(low[b]))
		b++;
	while (e > b && is_strippable(low[e - 1]))
		e--;
	memcpy(out, low + b, e - b);
	out[e - b] = '\0';
}

static void make_forms(struct pw_forms *f, size_t len)
{
	size_t d = 0;
	for (size_t i = 0; i < len; i++) {
		char c = f->raw[i];
		f->low[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
		if (is_ascii_digit(c))
			f->digits[d++] = c;
	}
	f->low[len] = '\0';
	f->digits[d] = '\0';
	memcpy(f->leet, f->low, len + 1);
	deleet(f->leet);
	strip_ends(f->low, f->norm, 1);
	deleet(f->norm);
	strip_ends(f->low, f->tail, 0);
	deleet(f->tail);
}

static int contains(const char *hay, const char *needle, size_t n)
{
	return n > 0 && memmem(hay, strlen(hay), needle, n) != NULL;
}

/* Is the word (n bytes of s, lowercased into a copy) in the password's
 * lowercase or de-leeted form?  Words shorter than 3 characters are too
 * common to reject, except 2 non-ASCII ones (a two-kanji family name). */
static int has_word(const struct pw_forms *f, const char *s, size_t n)
{
	char w[KURA_MAX_NAME + 1];
	size_t chars = 0, ascii = 1;
	if (n == 0 || n > KURA_MAX_NAME)
		return 0;
	for (size_t i = 0; i < n; i++) {
		w[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : s[i];
		chars += ((unsigned char)s[i] & 0xc0) != 0x80;
		ascii &= (unsigned char)s[i] < 0x80;
	}
	w[n] = '\0';
	if (chars < 3 && (ascii || chars < 2))
		return 0;
	return contains(f->low, w, n) || contains(f->leet, w, n);
}

static int is_name_sep(const char *s, size_t *ret_n)
{
	*ret_n = 1;
	if (*s == ' ' || *s == '.' || *s == '-' || *s == '_')
		return 1;
	*ret_n = 3; /* U+3000 ideographic space, U+30FB katakana middle dot */
	return strncmp(s, "\xe3\x80\x80", 3) == 0 || strncmp(s, "\xe3\x83\xbb", 3) == 0;
}

static int has_name_part(const struct pw_forms *f, const char *name)
{
	const char *start = name, *s = name;
	size_t n = 0;
	for (;; s += n) {
		int end = *s == '\0';
		if (end || is_name_sep(s, &n)) {
			if (has_word(f, start, (size_t)(s - start)))
				return 1;
			if (end)
				return 0;
			start = s + n;
		} else {
			n = 1;
		}
	}
}

static int is_date(const char *d)
{
	static const char shape[] = "dddd-dd-dd";
	if (strlen(d) != 10)
		return 0;
	for (size_t i = 0; i < 10; i++)
		if (shape[i] == 'd' ? !is_ascii_digit(d[i]) : d[i] != '-')
			return 0;
	return 1;
}

/* Birth date forms: YYYYMMDD, YYMMDD, MMDD, DDMM anywhere in the password,
 * the first two also in its digits alone ("1980/05/12"), and YYYY in
 * passwords shorter than 13 characters (in a long one a year is one of many
 * parts, and rejecting every 19xx/20xx would reject many random strings). */
static int has_birth_date(const struct pw_forms *f, const char *d, size_t long_len)
{
	char ymd[9], yymmdd[7], mmdd[5], ddmm[5];
	if (!d || !is_date(d))
		return 0;
	memcpy(ymd, d, 4);
	memcpy(ymd + 4, d + 5, 2);
	memcpy(ymd + 6, d + 8, 2);
	memcpy(yymmdd, ymd + 2, 6);
	memcpy(mmdd, ymd + 4, 4);
	memcpy(ddmm, ymd + 6, 2);
	memcpy(ddmm + 2, ymd + 4, 2);
	if (contains(f->digits, ymd, 8) || contains(f->digits, yymmdd, 6))
		return 1;
	if (contains(f->low, mmdd, 4) || contains(f->low, ddmm, 4))
		return 1;
	return f->chars < long_len && contains(f->low, ymd, 4);
}

static int is_personal(const struct pw_forms *f, const struct kura_pw_person *who,
		       size_t long_len)
{
	if (!who)
		return 0;
	if (who->user_id && has_word(f, who->user_id, strnlen(who->user_id, KURA_MAX_ID + 1)))
		return 1;
	if (who->name && has_name_part(f, who->name))
		return 1;
	return has_birth_date(f, who->birth_date, long_len);
}

/* One cracklib call: 1 rejected, 0 accepted, KURA_EIO without dictionary.
 * strict: any complaint counts (the password as typed); otherwise only
 * "dictionary word" (a normalised form may well be short or simple). */
static int crack_one(const char *dict, const char *s, int strict)
{
	const char *msg;
	pthread_mutex_lock(&crack_lock);
	msg = FascistCheck(s, dict);
	pthread_mutex_unlock(&crack_lock);
	if (!msg)
		return 0;
	if (strstr(msg, "error loading dictionary"))
		return KURA_EIO;
	return strict || strstr(msg, "dictionary word") != NULL;
}

static int is_dictionary(const struct pw_forms *f)
{
	const char *dict = GetDefaultCracklibDict();
	char path[4096];
	int r;
	if (!dict || snprintf(path, sizeof(path), "%s.pwd", dict) >= (int)sizeof(path) ||
	    access(path, R_OK) != 0)
		return KURA_EIO;
	r = crack_one(dict, f->raw, 1);
	if (r == 0 && strcmp(f->norm, f->low) != 0)
		r = crack_one(dict, f->norm, 0);
	if (r == 0 && strcmp(f->tail, f->norm) != 0)
		r = crack_one(dict, f->tail, 0);
	return r;
}

static unsigned popcount3(unsigned x)
{
	return (x & 1) + (x >> 1 & 1) + (x >> 2 & 1);
}

/* The reason p rejects f, KURA_PW_OK, or KURA_EIO. */
static int judge(const struct kura_pw_policy *p, struct pw_forms *f, size_t len,
		 const struct kura_pw_person *who)
{
	int r;
	if (scan((const uint8_t *)f->raw, len, f))
		return KURA_PW_INVALID;
	if (f->chars < p->min_len)
		return KURA_PW_TOO_SHORT;
	if (popcount3(f->classes) < p->min_classes)
		return KURA_PW_CLASSES;
	make_forms(f, len);
	if (is_personal(f, who, p->long_len))
		return KURA_PW_PERSONAL;
	if (!p->dictionary)
		return KURA_PW_OK;
	r = is_dictionary(f);
	if (r < 0)
		return r;
	return r ? KURA_PW_DICTIONARY : KURA_PW_OK;
}

int kura_pw_check(const struct kura_pw_policy *p, const char *pw, size_t len,
		  const struct kura_pw_person *who, int has_second_factor,
		  enum kura_pw_reason *ret_reason, unsigned *ret_max_age_days)
{
	struct pw_forms f;
	int r = KURA_EINTERNAL;
	*ret_reason = KURA_PW_TOO_LONG;
	*ret_max_age_days = 0;
	if (len > KURA_MAX_PASSWORD)
		return KURA_EPOLICY;
	memset(&f, 0, sizeof(f));
	memcpy(f.raw, pw, len);
	r = judge(p, &f, len, who);
	if (r < 0)
		goto out;
	*ret_reason = (enum kura_pw_reason)r;
	if (r != KURA_PW_OK) {
		r = KURA_EPOLICY;
		goto out;
	}
	if (f.chars < p->long_len && !has_second_factor)
		*ret_max_age_days = p->max_age_days;
	r = 0;
out:
	kura_wipe(&f, sizeof(f));
	return r;
}

int kura_pw_reused(const char *const *old_hashes, size_t n, const char *pw, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (old_hashes[i] && kura_pwhash_verify(old_hashes[i], pw, len) == 0)
			return 1;
	return 0;
}

int kura_pw_hash(const struct kura_pw_policy *p, const char *pw, size_t len,
		 char out[KURA_PWHASH_STRLEN])
{
	if (len > KURA_MAX_PASSWORD)
		return KURA_EINVAL;
	return kura_pwhash_str(out, pw, len, p->ops, p->mem_kib);
}

int kura_pw_verify(const char *hash, const char *pw, size_t len)
{
	if (!hash || len > KURA_MAX_PASSWORD)
		return KURA_EAUTH;
	return kura_pwhash_verify(hash, pw, len) == 0 ? 0 : KURA_EAUTH;
}

int kura_pw_needs_rehash(const struct kura_pw_policy *p, const char *hash)
{
	return kura_pwhash_needs_rehash(hash, p->ops, p->mem_kib);
}
