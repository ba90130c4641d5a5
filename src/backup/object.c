/*
 * object.c - backup objects: compress, encrypt with a synthetic nonce,
 * name by SHA-256 (BK-04: nothing leaves the vault unencrypted; BK-01:
 * the same plaintext is the same object in every generation).
 */
#include "backup/object.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "util/banned.h"

#define OBJ_AAD_CONTEXT "kura.backup.object.v1"
#define OBJ_AAD_LEN (sizeof(OBJ_AAD_CONTEXT) - 1 + KURA_BACKUP_VAULT_ID_LEN + 1)
#define CODEC_STORED 0
#define CODEC_ZSTD 1
#define PROBE_MIN (256u * 1024) /* see incompressible() */
#define PROBE_LEN (64u * 1024)
#define HMAC_BLOCK 64

struct kura_obj_ctx {
	ZSTD_CCtx *c;
	ZSTD_DCtx *d;
	int level;
	uint8_t probe[PROBE_LEN * 98 / 100];
};

int kura_backup_keys_derive(const uint8_t master[KURA_KEY_LEN],
			    const uint8_t vault_id[KURA_BACKUP_VAULT_ID_LEN],
			    struct kura_backup_keys *ret)
{
	int r;
	memset(ret, 0, sizeof(*ret));
	if ((r = kura_hkdf_sha256(master, KURA_KEY_LEN, "kura/v1/backup-enc", ret->enc,
				  KURA_KEY_LEN)) ||
	    (r = kura_hkdf_sha256(master, KURA_KEY_LEN, "kura/v1/backup-nonce", ret->nonce,
				  KURA_KEY_LEN))) {
		kura_wipe(ret, sizeof(*ret));
		return r;
	}
	memcpy(ret->vault_id, vault_id, KURA_BACKUP_VAULT_ID_LEN);
	return 0;
}

struct kura_obj_ctx *kura_obj_ctx_new(int zstd_level)
{
	struct kura_obj_ctx *z = calloc(1, sizeof(*z));
	if (!z)
		return NULL;
	z->level = zstd_level;
	z->c = ZSTD_createCCtx();
	z->d = ZSTD_createDCtx();
	if (!z->c || !z->d) {
		kura_obj_ctx_free(z);
		return NULL;
	}
	return z;
}

void kura_obj_ctx_free(struct kura_obj_ctx *z)
{
	if (!z)
		return;
	ZSTD_freeCCtx(z->c);
	ZSTD_freeDCtx(z->d);
	free(z);
}

static int type_known(int type)
{
	return type == KURA_OBJ_CHUNK || type == KURA_OBJ_SEGMENT || type == KURA_OBJ_STATE;
}

static void make_aad(const struct kura_backup_keys *k, int type, uint8_t aad[OBJ_AAD_LEN])
{
	size_t c = sizeof(OBJ_AAD_CONTEXT) - 1;
	memcpy(aad, OBJ_AAD_CONTEXT, c);
	memcpy(aad + c, k->vault_id, KURA_BACKUP_VAULT_ID_LEN);
	aad[c + KURA_BACKUP_VAULT_ID_LEN] = (uint8_t)type;
}

/* HMAC-SHA-256(k->nonce, type || p)[0..12), computed over the two parts
 * without copying the plaintext (RFC 2104 from streaming SHA-256). */
static int synthetic_nonce(const struct kura_backup_keys *k, int type, const uint8_t *p,
			   size_t n, uint8_t nonce[KURA_NONCE_LEN])
{
	uint8_t pad[HMAC_BLOCK], h[KURA_HASH_LEN], t = (uint8_t)type;
	struct kura_sha256 *s = kura_sha256_new();
	if (!s)
		return KURA_ENOMEM;
	memset(pad, 0x36, sizeof(pad));
	for (size_t i = 0; i < KURA_KEY_LEN; i++)
		pad[i] ^= k->nonce[i];
	kura_sha256_update(s, pad, sizeof(pad));
	kura_sha256_update(s, &t, 1);
	if (n)
		kura_sha256_update(s, p, n);
	kura_sha256_final(s, h);
	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] ^= 0x36 ^ 0x5c;
	kura_sha256_update(s, pad, sizeof(pad));
	kura_sha256_update(s, h, sizeof(h));
	kura_sha256_final(s, h);
	kura_sha256_free(s);
	memcpy(nonce, h, KURA_NONCE_LEN);
	kura_wipe(pad, sizeof(pad));
	kura_wipe(h, sizeof(h));
	return 0;
}

