/*
 * state.c - the vault's small mutable state (vault.h "Mutable state"):
 * JSON rows with an HMAC each, so that editing a role or a password hash in
 * the database without the vault's keys makes the row unusable (fail
 * closed) and `kura verify` names it.  Secrets inside state (TOTP keys) are
 * sealed with AES-256-GCM under a key of their own.
 */
#include <stdlib.h>
#include <string.h>

#include "vault/vault_int.h"
#include "util/banned.h"

#define STATE_MAC_LABEL "kura.state.v1"
#define STATE_SEAL_LABEL "kura.state-secret.v1"
#define STATE_DIGEST_LABEL "kura.state-digest.v1"
#define MAX_STATE_VALUE (1024u * 1024)

static int valid_kind(const char *kind)
{
	size_t n = strlen(kind);
	if (n == 0 || n > 32)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((kind[i] >= 'a' && kind[i] <= 'z') || kind[i] == '-'))
			return 0;
	return 1;
}

static int valid_key(const char *key)
{
	size_t n = strlen(key);
	if (n == 0 || n > KURA_MAX_STATE_KEY)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (key[i] <= 0x20 || key[i] >= 0x7f)
			return 0;
	return 1;
}

static int state_mac(const struct kura_vault *v, const char *kind, const char *key,
		     struct kura_slice value, uint8_t out[KURA_HASH_LEN])
{
	struct kura_buf m;
	kura_buf_init(&m, MAX_STATE_VALUE + 512);
	int r = kura_buf_append_str(&m, STATE_MAC_LABEL);
	if (!r)
		r = kura_buf_append_vec(&m, kind, strlen(kind), 1);
	if (!r)
		r = kura_buf_append_vec(&m, key, strlen(key), 2);
	if (!r)
		r = kura_buf_append(&m, value.ptr, value.len);
	if (!r)
		r = kura_hmac_sha256(v->sec->state_mac, KURA_KEY_LEN, m.data, m.len, out);
	kura_buf_release(&m);
	return r;
}

/* Check a stored row and parse it. */
static int open_row(const struct kura_vault *v, const char *kind, const char *key,
		    struct kura_slice value, const uint8_t mac[KURA_HASH_LEN], json_t **ret)
{
	uint8_t want[KURA_HASH_LEN];
	int r = state_mac(v, kind, key, value, want);
	if (r)
		return r;
	if (!kura_ct_equal(want, mac, KURA_HASH_LEN))
		return KURA_ECORRUPT;
	*ret = json_loadb((const char *)value.ptr, value.len, JSON_REJECT_DUPLICATES, NULL);
	return *ret && json_is_object(*ret) ? 0 : KURA_ECORRUPT;
}

int kura_state_get(struct kura_vault *v, const char *kind, const char *key, json_t **ret)
{
	struct kura_buf b;
	uint8_t mac[KURA_HASH_LEN];
	*ret = NULL;
	if (!valid_kind(kind) || !valid_key(key))
		return KURA_EINVAL;
	kura_buf_init(&b, MAX_STATE_VALUE);
	int r = v->store->ops->state_get(v->store, kind, key, &b, mac);
	if (!r)
		r = open_row(v, kind, key, kura_buf_slice(&b), mac, ret);
	kura_buf_release_secret(&b);
	return r;
}

int kura_state_put(struct kura_txn *t, const char *kind, const char *key, const json_t *value)
{
	struct kura_vault *v = t->b.v;
	uint8_t mac[KURA_HASH_LEN];
	if (!valid_kind(kind) || !valid_key(key) || !json_is_object(value))
		return KURA_EINVAL;
	char *text = json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text)
		return KURA_ENOMEM;
	size_t n = strlen(text);
	int r = n > MAX_STATE_VALUE ? KURA_ETOOBIG : 0;
	if (!r)
		r = state_mac(v, kind, key, kura_slice_make(text, n), mac);
	if (!r)
		r = v->store->ops->state_put(v->store, kind, key, text, n, mac);
	kura_wipe(text, n);
	free(text);
	return r;
}

int kura_state_del(struct kura_txn *t, const char *kind, const char *key)
{
	if (!valid_kind(kind) || !valid_key(key))
		return KURA_EINVAL;
	return t->b.v->store->ops->state_del(t->b.v->store, kind, key);
}

struct scan_ctx {
	struct kura_vault *v;
	const char *kind;
	kura_state_fn cb;
	void *ctx;
	void (*bad)(void *ctx, const char *row);
	uint64_t rows;
};

