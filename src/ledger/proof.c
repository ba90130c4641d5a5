/* proof.c - proof documents: building them from stored nodes, checking them. */
#include "ledger/proof.h"

#include <string.h>

#include "ledger/ledger.h"
#include "ledger/merkle.h"
#include "util/limits.h"
#include "util/banned.h"

static json_t *path_json(uint8_t path[][KURA_HASH_LEN], size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, kura_json_hex(path[i], KURA_HASH_LEN))) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *leaf_json(const uint8_t *leaf, size_t len)
{
	struct kura_buf hex;
	kura_buf_init(&hex, 2 * len + 1);
	json_t *j = kura_buf_append_hex(&hex, leaf, len) ? NULL
		: json_stringn((const char *)hex.data, hex.len);
	kura_buf_release(&hex);
	return j;
}

int kura_proof_inclusion(struct kura_store *s, const struct kura_sth *sth, uint64_t index,
			 const uint8_t *leaf, size_t len, json_t **ret)
{
	uint8_t path[MERKLE_MAX_PATH][KURA_HASH_LEN];
	size_t n = 0;
	*ret = NULL;
	int r = merkle_inclusion_proof(index, sth->tree_size, kura_ledger_get_node, s, path, &n);
	if (r)
		return r;
	*ret = json_pack("{s:i, s:s, s:I, s:I, s:o, s:o, s:o}", "kura_proof", 1, "type",
			 "inclusion", "leaf_index", (json_int_t)index, "tree_size",
			 (json_int_t)sth->tree_size, "leaf", leaf_json(leaf, len), "path",
			 path_json(path, n), "sth", kura_sth_to_json(sth));
	return *ret ? 0 : KURA_ENOMEM;
}

int kura_proof_consistency(struct kura_store *s, uint64_t old_size,
			   const struct kura_sth *new_sth, json_t **ret)
{
	uint8_t path[MERKLE_MAX_PATH][KURA_HASH_LEN], old_root[KURA_HASH_LEN];
	struct kura_sth old;
	size_t n = 0;
	*ret = NULL;
	if (old_size == 0 || old_size > new_sth->tree_size)
		return KURA_EINVAL;
	int r = merkle_consistency_proof(old_size, new_sth->tree_size, kura_ledger_get_node, s,
					 path, &n);
	if (!r)
		r = merkle_subtree_root(0, old_size, kura_ledger_get_node, s, old_root);
	if (r)
		return r;
	json_t *j = json_pack("{s:i, s:s, s:I, s:I, s:o, s:o, s:o}", "kura_proof", 1, "type",
			      "consistency", "old_size", (json_int_t)old_size, "tree_size",
			      (json_int_t)new_sth->tree_size, "old_root",
			      kura_json_hex(old_root, KURA_HASH_LEN), "path", path_json(path, n),
			      "sth", kura_sth_to_json(new_sth));
	if (!j)
		return KURA_ENOMEM;
	r = s->ops->sth_get(s, old_size, &old);
	if (r == 0)
		json_object_set_new(j, "old_sth", kura_sth_to_json(&old));
	else if (r != KURA_ENOTFOUND) {
		json_decref(j);
		return r;
	}
	*ret = j;
	return 0;
}

static int fail(struct kura_buf *msg, int code, const char *text)
{
	kura_buf_reset(msg);
	kura_buf_append_str(msg, text);
	return code;
}

static int read_path(const json_t *doc, uint8_t path[][KURA_HASH_LEN], size_t *ret_n)
{
	json_t *a = json_object_get(doc, "path");
	size_t n = json_array_size(a);
	if (!json_is_array(a) || n > MERKLE_MAX_PATH)
		return KURA_ECORRUPT;
	for (size_t i = 0; i < n; i++) {
		const char *h = json_string_value(json_array_get(a, i));
		if (!h || kura_hex_decode(h, path[i], KURA_HASH_LEN))
			return KURA_ECORRUPT;
	}
	*ret_n = n;
	return 0;
}

static int read_leaf(const json_t *doc, struct kura_buf *out)
{
	const char *hex = json_string_value(json_object_get(doc, "leaf"));
	size_t n = hex ? strlen(hex) : 0;
	if (!hex || n % 2 || n == 0)
		return KURA_ECORRUPT;
	int r = kura_buf_reserve(out, n / 2);
	if (r)
		return r == KURA_ETOOBIG ? KURA_ECORRUPT : r;
	if (kura_hex_decode(hex, out->data, n / 2))
		return KURA_ECORRUPT;
	out->len = n / 2;
	return 0;
}

