/*
 * envelope.h - how a version's content is sealed (docs/formats/vault.md).
 *
 * plaintext box = codec(1) || SHA-256(content)(32) || payload
 *   codec 0: payload is the content; codec 1: payload is a zstd frame of it
 *   (used only when it is smaller).
 * sealed = AES-256-GCM box (crypto.h) of that, under the patient's content
 * key, with associated data binding record id, version and patient id so a
 * ciphertext moved to another row no longer opens.
 */
#ifndef KURA_VAULT_ENVELOPE_H
#define KURA_VAULT_ENVELOPE_H

#include <stdint.h>

#include "crypto/crypto.h"
#include "util/buf.h"

#define KURA_CODEC_RAW 0
#define KURA_CODEC_ZSTD 1

/* Reusable compression state (zstd contexts are expensive to create, so a
 * batch or a verify pass keeps one).  NULL is accepted by the functions
 * below and means "make a temporary one". */
struct kura_envelope_ctx;
struct kura_envelope_ctx *kura_envelope_ctx_new(void);
void kura_envelope_ctx_free(struct kura_envelope_ctx *ctx);

/* Build the associated data for (record, version, patient) into out. */
int kura_envelope_aad(const char *record_id, uint32_t version, const char *patient_id,
		      struct kura_buf *out);

/* Seal content; appends the box to out and returns the content's SHA-256. */
int kura_envelope_seal(struct kura_envelope_ctx *ctx, const uint8_t key[KURA_KEY_LEN],
		       struct kura_slice aad,
		       const uint8_t *content, size_t len, struct kura_buf *out,
		       uint8_t ret_sha[KURA_HASH_LEN]);

/* Open a box; appends the content (at most max bytes) to out and checks it
 * against the SHA-256 inside.  KURA_ECRYPTO if the box does not
 * authenticate, KURA_ECORRUPT if it opens but its inside is inconsistent. */
int kura_envelope_open(struct kura_envelope_ctx *ctx, const uint8_t key[KURA_KEY_LEN],
		       struct kura_slice aad,
		       struct kura_slice box, size_t max, struct kura_buf *out,
		       uint8_t ret_sha[KURA_HASH_LEN]);

/* Parse an opened plaintext box (exposed for the fuzz target). */
int kura_envelope_decode(struct kura_envelope_ctx *ctx, struct kura_slice inner, size_t max, struct kura_buf *out,
			 uint8_t ret_sha[KURA_HASH_LEN]);

#endif
