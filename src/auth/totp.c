/*
 * totp.c - one-time codes for the second factor (AU-12, AU-13): HOTP/TOTP,
 * their verification with replay refusal, base32, the otpauth:// URI and
 * recovery codes.  See docs/internals/totp.md.
 */
#include "auth/totp.h"

#include <string.h>

#include "crypto/crypto.h"
#include "util/err.h"
#include "util/utf8.h"
#include "util/banned.h"

static const char b32_upper[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
static const char b32_lower[] = "abcdefghijklmnopqrstuvwxyz234567";
static const uint32_t pow10_tab[] = {1,	     10,      100,	1000,	  10000,
				     100000, 1000000, 10000000, 100000000};

int kura_hotp(const uint8_t *secret, size_t len, uint64_t counter, unsigned digits,
	      uint32_t *ret_code)
{
	uint8_t msg[8], mac[KURA_SHA1_LEN];
	unsigned off;
	uint32_t bin;
	int r = KURA_EINVAL;
	*ret_code = 0;
	if (!secret || len == 0 || len > KURA_TOTP_MAX_SECRET || digits < 6 || digits > 8)
		return r;
	for (int i = 7; i >= 0; i--, counter >>= 8)
		msg[i] = (uint8_t)counter;
	r = kura_hmac_sha1(secret, len, msg, sizeof(msg), mac);
	if (r)
		goto out;
	/* Dynamic truncation, RFC 4226 section 5.3. */
	off = mac[KURA_SHA1_LEN - 1] & 0x0f;
	bin = (uint32_t)(mac[off] & 0x7f) << 24 | (uint32_t)mac[off + 1] << 16 |
	      (uint32_t)mac[off + 2] << 8 | (uint32_t)mac[off + 3];
	*ret_code = bin % pow10_tab[digits];
out:
	kura_wipe(mac, sizeof(mac));
	return r;
}

int kura_totp_at(const uint8_t *secret, size_t len, int64_t unix_seconds, unsigned period,
		 unsigned digits, uint32_t *ret_code)
{
	*ret_code = 0;
	if (unix_seconds < 0 || period == 0)
		return KURA_EINVAL;
	return kura_hotp(secret, len, (uint64_t)unix_seconds / period, digits, ret_code);
}

/* Exactly KURA_TOTP_DIGITS ASCII digits; a NUL ends a short code early. */
static int parse_code(const char *code, uint32_t *ret)
{
	uint32_t v = 0;
	*ret = 0;
	if (!code)
		return KURA_EINVAL;
	for (size_t i = 0; i < KURA_TOTP_DIGITS; i++) {
		if (code[i] < '0' || code[i] > '9')
			return KURA_EINVAL;
		v = v * 10 + (uint32_t)(code[i] - '0');
	}
	if (code[KURA_TOTP_DIGITS] != '\0')
		return KURA_EINVAL;
	*ret = v;
	return 0;
}

int kura_totp_verify(const uint8_t *secret, size_t len, const char *code,
		     int64_t now_seconds, int64_t last_step, int64_t *ret_step)
{
	uint32_t want = 0, got = 0;
	uint64_t matched = 0, any = 0;
	int64_t now;
	int r = KURA_EINVAL;
	*ret_step = -1;
	if (now_seconds < 0 || parse_code(code, &want))
		goto out;
	now = now_seconds / KURA_TOTP_PERIOD;
	/* Every step of the window is computed and compared, whatever matched
	 * before, so the time taken says nothing about which step (if any)
	 * was right.  Selection is by mask; the latest accepted step wins so
	 * that a code shared by two steps uses up both. */
	for (int64_t s = now - KURA_TOTP_WINDOW; s <= now + KURA_TOTP_WINDOW; s++) {
		if (s < 0)
			continue;
		r = kura_hotp(secret, len, (uint64_t)s, KURA_TOTP_DIGITS, &got);
		if (r)
			goto out;
		uint64_t ok = (uint64_t)kura_ct_equal(&got, &want, sizeof(got)) &
			      (uint64_t)(s > last_step);
		uint64_t mask = 0 - ok;
		matched = (matched & ~mask) | ((uint64_t)s & mask);
		any |= ok;
	}
	r = any ? 0 : KURA_EAUTH;
	if (r == 0)
		*ret_step = (int64_t)matched;
out:
	kura_wipe(&got, sizeof(got));
	kura_wipe(&want, sizeof(want));
	return r;
}

/* n bytes as base32 characters of alpha at dst, which has room for
 * (8n + 4) / 5; returns how many were written. */
static size_t b32_encode_raw(const uint8_t *p, size_t n, const char *alpha, char *dst)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		acc = acc << 8 | p[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			dst[o++] = alpha[(acc >> bits) & 31];
		}
	}
	if (bits)
		dst[o++] = alpha[(acc << (5 - bits)) & 31];
	kura_wipe(&acc, sizeof(acc));
	return o;
}