static int verify_inclusion(const json_t *doc, const struct kura_sth *sth,
			    struct kura_proof_summary *sum, struct kura_buf *msg)
{
	uint8_t path[MERKLE_MAX_PATH][KURA_HASH_LEN], h[KURA_HASH_LEN];
	struct kura_buf leaf;
	size_t n = 0;
	kura_buf_init(&leaf, KURA_MAX_PROOF_FILE);
	int r = KURA_ECORRUPT;
	if (kura_json_get_u64(doc, "leaf_index", &sum->leaf_index) || read_path(doc, path, &n) ||
	    read_leaf(doc, &leaf) || kura_leaf_decode(leaf.data, leaf.len, &sum->leaf)) {
		r = fail(msg, KURA_ECORRUPT, "the proof's leaf, index or path is malformed");
		goto out;
	}
	merkle_leaf_hash(leaf.data, leaf.len, h);
	if (merkle_verify_inclusion(sum->leaf_index, sth->tree_size, h, path, n, sth->root))
		r = fail(msg, KURA_EVERIFY, "the leaf is not included in the signed tree");
	else
		r = 0;
out:
	kura_buf_release(&leaf);
	return r;
}

static int verify_old_sth(const json_t *doc, const uint8_t pub[KURA_PUBKEY_LEN],
			  const uint8_t old_root[KURA_HASH_LEN], const struct kura_sth *sth,
			  struct kura_proof_summary *sum, struct kura_buf *msg)
{
	struct kura_sth old;
	json_t *j = json_object_get(doc, "old_sth");
	if (!j)
		return 0;
	if (kura_sth_from_json(j, &old))
		return fail(msg, KURA_ECORRUPT, "the old tree head is malformed");
	if (kura_sth_verify(&old, pub))
		return fail(msg, KURA_EVERIFY, "the old tree head's signature does not verify");
	if (old.tree_size != sum->old_size || !kura_ct_equal(old.root, old_root, KURA_HASH_LEN))
		return fail(msg, KURA_EVERIFY, "the old tree head does not match old_root");
	if (old.time_us > sth->time_us)
		return fail(msg, KURA_EVERIFY, "the old tree head is newer than the new one");
	sum->old_signed = 1;
	return 0;
}

static int verify_consistency(const json_t *doc, const struct kura_sth *sth,
			      const uint8_t pub[KURA_PUBKEY_LEN],
			      struct kura_proof_summary *sum, struct kura_buf *msg)
{
	uint8_t path[MERKLE_MAX_PATH][KURA_HASH_LEN], old_root[KURA_HASH_LEN];
	size_t n = 0;
	if (kura_json_get_u64(doc, "old_size", &sum->old_size) || read_path(doc, path, &n) ||
	    kura_json_get_hash(doc, "old_root", old_root, KURA_HASH_LEN))
		return fail(msg, KURA_ECORRUPT, "the proof's sizes, root or path are malformed");
	if (sum->old_size == 0 ||
	    merkle_verify_consistency(sum->old_size, sth->tree_size, old_root, sth->root, path, n))
		return fail(msg, KURA_EVERIFY, "the signed tree does not extend the old tree");
	return verify_old_sth(doc, pub, old_root, sth, sum, msg);
}

static int verify_doc(const json_t *doc, const uint8_t pub[KURA_PUBKEY_LEN],
		      struct kura_proof_summary *sum, struct kura_buf *msg)
{
	struct kura_sth sth;
	uint64_t version, size;
	const char *type = json_string_value(json_object_get(doc, "type"));
	if (!json_is_object(doc) || kura_json_get_u64(doc, "kura_proof", &version) ||
	    version != 1 || !type || kura_json_get_u64(doc, "tree_size", &size))
		return fail(msg, KURA_ECORRUPT, "not a kura proof document (version 1)");
	if (kura_sth_from_json(json_object_get(doc, "sth"), &sth) || sth.tree_size != size)
		return fail(msg, KURA_ECORRUPT, "the proof's signed tree head is malformed");
	if (kura_sth_verify(&sth, pub))
		return fail(msg, KURA_EVERIFY,
			    "the tree head's signature does not verify under the given key");
	sum->tree_size = size;
	if (strcmp(type, "inclusion") == 0) {
		sum->type = KURA_PROOF_INCLUSION;
		return verify_inclusion(doc, &sth, sum, msg);
	}
	if (strcmp(type, "consistency") == 0) {
		sum->type = KURA_PROOF_CONSISTENCY;
		return verify_consistency(doc, &sth, pub, sum, msg);
	}
	return fail(msg, KURA_ECORRUPT, "unknown proof type");
}

int kura_proof_verify(const uint8_t *doc, size_t len, const uint8_t pub[KURA_PUBKEY_LEN],
		      struct kura_proof_summary *ret, struct kura_buf *errmsg)
{
	json_error_t e;
	memset(ret, 0, sizeof(*ret));
	if (len > KURA_MAX_PROOF_FILE)
		return fail(errmsg, KURA_ETOOBIG, "the proof file is too large");
	json_t *j = json_loadb((const char *)doc, len, JSON_REJECT_DUPLICATES, &e);
	if (!j)
		return fail(errmsg, KURA_ECORRUPT, "the proof file is not valid JSON");
	int r = verify_doc(j, pub, ret, errmsg);
	json_decref(j);
	return r;
}
