/* leaf.c - encoding and decoding of record-version leaves (docs/formats/ledger.md). */
#include "ledger/leaf.h"

#include <string.h>

#include "util/banned.h"

const char *kura_status_name(int status)
{
	switch (status) {
	case KURA_STATUS_DRAFT:
		return "draft";
	case KURA_STATUS_CONFIRMED:
		return "confirmed";
	case KURA_STATUS_ENTERED_IN_ERROR:
		return "entered-in-error";
	default:
		return NULL;
	}
}

static int put_str(struct kura_buf *out, const char *s, size_t min, size_t max,
		   size_t lenbytes)
{
	size_t n = strlen(s);
	if (n < min || n > max)
		return KURA_EINVAL;
	return kura_buf_append_vec(out, s, n, lenbytes);
}

int kura_leaf_encode(const struct kura_leaf *l, struct kura_buf *out)
{
	int r;
	if (!kura_status_name(l->status) || l->version == 0)
		return KURA_EINVAL;
	if ((r = kura_buf_append_byte(out, KURA_LEAF_RECORD_VERSION)) ||
	    (r = kura_buf_append_byte(out, KURA_LEAF_FORMAT)) ||
	    (r = put_str(out, l->record_id, 1, KURA_MAX_ID, 1)) ||
	    (r = kura_buf_append_uint(out, l->version, 4)) ||
	    (r = put_str(out, l->patient_id, 1, KURA_MAX_ID, 1)) ||
	    (r = put_str(out, l->type, 1, KURA_MAX_TYPE, 1)) ||
	    (r = put_str(out, l->content_type, 0, KURA_MAX_TYPE, 1)) ||
	    (r = kura_buf_append_byte(out, l->status)) ||
	    (r = put_str(out, l->inputter, 1, KURA_MAX_ID, 1)) ||
	    (r = put_str(out, l->confirmer, 0, KURA_MAX_ID, 1)) ||
	    (r = put_str(out, l->on_behalf_of, 0, KURA_MAX_ID, 1)) ||
	    (r = kura_buf_append_uint(out, (uint64_t)l->time_us, 8)) ||
	    (r = put_str(out, l->reason, 0, KURA_MAX_REASON, 2)) ||
	    (r = kura_buf_append_uint(out, l->content_length, 8)) ||
	    (r = kura_buf_append(out, l->commitment, KURA_HASH_LEN)) ||
	    (r = kura_buf_append(out, l->previous, KURA_HASH_LEN)))
		return r == KURA_ETOOBIG ? KURA_EINVAL : r;
	return 0;
}

/* A text field: length-prefixed, min..max bytes, no NUL inside. */
static int get_str(struct kura_slice *s, size_t lenbytes, size_t min, size_t max,
		   char *dst)
{
	struct kura_slice v;
	if (kura_slice_get_vec(s, lenbytes, &v) || v.len < min || v.len > max ||
	    memchr(v.ptr, 0, v.len))
		return KURA_ECORRUPT;
	memcpy(dst, v.ptr, v.len);
	dst[v.len] = 0;
	return 0;
}

static int get_u(struct kura_slice *s, size_t n, uint64_t *v)
{
	return kura_slice_get_uint(s, n, v);
}

static int get_hash(struct kura_slice *s, uint8_t out[KURA_HASH_LEN])
{
	const uint8_t *p;
	if (kura_slice_get_bytes(s, KURA_HASH_LEN, &p))
		return KURA_ECORRUPT;
	memcpy(out, p, KURA_HASH_LEN);
	return 0;
}

int kura_leaf_decode(const uint8_t *p, size_t len, struct kura_leaf *ret)
{
	struct kura_slice s = kura_slice_make(p, len);
	uint64_t type, format, version, status, time, clen;
	memset(ret, 0, sizeof(*ret));
	if (get_u(&s, 1, &type) || type != KURA_LEAF_RECORD_VERSION ||
	    get_u(&s, 1, &format) || format != KURA_LEAF_FORMAT ||
	    get_str(&s, 1, 1, KURA_MAX_ID, ret->record_id) ||
	    get_u(&s, 4, &version) || version == 0 ||
	    get_str(&s, 1, 1, KURA_MAX_ID, ret->patient_id) ||
	    get_str(&s, 1, 1, KURA_MAX_TYPE, ret->type) ||
	    get_str(&s, 1, 0, KURA_MAX_TYPE, ret->content_type) ||
	    get_u(&s, 1, &status) || !kura_status_name((int)status) ||
	    get_str(&s, 1, 1, KURA_MAX_ID, ret->inputter) ||
	    get_str(&s, 1, 0, KURA_MAX_ID, ret->confirmer) ||
	    get_str(&s, 1, 0, KURA_MAX_ID, ret->on_behalf_of) ||
	    get_u(&s, 8, &time) || get_str(&s, 2, 0, KURA_MAX_REASON, ret->reason) ||
	    get_u(&s, 8, &clen) || get_hash(&s, ret->commitment) ||
	    get_hash(&s, ret->previous) || s.len != 0) {
		memset(ret, 0, sizeof(*ret));
		return KURA_ECORRUPT;
	}
	ret->version = (uint32_t)version;
	ret->status = (uint8_t)status;
	ret->time_us = (int64_t)time;
	ret->content_length = clen;
	return 0;
}