int kura_base32_encode(const uint8_t *p, size_t n, struct kura_buf *out)
{
	if (n > (SIZE_MAX - 4) / 8)
		return KURA_ETOOBIG;
	int r = kura_buf_reserve(out, (8 * n + 4) / 5);
	if (r)
		return r;
	out->len += b32_encode_raw(p, n, b32_upper, (char *)out->data + out->len);
	out->data[out->len] = 0;
	return 0;
}

/* The value of a base32 character in either case, or -1. */
static int b32_value(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a';
	if (c >= '2' && c <= '7')
		return c - '2' + 26;
	return -1;
}

struct b32_state {
	uint32_t acc;
	unsigned bits;
	size_t chars, pad, len;
};

static int b32_step(int c, struct b32_state *st, uint8_t *out, size_t cap)
{
	if (c == ' ')
		return 0;
	if (c == '=') {
		st->pad++;
		return 0;
	}
	int v = b32_value(c);
	if (v < 0 || st->pad)
		return KURA_EINVAL;
	st->chars++;
	st->acc = st->acc << 5 | (uint32_t)v;
	st->bits += 5;
	if (st->bits >= 8) {
		if (st->len == cap)
			return KURA_ETOOBIG;
		st->bits -= 8;
		out[st->len++] = (uint8_t)(st->acc >> st->bits);
	}
	return 0;
}

/* RFC 4648 section 6: a last block of 2, 4, 5 or 7 characters (1, 3 and 6
 * cannot end a whole byte), with no padding or exactly the padding that
 * fills it to 8. */
static int b32_tail_ok(size_t chars, size_t pad)
{
	static const uint8_t pad_for[8] = {0, 0xff, 6, 0xff, 4, 3, 0xff, 1};
	size_t rem = chars % 8;
	if (pad_for[rem] == 0xff)
		return 0;
	return pad == 0 || pad == pad_for[rem];
}

int kura_base32_decode(const char *s, uint8_t *out, size_t cap, size_t *ret_len)
{
	struct b32_state st = {0};
	int r = 0;
	*ret_len = 0;
	if (!s || (!out && cap))
		return KURA_EINVAL;
	for (size_t i = 0; s[i] && r == 0; i++)
		r = b32_step((unsigned char)s[i], &st, out, cap);
	if (r == 0 && !b32_tail_ok(st.chars, st.pad))
		r = KURA_EINVAL;
	if (r == 0)
		*ret_len = st.len;
	else if (cap)
		kura_wipe(out, cap);
	kura_wipe(&st, sizeof(st));
	return r;
}

static int is_unreserved(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
}

/* RFC 3986 section 2.1: every byte but the unreserved ones as %XX. */
static int append_pct(struct kura_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int r = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p && r == 0; p++) {
		char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
		if (is_unreserved(*p))
			r = kura_buf_append_byte(b, *p);
		else
			r = kura_buf_append(b, e, sizeof(e));
	}
	return r;
}

/* The key URI format forbids ':' in either part of the label, even
 * encoded: apps split issuer and account at the first one. */
