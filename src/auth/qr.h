/*
 * qr.h - a QR code drawn with text, for enrolling a phone authenticator app
 * from a terminal (AU-12: the otpauth:// URI of auth/totp.h).
 *
 * The code is made by libqrencode (error correction level M, 8-bit mode)
 * and drawn with Unicode half blocks, two modules per line of text, inside
 * the 4-module quiet zone the QR specification (ISO/IEC 18004) asks for.
 */
#ifndef KURA_AUTH_QR_H
#define KURA_AUTH_QR_H

#include "util/buf.h"

/* Longest text kura_qr_text takes (bytes); below the 2331 bytes a version
 * 40 symbol holds at level M, so any accepted text fits. */
#define KURA_QR_MAX_TEXT 2047u

/*
 * Append the QR code of the NUL-terminated text to out as UTF-8 lines of
 * '█', '▀', '▄' and ' ', each ending in '\n'.  With invert 0 a dark module
 * is drawn (for dark text on a light terminal); with invert 1 a light one
 * is (light text on a dark terminal), so the code always reads dark on
 * light.  Each line is as many characters wide as there are lines times
 * two, less one: the drawing is square on a terminal whose cells are twice
 * as high as wide.  KURA_EINVAL for empty text, KURA_ETOOBIG for text past
 * KURA_QR_MAX_TEXT or out's maximum, KURA_ENOMEM.  out is left as it was on
 * failure.  The text may be a secret (a key URI): so is the drawing.
 */
int kura_qr_text(const char *text, int invert, struct kura_buf *out);

/*
 * Append the same QR code as one SVG image to out: a white square of
 * (modules + 8) units with the quiet zone, and one black path of the dark
 * modules (a unit square each, runs of a row merged), no text and no
 * script.  The same errors as kura_qr_text; out is left as it was on
 * failure.  A secret's drawing is a secret too.
 */
int kura_qr_svg(const char *text, struct kura_buf *out);

#endif
