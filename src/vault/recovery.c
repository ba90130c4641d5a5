/*
 * recovery.c - the recovery key and the key functions backups need
 * (vault.h "Keys for other modules", docs/formats/vault.md §1,
 * docs/RECOVERY.md).  Secrets are held in stack buffers wiped before
 * return, or in v->sec.
 */
#include <ctype.h>
#include <string.h>

#include "util/time.h"
#include "vault/vault_int.h"
#include "util/banned.h"

#define AAD_RECOVERY "kura.recovery.v1"
#define INFO_RECOVERY "kura/v1/recovery"
#define CHECK_LABEL "kura.recovery.check.v1"
#define CHECK_LEN 3
#define RAW_LEN (KURA_RECOVERY_KEY_LEN + CHECK_LEN) /* 35 bytes = 56 symbols */
#define BOX_LEN (KURA_KEY_LEN + KURA_SEAL_OVERHEAD)
#define STATE_KIND "vault-key"
#define STATE_KEY "recovery"

static const char b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"; /* Crockford */

static void check_of(const uint8_t key[KURA_RECOVERY_KEY_LEN], uint8_t out[CHECK_LEN])
{
	uint8_t h[KURA_HASH_LEN];
	kura_sha256_2(CHECK_LABEL, strlen(CHECK_LABEL), key, KURA_RECOVERY_KEY_LEN, h);
	memcpy(out, h, CHECK_LEN);
}

static void recovery_encode(const uint8_t key[KURA_RECOVERY_KEY_LEN],
			    char out[KURA_RECOVERY_KEY_TEXT_LEN + 1])
{
	uint8_t raw[RAW_LEN];
	uint32_t acc = 0;
	unsigned bits = 0, sym = 0;
	size_t o = 0;
	memcpy(raw, key, KURA_RECOVERY_KEY_LEN);
	check_of(key, raw + KURA_RECOVERY_KEY_LEN);
	for (size_t i = 0; i < RAW_LEN; i++) {
		acc = (acc << 8) | raw[i];
		for (bits += 8; bits >= 5; bits -= 5) {
			if (sym && sym % 4 == 0)
				out[o++] = '-';
			out[o++] = b32[(acc >> (bits - 5)) & 31];
			sym++;
		}
	}
	out[o] = 0;
	kura_wipe(raw, sizeof(raw));
}

/* The value of a symbol, with Crockford's readings of look-alikes; -1 if
 * it is not one. */
static int symbol_value(int c)
{
	c = toupper((unsigned char)c);
	if (c == 'O')
		c = '0';
	else if (c == 'I' || c == 'L')
		c = '1';
	const char *p = c ? strchr(b32, c) : NULL;
	return p ? (int)(p - b32) : -1;
}

/* Text to key: KURA_EINVAL for a wrong symbol, length or check. */
static int recovery_parse(const char *text, size_t len, uint8_t key[KURA_RECOVERY_KEY_LEN])
{
	uint8_t raw[RAW_LEN], check[CHECK_LEN];
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t n = 0, syms = 0;
	int r = 0;
	for (size_t i = 0; i < len && !r; i++) {
		int c = (unsigned char)text[i], d;
		if (c == '-' || isspace(c))
			continue;
		if ((d = symbol_value(c)) < 0 || ++syms > KURA_RECOVERY_KEY_SYMBOLS) {
			r = KURA_EINVAL;
			break;
		}
		acc = (acc << 5) | (uint32_t)d;
		if ((bits += 5) >= 8) {
			bits -= 8;
			raw[n++] = (uint8_t)(acc >> bits);
		}
	}
	if (!r && syms != KURA_RECOVERY_KEY_SYMBOLS)
		r = KURA_EINVAL;
	if (!r) {
		check_of(raw, check);
		if (!kura_ct_equal(check, raw + KURA_RECOVERY_KEY_LEN, CHECK_LEN))
			r = KURA_EINVAL;
	}
	if (!r)
		memcpy(key, raw, KURA_RECOVERY_KEY_LEN);
	kura_wipe(raw, sizeof(raw));
	return r;
}

static int make_aad(const char *label, const uint8_t vault_id[VAULT_ID_LEN],
		    uint8_t out[64], size_t *ret_len)
{
	size_t n = strlen(label);
	if (n + VAULT_ID_LEN > 64)
		return KURA_EINTERNAL;
	memcpy(out, label, n);
	memcpy(out + n, vault_id, VAULT_ID_LEN);
	*ret_len = n + VAULT_ID_LEN;
	return 0;
}

