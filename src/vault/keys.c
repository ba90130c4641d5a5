/*
 * keys.c - the vault's key hierarchy (vault.h, docs/formats/vault.md "Keys").
 * Secrets are only ever held in v->sec (locked memory) or in stack buffers
 * wiped before return.
 */
#include <jansson.h>
#include <string.h>

#include "util/time.h"
#include "vault/vault_int.h"
#include "util/banned.h"

#define AAD_LEDGER_KEY "kura.ledger-key.v1"
#define AAD_DEK "kura.dek.v1"

static int aad_for(const struct kura_vault *v, const char *label, const char *extra,
		   struct kura_buf *out)
{
	int r = kura_buf_append_str(out, label);
	if (!r)
		r = kura_buf_append(out, v->vault_id, VAULT_ID_LEN);
	if (!r && extra)
		r = kura_buf_append_vec(out, extra, strlen(extra), 1);
	return r;
}

/* Seal a 32-byte key under wrapping key k and store it as meta[name]. */
static int store_wrapped(struct kura_vault *v, const char *name, const uint8_t k[KURA_KEY_LEN],
			 const char *label, const uint8_t key[KURA_KEY_LEN])
{
	uint8_t box[KURA_KEY_LEN + KURA_SEAL_OVERHEAD];
	struct kura_buf aad;
	kura_buf_init(&aad, 256);
	int r = aad_for(v, label, NULL, &aad);
	if (!r)
		r = kura_aead_seal(k, aad.data, aad.len, key, KURA_KEY_LEN, box);
	if (!r)
		r = v->store->ops->meta_put(v->store, name, box, sizeof(box));
	kura_buf_release(&aad);
	return r;
}

/* Load and open meta[name] into key; KURA_ECRYPTO if it does not open. */
static int load_wrapped(struct kura_vault *v, const char *name, const uint8_t k[KURA_KEY_LEN],
			const char *label, uint8_t key[KURA_KEY_LEN])
{
	struct kura_buf box, aad;
	kura_buf_init(&box, 1024);
	kura_buf_init(&aad, 256);
	int r = v->store->ops->meta_get(v->store, name, &box);
	if (r == KURA_ENOTFOUND)
		r = KURA_ECORRUPT;
	if (!r && box.len != KURA_KEY_LEN + KURA_SEAL_OVERHEAD)
		r = KURA_ECORRUPT;
	if (!r)
		r = aad_for(v, label, NULL, &aad);
	if (!r)
		r = kura_aead_open(k, aad.data, aad.len, box.data, box.len, key);
	kura_buf_release(&box);
	kura_buf_release(&aad);
	return r;
}

int vault_kdf_json(const struct kura_kdf_params *kdf, const uint8_t salt[KURA_SALT_LEN],
		   struct kura_buf *out)
{
	char hex[2 * KURA_SALT_LEN + 1];
	kura_hex_encode(salt, KURA_SALT_LEN, hex);
	return kura_buf_printf(out, "{\"alg\":\"%s\",\"ops\":%llu,\"mem_kib\":%llu,\"salt\":\"%s\"}",
			       VAULT_KDF_ALG, (unsigned long long)kdf->ops,
			       (unsigned long long)kdf->mem_kib, hex);
}

int vault_derive_kek(const char *pass, size_t passlen, const struct kura_kdf_params *kdf,
		     const uint8_t salt[KURA_SALT_LEN], uint8_t kek[KURA_KEY_LEN])
{
	return kura_argon2id(kek, KURA_KEY_LEN, pass, passlen, salt, kdf->ops, kdf->mem_kib);
}

