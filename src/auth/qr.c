/* qr.c - QR codes drawn with half blocks for a UTF-8 terminal (AU-12). */
#include "auth/qr.h"

#include <errno.h>
#include <qrencode.h>
#include <string.h>

#include "crypto/crypto.h"
#include "util/err.h"
#include "util/banned.h"

#define QUIET 4 /* modules of light margin on each side (ISO/IEC 18004) */

/* Indexed by (top dark) | (bottom dark) << 1. */
static const char *const half[4] = {" ", "\u2580", "\u2584", "\u2588"};

/* 1 if the module at (x, y) of the drawing, quiet zone included, is to be
 * drawn: dark when not inverted, light when inverted. */
static unsigned drawn(const QRcode *q, int x, int y, int invert)
{
	int mx = x - QUIET, my = y - QUIET;
	unsigned dark = 0;
	if (mx >= 0 && my >= 0 && mx < q->width && my < q->width)
		dark = q->data[my * q->width + mx] & 1;
	return dark ^ (invert ? 1u : 0u);
}

static int draw_row(const QRcode *q, int y, int invert, struct kura_buf *out)
{
	int size = q->width + 2 * QUIET;
	int r = 0;
	for (int x = 0; x < size && r == 0; x++) {
		/* Past the last row (size is odd) counts as light margin. */
		unsigned bottom = y + 1 < size ? drawn(q, x, y + 1, invert)
					       : (invert ? 1u : 0u);
		r = kura_buf_append_str(out, half[drawn(q, x, y, invert) | bottom << 1]);
	}
	if (r == 0)
		r = kura_buf_append_byte(out, '\n');
	return r;
}

static int encode_error(int err)
{
	if (err == ERANGE)
		return KURA_ETOOBIG;
	if (err == ENOMEM)
		return KURA_ENOMEM;
	return err == EINVAL ? KURA_EINVAL : KURA_EINTERNAL;
}

int kura_qr_text(const char *text, int invert, struct kura_buf *out)
{
	size_t start = out->len;
	QRcode *q = NULL;
	int r = KURA_EINVAL;
	if (!text || !*text)
		goto out;
	r = KURA_ETOOBIG;
	if (strnlen(text, KURA_QR_MAX_TEXT + 1) > KURA_QR_MAX_TEXT)
		goto out;
	errno = 0;
	q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	if (!q) {
		r = encode_error(errno);
		goto out;
	}
	r = 0;
	for (int y = 0; y < q->width + 2 * QUIET && r == 0; y += 2)
		r = draw_row(q, y, invert, out);
out:
	if (r && out->data && out->len > start) {
		kura_wipe(out->data + start, out->len - start);
		out->len = start;
	}
	if (q) {
		kura_wipe(q->data, (size_t)q->width * (size_t)q->width);
		QRcode_free(q);
	}
	return r;
}