/* Seal or open the master key with a recovery key. */
static int recovery_box(const uint8_t rkey[KURA_RECOVERY_KEY_LEN],
			const uint8_t vault_id[VAULT_ID_LEN], int seal, const uint8_t *in,
			uint8_t *out)
{
	uint8_t k[KURA_KEY_LEN], aad[64];
	size_t aadlen = 0;
	int r = make_aad(AAD_RECOVERY, vault_id, aad, &aadlen);
	if (!r)
		r = kura_hkdf_sha256(rkey, KURA_RECOVERY_KEY_LEN, INFO_RECOVERY, k, sizeof(k));
	if (!r)
		r = seal ? kura_aead_seal(k, aad, aadlen, in, KURA_KEY_LEN, out)
			 : kura_aead_open(k, aad, aadlen, in, BOX_LEN, out);
	kura_wipe(k, sizeof(k));
	return r;
}

int kura_txn_recovery_new(struct kura_txn *t, char out[KURA_RECOVERY_KEY_TEXT_LEN + 1])
{
	struct kura_vault *v = kura_txn_vault(t);
	uint8_t rkey[KURA_RECOVERY_KEY_LEN], box[BOX_LEN];
	char hex[2 * BOX_LEN + 1];
	json_t *row = NULL;
	out[0] = 0;
	int r = kura_random(rkey, sizeof(rkey));
	if (!r)
		r = recovery_box(rkey, v->vault_id, 1, v->sec->master, box);
	if (!r) {
		kura_hex_encode(box, sizeof(box), hex);
		row = json_pack("{s:s, s:I}", "box", hex, "created_us",
				(json_int_t)kura_time_now_us());
		r = row ? kura_state_put(t, STATE_KIND, STATE_KEY, row) : KURA_ENOMEM;
	}
	if (!r)
		recovery_encode(rkey, out);
	json_decref(row);
	kura_wipe(rkey, sizeof(rkey));
	return r;
}

int kura_vault_recovery_new(struct kura_vault *v, char out[KURA_RECOVERY_KEY_TEXT_LEN + 1])
{
	struct kura_txn *t = NULL;
	out[0] = 0;
	int r = kura_txn_begin(v, &t);
	if (r)
		return r;
	r = kura_txn_finish(t, kura_txn_recovery_new(t, out), NULL);
	if (r)
		kura_wipe(out, KURA_RECOVERY_KEY_TEXT_LEN + 1);
	return r;
}

int kura_vault_derive(struct kura_vault *v, const char *info, uint8_t out[KURA_KEY_LEN])
{
	/* The vault's own purposes (keys.c): handing these out would let a
	 * caller forge state rows or unwrap patient keys. */
	static const char *const own[] = {"kura/v1/wrap", "kura/v1/state-mac", "kura/v1/state-enc"};
	if (!info || !*info)
		return KURA_EINVAL;
	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		if (strcmp(info, own[i]) == 0)
			return KURA_EINVAL;
	return kura_hkdf_sha256(v->sec->master, KURA_KEY_LEN, info, out, KURA_KEY_LEN);
}

void kura_vault_id(const struct kura_vault *v, uint8_t out[16])
{
	memcpy(out, v->vault_id, VAULT_ID_LEN);
}

int kura_vault_sign(struct kura_vault *v, const void *msg, size_t len, uint8_t sig[KURA_SIG_LEN])
{
	return kura_ed25519_sign_kp(v->sec->sign_seed, v->pub, msg, len, sig);
}

/* meta[name] as a JSON value: the kdf object, or the hex of a box. */
static json_t *meta_json(struct kura_vault *v, const char *name, int hex)
{
	struct kura_buf b, h;
	json_t *j = NULL;
	kura_buf_init(&b, 4096);
	kura_buf_init(&h, 8192);
	if (v->store->ops->meta_get(v->store, name, &b) == 0) {
		if (!hex && (j = json_loadb((const char *)b.data, b.len, 0, NULL)) &&
		    !json_is_object(j)) {
			json_decref(j);
			j = NULL;
		}
		if (hex && b.len == BOX_LEN && kura_buf_append_hex(&h, b.data, b.len) == 0)
			j = json_string((const char *)h.data);
	}
	kura_buf_release(&b);
	kura_buf_release(&h);
	return j;
}