int vault_keys_create(struct kura_vault *v, const char *pass, size_t passlen,
		      const struct kura_kdf_params *kdf)
{
	uint8_t salt[KURA_SALT_LEN], kek[KURA_KEY_LEN];
	struct kura_buf j;
	struct kura_store *s = v->store;
	kura_buf_init(&j, 1024);
	kura_random(salt, sizeof(salt));
	kura_random(v->vault_id, VAULT_ID_LEN);
	kura_random(v->sec->master, KURA_KEY_LEN);
	int r = vault_derive_kek(pass, passlen, kdf, salt, kek);
	if (!r)
		r = kura_hkdf_sha256(v->sec->master, KURA_KEY_LEN, "kura/v1/wrap", v->sec->wrap,
				     KURA_KEY_LEN);
	if (!r)
		r = vault_state_keys(v);
	if (!r)
		r = kura_ed25519_keygen(v->sec->sign_seed, v->pub);
	if (!r)
		r = vault_kdf_json(kdf, salt, &j);
	if (!r)
		r = s->ops->meta_put(s, "format", KURA_VAULT_FORMAT, strlen(KURA_VAULT_FORMAT));
	if (!r)
		r = s->ops->meta_put(s, "vault_id", v->vault_id, VAULT_ID_LEN);
	if (!r)
		r = s->ops->meta_put(s, "kdf", j.data, j.len);
	if (!r)
		r = store_wrapped(v, "master_key", kek, VAULT_AAD_MASTER, v->sec->master);
	if (!r)
		r = store_wrapped(v, "ledger_key", v->sec->wrap, AAD_LEDGER_KEY, v->sec->sign_seed);
	if (!r)
		r = s->ops->meta_put(s, "ledger_pub", v->pub, KURA_PUBKEY_LEN);
	kura_wipe(kek, sizeof(kek));
	kura_buf_release(&j);
	return r;
}

int vault_kdf_parse(const json_t *root, struct kura_kdf_params *kdf, uint8_t salt[KURA_SALT_LEN])
{
	json_t *ops = json_object_get(root, "ops"), *mem = json_object_get(root, "mem_kib");
	const char *alg = json_string_value(json_object_get(root, "alg"));
	const char *hex = json_string_value(json_object_get(root, "salt"));
	if (!alg || strcmp(alg, VAULT_KDF_ALG) != 0 || !json_is_integer(ops) || !json_is_integer(mem) ||
	    json_integer_value(ops) <= 0 || json_integer_value(mem) <= 0 ||
	    kura_hex_decode(hex, salt, KURA_SALT_LEN) != 0)
		return KURA_ECORRUPT;
	kdf->ops = (uint64_t)json_integer_value(ops);
	kdf->mem_kib = (uint64_t)json_integer_value(mem);
	return 0;
}

static int parse_kdf(const struct kura_buf *j, struct kura_kdf_params *kdf,
		     uint8_t salt[KURA_SALT_LEN])
{
	json_t *root = json_loadb((const char *)j->data, j->len, 0, NULL);
	int r = root ? vault_kdf_parse(root, kdf, salt) : KURA_ECORRUPT;
	json_decref(root);
	return r;
}

static int load_meta_fixed(struct kura_store *s, const char *key, uint8_t *out, size_t len)
{
	struct kura_buf b;
	kura_buf_init(&b, 4096);
	int r = s->ops->meta_get(s, key, &b);
	if (r == KURA_ENOTFOUND || (!r && b.len != len))
		r = KURA_ECORRUPT;
	if (!r)
		memcpy(out, b.data, len);
	kura_buf_release(&b);
	return r;
}

/* Unwrap the master key with the passphrase; a failed unwrap is a wrong
 * passphrase (KURA_EDENIED), since the box itself is checked later by verify. */
static int unlock_master(struct kura_vault *v, const char *pass, size_t passlen)
{
	struct kura_kdf_params kdf;
	uint8_t salt[KURA_SALT_LEN], kek[KURA_KEY_LEN];
	struct kura_buf j;
	kura_buf_init(&j, 4096);
	int r = v->store->ops->meta_get(v->store, "kdf", &j);
	if (r == KURA_ENOTFOUND)
		r = KURA_ECORRUPT;
	if (!r)
		r = parse_kdf(&j, &kdf, salt);
	if (!r)
		r = vault_derive_kek(pass, passlen, &kdf, salt, kek);
	if (r == KURA_EINVAL)
		r = KURA_ECORRUPT;
	if (!r)
		r = load_wrapped(v, "master_key", kek, VAULT_AAD_MASTER, v->sec->master);
	if (r == KURA_ECRYPTO)
		r = KURA_EDENIED;
	kura_wipe(kek, sizeof(kek));
	kura_buf_release(&j);
	return r;
}

