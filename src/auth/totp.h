/*
 * totp.h - second factors: HOTP (RFC 4226), TOTP (RFC 6238), base32
 * (RFC 4648), the otpauth:// key URI, and one-time recovery codes
 * (requirements AU-12, AU-13; docs/internals/totp.md).
 *
 * TOTP here is what phone authenticator apps implement: HMAC-SHA-1, a 30 s
 * step from the Unix epoch, 6 digits.  Verification accepts one step either
 * side of now and never the same step twice.  Nothing here keeps state: the
 * caller stores the secret, the last accepted step and the HMACs of the
 * recovery codes.  Secrets handed in are not copied or kept; secrets written
 * out are the caller's to wipe (kura_wipe, kura_buf_release_secret).
 */
#ifndef KURA_AUTH_TOTP_H
#define KURA_AUTH_TOTP_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define KURA_TOTP_SECRET_LEN 20 /* bytes: 160 bits, RFC 4226 R6 recommends this */
#define KURA_TOTP_PERIOD 30	/* seconds per step (RFC 6238 X) */
#define KURA_TOTP_DIGITS 6	/* digits of a code */
#define KURA_TOTP_WINDOW 1	/* steps accepted either side of now */
/* Longest secret the functions below take (HMAC keys past the SHA-1 block
 * are hashed first; nothing needs more). */
#define KURA_TOTP_MAX_SECRET 64
/* Longest issuer or account name in a key URI (bytes, before encoding). */
#define KURA_TOTP_MAX_LABEL 128

/*
 * HOTP (RFC 4226 section 5.3): the code for counter under secret, with
 * digits 6..8 digits (leading zeros are the caller's to print: "%0*u").
 * KURA_EINVAL if secret is empty or longer than KURA_TOTP_MAX_SECRET or
 * digits is out of range; KURA_EINTERNAL if HMAC fails.  *ret_code is 0
 * unless 0 is returned.
 */
int kura_hotp(const uint8_t *secret, size_t len, uint64_t counter, unsigned digits,
	      uint32_t *ret_code);

/*
 * TOTP (RFC 6238 section 4, T0 = 0): HOTP with counter
 * floor(unix_seconds / period).  KURA_EINVAL also for unix_seconds < 0 or
 * period 0.
 */
int kura_totp_at(const uint8_t *secret, size_t len, int64_t unix_seconds, unsigned period,
		 unsigned digits, uint32_t *ret_code);

/*
 * Check a code typed by a user against the default parameters (SHA-1, 30 s,
 * 6 digits) at now_seconds.  code must be exactly 6 ASCII digits
 * (KURA_EINVAL otherwise, also for now_seconds < 0 or a bad secret).  The
 * steps now-1, now and now+1 are all computed and compared in constant time;
 * a step <= last_step is never accepted, so each code works once (pass -1
 * when no code has been accepted yet, then the *ret_step of the last
 * success).  0 and the matched step (the latest one, if two steps share the
 * code) in *ret_step, or KURA_EAUTH; *ret_step is -1 unless 0 is returned.
 * The caller must store *ret_step before it reports success.
 */
int kura_totp_verify(const uint8_t *secret, size_t len, const char *code,
		     int64_t now_seconds, int64_t last_step, int64_t *ret_step);

/*
 * Base32 (RFC 4648 section 6).  kura_base32_encode appends the uppercase
 * encoding of n bytes to out, without '=' padding (KURA_ETOOBIG past out's
 * maximum, KURA_ENOMEM; out is left as it was on failure).
 *
 * kura_base32_decode reads the NUL-terminated s: letters in either case and
 * 2-7, spaces anywhere are ignored, '=' padding is optional but if present
 * must be complete and last.  Bits left over in the last character are
 * ignored.  KURA_EINVAL for any other character or an impossible length,
 * KURA_ETOOBIG if the bytes do not fit in cap.  *ret_len is the number of
 * bytes written to out; on failure it is 0 and out is wiped.
 */
int kura_base32_encode(const uint8_t *p, size_t n, struct kura_buf *out);
int kura_base32_decode(const char *s, uint8_t *out, size_t cap, size_t *ret_len);

/*
 * The key URI that authenticator apps read from a QR code (Google
 * Authenticator "Key Uri Format"), appended to out:
 *   otpauth://totp/ISSUER:ACCOUNT?secret=BASE32&issuer=ISSUER
 *   &algorithm=SHA1&digits=6&period=30
 * with ISSUER and ACCOUNT percent-encoded (RFC 3986: all but unreserved
 * characters).  issuer and account must be non-empty UTF-8 text without
 * ':' (KURA_EINVAL), at most KURA_TOTP_MAX_LABEL bytes (KURA_ETOOBIG).  The
 * URI contains the secret: release out with kura_buf_release_secret.  out
 * is left as it was on failure.
 */
int kura_totp_uri(const char *issuer, const char *account, const uint8_t *secret,
		  size_t len, struct kura_buf *out);

/*
 * Recovery codes: KURA_RECOVERY_CODES per account, each 16 random base32
 * characters (80 bits) shown lowercase in four groups of four joined by "-".  Each code is
 * good for one login; the caller stores an HMAC of the normalized form and
 * deletes it once used.
 */
#define KURA_RECOVERY_CODES 10
#define KURA_RECOVERY_CHARS 16	  /* base32 characters, 5 bits each */
#define KURA_RECOVERY_TEXT_LEN 19 /* with the three dashes */

/* Fill out[0..n) with fresh codes, NUL-terminated.  KURA_EINVAL for n 0,
 * or an error of kura_random (then out is wiped). */
int kura_recovery_generate(char out[][KURA_RECOVERY_TEXT_LEN + 1], size_t n);

/* What the user typed, to the stored form: '-' and spaces dropped, letters
 * lowercased; the rest must be exactly 16 base32 characters (KURA_EINVAL
 * otherwise, and out is the empty string). */
int kura_recovery_normalize(const char *in, char out[KURA_RECOVERY_CHARS + 1]);

#endif