json_t *kura_vault_key_material(struct kura_vault *v)
{
	json_t *row = NULL, *box;
	json_t *m = json_object();
	int r = m ? 0 : KURA_ENOMEM;
	if (!r)
		r = json_object_set_new(m, "kdf", meta_json(v, "kdf", 0)) ? KURA_ECORRUPT : 0;
	if (!r)
		r = json_object_set_new(m, "master", meta_json(v, "master_key", 1)) ? KURA_ECORRUPT
										       : 0;
	if (!r)
		r = kura_state_get(v, STATE_KIND, STATE_KEY, &row);
	if (r == KURA_ENOTFOUND)
		r = 0; /* a vault made before recovery keys, or none made yet */
	else if (!r) {
		box = json_object_get(row, "box");
		r = json_is_string(box) && strlen(json_string_value(box)) == 2 * BOX_LEN
			    ? json_object_set(m, "recovery", box)
			    : KURA_ECORRUPT;
	}
	json_decref(row);
	if (r) {
		json_decref(m);
		return NULL;
	}
	return m;
}

/* The box under name in the material, decoded; KURA_ENOTFOUND if absent. */
static int material_box(const json_t *material, const char *name, uint8_t box[BOX_LEN])
{
	const json_t *j = json_object_get(material, name);
	if (!j)
		return KURA_ENOTFOUND;
	const char *hex = json_string_value(j);
	return hex && kura_hex_decode(hex, box, BOX_LEN) == 0 ? 0 : KURA_ECORRUPT;
}

static int unwrap_with_passphrase(const json_t *material, const uint8_t vault_id[VAULT_ID_LEN],
				  const char *pass, size_t len, uint8_t master[KURA_KEY_LEN])
{
	struct kura_kdf_params kdf;
	uint8_t salt[KURA_SALT_LEN], kek[KURA_KEY_LEN], box[BOX_LEN], aad[64];
	size_t aadlen = 0;
	int r = material_box(material, "master", box);
	if (r == KURA_ENOTFOUND)
		r = KURA_ECORRUPT;
	if (!r)
		r = vault_kdf_parse(json_object_get(material, "kdf"), &kdf, salt);
	if (!r)
		r = make_aad(VAULT_AAD_MASTER, vault_id, aad, &aadlen);
	if (!r)
		r = vault_derive_kek(pass, len, &kdf, salt, kek);
	if (r == KURA_EINVAL)
		r = KURA_ECORRUPT; /* parameters out of libsodium's bounds */
	if (!r)
		r = kura_aead_open(kek, aad, aadlen, box, BOX_LEN, master);
	kura_wipe(kek, sizeof(kek));
	return r;
}

static int unwrap_with_recovery(const json_t *material, const uint8_t vault_id[VAULT_ID_LEN],
				const char *text, size_t len, uint8_t master[KURA_KEY_LEN])
{
	uint8_t rkey[KURA_RECOVERY_KEY_LEN], box[BOX_LEN];
	int r = recovery_parse(text, len, rkey);
	if (!r)
		r = material_box(material, "recovery", box);
	if (!r)
		r = recovery_box(rkey, vault_id, 0, box, master);
	kura_wipe(rkey, sizeof(rkey));
	return r;
}

int kura_key_unwrap_master(const json_t *material, const uint8_t vault_id[16], const char *secret,
			   size_t len, int recovery, uint8_t master[KURA_KEY_LEN])
{
	int r = recovery ? unwrap_with_recovery(material, vault_id, secret, len, master)
			 : unwrap_with_passphrase(material, vault_id, secret, len, master);
	if (r == KURA_ECRYPTO)
		r = KURA_EDENIED;
	if (r)
		kura_wipe(master, KURA_KEY_LEN);
	return r;
}

int kura_key_wrap_master(const uint8_t master[KURA_KEY_LEN], const uint8_t vault_id[16],
			 const char *pass, size_t passlen, const struct kura_kdf_params *kdf,
			 struct kura_buf *ret_kdf_json, struct kura_buf *ret_box)
{
	uint8_t salt[KURA_SALT_LEN], kek[KURA_KEY_LEN], box[BOX_LEN], aad[64];
	size_t aadlen = 0;
	kura_buf_reset(ret_kdf_json);
	kura_buf_reset(ret_box);
	int r = kura_random(salt, sizeof(salt));
	if (!r)
		r = make_aad(VAULT_AAD_MASTER, vault_id, aad, &aadlen);
	if (!r)
		r = vault_derive_kek(pass, passlen, kdf, salt, kek);
	if (!r)
		r = kura_aead_seal(kek, aad, aadlen, master, KURA_KEY_LEN, box);
	if (!r)
		r = vault_kdf_json(kdf, salt, ret_kdf_json);
	if (!r)
		r = kura_buf_append(ret_box, box, sizeof(box));
	if (r) {
		kura_buf_reset(ret_kdf_json);
		kura_buf_reset(ret_box);
	}
	kura_wipe(kek, sizeof(kek));
	return r;
}
