/*
 * password.h - password rules and hashing of the identity module
 * (REQUIREMENTS.md AU-05..AU-09; docs/internals/password.md).
 *
 * The default policy is the MHLW guideline's rule (6.0 シQ-54/50): 13 or more
 * characters mixing letters, digits and symbols never expire; 8 to 12 such
 * characters never expire with a second factor enrolled and otherwise expire
 * after 60 days (「最長でも2ヶ月以内」).  Guessable passwords (dictionary words
 * and simple transformations of them, the user's own id, name and birth date)
 * and the last 5 passwords are rejected.  Passwords are stored as libsodium
 * Argon2id strings, which carry their own salt and parameters, and are
 * rehashed at the next login when the configured parameters change.
 *
 * Nothing here keeps a copy of a password; buffers that held one are wiped.
 */
#ifndef KURA_AUTH_PASSWORD_H
#define KURA_AUTH_PASSWORD_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "util/buf.h"

/* Defaults (docs/internals/password.md says why). */
#define KURA_PW_DEFAULT_MIN_LEN 8u
#define KURA_PW_DEFAULT_LONG_LEN 13u
#define KURA_PW_DEFAULT_MIN_CLASSES 3u
#define KURA_PW_DEFAULT_MAX_AGE_DAYS 60u
#define KURA_PW_DEFAULT_HISTORY 5u
/* Argon2id: 3 passes over 64 MiB (RFC 9106's second recommended option with
 * one lane), about 0.11 s per hash on the reference machine. */
#define KURA_PW_DEFAULT_OPS 3u
#define KURA_PW_DEFAULT_MEM_KIB (64u * 1024)
/* Upper bound of password.min_length / password.long_length (characters). */
#define KURA_PW_MAX_RULE_LEN 128u

struct kura_pw_policy {
	unsigned min_len;      /* characters; 8 */
	unsigned long_len;     /* this long never expires (AU-07a, AU-08); 13 */
	unsigned min_classes;  /* of letters, digits, symbols; 3 */
	unsigned max_age_days; /* min_len..long_len-1 without a second factor
				* (AU-07b); 60, 0 = never */
	unsigned history;      /* previous passwords that may not be reused; 5 */
	int dictionary;        /* 1: cracklib checks (the user's own data is
				* always checked) */
	uint64_t ops;          /* Argon2id passes */
	uint64_t mem_kib;      /* Argon2id memory */
};

/* Fill p with the guideline's rule and the default Argon2id parameters. */
void kura_pw_policy_default(struct kura_pw_policy *p);

/*
 * Configuration keys, NULL-terminated (for `kura config list`):
 *   password.min_length      8..128
 *   password.long_length     min_length..128
 *   password.min_classes     1..3
 *   password.max_age_days    0 (never) ..3650
 *   password.history         0..24
 *   password.dictionary      on | off
 *   password.argon2_ops      1..10
 *   password.argon2_mem_mib  8..4096
 * Setting min_length above long_length raises long_length to it.
 */
extern const char *const kura_pw_policy_keys[];

/* Set one key from its text value.  KURA_ENOTFOUND for an unknown key,
 * KURA_EINVAL for a value out of range or not a plain decimal number (p is
 * then unchanged). */
int kura_pw_policy_set(struct kura_pw_policy *p, const char *key, const char *value);

/* Append the value of key, as kura_pw_policy_set takes it, to out.
 * KURA_ENOTFOUND for an unknown key, KURA_ETOOBIG/KURA_ENOMEM from out. */
int kura_pw_policy_get(const struct kura_pw_policy *p, const char *key, struct kura_buf *out);

enum kura_pw_reason {
	KURA_PW_OK,
	KURA_PW_TOO_SHORT,
	KURA_PW_TOO_LONG,   /* over KURA_MAX_PASSWORD bytes */
	KURA_PW_CLASSES,    /* too few of letters, digits, symbols */
	KURA_PW_DICTIONARY, /* a dictionary word, a transformation, or systematic */
	KURA_PW_PERSONAL,   /* contains the user id, name or birth date */
	KURA_PW_REUSED,     /* one of the last policy->history passwords */
	KURA_PW_INVALID,    /* not valid UTF-8, or control characters */
};

/* A static one-line message that says what to do next: English (lowercase,
 * no trailing period) or, if japanese, Japanese.  Never NULL. */
const char *kura_pw_reason_text(enum kura_pw_reason r, int japanese);

/* Whose password it is; any field may be NULL or "". */
struct kura_pw_person {
	const char *user_id;
	const char *name;       /* display name, e.g. "Taro Yamada" */
	const char *birth_date; /* "YYYY-MM-DD" or "" */
};

/*
 * Check a new password (len bytes, need not be NUL-terminated) against p.
 * 0 if acceptable, with *ret_max_age_days the days until it must be changed
 * (0 = never: at least long_len characters, or min_len with a second factor).
 * KURA_EPOLICY with *ret_reason set otherwise.  KURA_EIO if p->dictionary is
 * on and the cracklib dictionary cannot be read (fail closed: tell the
 * operator to install cracklib-runtime).  Length counts characters (Unicode
 * code points); any non-ASCII character counts as a letter.  Reuse is not
 * checked here: see kura_pw_reused().  who may be NULL.
 */
int kura_pw_check(const struct kura_pw_policy *p, const char *pw, size_t len,
		  const struct kura_pw_person *who, int has_second_factor,
		  enum kura_pw_reason *ret_reason, unsigned *ret_max_age_days);

/* 1 if pw matches any of the n stored Argon2id strings, else 0.  The caller
 * passes the last policy->history hashes, newest first (AU-09).  Costs one
 * Argon2id hash per entry. */
int kura_pw_reused(const char *const *old_hashes, size_t n, const char *pw, size_t len);

/* Hash pw with the policy's Argon2id parameters and a fresh salt.
 * KURA_EINVAL for parameters libsodium refuses or len > KURA_MAX_PASSWORD,
 * KURA_ENOMEM if the memory cannot be had. */
int kura_pw_hash(const struct kura_pw_policy *p, const char *pw, size_t len,
		 char out[KURA_PWHASH_STRLEN]);

/* 0 if pw matches hash, KURA_EAUTH if not or if hash is malformed. */
int kura_pw_verify(const char *hash, const char *pw, size_t len);

/* 1 if hash was made with other parameters than p's (rehash it with the
 * password the user just gave), 0 if not. */
int kura_pw_needs_rehash(const struct kura_pw_policy *p, const char *hash);

#endif
