/*
 * object.h - backup objects: compressed, then encrypted, then named by
 * the SHA-256 of what is stored (docs/formats/backup.md §2).
 *
 *   object = "KBO1" || type (u8) || nonce (12) || AES-256-GCM(inner) || tag (16)
 *   inner  = codec (u8: 0 stored, 1 zstd) || payload
 *   nonce  = HMAC-SHA-256(keys->nonce, type || plaintext)[0..12)   (synthetic IV)
 *   AAD    = "kura.backup.object.v1" || vault_id (16) || type (u8)
 *   id     = SHA-256(object)
 *
 * The nonce is a keyed function of the plaintext, so the same plaintext
 * always gives the same object and the same id (deduplication across
 * generations), different plaintexts never share a nonce, and neither
 * the id nor the nonce says anything about the plaintext to anyone
 * without the backup keys.  A receiver checks an object against its id
 * with SHA-256 alone; it never holds a key.
 */
#ifndef KURA_BACKUP_OBJECT_H
#define KURA_BACKUP_OBJECT_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "util/buf.h"

#define KURA_OBJ_MAGIC "KBO1"
#define KURA_OBJ_HEADER (4 + 1 + KURA_NONCE_LEN)
#define KURA_OBJ_OVERHEAD (KURA_OBJ_HEADER + 1 + KURA_TAG_LEN)
/* The largest plaintext an object carries, and so the largest object
 * (plus overhead) anyone accepts: a segment is cut well below this. */
#define KURA_OBJ_MAX_PLAIN (64u * 1024 * 1024)
#define KURA_OBJ_MAX (KURA_OBJ_MAX_PLAIN + KURA_OBJ_OVERHEAD + 1024)
#define KURA_OBJ_ID_LEN KURA_HASH_LEN
#define KURA_OBJ_ID_HEX (2 * KURA_OBJ_ID_LEN)
#define KURA_BACKUP_VAULT_ID_LEN 16

enum kura_obj_type {
	KURA_OBJ_CHUNK = 1,   /* a piece of a large document (cdc.h) */
	KURA_OBJ_SEGMENT = 2, /* a run of ledger leaves with their content (segment.h) */
	KURA_OBJ_STATE = 3,   /* the snapshot of mutable state (docs §5) */
};

/* The keys of a vault's backups, derived from its master key with HKDF
 * (info "kura/v1/backup-enc" and "kura/v1/backup-nonce"). */
struct kura_backup_keys {
	uint8_t enc[KURA_KEY_LEN];
	uint8_t nonce[KURA_KEY_LEN];
	uint8_t vault_id[KURA_BACKUP_VAULT_ID_LEN];
};

/* Derive the backup keys from a master key. */
int kura_backup_keys_derive(const uint8_t master[KURA_KEY_LEN],
			    const uint8_t vault_id[KURA_BACKUP_VAULT_ID_LEN],
			    struct kura_backup_keys *ret);

/* Reusable compression contexts (one per thread); NULL when out of memory. */
struct kura_obj_ctx;
struct kura_obj_ctx *kura_obj_ctx_new(int zstd_level);
void kura_obj_ctx_free(struct kura_obj_ctx *z);

/* Make the object of plaintext p[0..n) of type: out is replaced by the
 * object bytes, id gets SHA-256 of them.  zstd is kept only when it makes
 * the payload smaller.  KURA_ETOOBIG if n > KURA_OBJ_MAX_PLAIN. */
int kura_obj_encode(struct kura_obj_ctx *z, const struct kura_backup_keys *k, int type,
		    const uint8_t *p, size_t n, struct kura_buf *out,
		    uint8_t id[KURA_OBJ_ID_LEN]);

/* Open an object: check it is of type expect, authenticate and decrypt
 * it, decompress (never past KURA_OBJ_MAX_PLAIN); out is replaced by the
 * plaintext.  The nonce is also recomputed from the plaintext and must
 * match.  KURA_ECORRUPT if malformed, KURA_ECRYPTO if the tag does not
 * verify (altered, another vault's, wrong key) or the nonce is not the
 * plaintext's, KURA_ETOOBIG if out's maximum is below the plaintext. */
int kura_obj_decode(struct kura_obj_ctx *z, const struct kura_backup_keys *k, int expect,
		    const uint8_t *obj, size_t n, struct kura_buf *out);

/* Without keys (a receiver): 0 if obj looks like an object (magic, a
 * known type, long enough), with its type; KURA_ECORRUPT otherwise. */
int kura_obj_peek(const uint8_t *obj, size_t n, int *ret_type);

/* SHA-256 of the object bytes, its name. */
void kura_obj_id(const uint8_t *obj, size_t n, uint8_t id[KURA_OBJ_ID_LEN]);
/* 64 lowercase hex digits and back (KURA_EINVAL unless exactly that). */
void kura_obj_id_hex(const uint8_t id[KURA_OBJ_ID_LEN], char out[KURA_OBJ_ID_HEX + 1]);
int kura_obj_id_parse(const char *hex, uint8_t id[KURA_OBJ_ID_LEN]);

#endif
