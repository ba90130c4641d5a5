/* envelope.c - compress-then-encrypt of version content. */
#include "vault/envelope.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "util/limits.h"
#include "util/banned.h"

#define ENVELOPE_HEADER (1 + KURA_HASH_LEN)
#define ZSTD_LEVEL 1 /* fast; clinical JSON still shrinks 3-5x */

struct kura_envelope_ctx {
	ZSTD_CCtx *c;
	ZSTD_DCtx *d;
};

struct kura_envelope_ctx *kura_envelope_ctx_new(void)
{
	struct kura_envelope_ctx *ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return NULL;
	ctx->c = ZSTD_createCCtx();
	ctx->d = ZSTD_createDCtx();
	if (!ctx->c || !ctx->d) {
		kura_envelope_ctx_free(ctx);
		return NULL;
	}
	return ctx;
}

void kura_envelope_ctx_free(struct kura_envelope_ctx *ctx)
{
	if (!ctx)
		return;
	ZSTD_freeCCtx(ctx->c);
	ZSTD_freeDCtx(ctx->d);
	free(ctx);
}

int kura_envelope_aad(const char *record_id, uint32_t version, const char *patient_id,
		      struct kura_buf *out)
{
	int r;
	if ((r = kura_buf_append_str(out, "kura.content.v1")) ||
	    (r = kura_buf_append_vec(out, record_id, strlen(record_id), 1)) ||
	    (r = kura_buf_append_uint(out, version, 4)) ||
	    (r = kura_buf_append_vec(out, patient_id, strlen(patient_id), 1)))
		return r;
	return 0;
}

/* Fill inner with header and payload, compressed when that is smaller. */
static int build_inner(struct kura_envelope_ctx *ctx, const uint8_t *content, size_t len, struct kura_buf *inner,
		       uint8_t sha[KURA_HASH_LEN])
{
	kura_sha256(content, len, sha);
	size_t bound = ZSTD_compressBound(len);
	int r = kura_buf_reserve(inner, ENVELOPE_HEADER + bound);
	if (r)
		return r;
	uint8_t *p = inner->data;
	size_t z = ctx ? ZSTD_compressCCtx(ctx->c, p + ENVELOPE_HEADER, bound, content, len,
					   ZSTD_LEVEL)
		       : ZSTD_compress(p + ENVELOPE_HEADER, bound, content, len, ZSTD_LEVEL);
	if (!ZSTD_isError(z) && z < len) {
		p[0] = KURA_CODEC_ZSTD;
	} else {
		p[0] = KURA_CODEC_RAW;
		z = len;
		if (len)
			memcpy(p + ENVELOPE_HEADER, content, len);
	}
	memcpy(p + 1, sha, KURA_HASH_LEN);
	inner->len = ENVELOPE_HEADER + z;
	return 0;
}

int kura_envelope_seal(struct kura_envelope_ctx *ctx, const uint8_t key[KURA_KEY_LEN],
		       struct kura_slice aad,
		       const uint8_t *content, size_t len, struct kura_buf *out,
		       uint8_t ret_sha[KURA_HASH_LEN])
{
	struct kura_buf inner;
	kura_buf_init(&inner, ZSTD_COMPRESSBOUND(KURA_MAX_CONTENT) + ENVELOPE_HEADER + 1);
	int r = build_inner(ctx, content, len, &inner, ret_sha);
	if (!r)
		r = kura_buf_reserve(out, inner.len + KURA_SEAL_OVERHEAD);
	if (!r)
		r = kura_aead_seal(key, aad.ptr, aad.len, inner.data, inner.len,
				   out->data + out->len);
	if (!r)
		out->len += inner.len + KURA_SEAL_OVERHEAD;
	kura_buf_release_secret(&inner);
	return r;
}

static int decompress(struct kura_envelope_ctx *ctx, struct kura_slice z, size_t max, struct kura_buf *out)
{
	unsigned long long n = ZSTD_getFrameContentSize(z.ptr, z.len);
	if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN)
		return KURA_ECORRUPT;
	if (n > max)
		return KURA_ECORRUPT;
	int r = kura_buf_reserve(out, (size_t)n);
	if (r)
		return r;
	size_t got = ctx ? ZSTD_decompressDCtx(ctx->d, out->data + out->len, (size_t)n, z.ptr, z.len)
			 : ZSTD_decompress(out->data + out->len, (size_t)n, z.ptr, z.len);
	if (ZSTD_isError(got) || got != n)
		return KURA_ECORRUPT;
	out->len += got;
	out->data[out->len] = 0;
	return 0;
}

int kura_envelope_decode(struct kura_envelope_ctx *ctx, struct kura_slice inner, size_t max, struct kura_buf *out,
			 uint8_t ret_sha[KURA_HASH_LEN])
{
	uint8_t sha[KURA_HASH_LEN];
	size_t start = out->len;
	int r;
	if (inner.len < ENVELOPE_HEADER)
		return KURA_ECORRUPT;
	struct kura_slice payload = kura_slice_make(inner.ptr + ENVELOPE_HEADER,
						    inner.len - ENVELOPE_HEADER);
	if (inner.ptr[0] == KURA_CODEC_ZSTD)
		r = decompress(ctx, payload, max, out);
	else if (inner.ptr[0] == KURA_CODEC_RAW)
		r = payload.len > max ? KURA_ECORRUPT
				      : kura_buf_append(out, payload.ptr, payload.len);
	else
		r = KURA_ECORRUPT;
	if (r)
		return r == KURA_ETOOBIG ? KURA_ECORRUPT : r;
	kura_sha256(out->data + start, out->len - start, sha);
	if (!kura_ct_equal(sha, inner.ptr + 1, KURA_HASH_LEN))
		return KURA_ECORRUPT;
	memcpy(ret_sha, sha, KURA_HASH_LEN);
	return 0;
}

int kura_envelope_open(struct kura_envelope_ctx *ctx, const uint8_t key[KURA_KEY_LEN],
		       struct kura_slice aad,
		       struct kura_slice box, size_t max, struct kura_buf *out,
		       uint8_t ret_sha[KURA_HASH_LEN])
{
	struct kura_buf inner;
	if (box.len < KURA_SEAL_OVERHEAD + ENVELOPE_HEADER)
		return KURA_ECRYPTO;
	kura_buf_init(&inner, box.len);
	int r = kura_buf_reserve(&inner, box.len - KURA_SEAL_OVERHEAD);
	if (!r)
		r = kura_aead_open(key, aad.ptr, aad.len, box.ptr, box.len, inner.data);
	if (!r) {
		inner.len = box.len - KURA_SEAL_OVERHEAD;
		r = kura_envelope_decode(ctx, kura_buf_slice(&inner), max, out, ret_sha);
	}
	kura_buf_release_secret(&inner);
	return r;
}
