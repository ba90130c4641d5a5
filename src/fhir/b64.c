/* b64.c - the strict base64 decoder of b64.h. */
#include "fhir/b64.h"

#include "util/banned.h"

static int b64val(uint8_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* One group of 4 characters; only the last group may end in padding. */
static int decode_quad(const uint8_t *in, int last, uint8_t *out, size_t *ret_n)
{
	size_t pad = 0;
	uint32_t w = 0;
	if (last && in[3] == '=')
		pad = in[2] == '=' ? 2 : 1;
	for (size_t i = 0; i < 4; i++) {
		int v = i < 4 - pad ? b64val(in[i]) : 0;
		if (v < 0)
			return KURA_EINVAL;
		w = w << 6 | (uint32_t)v;
	}
	/* Nonzero unused bits would give a second spelling of the same bytes. */
	if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
		return KURA_EINVAL;
	out[0] = (uint8_t)(w >> 16);
	if (pad < 2)
		out[1] = (uint8_t)(w >> 8);
	if (pad < 1)
		out[2] = (uint8_t)w;
	*ret_n = 3 - pad;
	return 0;
}

size_t kura_b64_max_decoded(size_t n)
{
	return n / 4 * 3;
}

int kura_b64_decode(struct kura_slice in, uint8_t *out, size_t outcap,
		    size_t *ret_len)
{
	size_t n = 0, got;
	*ret_len = 0;
	if (in.len % 4)
		return KURA_EINVAL;
	if (outcap < kura_b64_max_decoded(in.len))
		return KURA_ETOOBIG;
	for (size_t i = 0; i < in.len; i += 4) {
		int r = decode_quad(in.ptr + i, i + 4 == in.len, out + n, &got);
		if (r)
			return r;
		n += got;
	}
	*ret_len = n;
	return 0;
}
