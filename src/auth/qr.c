/* qr.c - QR codes drawn with half blocks for a UTF-8 terminal, or as SVG
 * for the web UI (AU-12). */
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

/* The symbol of text (level M, 8-bit), or an error. */
static int encode(const char *text, QRcode **ret)
{
	*ret = NULL;
	if (!text || !*text)
		return KURA_EINVAL;
	if (strnlen(text, KURA_QR_MAX_TEXT + 1) > KURA_QR_MAX_TEXT)
		return KURA_ETOOBIG;
	errno = 0;
	*ret = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	return *ret ? 0 : encode_error(errno);
}

/* The dark modules of row y as SVG path runs "Mx yhNv1h-Nz". */
static int svg_row(const QRcode *q, int y, struct kura_buf *out)
{
	int r = 0;
	for (int x = 0; x < q->width && r == 0;) {
		int n = 0;
		while (x + n < q->width && (q->data[y * q->width + x + n] & 1))
			n++;
		if (n)
			r = kura_buf_printf(out, "M%d %dh%dv1h-%dz", x + QUIET, y + QUIET, n, n);
		x += n ? n : 1;
	}
	return r;
}

int kura_qr_svg(const char *text, struct kura_buf *out)
{
	size_t start = out->len;
	QRcode *q = NULL;
	int r = encode(text, &q);
	int size = q ? q->width + 2 * QUIET : 0;
	if (!r)
		r = kura_buf_printf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
				    "shape-rendering=\"crispEdges\"><rect width=\"%d\" height=\"%d\" "
				    "fill=\"#fff\"/><path fill=\"#000\" d=\"", size, size, size, size);
	for (int y = 0; !r && y < q->width; y++)
		r = svg_row(q, y, out);
	if (!r)
		r = kura_buf_append_str(out, "\"/></svg>");
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

int kura_qr_text(const char *text, int invert, struct kura_buf *out)
{
	size_t start = out->len;
	QRcode *q = NULL;
	int r = encode(text, &q);
	for (int y = 0; !r && y < q->width + 2 * QUIET; y += 2)
		r = draw_row(q, y, invert, out);
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
