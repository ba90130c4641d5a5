/*
 * manifest.c - signed manifests: one line of JSON naming every object of
 * a generation, the ledger tree head it ends at and consistency proofs
 * from earlier generations, so a receiver holding only the ledger public
 * key can refuse a generation that rewrites history (BK-01, BK-05).
 */
#include "backup/manifest.h"

#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

#define SIG_PREFIX "ed25519 "
#define SIG_LINE (sizeof(SIG_PREFIX) - 1 + 2 * KURA_SIG_LEN + 1)
#define CONTEXT_LEN (sizeof(KURA_MANIFEST_CONTEXT) - 1)
#define BODY_FIELDS 12
#define JSON_MAX_INT ((uint64_t)INT64_MAX)

void kura_manifest_release(struct kura_manifest *m)
{
	if (!m)
		return;
	json_decref(m->keys);
	json_decref(m->stats);
	free(m->segs);
	free(m->chunks);
	free(m->proofs);
	memset(m, 0, sizeof(*m));
}

/* Checks shared by encode (KURA_EINVAL) and parse (KURA_ECORRUPT). */
static int segments_cover(const struct kura_manifest *m)
{
	uint64_t next = 0;
	for (size_t i = 0; i < m->nsegs; i++) {
		if (m->segs[i].first != next || m->segs[i].count < 1 ||
		    m->segs[i].count > m->sth.tree_size - next)
			return 0;
		next += m->segs[i].count;
	}
	return next == m->sth.tree_size;
}

static int chunks_sorted(const struct kura_manifest *m)
{
	for (size_t i = 1; i < m->nchunks; i++)
		if (memcmp(m->chunks[i - 1], m->chunks[i], KURA_OBJ_ID_LEN) >= 0)
			return 0;
	return 1;
}

static int proofs_ok(const struct kura_manifest *m)
{
	if (m->nproofs > KURA_MANIFEST_MAX_PROOFS)
		return 0;
	for (size_t i = 0; i < m->nproofs; i++) {
		const struct kura_manifest_proof *p = &m->proofs[i];
		if (p->generation < 1 || p->generation >= m->generation ||
		    p->old_size > m->sth.tree_size || p->npath > MERKLE_MAX_PATH + 1)
			return 0;
	}
	return 1;
}

static int manifest_ok(const struct kura_manifest *m)
{
	return m->generation >= 1 && m->generation <= JSON_MAX_INT && m->created_us >= 0 &&
	       m->sth.tree_size <= MERKLE_MAX_SIZE && json_is_object(m->keys) &&
	       (!m->stats || json_is_object(m->stats)) && segments_cover(m) && chunks_sorted(m) &&
	       proofs_ok(m);
}

/* Building the body. */

/* Append v to array or set it under key in obj; steals v; 0 or -1. */
static int add(json_t *obj, const char *key, json_t *v)
{
	if (!v)
		return -1;
	return json_is_array(obj) ? json_array_append_new(obj, v) : json_object_set_new(obj, key, v);
}

static json_t *segments_json(const struct kura_manifest *m)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < m->nsegs; i++) {
		json_t *s = json_object();
		if (add(a, NULL, s) || add(s, "id", kura_json_hex(m->segs[i].id, KURA_OBJ_ID_LEN)) ||
		    add(s, "first", json_integer((json_int_t)m->segs[i].first)) ||
		    add(s, "count", json_integer(m->segs[i].count))) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *chunks_json(const struct kura_manifest *m)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < m->nchunks; i++)
		if (add(a, NULL, kura_json_hex(m->chunks[i], KURA_OBJ_ID_LEN))) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *proof_json(const struct kura_manifest_proof *p)
{
	json_t *o = json_object(), *path = json_array();
	if (add(o, "generation", json_integer((json_int_t)p->generation)) ||
	    add(o, "old_size", json_integer((json_int_t)p->old_size)) ||
	    add(o, "old_root", kura_json_hex(p->old_root, KURA_HASH_LEN)) || !path)
		goto fail;
	for (unsigned i = 0; i < p->npath; i++)
		if (add(path, NULL, kura_json_hex(p->path[i], KURA_HASH_LEN)))
			goto fail;
	if (add(o, "path", path) == 0)
		return o;
	path = NULL;
fail:
	json_decref(path);
	json_decref(o);
	return NULL;
}

static json_t *proofs_json(const struct kura_manifest *m)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < m->nproofs; i++)
		if (add(a, NULL, proof_json(&m->proofs[i]))) {
			json_decref(a);
			return NULL;
		}
	return a;
}

