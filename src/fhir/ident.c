/* ident.c - the id, record type and content type rules of import.h. */
#include "fhir/import.h"

#include <string.h>

#include "util/banned.h"

static int is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int kura_valid_id(const char *s)
{
	size_t n = 0;
	if (!s)
		return 0;
	for (; s[n]; n++) {
		char c = s[n];
		if (n == KURA_MAX_ID ||
		    !(is_alpha(c) || is_digit(c) || c == '.' || c == '-' || c == '_'))
			return 0;
	}
	return n > 0;
}

int kura_is_fhir_type(const char *s)
{
	size_t n = 0;
	if (!s || !(s[0] >= 'A' && s[0] <= 'Z'))
		return 0;
	for (; s[n]; n++)
		if (n == 64 || !is_alpha(s[n]))
			return 0;
	return 1;
}

/* An RFC 6838 restricted-name; lowercase only when lower is set.  Returns
 * its length (0 if there is none) and moves *p past it. */
static size_t mime_name(const char **p, int lower)
{
	const char *s = *p;
	size_t n = 0;
	for (;; n++) {
		char c = s[n];
		int ok = is_digit(c) || (c >= 'a' && c <= 'z') ||
			 (!lower && c >= 'A' && c <= 'Z');
		if (n > 0 && !ok && c && strchr("!#$&-^_.+", c))
			ok = 1;
		if (!ok || n == 127)
			break;
	}
	*p = s + n;
	return n;
}

/* "type/subtype"; *p moves past it. */
static int mime_type(const char **p, int lower)
{
	if (!mime_name(p, lower) || **p != '/')
		return 0;
	(*p)++;
	return mime_name(p, lower) > 0;
}

int kura_valid_record_type(const char *s)
{
	if (!s || strlen(s) > KURA_MAX_TYPE)
		return 0;
	if (kura_is_fhir_type(s) || strcmp(s, "hl7v2") == 0)
		return 1;
	return mime_type(&s, 1) && *s == 0;
}

int kura_valid_content_type(const char *s)
{
	if (!s || strlen(s) > KURA_MAX_TYPE || !mime_type(&s, 0))
		return 0;
	while (*s == ' ')
		s++;
	if (*s == 0)
		return s[-1] != ' ';
	if (*s != ';')
		return 0;
	/* Parameters are kept as given; only keep them printable. */
	for (; *s; s++)
		if (*s < 0x20 || *s > 0x7e)
			return 0;
	return 1;
}