int vault_keys_unlock(struct kura_vault *v, const char *pass, size_t passlen)
{
	uint8_t pub[KURA_PUBKEY_LEN];
	struct kura_store *s = v->store;
	int r = load_meta_fixed(s, "vault_id", v->vault_id, VAULT_ID_LEN);
	if (!r)
		r = load_meta_fixed(s, "ledger_pub", v->pub, KURA_PUBKEY_LEN);
	if (!r)
		r = unlock_master(v, pass, passlen);
	if (!r)
		r = kura_hkdf_sha256(v->sec->master, KURA_KEY_LEN, "kura/v1/wrap", v->sec->wrap,
				     KURA_KEY_LEN);
	if (!r)
		r = vault_state_keys(v);
	if (!r)
		r = load_wrapped(v, "ledger_key", v->sec->wrap, AAD_LEDGER_KEY, v->sec->sign_seed);
	/* The stored public key must be the signing key's: otherwise tree heads
	 * signed now would not verify under the published key. */
	if (!r)
		r = kura_ed25519_public(v->sec->sign_seed, pub);
	if (!r && !kura_ct_equal(pub, v->pub, KURA_PUBKEY_LEN))
		r = KURA_ECORRUPT;
	return r == KURA_ECRYPTO ? KURA_ECORRUPT : r;
}

int vault_state_keys(struct kura_vault *v)
{
	int r = kura_hkdf_sha256(v->sec->master, KURA_KEY_LEN, "kura/v1/state-mac",
				 v->sec->state_mac, KURA_KEY_LEN);
	return r ? r : kura_hkdf_sha256(v->sec->master, KURA_KEY_LEN, "kura/v1/state-enc",
					v->sec->state_enc, KURA_KEY_LEN);
}

static uint32_t slot_of(const char *patient)
{
	uint32_t h = 2166136261u; /* FNV-1a: cache placement only */
	for (const char *p = patient; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return h & (PKEY_CACHE - 1);
}

static int derive_patient(struct patient_keys *k, const char *patient,
			  const uint8_t dek[KURA_KEY_LEN])
{
	int r = kura_hkdf_sha256(dek, KURA_KEY_LEN, "kura/v1/content-enc", k->enc, KURA_KEY_LEN);
	if (!r)
		r = kura_hkdf_sha256(dek, KURA_KEY_LEN, "kura/v1/content-commit", k->commit,
				     KURA_KEY_LEN);
	if (!r)
		memcpy(k->patient, patient, strlen(patient) + 1);
	else
		k->patient[0] = 0;
	return r;
}

static int new_patient_key(struct kura_vault *v, const char *patient, const struct kura_buf *aad,
			   uint8_t dek[KURA_KEY_LEN])
{
	uint8_t box[KURA_KEY_LEN + KURA_SEAL_OVERHEAD];
	kura_random(dek, KURA_KEY_LEN);
	int r = kura_aead_seal(v->sec->wrap, aad->data, aad->len, dek, KURA_KEY_LEN, box);
	if (!r)
		r = v->store->ops->patient_key_put(v->store, patient, box, sizeof(box),
						   kura_time_now_us());
	return r;
}

static int load_patient_key(struct kura_vault *v, const char *patient, int create,
			    uint8_t dek[KURA_KEY_LEN])
{
	struct kura_buf box, aad;
	kura_buf_init(&box, 1024);
	kura_buf_init(&aad, 512);
	int r = aad_for(v, AAD_DEK, patient, &aad);
	if (!r)
		r = v->store->ops->patient_key_get(v->store, patient, &box);
	if (r == KURA_ENOTFOUND && create)
		r = new_patient_key(v, patient, &aad, dek);
	else if (!r && box.len != KURA_KEY_LEN + KURA_SEAL_OVERHEAD)
		r = KURA_ECORRUPT;
	else if (!r)
		r = kura_aead_open(v->sec->wrap, aad.data, aad.len, box.data, box.len, dek);
	kura_buf_release(&box);
	kura_buf_release(&aad);
	return r == KURA_ECRYPTO ? KURA_ECORRUPT : r;
}

int vault_patient_keys(struct kura_vault *v, const char *patient, int create,
		       const struct patient_keys **ret)
{
	uint8_t dek[KURA_KEY_LEN];
	struct patient_keys *k = &v->sec->cache[slot_of(patient)];
	if (k->patient[0] && strcmp(k->patient, patient) == 0) {
		*ret = k;
		return 0;
	}
	int r = load_patient_key(v, patient, create, dek);
	if (!r)
		r = derive_patient(k, patient, dek);
	kura_wipe(dek, sizeof(dek));
	if (!r)
		*ret = k;
	return r;
}

int vault_commitment(const struct patient_keys *k, const uint8_t sha[KURA_HASH_LEN],
		     uint8_t out[KURA_HASH_LEN])
{
	return kura_hmac_sha256(k->commit, KURA_KEY_LEN, sha, KURA_HASH_LEN, out);
}
