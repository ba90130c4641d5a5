/* buf.c - the size-capped growable buffer of buf.h. */
#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

void kura_buf_init(struct kura_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void kura_buf_release(struct kura_buf *b)
{
	if (!b)
		return;
	free(b->data);
	kura_buf_init(b, b->max);
}

void kura_buf_release_secret(struct kura_buf *b)
{
	if (!b)
		return;
	/* explicit_bzero: a wipe the compiler may not drop (glibc); the whole
	 * capacity, since a reused buffer may hold older, longer secrets. */
	if (b->data)
		explicit_bzero(b->data, b->cap);
	kura_buf_release(b);
}

void kura_buf_reset(struct kura_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = 0;
}

int kura_buf_reserve(struct kura_buf *b, size_t n)
{
	if (n > b->max || b->len > b->max - n)
		return KURA_ETOOBIG;
	size_t need = b->len + n + 1; /* room for the NUL */
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	/* Not realloc: the old block may hold secrets (content, keys), so it
	 * is wiped before it goes back to the allocator. */
	uint8_t *p = malloc(cap);
	if (!p)
		return KURA_ENOMEM;
	if (b->data) {
		memcpy(p, b->data, b->len + 1);
		explicit_bzero(b->data, b->cap);
		free(b->data);
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

int kura_buf_append(struct kura_buf *b, const void *p, size_t n)
{
	int r = kura_buf_reserve(b, n);
	if (r)
		return r;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0;
	return 0;
}

int kura_buf_append_str(struct kura_buf *b, const char *s)
{
	return kura_buf_append(b, s, strlen(s));
}

int kura_buf_append_byte(struct kura_buf *b, uint8_t c)
{
	return kura_buf_append(b, &c, 1);
}

int kura_buf_append_uint(struct kura_buf *b, uint64_t v, size_t nbytes)
{
	uint8_t tmp[8];
	if (nbytes < 1 || nbytes > 8)
		return KURA_EINTERNAL;
	if (nbytes < 8 && v >> (8 * nbytes))
		return KURA_ETOOBIG;
	for (size_t i = 0; i < nbytes; i++)
		tmp[nbytes - 1 - i] = (uint8_t)(v >> (8 * i));
	return kura_buf_append(b, tmp, nbytes);
}

int kura_buf_append_vec(struct kura_buf *b, const void *p, size_t n, size_t lenbytes)
{
	size_t old = b->len;
	int r = kura_buf_append_uint(b, n, lenbytes);
	if (!r)
		r = kura_buf_append(b, p, n);
	if (r && b->data) {
		b->len = old;
		b->data[old] = 0;
	}
	return r;
}

int kura_buf_printf(struct kura_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return KURA_EINTERNAL;
	int r = kura_buf_reserve(b, (size_t)n);
	if (r)
		return r;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

int kura_buf_append_hex(struct kura_buf *b, const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	int r = kura_buf_reserve(b, 2 * n);
	if (r)
		return r;
	for (size_t i = 0; i < n; i++) {
		b->data[b->len++] = (uint8_t)digits[p[i] >> 4];
		b->data[b->len++] = (uint8_t)digits[p[i] & 15];
	}
	b->data[b->len] = 0;
	return 0;
}

uint8_t *kura_buf_detach(struct kura_buf *b, size_t *ret_len)
{
	uint8_t *p = b->data;
	if (ret_len)
		*ret_len = b->len;
	kura_buf_init(b, b->max);
	return p;
}

void kura_hex_encode(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = 0;
}

int kura_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int kura_hex_decode(const char *hex, uint8_t *out, size_t outlen)
{
	if (!hex || strlen(hex) != 2 * outlen)
		return KURA_EINVAL;
	for (size_t i = 0; i < outlen; i++) {
		int hi = kura_hex_digit(hex[2 * i]), lo = kura_hex_digit(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return KURA_EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}