/* The body's fields in their fixed order (docs/formats/backup.md §6). */
static json_t *body_json(const struct kura_manifest *m)
{
	json_t *o = json_object();
	if (!o || add(o, "format", json_string(KURA_BACKUP_FORMAT)) ||
	    add(o, "vault_id", kura_json_hex(m->vault_id, KURA_BACKUP_VAULT_ID_LEN)) ||
	    add(o, "generation", json_integer((json_int_t)m->generation)) ||
	    add(o, "created_us", json_integer(m->created_us)) ||
	    add(o, "sth", kura_sth_to_json(&m->sth)) ||
	    add(o, "ledger_pub", kura_json_hex(m->ledger_pub, KURA_PUBKEY_LEN)) ||
	    add(o, "keys", json_deep_copy(m->keys)) ||
	    add(o, "state", kura_json_hex(m->state_id, KURA_OBJ_ID_LEN)) ||
	    add(o, "segments", segments_json(m)) || add(o, "chunks", chunks_json(m)) ||
	    add(o, "proofs", proofs_json(m)) ||
	    add(o, "stats", m->stats ? json_deep_copy(m->stats) : json_object())) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static int sign_body(const char *body, size_t len, kura_sign_fn sign, void *sign_ctx,
		     uint8_t sig[KURA_SIG_LEN])
{
	struct kura_buf msg;
	kura_buf_init(&msg, CONTEXT_LEN + len);
	int r = kura_buf_append(&msg, KURA_MANIFEST_CONTEXT, CONTEXT_LEN);
	if (!r)
		r = kura_buf_append(&msg, body, len);
	if (!r)
		r = sign(sign_ctx, msg.data, msg.len, sig);
	kura_buf_release(&msg);
	return r;
}

int kura_manifest_encode(const struct kura_manifest *m, kura_sign_fn sign, void *sign_ctx,
			 struct kura_buf *out)
{
	uint8_t sig[KURA_SIG_LEN];
	char *body = NULL;
	int r = KURA_EINVAL;
	kura_buf_reset(out);
	if (!manifest_ok(m))
		goto out;
	json_t *j = body_json(m);
	body = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(j);
	r = KURA_ENOMEM;
	if (!body)
		goto out;
	size_t len = strlen(body);
	r = KURA_ETOOBIG;
	if (len + 1 + SIG_LINE > KURA_MANIFEST_MAX)
		goto out;
	if ((r = sign_body(body, len, sign, sign_ctx, sig)) ||
	    (r = kura_buf_append(out, body, len)) || (r = kura_buf_append_str(out, "\n" SIG_PREFIX)) ||
	    (r = kura_buf_append_hex(out, sig, KURA_SIG_LEN)) || (r = kura_buf_append_byte(out, '\n')))
		kura_buf_reset(out);
out:
	free(body);
	return r;
}

/* Parsing. */

/* The body and the signature of a manifest file, or KURA_ECORRUPT. */
static int split(const uint8_t *p, size_t n, size_t *ret_body_len, uint8_t sig[KURA_SIG_LEN])
{
	if (n > KURA_MANIFEST_MAX || n < SIG_LINE + 2)
		return KURA_ECORRUPT;
	size_t body = n - SIG_LINE - 1;
	const uint8_t *line = p + body + 1;
	char hex[2 * KURA_SIG_LEN + 1];
	if (p[body] != '\n' || memchr(p, '\n', body) || memchr(p, 0, body) ||
	    memcmp(line, SIG_PREFIX, sizeof(SIG_PREFIX) - 1) || p[n - 1] != '\n')
		return KURA_ECORRUPT;
	memcpy(hex, line + sizeof(SIG_PREFIX) - 1, 2 * KURA_SIG_LEN);
	hex[2 * KURA_SIG_LEN] = 0;
	for (size_t i = 0; i < 2 * KURA_SIG_LEN; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
			return KURA_ECORRUPT;
	if (kura_hex_decode(hex, sig, KURA_SIG_LEN))
		return KURA_ECORRUPT;
	*ret_body_len = body;
	return 0;
}

/* Exactly 2 * len lowercase hex digits. */
static int hex_value(const json_t *v, uint8_t *out, size_t len)
{
	const char *s = json_string_value(v);
	if (!s || json_string_length(v) != 2 * len)
		return KURA_ECORRUPT;
	for (size_t i = 0; i < 2 * len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return KURA_ECORRUPT;
	return kura_hex_decode(s, out, len) ? KURA_ECORRUPT : 0;
}

static int get_hex(const json_t *o, const char *key, uint8_t *out, size_t len)
{
	return hex_value(json_object_get(o, key), out, len);
}

/* An integer in [min, max]. */
static int get_int(const json_t *o, const char *key, uint64_t min, uint64_t max, uint64_t *ret)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) < min || (uint64_t)json_integer_value(v) > max)
		return KURA_ECORRUPT;
	*ret = (uint64_t)json_integer_value(v);
	return 0;
}