static int label_check(const char *s)
{
	if (!s || !*s)
		return KURA_EINVAL;
	if (strnlen(s, KURA_TOTP_MAX_LABEL + 1) > KURA_TOTP_MAX_LABEL)
		return KURA_ETOOBIG;
	if (strchr(s, ':') || !kura_utf8_text_valid(s))
		return KURA_EINVAL;
	return 0;
}

/* Cut b back to len bytes, wiping what is cut (it may hold the secret). */
static void buf_truncate_secret(struct kura_buf *b, size_t len)
{
	if (!b->data || b->len <= len)
		return;
	kura_wipe(b->data + len, b->len - len);
	b->len = len;
}

static int uri_append(const char *issuer, const char *account, const uint8_t *secret,
		      size_t len, struct kura_buf *out)
{
	int r = kura_buf_append_str(out, "otpauth://totp/");
	if (r == 0)
		r = append_pct(out, issuer);
	if (r == 0)
		r = kura_buf_append_byte(out, ':');
	if (r == 0)
		r = append_pct(out, account);
	if (r == 0)
		r = kura_buf_append_str(out, "?secret=");
	if (r == 0)
		r = kura_base32_encode(secret, len, out);
	if (r == 0)
		r = kura_buf_append_str(out, "&issuer=");
	if (r == 0)
		r = append_pct(out, issuer);
	if (r == 0)
		r = kura_buf_printf(out, "&algorithm=SHA1&digits=%d&period=%d",
				    KURA_TOTP_DIGITS, KURA_TOTP_PERIOD);
	return r;
}

int kura_totp_uri(const char *issuer, const char *account, const uint8_t *secret,
		  size_t len, struct kura_buf *out)
{
	size_t start = out->len;
	int r = label_check(issuer);
	if (r == 0)
		r = label_check(account);
	if (r == 0 && (!secret || len == 0 || len > KURA_TOTP_MAX_SECRET))
		r = KURA_EINVAL;
	if (r)
		return r;
	r = uri_append(issuer, account, secret, len, out);
	if (r)
		buf_truncate_secret(out, start);
	return r;
}

static int recovery_one(char out[KURA_RECOVERY_TEXT_LEN + 1])
{
	/* 16 characters of 5 bits are exactly 10 bytes: no bits left over. */
	uint8_t rnd[KURA_RECOVERY_CHARS * 5 / 8];
	char raw[KURA_RECOVERY_CHARS];
	size_t o = 0;
	int r = kura_random(rnd, sizeof(rnd));
	if (r)
		goto out;
	(void)b32_encode_raw(rnd, sizeof(rnd), b32_lower, raw);
	for (size_t i = 0; i < KURA_RECOVERY_CHARS; i++) {
		if (i && i % 4 == 0)
			out[o++] = '-';
		out[o++] = raw[i];
	}
	out[o] = '\0';
out:
	kura_wipe(rnd, sizeof(rnd));
	kura_wipe(raw, sizeof(raw));
	return r;
}

int kura_recovery_generate(char out[][KURA_RECOVERY_TEXT_LEN + 1], size_t n)
{
	int r = KURA_EINVAL;
	if (!out || n == 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		r = recovery_one(out[i]);
		if (r)
			goto out;
	}
out:
	if (r)
		kura_wipe(out, n * sizeof(out[0]));
	return r;
}

int kura_recovery_normalize(const char *in, char out[KURA_RECOVERY_CHARS + 1])
{
	size_t n = 0;
	int r = KURA_EINVAL;
	if (!in)
		goto out;
	for (; *in; in++) {
		if (*in == '-' || *in == ' ')
			continue;
		int v = b32_value((unsigned char)*in);
		if (v < 0 || n == KURA_RECOVERY_CHARS)
			goto out;
		out[n++] = b32_lower[v];
	}
	if (n == KURA_RECOVERY_CHARS)
		r = 0;
out:
	if (r)
		kura_wipe(out, KURA_RECOVERY_CHARS + 1);
	else
		out[n] = '\0';
	return r;
}
