/* utf8.c - UTF-8 validation (RFC 3629) shared by the parsers and encoders. */
#include "util/utf8.h"

#include <string.h>

#include "util/banned.h"

/* Length of the well-formed UTF-8 sequence at p (n bytes left, p[0] >= 0x80),
 * or 0: RFC 3629, so no overlong forms, surrogates or values past U+10FFFF. */
size_t kura_utf8_seq_len(const uint8_t *p, size_t n)
{
	static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
	size_t k = p[0] < 0xc2 ? 0 : p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : p[0] < 0xf5 ? 4 : 0;
	if (k == 0 || n < k)
		return 0;
	uint32_t cp = p[0] & (0x7f >> k);
	for (size_t i = 1; i < k; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min[k] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return k;
}

int kura_utf8_text_valid(const char *s)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t n = strlen(s);
	for (size_t i = 0; i < n;) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return 0;
		size_t k = p[i] < 0x80 ? 1 : kura_utf8_seq_len(p + i, n - i);
		if (k == 0)
			return 0;
		i += k;
	}
	return 1;
}
