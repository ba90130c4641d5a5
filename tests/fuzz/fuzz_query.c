/* fuzz_query.c - query strings (serve/http.h): any input either iterates
 * to the end or fails with EINVAL/ETOOBIG; every parameter returned fits its
 * buffer, holds no NUL, and re-encoded (%XX for everything but unreserved
 * bytes) parses back to the same name and value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "serve/http.h"
#include "util/buf.h"
#include "util/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void encode(struct kura_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_')
			kura_buf_append_byte(b, *p);
		else if (*p == ' ')
			kura_buf_append_byte(b, '+');
		else
			kura_buf_printf(b, "%%%c%c", hex[*p >> 4], hex[*p & 15]);
	}
}

static void round_trip(const char *name, const char *value)
{
	struct kura_buf b;
	struct kura_http_query_iter it;
	char n2[KURA_HTTP_QUERY_MAX_NAME], v2[KURA_HTTP_QUERY_MAX_VALUE];
	kura_buf_init(&b, 3 * (KURA_HTTP_QUERY_MAX_NAME + KURA_HTTP_QUERY_MAX_VALUE) + 8);
	encode(&b, name);
	kura_buf_append_byte(&b, '=');
	encode(&b, value);
	kura_buf_append_byte(&b, '\0');
	if (b.len - 1 <= KURA_HTTP_QUERY_MAX_LEN) {
		kura_http_query_init(&it, (const char *)b.data);
		if (kura_http_query_next(&it, n2, sizeof(n2), v2, sizeof(v2)) != 1 ||
		    strcmp(n2, name) != 0 || strcmp(v2, value) != 0 ||
		    kura_http_query_next(&it, n2, sizeof(n2), v2, sizeof(v2)) != 0)
			abort();
	}
	kura_buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *q = malloc(size + 1);
	char name[KURA_HTTP_QUERY_MAX_NAME], value[KURA_HTTP_QUERY_MAX_VALUE];
	struct kura_http_query_iter it;
	int r;
	unsigned n = 0;
	if (!q)
		return 0;
	memcpy(q, data, size);
	q[size] = '\0';
	kura_http_query_init(&it, q);
	while ((r = kura_http_query_next(&it, name, sizeof(name), value, sizeof(value))) == 1) {
		if (++n > KURA_HTTP_QUERY_MAX_PARAMS || strlen(name) >= sizeof(name) ||
		    strlen(value) >= sizeof(value))
			abort();
		round_trip(name, value);
	}
	if (r != 0 && r != KURA_EINVAL && r != KURA_ETOOBIG)
		abort();
	if (r && kura_http_query_next(&it, name, sizeof(name), value, sizeof(value)) != r)
		abort();
	free(q);
	return 0;
}
