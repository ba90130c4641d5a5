/*
 * buf.h - one size-capped growable byte buffer (like git's strbuf and
 * curl's dynbuf).
 *
 * A buffer never grows past the maximum given to kura_buf_init(): appends
 * that would exceed it fail with KURA_ETOOBIG and leave the buffer as it was.
 * data is always NUL-terminated (not counted in len) so text can be used as a
 * C string.  The buffer owns data; kura_buf_release() frees it, and
 * kura_buf_release_secret() wipes it first.
 */
#ifndef KURA_UTIL_BUF_H
#define KURA_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "util/slice.h"

struct kura_buf {
	uint8_t *data; /* NULL until the first append */
	size_t len;
	size_t cap;
	size_t max; /* hard limit on len */
};

void kura_buf_init(struct kura_buf *b, size_t max);
void kura_buf_release(struct kura_buf *b);
/* Wipe the contents (also spare capacity) and free. */
void kura_buf_release_secret(struct kura_buf *b);
/* Forget the contents, keep the allocation. */
void kura_buf_reset(struct kura_buf *b);

/* Make room for n more bytes.  KURA_ETOOBIG past max, KURA_ENOMEM. */
int kura_buf_reserve(struct kura_buf *b, size_t n);
int kura_buf_append(struct kura_buf *b, const void *p, size_t n);
int kura_buf_append_str(struct kura_buf *b, const char *s);
int kura_buf_append_byte(struct kura_buf *b, uint8_t c);
/* Big-endian unsigned integer of nbytes (1..8). */
int kura_buf_append_uint(struct kura_buf *b, uint64_t v, size_t nbytes);
/* A big-endian length of lenbytes, then the bytes (the TLS "opaque<>" form).
 * KURA_ETOOBIG if n does not fit in lenbytes. */
int kura_buf_append_vec(struct kura_buf *b, const void *p, size_t n, size_t lenbytes);
int kura_buf_printf(struct kura_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int kura_buf_append_hex(struct kura_buf *b, const uint8_t *p, size_t n);

/* Give the bytes to the caller (who must free() them); the buffer is empty. */
uint8_t *kura_buf_detach(struct kura_buf *b, size_t *ret_len);

static inline struct kura_slice kura_buf_slice(const struct kura_buf *b)
{
	return kura_slice_make(b->data, b->len);
}

/* Hex helpers.  kura_hex_decode: exactly outlen bytes from 2*outlen hex
 * digits, KURA_EINVAL otherwise. */
void kura_hex_encode(const uint8_t *p, size_t n, char *out /* 2n+1 */);
int kura_hex_decode(const char *hex, uint8_t *out, size_t outlen);
/* The value of one hex digit (either case), or -1. */
int kura_hex_digit(int c);

#endif