/* Large plaintexts (images, PDFs: usually compressed already) are probed
 * first: if 64 KiB from their middle do not shrink by 2% at level 1, the
 * whole is stored as it is, which saves a full zstd pass over data that
 * would not shrink (the output is the same as zstd failing). */

static int incompressible(struct kura_obj_ctx *z, const uint8_t *p, size_t n)
{
	if (!z || n < PROBE_MIN)
		return 0;
	size_t c = ZSTD_compressCCtx(z->c, z->probe, sizeof(z->probe), p + n / 2 - PROBE_LEN / 2,
				     PROBE_LEN, 1);
	return ZSTD_isError(c); /* it did not fit in 98% of the sample */
}

/* codec || payload at dst (room for 1 + n): zstd only when strictly smaller. */
static size_t build_inner(struct kura_obj_ctx *z, const uint8_t *p, size_t n, uint8_t *dst)
{
	size_t c = 0;
	if (n > 1 && !incompressible(z, p, n)) /* capacity n - 1: zstd fails unless strictly smaller */
		c = z ? ZSTD_compressCCtx(z->c, dst + 1, n - 1, p, n, z->level)
		      : ZSTD_compress(dst + 1, n - 1, p, n, ZSTD_CLEVEL_DEFAULT);
	if (n > 1 && !ZSTD_isError(c) && c > 0 && c < n) {
		dst[0] = CODEC_ZSTD;
		return 1 + c;
	}
	dst[0] = CODEC_STORED;
	if (n)
		memcpy(dst + 1, p, n);
	return 1 + n;
}

int kura_obj_encode(struct kura_obj_ctx *z, const struct kura_backup_keys *k, int type,
		    const uint8_t *p, size_t n, struct kura_buf *out,
		    uint8_t id[KURA_OBJ_ID_LEN])
{
	uint8_t nonce[KURA_NONCE_LEN], aad[OBJ_AAD_LEN];
	int r;
	kura_buf_reset(out);
	if (!type_known(type))
		return KURA_EINVAL;
	if (n > KURA_OBJ_MAX_PLAIN)
		return KURA_ETOOBIG;
	if ((r = synthetic_nonce(k, type, p, n, nonce)) ||
	    (r = kura_buf_reserve(out, KURA_OBJ_OVERHEAD + n)))
		return r;
	uint8_t *o = out->data;
	memcpy(o, KURA_OBJ_MAGIC, 4);
	o[4] = (uint8_t)type;
	memcpy(o + 5, nonce, KURA_NONCE_LEN);
	size_t inner = build_inner(z, p, n, o + KURA_OBJ_HEADER);
	make_aad(k, type, aad);
	/* In place: the plaintext in out is overwritten by its ciphertext. */
	r = kura_aead_seal_nonce(k->enc, nonce, aad, sizeof(aad), o + KURA_OBJ_HEADER, inner,
				 o + KURA_OBJ_HEADER);
	if (r) {
		kura_wipe(o, KURA_OBJ_OVERHEAD + n);
		return r;
	}
	out->len = KURA_OBJ_HEADER + inner + KURA_TAG_LEN;
	out->data[out->len] = 0;
	kura_obj_id(out->data, out->len, id);
	return 0;
}

/* The payload of a zstd inner: exactly one frame whose declared size is
 * what comes out, larger than the frame (else it would have been stored). */