static int parse_segments(const json_t *a, struct kura_manifest *m)
{
	size_t n = json_array_size(a);
	if (!json_is_array(a) || n > m->sth.tree_size)
		return KURA_ECORRUPT;
	if (n && !(m->segs = calloc(n, sizeof(*m->segs))))
		return KURA_ENOMEM;
	m->nsegs = n;
	for (size_t i = 0; i < n; i++) {
		json_t *s = json_array_get(a, i);
		uint64_t first, count;
		if (!json_is_object(s) || json_object_size(s) != 3 ||
		    get_hex(s, "id", m->segs[i].id, KURA_OBJ_ID_LEN) ||
		    get_int(s, "first", 0, MERKLE_MAX_SIZE, &first) ||
		    get_int(s, "count", 1, UINT32_MAX, &count))
			return KURA_ECORRUPT;
		m->segs[i].first = first;
		m->segs[i].count = (uint32_t)count;
	}
	return segments_cover(m) ? 0 : KURA_ECORRUPT;
}

static int parse_chunks(const json_t *a, struct kura_manifest *m)
{
	size_t n = json_array_size(a);
	if (!json_is_array(a))
		return KURA_ECORRUPT;
	if (n && !(m->chunks = calloc(n, KURA_OBJ_ID_LEN)))
		return KURA_ENOMEM;
	m->nchunks = n;
	for (size_t i = 0; i < n; i++)
		if (hex_value(json_array_get(a, i), m->chunks[i], KURA_OBJ_ID_LEN))
			return KURA_ECORRUPT;
	return chunks_sorted(m) ? 0 : KURA_ECORRUPT;
}

static int parse_proof(const json_t *o, const struct kura_manifest *m,
		       struct kura_manifest_proof *p)
{
	json_t *path = json_object_get(o, "path");
	if (!json_is_object(o) || json_object_size(o) != 4 ||
	    get_int(o, "generation", 1, m->generation - 1, &p->generation) ||
	    get_int(o, "old_size", 0, m->sth.tree_size, &p->old_size) ||
	    get_hex(o, "old_root", p->old_root, KURA_HASH_LEN) || !json_is_array(path) ||
	    json_array_size(path) > MERKLE_MAX_PATH + 1)
		return KURA_ECORRUPT;
	p->npath = (unsigned)json_array_size(path);
	for (unsigned i = 0; i < p->npath; i++)
		if (hex_value(json_array_get(path, i), p->path[i], KURA_HASH_LEN))
			return KURA_ECORRUPT;
	return 0;
}

static int parse_proofs(const json_t *a, struct kura_manifest *m)
{
	size_t n = json_array_size(a);
	if (!json_is_array(a) || n > KURA_MANIFEST_MAX_PROOFS)
		return KURA_ECORRUPT;
	if (n && !(m->proofs = calloc(n, sizeof(*m->proofs))))
		return KURA_ENOMEM;
	m->nproofs = n;
	for (size_t i = 0; i < n; i++)
		if (parse_proof(json_array_get(a, i), m, &m->proofs[i]))
			return KURA_ECORRUPT;
	return 0;
}

static int parse_head(const json_t *j, struct kura_manifest *m)
{
	const char *format = json_string_value(json_object_get(j, "format"));
	uint64_t created;
	if (!json_is_object(j) || json_object_size(j) != BODY_FIELDS || !format ||
	    strcmp(format, KURA_BACKUP_FORMAT) ||
	    get_hex(j, "vault_id", m->vault_id, KURA_BACKUP_VAULT_ID_LEN) ||
	    get_int(j, "generation", 1, JSON_MAX_INT, &m->generation) ||
	    get_int(j, "created_us", 0, JSON_MAX_INT, &created) ||
	    kura_sth_from_json(json_object_get(j, "sth"), &m->sth) ||
	    m->sth.tree_size > MERKLE_MAX_SIZE ||
	    get_hex(j, "ledger_pub", m->ledger_pub, KURA_PUBKEY_LEN) ||
	    !json_is_object(json_object_get(j, "keys")) ||
	    get_hex(j, "state", m->state_id, KURA_OBJ_ID_LEN) ||
	    !json_is_object(json_object_get(j, "stats")))
		return KURA_ECORRUPT;
	m->created_us = (int64_t)created;
	m->keys = json_incref(json_object_get(j, "keys"));
	m->stats = json_incref(json_object_get(j, "stats"));
	return 0;
}

