/*
 * sth.h - signed tree heads (docs/formats/ledger.md, "Tree heads").
 *
 * A tree head says "the ledger of the log identified by log_id had tree_size
 * leaves with this root at this time", signed with the vault's Ed25519
 * ledger key.  log_id = SHA-256(raw 32-byte public key).
 */
#ifndef KURA_LEDGER_STH_H
#define KURA_LEDGER_STH_H

#include <jansson.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "util/buf.h"

#define KURA_STH_CONTEXT "kura.sth.v1" /* 11 bytes, no terminator, signed first */
#define KURA_STH_SIGNED_LEN (11 + KURA_HASH_LEN + 8 + 8 + KURA_HASH_LEN)

struct kura_sth {
	uint8_t log_id[KURA_HASH_LEN];
	uint64_t tree_size;
	int64_t time_us;
	uint8_t root[KURA_HASH_LEN];
	uint8_t signature[KURA_SIG_LEN];
};

/* The exact bytes that are signed. */
void kura_sth_signed_bytes(const struct kura_sth *sth, uint8_t out[KURA_STH_SIGNED_LEN]);
/* Fill log_id from pub and sign. */
int kura_sth_sign(struct kura_sth *sth, const uint8_t seed[KURA_KEY_LEN],
		  const uint8_t pub[KURA_PUBKEY_LEN]);
/* 0 if the signature is valid under pub and log_id matches pub;
 * KURA_ECRYPTO otherwise. */
int kura_sth_verify(const struct kura_sth *sth, const uint8_t pub[KURA_PUBKEY_LEN]);

/* JSON form {"kura_sth":1, "log_id", "tree_size", "timestamp",
 * "timestamp_us", "root_hash", "signature"}; new reference or NULL. */
json_t *kura_sth_to_json(const struct kura_sth *sth);
/* Parse the JSON form strictly; KURA_ECORRUPT on any missing or malformed
 * field ("timestamp" is informational and ignored). */
int kura_sth_from_json(const json_t *j, struct kura_sth *ret);

/* Hex helpers shared by the JSON forms of the ledger. */
int kura_json_get_hash(const json_t *obj, const char *key, uint8_t *out, size_t len);
int kura_json_get_u64(const json_t *obj, const char *key, uint64_t *ret);
json_t *kura_json_hex(const uint8_t *p, size_t len);

#endif
