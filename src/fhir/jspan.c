/* jspan.c - a bounded JSON scanner: strict checks and raw byte spans (jspan.h). */
#include "fhir/jspan.h"
#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

#include "util/limits.h"
#include "util/utf8.h"
#include "util/banned.h"

/* Member lookups riding along the scan of one object. */
struct lookup {
	const char *const *keys;
	size_t nkeys;
	struct kura_slice *values; /* nkeys */
	struct kura_slice unknown; /* the first name not in keys */
};

struct scan {
	struct kura_slice s; /* what is left */
	int strict;          /* kura_jspan_check(): the whole of RFC 8259 */
	/* strict: the member names of the objects open now, for duplicates */
	struct kura_slice *names;
	size_t nnames, cap;
	const char *what; /* the first failure */
	const uint8_t *where;
};

/* A decoder of a string body, one byte at a time, for comparing names. */
struct dec {
	struct kura_slice s;
	uint8_t buf[4];
	size_t n, i;
};

static int scan_value(struct scan *sc, unsigned depth);

static int fail_at(struct scan *sc, int err, const char *what, const uint8_t *where)
{
	if (!sc->what) {
		sc->what = what;
		sc->where = where;
	}
	return err;
}

static int fail(struct scan *sc, int err, const char *what)
{
	return fail_at(sc, err, what, sc->s.ptr);
}

/* Consume c, or fail saying what was expected instead. */
static int expect(struct scan *sc, uint8_t c, const char *what)
{
	if (sc->s.len && sc->s.ptr[0] == c) {
		sc->s.ptr++;
		sc->s.len--;
		return 0;
	}
	return fail(sc, KURA_EINVAL, sc->s.len ? what : "unexpected end of text");
}

static void advance(struct kura_slice *s, size_t n)
{
	s->ptr += n;
	s->len -= n;
}

