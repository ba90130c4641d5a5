/* sth.c - signing, verifying and serialising tree heads. */
#include "ledger/sth.h"

#include <string.h>

#include "util/time.h"
#include "util/banned.h"

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

void kura_sth_signed_bytes(const struct kura_sth *sth, uint8_t out[KURA_STH_SIGNED_LEN])
{
	uint8_t *p = out;
	memcpy(p, KURA_STH_CONTEXT, 11);
	p += 11;
	memcpy(p, sth->log_id, KURA_HASH_LEN);
	p += KURA_HASH_LEN;
	put_u64(p, sth->tree_size);
	p += 8;
	put_u64(p, (uint64_t)sth->time_us);
	p += 8;
	memcpy(p, sth->root, KURA_HASH_LEN);
}

int kura_sth_sign(struct kura_sth *sth, const uint8_t seed[KURA_KEY_LEN],
		  const uint8_t pub[KURA_PUBKEY_LEN])
{
	uint8_t msg[KURA_STH_SIGNED_LEN];
	kura_sha256(pub, KURA_PUBKEY_LEN, sth->log_id);
	kura_sth_signed_bytes(sth, msg);
	return kura_ed25519_sign_kp(seed, pub, msg, sizeof(msg), sth->signature);
}

int kura_sth_verify(const struct kura_sth *sth, const uint8_t pub[KURA_PUBKEY_LEN])
{
	uint8_t msg[KURA_STH_SIGNED_LEN], id[KURA_HASH_LEN];
	kura_sha256(pub, KURA_PUBKEY_LEN, id);
	if (!kura_ct_equal(id, sth->log_id, KURA_HASH_LEN))
		return KURA_ECRYPTO;
	kura_sth_signed_bytes(sth, msg);
	return kura_ed25519_verify(pub, msg, sizeof(msg), sth->signature);
}

json_t *kura_json_hex(const uint8_t *p, size_t len)
{
	char hex[2 * KURA_SIG_LEN + 1];
	if (len > KURA_SIG_LEN)
		return NULL;
	kura_hex_encode(p, len, hex);
	return json_string(hex);
}

json_t *kura_sth_to_json(const struct kura_sth *sth)
{
	char ts[KURA_TIME_STR];
	kura_time_format(sth->time_us, ts);
	return json_pack("{s:i, s:o, s:I, s:s, s:I, s:o, s:o}", "kura_sth", 1,
			 "log_id", kura_json_hex(sth->log_id, KURA_HASH_LEN),
			 "tree_size", (json_int_t)sth->tree_size, "timestamp", ts,
			 "timestamp_us", (json_int_t)sth->time_us, "root_hash",
			 kura_json_hex(sth->root, KURA_HASH_LEN), "signature",
			 kura_json_hex(sth->signature, KURA_SIG_LEN));
}

int kura_json_get_hash(const json_t *obj, const char *key, uint8_t *out, size_t len)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s && kura_hex_decode(s, out, len) == 0 ? 0 : KURA_ECORRUPT;
}

int kura_json_get_u64(const json_t *obj, const char *key, uint64_t *ret)
{
	json_t *v = json_object_get(obj, key);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return KURA_ECORRUPT;
	*ret = (uint64_t)json_integer_value(v);
	return 0;
}

int kura_sth_from_json(const json_t *j, struct kura_sth *ret)
{
	uint64_t version, size, t;
	memset(ret, 0, sizeof(*ret));
	if (!json_is_object(j) || kura_json_get_u64(j, "kura_sth", &version) ||
	    version != 1 || kura_json_get_u64(j, "tree_size", &size) ||
	    kura_json_get_u64(j, "timestamp_us", &t) ||
	    kura_json_get_hash(j, "log_id", ret->log_id, KURA_HASH_LEN) ||
	    kura_json_get_hash(j, "root_hash", ret->root, KURA_HASH_LEN) ||
	    kura_json_get_hash(j, "signature", ret->signature, KURA_SIG_LEN))
		return KURA_ECORRUPT;
	ret->tree_size = size;
	ret->time_us = (int64_t)t;
	return 0;
}
