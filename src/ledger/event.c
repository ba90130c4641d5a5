/* event.c - encoding and decoding of audit-event leaves (docs/formats/ledger.md §1b). */
#include "ledger/event.h"

#include <string.h>

#include "ledger/leaf.h"
#include "util/utf8.h"
#include "util/banned.h"

/* The string fields in encoding order: where each lives, its length
 * prefix, its bounds, and whether it must be non-empty. */
struct str_field {
	size_t off, cap; /* offset in struct kura_event, array size */
	size_t lenbytes, max;
	int required;
};

#define SF(f, lb, mx, req) {offsetof(struct kura_event, f), sizeof(((struct kura_event *)0)->f), lb, mx, req}

static const struct str_field head_fields[] = {
	SF(action, 1, KURA_MAX_ACTION, 1),   SF(actor, 1, KURA_MAX_ID, 0),
	SF(role, 1, KURA_MAX_ROLE, 0),       SF(terminal, 1, KURA_MAX_TERMINAL, 0),
	SF(client_ip, 1, KURA_MAX_ADDR, 0),  SF(cert_fp, 1, KURA_MAX_CERTFP, 0),
	SF(patient_id, 1, KURA_MAX_ID, 0),   SF(record_id, 1, KURA_MAX_ID, 0),
};

static const struct str_field tail_fields[] = {
	SF(query, 2, KURA_MAX_QUERY, 0),
	SF(reason, 2, KURA_MAX_REASON, 0),
	SF(detail, 2, KURA_MAX_DETAIL, 0),
};

#define NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

static int valid_enums(const struct kura_event *e)
{
	int outcome_ok = e->outcome == KURA_OUTCOME_SUCCESS || e->outcome == KURA_OUTCOME_MINOR ||
			 e->outcome == KURA_OUTCOME_SERIOUS || e->outcome == KURA_OUTCOME_MAJOR;
	int sev_ok = e->severity == KURA_SEV_ALERT || e->severity == KURA_SEV_WARNING ||
		     e->severity == KURA_SEV_NOTICE || e->severity == KURA_SEV_INFO;
	return outcome_ok && sev_ok && e->clock <= KURA_CLOCK_UNSYNCED && e->utc_offset_min >= -1440 &&
	       e->utc_offset_min <= 1440;
}

static int put_fields(const struct kura_event *e, const struct str_field *f, size_t n,
		      struct kura_buf *out)
{
	for (size_t i = 0; i < n; i++) {
		const char *s = (const char *)e + f[i].off;
		size_t len = strnlen(s, f[i].cap);
		if (len == f[i].cap || len > f[i].max || (f[i].required && len == 0) ||
		    !kura_utf8_text_valid(s))
			return KURA_EINVAL;
		int r = kura_buf_append_vec(out, s, len, f[i].lenbytes);
		if (r)
			return r;
	}
	return 0;
}

int kura_event_encode(const struct kura_event *e, struct kura_buf *out)
{
	int r;
	if (!valid_enums(e))
		return KURA_EINVAL;
	if ((r = kura_buf_append_byte(out, KURA_LEAF_AUDIT_EVENT)) ||
	    (r = kura_buf_append_byte(out, KURA_EVENT_FORMAT)) ||
	    (r = kura_buf_append_uint(out, (uint64_t)e->time_us, 8)) ||
	    (r = kura_buf_append_uint(out, (uint16_t)e->utc_offset_min, 2)) ||
	    (r = kura_buf_append_byte(out, e->clock)) ||
	    (r = kura_buf_append_byte(out, e->severity)) ||
	    (r = kura_buf_append_byte(out, e->outcome)) ||
	    (r = put_fields(e, head_fields, NFIELDS(head_fields), out)) ||
	    (r = kura_buf_append_uint(out, e->version, 4)) ||
	    (r = put_fields(e, tail_fields, NFIELDS(tail_fields), out)))
		return r == KURA_ETOOBIG ? KURA_EINVAL : r;
	return 0;
}

static int get_fields(struct kura_slice *s, const struct str_field *f, size_t n,
		      struct kura_event *e)
{
	for (size_t i = 0; i < n; i++) {
		struct kura_slice v;
		char *dst = (char *)e + f[i].off;
		if (kura_slice_get_vec(s, f[i].lenbytes, &v) || v.len > f[i].max ||
		    (f[i].required && v.len == 0) || memchr(v.ptr, 0, v.len))
			return KURA_ECORRUPT;
		memcpy(dst, v.ptr, v.len);
		dst[v.len] = 0;
		if (!kura_utf8_text_valid(dst))
			return KURA_ECORRUPT;
	}
	return 0;
}

int kura_event_decode(const uint8_t *p, size_t len, struct kura_event *ret)
{
	struct kura_slice s = kura_slice_make(p, len);
	uint64_t type, format, time, off, clock, sev, outcome, version;
	memset(ret, 0, sizeof(*ret));
	if (kura_slice_get_uint(&s, 1, &type) || type != KURA_LEAF_AUDIT_EVENT ||
	    kura_slice_get_uint(&s, 1, &format) || format != KURA_EVENT_FORMAT ||
	    kura_slice_get_uint(&s, 8, &time) || kura_slice_get_uint(&s, 2, &off) ||
	    kura_slice_get_uint(&s, 1, &clock) || kura_slice_get_uint(&s, 1, &sev) ||
	    kura_slice_get_uint(&s, 1, &outcome) ||
	    get_fields(&s, head_fields, NFIELDS(head_fields), ret) ||
	    kura_slice_get_uint(&s, 4, &version) ||
	    get_fields(&s, tail_fields, NFIELDS(tail_fields), ret) || s.len != 0)
		goto bad;
	ret->time_us = (int64_t)time;
	ret->utc_offset_min = (int16_t)(uint16_t)off;
	ret->clock = (uint8_t)clock;
	ret->severity = (uint8_t)sev;
	ret->outcome = (uint8_t)outcome;
	ret->version = (uint32_t)version;
	if (valid_enums(ret))
		return 0;
bad:
	memset(ret, 0, sizeof(*ret));
	return KURA_ECORRUPT;
}

int kura_leaf_kind(const uint8_t *p, size_t len)
{
	if (len == 0)
		return 0;
	return p[0] == KURA_LEAF_RECORD_VERSION || p[0] == KURA_LEAF_AUDIT_EVENT ? p[0] : 0;
}