static int unzstd(struct kura_obj_ctx *z, const uint8_t *src, size_t len, struct kura_buf *out)
{
	unsigned long long n = ZSTD_getFrameContentSize(src, len);
	if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN ||
	    n > KURA_OBJ_MAX_PLAIN || n <= len || ZSTD_findFrameCompressedSize(src, len) != len)
		return KURA_ECORRUPT;
	int r = kura_buf_reserve(out, (size_t)n);
	if (r)
		return r;
	size_t got = z ? ZSTD_decompressDCtx(z->d, out->data, (size_t)n, src, len)
		       : ZSTD_decompress(out->data, (size_t)n, src, len);
	if (ZSTD_isError(got) || got != n)
		return KURA_ECORRUPT;
	out->len = got;
	out->data[got] = 0;
	return 0;
}

static int open_inner(struct kura_obj_ctx *z, const uint8_t *in, size_t len, struct kura_buf *out)
{
	if (len < 1)
		return KURA_ECORRUPT;
	if (in[0] == CODEC_ZSTD)
		return unzstd(z, in + 1, len - 1, out);
	if (in[0] != CODEC_STORED || len - 1 > KURA_OBJ_MAX_PLAIN)
		return KURA_ECORRUPT;
	return kura_buf_append(out, in + 1, len - 1);
}

int kura_obj_decode(struct kura_obj_ctx *z, const struct kura_backup_keys *k, int expect,
		    const uint8_t *obj, size_t n, struct kura_buf *out)
{
	uint8_t nonce[KURA_NONCE_LEN], aad[OBJ_AAD_LEN];
	struct kura_buf inner;
	int type, r;
	kura_buf_reset(out);
	if ((r = kura_obj_peek(obj, n, &type)))
		return r;
	if (type != expect || n > KURA_OBJ_MAX)
		return KURA_ECORRUPT;
	make_aad(k, type, aad);
	size_t ilen = n - KURA_OBJ_HEADER - KURA_TAG_LEN;
	kura_buf_init(&inner, ilen + 1);
	if ((r = kura_buf_reserve(&inner, ilen)))
		goto out;
	r = kura_aead_open(k->enc, aad, sizeof(aad), obj + 5, n - 5, inner.data);
	if (r)
		goto out;
	inner.len = ilen;
	if ((r = open_inner(z, inner.data, ilen, out)) ||
	    (r = synthetic_nonce(k, type, out->data, out->len, nonce)))
		goto out;
	if (!kura_ct_equal(nonce, obj + 5, KURA_NONCE_LEN))
		r = KURA_ECRYPTO;
out:
	if (r && out->data)
		kura_wipe(out->data, out->cap);
	if (r)
		out->len = 0;
	kura_buf_release_secret(&inner);
	return r;
}

int kura_obj_peek(const uint8_t *obj, size_t n, int *ret_type)
{
	*ret_type = 0;
	if (n < KURA_OBJ_OVERHEAD || memcmp(obj, KURA_OBJ_MAGIC, 4) || !type_known(obj[4]))
		return KURA_ECORRUPT;
	*ret_type = obj[4];
	return 0;
}

void kura_obj_id(const uint8_t *obj, size_t n, uint8_t id[KURA_OBJ_ID_LEN])
{
	kura_sha256(obj, n, id);
}

void kura_obj_id_hex(const uint8_t id[KURA_OBJ_ID_LEN], char out[KURA_OBJ_ID_HEX + 1])
{
	kura_hex_encode(id, KURA_OBJ_ID_LEN, out);
}

int kura_obj_id_parse(const char *hex, uint8_t id[KURA_OBJ_ID_LEN])
{
	for (size_t i = 0; i < KURA_OBJ_ID_HEX; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
			return KURA_EINVAL;
	if (hex[KURA_OBJ_ID_HEX] != 0)
		return KURA_EINVAL;
	return kura_hex_decode(hex, id, KURA_OBJ_ID_LEN) ? KURA_EINVAL : 0;
}
