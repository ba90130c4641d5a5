/*
 * leaf.h - the canonical bytes of a record version: the ledger leaf.
 *
 * The leaf is what the Merkle tree commits to, and the version's identity:
 * a version's hash is merkle_leaf_hash(leaf bytes), and the next version
 * links to it through `previous`.  The encoding is specified byte by byte in
 * docs/formats/ledger.md; leaves leave the vault (proofs for auditors and
 * peers) so the content is represented only by a keyed commitment, never a
 * bare hash of the plaintext.
 */
#ifndef KURA_LEDGER_LEAF_H
#define KURA_LEDGER_LEAF_H

#include <stdint.h>

#include "crypto/crypto.h"
#include "util/buf.h"
#include "util/limits.h"

#define KURA_LEAF_RECORD_VERSION 0x01 /* leaf_type */
#define KURA_LEAF_FORMAT 0x01

enum kura_status {
	KURA_STATUS_DRAFT = 1,
	KURA_STATUS_CONFIRMED = 2,
	KURA_STATUS_ENTERED_IN_ERROR = 3,
};

/* Names used in output and JSON: "draft", "confirmed", "entered-in-error";
 * NULL for an unknown value. */
const char *kura_status_name(int status);

/* A decoded leaf.  String fields are NUL-terminated copies. */
struct kura_leaf {
	char record_id[KURA_MAX_ID + 1];
	uint32_t version; /* 1-based */
	char patient_id[KURA_MAX_ID + 1];
	char type[KURA_MAX_TYPE + 1];
	char content_type[KURA_MAX_TYPE + 1];
	uint8_t status;
	char inputter[KURA_MAX_ID + 1];
	char confirmer[KURA_MAX_ID + 1];    /* "" when none */
	char on_behalf_of[KURA_MAX_ID + 1]; /* "" when not proxy input */
	int64_t time_us;
	char reason[KURA_MAX_REASON + 1];
	uint64_t content_length;
	uint8_t commitment[KURA_HASH_LEN]; /* zero for a tombstone */
	uint8_t previous[KURA_HASH_LEN];   /* zero for version 1 */
};

/* Append the canonical encoding of l to out.  KURA_EINVAL if a field is out
 * of range (empty id, unknown status, string too long). */
int kura_leaf_encode(const struct kura_leaf *l, struct kura_buf *out);

/* Decode exactly one leaf from (p, len): trailing bytes, a wrong type or
 * format, or a malformed field give KURA_ECORRUPT. */
int kura_leaf_decode(const uint8_t *p, size_t len, struct kura_leaf *ret);

#endif
