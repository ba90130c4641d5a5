/* utf8.h - UTF-8 validation (RFC 3629). */
#ifndef KURA_UTIL_UTF8_H
#define KURA_UTIL_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length of the well-formed UTF-8 sequence at p (n bytes left, p[0] >= 0x80),
 * or 0: no overlong forms, surrogates or values past U+10FFFF. */
size_t kura_utf8_seq_len(const uint8_t *p, size_t n);

/* 1 if s is one line of valid UTF-8 text: no control characters (C0, DEL),
 * else 0. */
int kura_utf8_text_valid(const char *s);

#endif
