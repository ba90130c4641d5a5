/*
 * slice.h - a non-owning view of bytes, and a cursor for parsers.
 *
 * Parsers advance a struct kura_slice over (ptr, len): each kura_slice_get_*
 * either consumes exactly what it validated and returns 0, or returns
 * KURA_ECORRUPT and leaves the slice unchanged.
 */
#ifndef KURA_UTIL_SLICE_H
#define KURA_UTIL_SLICE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "util/err.h"

struct kura_slice {
	const uint8_t *ptr;
	size_t len;
};

static inline struct kura_slice kura_slice_make(const void *p, size_t n)
{
	struct kura_slice s = {(const uint8_t *)p, n};
	return s;
}

static inline struct kura_slice kura_slice_str(const char *s)
{
	return kura_slice_make(s, s ? strlen(s) : 0);
}

/* Take n raw bytes; *ret points into the slice. */
static inline int kura_slice_get_bytes(struct kura_slice *s, size_t n,
				       const uint8_t **ret)
{
	if (s->len < n)
		return KURA_ECORRUPT;
	*ret = s->ptr;
	s->ptr += n;
	s->len -= n;
	return 0;
}

/* Big-endian unsigned integer of nbytes (1..8). */
static inline int kura_slice_get_uint(struct kura_slice *s, size_t nbytes,
				      uint64_t *ret)
{
	const uint8_t *p;
	uint64_t v = 0;
	if (nbytes < 1 || nbytes > 8 || kura_slice_get_bytes(s, nbytes, &p))
		return KURA_ECORRUPT;
	for (size_t i = 0; i < nbytes; i++)
		v = (v << 8) | p[i];
	*ret = v;
	return 0;
}

/* A length-prefixed opaque field: a big-endian length of lenbytes, then data. */
static inline int kura_slice_get_vec(struct kura_slice *s, size_t lenbytes,
				     struct kura_slice *ret)
{
	struct kura_slice save = *s;
	uint64_t n;
	const uint8_t *p;
	if (kura_slice_get_uint(s, lenbytes, &n) || kura_slice_get_bytes(s, n, &p)) {
		*s = save;
		return KURA_ECORRUPT;
	}
	*ret = kura_slice_make(p, n);
	return 0;
}

#endif
