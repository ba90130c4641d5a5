/*
 * conf.c - configuration values (conf.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/conf.h"
#include "util/err.h"
#include "util/banned.h"

int kura_parse_size(const char *s, uint64_t *ret)
{
	char *end = NULL;
	*ret = 0;
	if (!s || *s < '0' || *s > '9')
		return KURA_EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return KURA_EINVAL;
	unsigned shift = 0;
	if (*end) {
		const char *units = "KMGT";
		const char *u = strchr(units, *end);
		if (!u || end[1] != '\0')
			return KURA_EINVAL;
		shift = 10u * (unsigned)(u - units + 1);
	}
	if (shift && v > (UINT64_MAX >> shift))
		return KURA_EINVAL;
	*ret = (uint64_t)v << shift;
	return 0;
}

int kura_conf_fail(char msg[KURA_CONF_MSG], const char *fmt, const char *a, const char *b)
{
	if (!msg[0])
		snprintf(msg, KURA_CONF_MSG, fmt, a, b);
	return 0;
}

int kura_conf_str(char msg[KURA_CONF_MSG], char *dst, size_t cap, const char *name, const char *v)
{
	size_t n = strlen(v);
	if (n == 0 || n >= cap)
		return kura_conf_fail(msg, "%s: '%s' is empty or too long", name, v);
	memcpy(dst, v, n + 1);
	return 1;
}

int kura_conf_uint(char msg[KURA_CONF_MSG], unsigned *dst, uint64_t min, uint64_t max, int units,
		   const char *name, const char *v)
{
	uint64_t x;
	if (kura_parse_size(v, &x) || x < min || x > max || (!units && strpbrk(v, "KMGT")))
		return kura_conf_fail(msg, "%s: '%s' is not a number in range", name, v);
	*dst = (unsigned)x;
	return 1;
}