static int scan_row(void *ctx, const char *key, struct kura_slice value,
		    const uint8_t mac[KURA_HASH_LEN])
{
	struct scan_ctx *s = ctx;
	json_t *j = NULL;
	int r = open_row(s->v, s->kind, key, value, mac, &j);
	if (!r)
		r = s->cb(s->ctx, key, j);
	json_decref(j);
	return r;
}

int kura_state_scan(struct kura_vault *v, const char *kind, kura_state_fn cb, void *ctx)
{
	struct scan_ctx s = {v, kind, cb, ctx, NULL, 0};
	if (!valid_kind(kind))
		return KURA_EINVAL;
	return v->store->ops->state_scan(v->store, kind, scan_row, &s);
}

/* For kura_state_check: key is "kind/key". */
static int check_row(void *ctx, const char *both, struct kura_slice value,
		     const uint8_t mac[KURA_HASH_LEN])
{
	struct scan_ctx *s = ctx;
	char kind[40];
	const char *slash = strchr(both, '/');
	json_t *j = NULL;
	s->rows++;
	size_t n = slash ? (size_t)(slash - both) : 0;
	int r = KURA_ECORRUPT;
	if (n > 0 && n < sizeof(kind)) {
		memcpy(kind, both, n);
		kind[n] = 0;
		r = open_row(s->v, kind, slash + 1, value, mac, &j);
	}
	json_decref(j);
	if (r == KURA_ECORRUPT)
		s->bad(s->ctx, both);
	return r == KURA_ECORRUPT ? 0 : r;
}

int kura_state_check(struct kura_vault *v, void (*bad)(void *ctx, const char *row), void *ctx,
		     uint64_t *ret_rows)
{
	struct scan_ctx s = {v, NULL, NULL, ctx, bad, 0};
	int r = v->store->ops->state_scan(v->store, NULL, check_row, &s);
	*ret_rows = s.rows;
	return r;
}

static int label_aad(const char *prefix, const char *label, struct kura_buf *aad)
{
	int r = kura_buf_append_str(aad, prefix);
	return r ? r : kura_buf_append_vec(aad, label, strlen(label), 2);
}

int kura_state_seal(struct kura_vault *v, const char *label, const uint8_t *p, size_t n,
		    struct kura_buf *ret_hex)
{
	uint8_t box[256 + KURA_SEAL_OVERHEAD];
	struct kura_buf aad;
	if (n > 256)
		return KURA_ETOOBIG;
	kura_buf_init(&aad, 1024);
	int r = label_aad(STATE_SEAL_LABEL, label, &aad);
	if (!r)
		r = kura_aead_seal(v->sec->state_enc, aad.data, aad.len, p, n, box);
	if (!r)
		r = kura_buf_append_hex(ret_hex, box, n + KURA_SEAL_OVERHEAD);
	kura_buf_release(&aad);
	return r;
}

int kura_state_open(struct kura_vault *v, const char *label, const char *hex, uint8_t *out,
		    size_t cap, size_t *ret_len)
{
	uint8_t box[256 + KURA_SEAL_OVERHEAD];
	struct kura_buf aad;
	size_t n = strlen(hex) / 2;
	if (strlen(hex) % 2 || n < KURA_SEAL_OVERHEAD || n > sizeof(box) ||
	    n - KURA_SEAL_OVERHEAD > cap || kura_hex_decode(hex, box, n))
		return KURA_ECORRUPT;
	kura_buf_init(&aad, 1024);
	int r = label_aad(STATE_SEAL_LABEL, label, &aad);
	if (!r)
		r = kura_aead_open(v->sec->state_enc, aad.data, aad.len, box, n, out);
	kura_buf_release(&aad);
	if (!r)
		*ret_len = n - KURA_SEAL_OVERHEAD;
	return r == KURA_ECRYPTO ? KURA_ECORRUPT : r;
}

int kura_state_digest(struct kura_vault *v, const char *label, const void *data, size_t n,
		      char ret_hex[2 * KURA_HASH_LEN + 1])
{
	uint8_t mac[KURA_HASH_LEN];
	struct kura_buf m;
	kura_buf_init(&m, 4096);
	int r = label_aad(STATE_DIGEST_LABEL, label, &m);
	if (!r)
		r = kura_buf_append(&m, data, n);
	if (!r)
		r = kura_hmac_sha256(v->sec->state_mac, KURA_KEY_LEN, m.data, m.len, mac);
	if (!r)
		kura_hex_encode(mac, KURA_HASH_LEN, ret_hex);
	kura_buf_release_secret(&m);
	return r;
}