int kura_manifest_parse(const uint8_t *p, size_t n, struct kura_manifest *ret)
{
	struct kura_manifest m = {0};
	uint8_t sig[KURA_SIG_LEN];
	json_error_t jerr;
	json_t *j = NULL;
	size_t body;
	int r;
	memset(ret, 0, sizeof(*ret));
	if ((r = split(p, n, &body, sig)))
		return r;
	j = json_loadb((const char *)p, body, JSON_REJECT_DUPLICATES, &jerr);
	r = KURA_ECORRUPT;
	if (!j || (r = parse_head(j, &m)) ||
	    (r = parse_segments(json_object_get(j, "segments"), &m)) ||
	    (r = parse_chunks(json_object_get(j, "chunks"), &m)) ||
	    (r = parse_proofs(json_object_get(j, "proofs"), &m)))
		goto out;
	*ret = m;
	memset(&m, 0, sizeof(m));
	r = 0;
out:
	kura_manifest_release(&m);
	json_decref(j);
	return r;
}

int kura_manifest_verify(const struct kura_manifest *m, const uint8_t *p, size_t n,
			 const uint8_t pub[KURA_PUBKEY_LEN])
{
	uint8_t sig[KURA_SIG_LEN];
	struct kura_buf msg;
	size_t body;
	int r;
	if (split(p, n, &body, sig))
		return KURA_ECRYPTO;
	kura_buf_init(&msg, CONTEXT_LEN + body);
	if ((r = kura_buf_append(&msg, KURA_MANIFEST_CONTEXT, CONTEXT_LEN)) ||
	    (r = kura_buf_append(&msg, p, body))) {
		kura_buf_release(&msg);
		return r;
	}
	r = kura_ed25519_verify(pub, msg.data, msg.len, sig);
	kura_buf_release(&msg);
	if (r || !kura_ct_equal(m->ledger_pub, pub, KURA_PUBKEY_LEN) ||
	    kura_sth_verify(&m->sth, pub))
		return KURA_ECRYPTO;
	return 0;
}

/* KURA_EVERIFY if newer holds a proof that contradicts older: one from
 * older's generation with another size, or from older's size with
 * another root (the same key signed two histories). */
static int find_proof(const struct kura_manifest *older, const struct kura_manifest *newer,
		      const struct kura_manifest_proof **ret)
{
	*ret = NULL;
	for (size_t i = 0; i < newer->nproofs; i++) {
		const struct kura_manifest_proof *p = &newer->proofs[i];
		int same_root = kura_ct_equal(p->old_root, older->sth.root, KURA_HASH_LEN);
		if (p->old_size == older->sth.tree_size && same_root) {
			*ret = p;
			return 0;
		}
	}
	for (size_t i = 0; i < newer->nproofs; i++) {
		const struct kura_manifest_proof *p = &newer->proofs[i];
		if (p->old_size == older->sth.tree_size || p->generation == older->generation)
			return KURA_EVERIFY;
	}
	return KURA_ENOTFOUND;
}

int kura_manifest_extends(const struct kura_manifest *older, const struct kura_manifest *newer)
{
	const struct kura_manifest_proof *p;
	uint8_t empty[KURA_HASH_LEN];
	int r;
	if (!kura_ct_equal(older->vault_id, newer->vault_id, KURA_BACKUP_VAULT_ID_LEN))
		return KURA_EVERIFY;
	if (newer->generation <= older->generation || newer->sth.tree_size < older->sth.tree_size)
		return KURA_EINVAL;
	if (newer->sth.tree_size == older->sth.tree_size)
		return kura_ct_equal(newer->sth.root, older->sth.root, KURA_HASH_LEN) ? 0
										  : KURA_EVERIFY;
	if (older->sth.tree_size == 0) { /* every tree extends the empty one */
		merkle_empty_root(empty);
		return kura_ct_equal(older->sth.root, empty, KURA_HASH_LEN) ? 0 : KURA_EVERIFY;
	}
	if ((r = find_proof(older, newer, &p)))
		return r;
	r = merkle_verify_consistency(p->old_size, newer->sth.tree_size, p->old_root,
				      newer->sth.root, (const uint8_t(*)[KURA_HASH_LEN])p->path,
				      p->npath);
	return r ? KURA_EVERIFY : 0;
}

int kura_manifest_objects(const struct kura_manifest *m, uint8_t (**ret)[KURA_OBJ_ID_LEN],
			  size_t *ret_n)
{
	*ret = NULL;
	*ret_n = 0;
	size_t n = 1 + m->nsegs + m->nchunks;
	uint8_t(*ids)[KURA_OBJ_ID_LEN] = calloc(n, KURA_OBJ_ID_LEN);
	if (!ids)
		return KURA_ENOMEM;
	memcpy(ids[0], m->state_id, KURA_OBJ_ID_LEN);
	for (size_t i = 0; i < m->nsegs; i++)
		memcpy(ids[1 + i], m->segs[i].id, KURA_OBJ_ID_LEN);
	if (m->nchunks)
		memcpy(ids[1 + m->nsegs], m->chunks, m->nchunks * KURA_OBJ_ID_LEN);
	*ret = ids;
	*ret_n = n;
	return 0;
}
