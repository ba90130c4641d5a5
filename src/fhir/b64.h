/*
 * b64.h - a strict base64 decoder (RFC 4648 section 4), for import.
 *
 * Strict means: the standard alphabet only (no URL-safe '-' and '_'), a
 * length that is a multiple of 4, '=' padding only at the very end and only
 * as much as needed, no whitespace or line breaks, and the unused bits of the
 * last character zero.  So each byte string has exactly one accepted
 * encoding, and a damaged or truncated upload is refused instead of being
 * stored as something else.
 */
#ifndef KURA_FHIR_B64_H
#define KURA_FHIR_B64_H

#include <stddef.h>
#include <stdint.h>

#include "util/slice.h"

/* The most bytes n characters of base64 can decode to. */
size_t kura_b64_max_decoded(size_t n);

/* Decode in into out, which has room for outcap bytes; *ret_len is the
 * number written.  KURA_EINVAL if in is not strict base64, KURA_ETOOBIG if
 * outcap < kura_b64_max_decoded(in.len).  Empty input decodes to 0 bytes. */
int kura_b64_decode(struct kura_slice in, uint8_t *out, size_t outcap,
		    size_t *ret_len);

#endif
