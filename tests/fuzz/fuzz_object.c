/* fuzz_object.c - objects under a fixed key.  The input is tried as an
 * object (peek, decode), then as the plaintext inner (codec || payload)
 * of an object sealed with the right key but an arbitrary nonce, which
 * reaches the zstd decoder: never crash, never exceed the limit, never
 * accept the wrong nonce. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backup/object.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct kura_backup_keys keys = {{1}, {2}, {3}};

static void as_inner(const uint8_t *data, size_t size, struct kura_buf *obj, struct kura_buf *out)
{
	uint8_t aad[21 + KURA_BACKUP_VAULT_ID_LEN + 1];
	memcpy(aad, "kura.backup.object.v1", 21);
	memcpy(aad + 21, keys.vault_id, KURA_BACKUP_VAULT_ID_LEN);
	aad[sizeof(aad) - 1] = KURA_OBJ_CHUNK;
	kura_buf_reset(obj);
	if (kura_buf_reserve(obj, KURA_OBJ_HEADER + size + KURA_TAG_LEN))
		return;
	memcpy(obj->data, "KBO1\x01", 5);
	memset(obj->data + 5, 0x33, KURA_NONCE_LEN);
	if (kura_aead_seal_nonce(keys.enc, obj->data + 5, aad, sizeof(aad), data, size,
				 obj->data + KURA_OBJ_HEADER))
		return;
	obj->len = KURA_OBJ_HEADER + size + KURA_TAG_LEN;
	int r = kura_obj_decode(NULL, &keys, KURA_OBJ_CHUNK, obj->data, obj->len, out);
	if (r == 0 || out->len != 0)
		abort(); /* the nonce is not the plaintext's */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kura_buf obj, out;
	uint8_t id[KURA_OBJ_ID_LEN];
	int type;
	kura_crypto_init();
	kura_buf_init(&obj, KURA_OBJ_MAX);
	kura_buf_init(&out, KURA_OBJ_MAX_PLAIN);
	if (kura_obj_peek(data, size, &type) == 0)
		(void)kura_obj_decode(NULL, &keys, type, data, size, &out);
	as_inner(data, size, &obj, &out);
	/* And the input as plaintext round trips. */
	if (size <= 1 << 16) {
		if (kura_obj_encode(NULL, &keys, KURA_OBJ_STATE, data, size, &obj, id) ||
		    kura_obj_decode(NULL, &keys, KURA_OBJ_STATE, obj.data, obj.len, &out) ||
		    out.len != size || (size && memcmp(out.data, data, size)))
			abort();
	}
	kura_buf_release(&obj);
	kura_buf_release(&out);
	return 0;
}
