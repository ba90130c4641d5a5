/* jspan.c - a bounded JSON scanner that returns raw byte spans (jspan.h). */
#include "fhir/jspan.h"

#include <string.h>

#include "util/limits.h"
#include "util/banned.h"

/* A member lookup riding along an object scan. */
struct lookup {
	const char *key;
	struct kura_slice value;
	int found;
};

static int scan_value(struct kura_slice *s, unsigned depth);

static void advance(struct kura_slice *s, size_t n)
{
	s->ptr += n;
	s->len -= n;
}

static int is_ws(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void skip_ws(struct kura_slice *s)
{
	while (s->len && is_ws(s->ptr[0]))
		advance(s, 1);
}

/* Consume c if it is the next byte. */
static int eat(struct kura_slice *s, uint8_t c)
{
	if (!s->len || s->ptr[0] != c)
		return 0;
	advance(s, 1);
	return 1;
}

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* s is just after a backslash. */
static int scan_escape(struct kura_slice *s)
{
	if (!s->len)
		return KURA_EINVAL;
	if (s->ptr[0] != 'u') {
		if (!memchr("\"\\/bfnrt", s->ptr[0], 8))
			return KURA_EINVAL;
		advance(s, 1);
		return 0;
	}
	if (s->len < 5)
		return KURA_EINVAL;
	for (size_t i = 1; i < 5; i++)
		if (hexval(s->ptr[i]) < 0)
			return KURA_EINVAL;
	advance(s, 5);
	return 0;
}

static int scan_string(struct kura_slice *s)
{
	if (!eat(s, '"'))
		return KURA_EINVAL;
	while (s->len) {
		uint8_t c = s->ptr[0];
		advance(s, 1);
		if (c == '"')
			return 0;
		if (c < 0x20)
			return KURA_EINVAL;
		if (c == '\\' && scan_escape(s))
			return KURA_EINVAL;
	}
	return KURA_EINVAL;
}

static size_t scan_digits(struct kura_slice *s)
{
	size_t n = 0;
	while (s->len && s->ptr[0] >= '0' && s->ptr[0] <= '9') {
		advance(s, 1);
		n++;
	}
	return n;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int scan_number(struct kura_slice *s)
{
	eat(s, '-');
	if (!eat(s, '0') && !scan_digits(s))
		return KURA_EINVAL;
	if (eat(s, '.') && !scan_digits(s))
		return KURA_EINVAL;
	if (eat(s, 'e') || eat(s, 'E')) {
		if (!eat(s, '+'))
			eat(s, '-');
		if (!scan_digits(s))
			return KURA_EINVAL;
	}
	return 0;
}

static int scan_literal(struct kura_slice *s, const char *word)
{
	size_t n = strlen(word);
	if (s->len < n || memcmp(s->ptr, word, n) != 0)
		return KURA_EINVAL;
	advance(s, n);
	return 0;
}

static size_t utf8_put(uint32_t cp, uint8_t out[4])
{
	if (cp < 0x80) {
		out[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (uint8_t)(0xc0 | cp >> 6);
		out[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (uint8_t)(0xe0 | cp >> 12);
		out[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (uint8_t)(0xf0 | cp >> 18);
	out[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}

static uint32_t hex4(const uint8_t *p)
{
	uint32_t v = 0;
	for (size_t i = 0; i < 4; i++)
		v = v << 4 | (uint32_t)hexval(p[i]);
	return v;
}

/* s is just after "\u" of an escape scan_string() accepted.  0 for a lone
 * surrogate, which is no character and so equals no key. */
static size_t unescape_u(struct kura_slice *s, uint8_t out[4])
{
	uint32_t cp = hex4(s->ptr);
	advance(s, 4);
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return 0;
	if (cp < 0xd800 || cp > 0xdbff)
		return utf8_put(cp, out);
	if (s->len < 6 || s->ptr[0] != '\\' || s->ptr[1] != 'u')
		return 0;
	uint32_t lo = hex4(s->ptr + 2);
	if (lo < 0xdc00 || lo > 0xdfff)
		return 0;
	advance(s, 6);
	return utf8_put(0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00), out);
}

/* The next character of a validated string body, as UTF-8 bytes. */
static size_t next_char(struct kura_slice *s, uint8_t out[4])
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	uint8_t c = s->ptr[0];
	advance(s, 1);
	if (c != '\\') {
		out[0] = c;
		return 1;
	}
	c = s->ptr[0];
	advance(s, 1);
	if (c == 'u')
		return unescape_u(s, out);
	out[0] = (uint8_t)to[(const char *)memchr(from, c, 8) - from];
	return 1;
}

/* name is a string token scan_string() accepted, quotes included. */
static int name_equals(struct kura_slice name, const char *key)
{
	struct kura_slice s = kura_slice_make(name.ptr + 1, name.len - 2);
	size_t klen = strlen(key), pos = 0;
	while (s.len) {
		uint8_t ch[4];
		size_t n = next_char(&s, ch);
		if (n == 0 || n > klen - pos || memcmp(ch, key + pos, n) != 0)
			return 0;
		pos += n;
	}
	return pos == klen;
}

static int scan_member(struct kura_slice *s, unsigned depth, struct lookup *lk)
{
	struct kura_slice name = *s, value;
	int r = scan_string(s);
	if (r)
		return r;
	name.len = (size_t)(s->ptr - name.ptr);
	skip_ws(s);
	if (!eat(s, ':'))
		return KURA_EINVAL;
	skip_ws(s);
	value = *s;
	if ((r = scan_value(s, depth)))
		return r;
	value.len = (size_t)(s->ptr - value.ptr);
	if (lk && name_equals(name, lk->key)) {
		if (lk->found)
			return KURA_EINVAL;
		lk->found = 1;
		lk->value = value;
	}
	return 0;
}

/* depth is the number of containers around this one. */
static int scan_object(struct kura_slice *s, unsigned depth, struct lookup *lk)
{
	int r;
	if (depth >= KURA_MAX_JSON_DEPTH)
		return KURA_ETOOBIG;
	advance(s, 1);
	skip_ws(s);
	if (eat(s, '}'))
		return 0;
	for (;;) {
		if ((r = scan_member(s, depth + 1, lk)))
			return r;
		skip_ws(s);
		if (eat(s, '}'))
			return 0;
		if (!eat(s, ','))
			return KURA_EINVAL;
		skip_ws(s);
	}
}

static int scan_array(struct kura_slice *s, unsigned depth)
{
	int r;
	if (depth >= KURA_MAX_JSON_DEPTH)
		return KURA_ETOOBIG;
	advance(s, 1);
	skip_ws(s);
	if (eat(s, ']'))
		return 0;
	for (;;) {
		if ((r = scan_value(s, depth + 1)))
			return r;
		skip_ws(s);
		if (eat(s, ']'))
			return 0;
		if (!eat(s, ','))
			return KURA_EINVAL;
		skip_ws(s);
	}
}

static int scan_value(struct kura_slice *s, unsigned depth)
{
	if (!s->len)
		return KURA_EINVAL;
	switch (s->ptr[0]) {
	case '{':
		return scan_object(s, depth, NULL);
	case '[':
		return scan_array(s, depth);
	case '"':
		return scan_string(s);
	case 't':
		return scan_literal(s, "true");
	case 'f':
		return scan_literal(s, "false");
	case 'n':
		return scan_literal(s, "null");
	default:
		return scan_number(s);
	}
}

int kura_jspan_is_blank(struct kura_slice s)
{
	skip_ws(&s);
	return s.len == 0;
}

int kura_jspan_value(struct kura_slice *cursor, struct kura_slice *ret_value)
{
	struct kura_slice s = *cursor;
	*ret_value = kura_slice_make(NULL, 0);
	skip_ws(&s);
	const uint8_t *start = s.ptr;
	int r = scan_value(&s, 0);
	if (r)
		return r;
	*ret_value = kura_slice_make(start, (size_t)(s.ptr - start));
	*cursor = s;
	return 0;
}

int kura_jspan_member(struct kura_slice obj, const char *key,
		      struct kura_slice *ret_value)
{
	struct lookup lk = {key, {NULL, 0}, 0};
	*ret_value = kura_slice_make(NULL, 0);
	skip_ws(&obj);
	if (!obj.len || obj.ptr[0] != '{')
		return KURA_EINVAL;
	int r = scan_object(&obj, 0, &lk);
	if (r)
		return r;
	if (!kura_jspan_is_blank(obj))
		return KURA_EINVAL;
	if (!lk.found)
		return KURA_ENOTFOUND;
	*ret_value = lk.value;
	return 0;
}

int kura_jspan_array_begin(struct kura_slice array, struct kura_jspan_iter *ret_it)
{
	ret_it->index = 0;
	ret_it->done = KURA_EINVAL;
	ret_it->rest = kura_slice_make(NULL, 0);
	skip_ws(&array);
	if (!eat(&array, '['))
		return KURA_EINVAL;
	ret_it->rest = array;
	ret_it->done = 0;
	return 0;
}

/* After the closing ']': only whitespace may follow. */
static int array_end(struct kura_slice *s)
{
	skip_ws(s);
	return s->len ? KURA_EINVAL : 0;
}

static int array_step(struct kura_jspan_iter *it, struct kura_slice *ret_elem)
{
	struct kura_slice *s = &it->rest;
	skip_ws(s);
	if (eat(s, ']'))
		return array_end(s);
	if (it->index > 0) {
		if (!eat(s, ','))
			return KURA_EINVAL;
		skip_ws(s);
	}
	const uint8_t *start = s->ptr;
	int r = scan_value(s, 1);
	if (r)
		return r;
	*ret_elem = kura_slice_make(start, (size_t)(s->ptr - start));
	it->index++;
	return 1;
}

int kura_jspan_array_next(struct kura_jspan_iter *it, struct kura_slice *ret_elem)
{
	*ret_elem = kura_slice_make(NULL, 0);
	if (it->done)
		return it->done < 0 ? it->done : 0;
	int r = array_step(it, ret_elem);
	if (r <= 0)
		it->done = r < 0 ? r : 1;
	return r;
}