static void skip_ws(struct kura_slice *s)
{
	while (s->len && (s->ptr[0] == ' ' || s->ptr[0] == '\t' || s->ptr[0] == '\n' ||
			  s->ptr[0] == '\r'))
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

/* The value of 4 hex digits at p, or -1. */
static long hex4(const uint8_t *p)
{
	long v = 0;
	for (size_t i = 0; i < 4; i++) {
		int h = kura_hex_digit(p[i]);
		if (h < 0)
			return -1;
		v = v << 4 | h;
	}
	return v;
}

/* What jansson refuses in \u escapes: NUL, and surrogates not in pairs. */
static int strict_u(struct scan *sc, long cp)
{
	struct kura_slice *s = &sc->s;
	if (cp == 0)
		return fail(sc, KURA_EINVAL, "\\u0000 in a string");
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return fail(sc, KURA_EINVAL, "unpaired surrogate escape");
	if (cp < 0xd800 || cp > 0xdbff)
		return 0;
	long lo = s->len >= 6 && s->ptr[0] == '\\' && s->ptr[1] == 'u' ? hex4(s->ptr + 2) : -1;
	if (lo < 0xdc00 || lo > 0xdfff)
		return fail(sc, KURA_EINVAL, "unpaired surrogate escape");
	advance(s, 6);
	return 0;
}

/* sc->s is just after a backslash. */
static int scan_escape(struct scan *sc)
{
	struct kura_slice *s = &sc->s;
	if (s->len && s->ptr[0] != 'u' && memchr("\"\\/bfnrt", s->ptr[0], 8)) {
		advance(s, 1);
		return 0;
	}
	long cp = s->len >= 5 && s->ptr[0] == 'u' ? hex4(s->ptr + 1) : -1;
	if (cp < 0)
		return fail(sc, KURA_EINVAL, "invalid escape");
	advance(s, 5);
	return sc->strict ? strict_u(sc, cp) : 0;
}

/* Skip the bytes that need no attention: printable ASCII but '"' and '\'. */
static void skip_plain(struct kura_slice *s)
{
	const uint8_t *p = s->ptr, *end = s->ptr + s->len;
	while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
		p++;
	advance(s, (size_t)(p - s->ptr));
}

static int scan_string(struct scan *sc)
{
	struct kura_slice *s = &sc->s;
	if (expect(sc, '"', "expected a string"))
		return KURA_EINVAL;
	for (;;) {
		skip_plain(s);
		if (!s->len)
			return fail(sc, KURA_EINVAL, "unterminated string");
		uint8_t c = s->ptr[0];
		size_t k = 1;
		if (c == '"' || c == '\\')
			advance(s, 1);
		if (c == '"')
			return 0;
		if (c == '\\' && scan_escape(sc))
			return KURA_EINVAL;
		if (c < 0x20)
			return fail(sc, KURA_EINVAL, "control character in a string");
		if (c >= 0x80 && sc->strict && !(k = kura_utf8_seq_len(s->ptr, s->len)))
			return fail(sc, KURA_EINVAL, "invalid utf-8");
		if (c >= 0x80)
			advance(s, k);
	}
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
static int scan_number(struct scan *sc)
{
	struct kura_slice *s = &sc->s;
	eat(s, '-');
	if (!eat(s, '0') && !scan_digits(s))
		return fail(sc, KURA_EINVAL, "unexpected character");
	if (eat(s, '.') && !scan_digits(s))
		return fail(sc, KURA_EINVAL, "invalid number");
	if (eat(s, 'e') || eat(s, 'E')) {
		if (!eat(s, '+'))
			eat(s, '-');
		if (!scan_digits(s))
			return fail(sc, KURA_EINVAL, "invalid number");
	}
	return 0;
}

static int scan_literal(struct scan *sc, const char *word)
{
	size_t n = strlen(word);
	if (sc->s.len < n || memcmp(sc->s.ptr, word, n) != 0)
		return fail(sc, KURA_EINVAL, "unexpected character");
	advance(&sc->s, n);
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

/* s is just after "\u" of an escape whose form was checked.  0 for an
 * unpaired surrogate, which is no character. */
static size_t unescape_u(struct kura_slice *s, uint8_t out[4])
{
	uint32_t cp = (uint32_t)hex4(s->ptr);
	advance(s, 4);
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return 0;
	if (cp < 0xd800 || cp > 0xdbff)
		return utf8_put(cp, out);
	long lo = s->len >= 6 && s->ptr[0] == '\\' && s->ptr[1] == 'u' ? hex4(s->ptr + 2) : -1;
	if (lo < 0xdc00 || lo > 0xdfff)
		return 0;
	advance(s, 6);
	return utf8_put(0x10000 + ((cp - 0xd800) << 10) + ((uint32_t)lo - 0xdc00), out);
}

/* The next character of a string body scan_string() accepted, as UTF-8
 * bytes; 0 for an unpaired surrogate escape. */
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

static struct kura_slice string_body(struct kura_slice tok)
{
	return kura_slice_make(tok.ptr + 1, tok.len - 2);
}

/* The next byte of the decoded string, or -1 at its end. */
static int dec_next(struct dec *d)
{
	if (d->i == d->n) {
		if (!d->s.len)
			return -1;
		d->n = next_char(&d->s, d->buf);
		d->i = 0;
		if (d->n == 0)
			return -1;
	}
	return d->buf[d->i++];
}

/* Order of two name tokens by their decoded bytes. */
static int name_cmp(const void *pa, const void *pb)
{
	struct kura_slice a = string_body(*(const struct kura_slice *)pa);
	struct kura_slice b = string_body(*(const struct kura_slice *)pb);
	if (!memchr(a.ptr, '\\', a.len) && !memchr(b.ptr, '\\', b.len)) {
		int r = memcmp(a.ptr, b.ptr, a.len < b.len ? a.len : b.len);
		return r ? r : (a.len > b.len) - (a.len < b.len);
	}
	struct dec x = {a, {0}, 0, 0}, y = {b, {0}, 0, 0};
	for (;;) {
		int p = dec_next(&x), q = dec_next(&y);
		if (p != q || p < 0)
			return p - q;
	}
}

static int name_equals(struct kura_slice name, const char *key)
{
	struct kura_slice k = kura_slice_str(key);
	struct dec x = {string_body(name), {0}, 0, 0};
	for (size_t i = 0; i <= k.len; i++) {
		int c = dec_next(&x);
		if (i == k.len || c != k.ptr[i])
			return i == k.len && c < 0;
	}
	return 0;
}

static int push_name(struct scan *sc, struct kura_slice name)
{
	if (sc->nnames == sc->cap) {
		size_t cap = sc->cap ? 2 * sc->cap : 32;
		struct kura_slice *p = realloc(sc->names, cap * sizeof *p);
		if (!p)
			return fail(sc, KURA_ENOMEM, "out of memory");
		sc->names = p;
		sc->cap = cap;
	}
	sc->names[sc->nnames++] = name;
	return 0;
}

/* No name twice among the names of one object, names[base..]. */
static int check_names(struct scan *sc, size_t base)
{
	size_t k = sc->nnames - base;
	if (k < 2)
		return 0;
	struct kura_slice *n = sc->names + base;
	/* Most objects are small: comparing pairs beats sorting them. */
	if (k <= 8) {
		for (size_t i = 1; i < k; i++)
			for (size_t j = 0; j < i; j++)
				if (name_cmp(&n[i], &n[j]) == 0)
					return fail_at(sc, KURA_EINVAL, "repeated name in an object",
						       n[i].ptr);
		return 0;
	}
	qsort(n, k, sizeof *n, name_cmp);
	for (size_t i = 1; i < k; i++)
		if (name_cmp(&n[i - 1], &n[i]) == 0)
			return fail_at(sc, KURA_EINVAL, "repeated name in an object", n[i].ptr);
	return 0;
}

static int lookup_add(struct scan *sc, struct lookup *lk, struct kura_slice name,
		      struct kura_slice value)
{
	for (size_t i = 0; i < lk->nkeys; i++) {
		if (!name_equals(name, lk->keys[i]))
			continue;
		if (lk->values[i].ptr)
			return fail_at(sc, KURA_EINVAL, "repeated name in an object", name.ptr);
		lk->values[i] = value;
		return 0;
	}
	if (!lk->unknown.ptr)
		lk->unknown = name;
	return 0;
}

static int scan_member(struct scan *sc, unsigned depth, struct lookup *lk)
{
	struct kura_slice name = sc->s, value;
	int r = scan_string(sc);
	if (r)
		return r;
	name.len = (size_t)(sc->s.ptr - name.ptr);
	if (sc->strict && (r = push_name(sc, name)))
		return r;
	skip_ws(&sc->s);
	if (expect(sc, ':', "expected ':'"))
		return KURA_EINVAL;
	skip_ws(&sc->s);
	value = sc->s;
	if ((r = scan_value(sc, depth)))
		return r;
	value.len = (size_t)(sc->s.ptr - value.ptr);
	return lk ? lookup_add(sc, lk, name, value) : 0;
}

static int scan_members(struct scan *sc, unsigned depth, struct lookup *lk)
{
	for (;;) {
		int r = scan_member(sc, depth, lk);
		if (r)
			return r;
		skip_ws(&sc->s);
		if (eat(&sc->s, '}'))
			return 0;
		if (expect(sc, ',', "expected ',' or '}'"))
			return KURA_EINVAL;
		skip_ws(&sc->s);
	}
}

/* depth is the number of containers around this one. */
static int scan_object(struct scan *sc, unsigned depth, struct lookup *lk)
{
	size_t base = sc->nnames;
	int r = 0;
	if (depth >= KURA_MAX_JSON_DEPTH)
		return fail(sc, KURA_ETOOBIG, "nested too deep");
	advance(&sc->s, 1);
	skip_ws(&sc->s);
	if (!eat(&sc->s, '}'))
		r = scan_members(sc, depth + 1, lk);
	if (!r && sc->strict)
		r = check_names(sc, base);
	sc->nnames = base;
	return r;
}

static int scan_array(struct scan *sc, unsigned depth)
{
	int r;
	if (depth >= KURA_MAX_JSON_DEPTH)
		return fail(sc, KURA_ETOOBIG, "nested too deep");
	advance(&sc->s, 1);
	skip_ws(&sc->s);
	if (eat(&sc->s, ']'))
		return 0;
	for (;;) {
		if ((r = scan_value(sc, depth + 1)))
			return r;
		skip_ws(&sc->s);
		if (eat(&sc->s, ']'))
			return 0;
		if (expect(sc, ',', "expected ',' or ']'"))
			return KURA_EINVAL;
		skip_ws(&sc->s);
	}
}

static int scan_value(struct scan *sc, unsigned depth)
{
	if (!sc->s.len)
		return fail(sc, KURA_EINVAL, "unexpected end of text");
	switch (sc->s.ptr[0]) {
	case '{':
		return scan_object(sc, depth, NULL);
	case '[':
		return scan_array(sc, depth);
	case '"':
		return scan_string(sc);
	case 't':
		return scan_literal(sc, "true");
	case 'f':
		return scan_literal(sc, "false");
	case 'n':
		return scan_literal(sc, "null");
	default:
		return scan_number(sc);
	}
}

static struct scan scan_make(struct kura_slice s, int strict)
{
	struct scan sc = {s, strict, NULL, 0, 0, NULL, NULL};
	return sc;
}

int kura_jspan_check(struct kura_slice text, struct kura_jspan_error *ret_err)
{
	struct scan sc = scan_make(text, 1);
	skip_ws(&sc.s);
	int r = scan_value(&sc, 0);
	skip_ws(&sc.s);
	if (!r && sc.s.len)
		r = fail(&sc, KURA_EINVAL, "text after the json value");
	free(sc.names);
	if (r && ret_err) {
		ret_err->offset = (size_t)(sc.where - text.ptr);
		ret_err->what = sc.what;
	}
	return r;
}

int kura_jspan_is_blank(struct kura_slice s)
{
	skip_ws(&s);
	return s.len == 0;
}

int kura_jspan_value(struct kura_slice *cursor, struct kura_slice *ret_value)
{
	struct scan sc = scan_make(*cursor, 0);
	*ret_value = kura_slice_make(NULL, 0);
	skip_ws(&sc.s);
	const uint8_t *start = sc.s.ptr;
	int r = scan_value(&sc, 0);
	if (r)
		return r;
	*ret_value = kura_slice_make(start, (size_t)(sc.s.ptr - start));
	*cursor = sc.s;
	return 0;
}

int kura_jspan_members(struct kura_slice obj, const char *const *keys, size_t nkeys,
		       struct kura_slice *ret_values, struct kura_slice *ret_unknown)
{
	struct lookup lk = {keys, nkeys, ret_values, {NULL, 0}};
	struct scan sc = scan_make(obj, 0);
	int r = KURA_EINVAL;
	for (size_t i = 0; i < nkeys; i++)
		ret_values[i] = kura_slice_make(NULL, 0);
	if (ret_unknown)
		*ret_unknown = kura_slice_make(NULL, 0);
	skip_ws(&sc.s);
	if (sc.s.len && sc.s.ptr[0] == '{')
		r = scan_object(&sc, 0, &lk);
	if (!r && !kura_jspan_is_blank(sc.s))
		r = KURA_EINVAL;
	if (r) {
		for (size_t i = 0; i < nkeys; i++)
			ret_values[i] = kura_slice_make(NULL, 0);
		return r;
	}
	if (ret_unknown)
		*ret_unknown = lk.unknown;
	return 0;
}

int kura_jspan_member(struct kura_slice obj, const char *key,
		      struct kura_slice *ret_value)
{
	int r = kura_jspan_members(obj, &key, 1, ret_value, NULL);
	if (!r && !ret_value->ptr)
		r = KURA_ENOTFOUND;
	return r;
}

/* Copy a run without escapes; if it does not fit, as much of it as ends on
 * a character boundary, so that the prefix can be shown to a person. */
static int put_run(uint8_t *out, size_t cap, size_t *n, const uint8_t *p, size_t run)
{
	size_t m = run;
	if (m > cap - *n) {
		m = cap - *n;
		while (m > 0 && (p[m] & 0xc0) == 0x80)
			m--;
	}
	memcpy(out + *n, p, m);
	*n += m;
	return m == run ? 0 : KURA_ETOOBIG;
}

int kura_jspan_string(struct kura_slice str, uint8_t *out, size_t cap,
		      size_t *ret_len)
{
	struct scan sc = scan_make(str, 0);
	struct kura_slice s = string_body(str);
	size_t n = 0, k;
	uint8_t ch[4];
	int r = 0;
	*ret_len = 0;
	if (scan_string(&sc) || sc.s.len)
		return KURA_EINVAL;
	while (s.len && !r) {
		const uint8_t *bs = memchr(s.ptr, '\\', s.len);
		size_t run = bs ? (size_t)(bs - s.ptr) : s.len;
		if (run) {
			r = put_run(out, cap, &n, s.ptr, run);
			advance(&s, run);
		} else if (!(k = next_char(&s, ch))) {
			r = KURA_EINVAL;
		} else {
			r = put_run(out, cap, &n, ch, k);
		}
	}
	*ret_len = n;
	return r;
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

static int array_step(struct kura_jspan_iter *it, struct kura_slice *ret_elem)
{
	struct scan sc = scan_make(it->rest, 0);
	skip_ws(&sc.s);
	if (eat(&sc.s, ']')) {
		it->rest = sc.s;
		return kura_jspan_is_blank(sc.s) ? 0 : KURA_EINVAL;
	}
	if (it->index > 0) {
		if (!eat(&sc.s, ','))
			return KURA_EINVAL;
		skip_ws(&sc.s);
	}
	const uint8_t *start = sc.s.ptr;
	int r = scan_value(&sc, 1);
	if (r)
		return r;
	*ret_elem = kura_slice_make(start, (size_t)(sc.s.ptr - start));
	it->rest = sc.s;
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
