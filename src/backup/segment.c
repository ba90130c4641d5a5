/*
 * segment.c - segments, the plaintext of KURA_OBJ_SEGMENT objects: ledger
 * leaves with their content, so a restore rebuilds the Merkle tree bit for
 * bit and checks it against the signed tree heads (BK-01, BK-05).
 */
#include "backup/segment.h"

#include <string.h>

#include "backup/cdc.h"
#include "ledger/merkle.h"
#include "util/limits.h"
#include "util/banned.h"

#define SEG_HEADER (4 + 8 + 4)
#define SEG_COUNT_AT (4 + 8)
#define CHUNK_REF (KURA_OBJ_ID_LEN + 4)

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint64_t get_be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/* Undo a partial append. */
static void truncate_to(struct kura_buf *b, size_t at)
{
	if (b->data && at < b->len) {
		b->len = at;
		b->data[at] = 0;
	}
}

void kura_seg_chunk_at(const struct kura_seg_entry *e, uint32_t i, struct kura_seg_chunk *ret)
{
	const uint8_t *c = e->chunks + (size_t)i * CHUNK_REF;
	memcpy(ret->id, c, KURA_OBJ_ID_LEN);
	ret->len = (uint32_t)get_be(c + KURA_OBJ_ID_LEN, 4);
}

void kura_seg_begin(struct kura_seg_writer *w, uint64_t first_leaf)
{
	memset(w, 0, sizeof(*w));
	kura_buf_init(&w->buf, KURA_OBJ_MAX_PLAIN);
	w->first = first_leaf;
}

/* The header is written with the first entry (begin cannot fail); count
 * is filled in by finish. */
static int ensure_header(struct kura_seg_writer *w)
{
	int r;
	if (w->buf.len)
		return 0;
	if ((r = kura_buf_append(&w->buf, KURA_SEG_MAGIC, 4)) ||
	    (r = kura_buf_append_uint(&w->buf, w->first, 8)) ||
	    (r = kura_buf_append_uint(&w->buf, 0, 4)))
		kura_buf_reset(&w->buf);
	return r;
}

static int leaf_ok(int kind, const uint8_t *leaf, size_t len)
{
	return len >= 1 && len <= KURA_SEG_MAX_LEAF && leaf[0] == kind;
}

static int start_entry(struct kura_seg_writer *w, int kind, const uint8_t *leaf, size_t len)
{
	int r;
	if (w->sth_at || w->count == UINT32_MAX || !leaf_ok(kind, leaf, len))
		return KURA_EINVAL;
	if ((r = ensure_header(w)) || (r = kura_buf_append_byte(&w->buf, (uint8_t)kind)) ||
	    (r = kura_buf_append_vec(&w->buf, leaf, len, 4)))
		return r;
	return 0;
}

int kura_seg_add_event(struct kura_seg_writer *w, const uint8_t *leaf, size_t len)
{
	size_t at = w->buf.len;
	int r = start_entry(w, KURA_SEG_EVENT, leaf, len);
	if (r) {
		truncate_to(&w->buf, at);
		return r;
	}
	w->count++;
	return 0;
}

static int chunks_ok(const struct kura_seg_chunk *chunks, uint32_t n, size_t total)
{
	uint64_t sum = 0;
	if (n < 1 || n > KURA_SEG_MAX_CHUNKS || total > KURA_MAX_CONTENT)
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		if (chunks[i].len < 1 || chunks[i].len > KURA_CDC_MAX)
			return 0;
		sum += chunks[i].len;
	}
	return sum == total;
}

static int put_content(struct kura_buf *b, int mode, const uint8_t *content, size_t clen,
		       const struct kura_seg_chunk *chunks, uint32_t nchunks)
{
	int r = kura_buf_append_byte(b, (uint8_t)mode);
	if (r || mode == KURA_SEG_NONE)
		return r;
	if (mode == KURA_SEG_INLINE)
		return kura_buf_append_vec(b, content, clen, 4);
	if ((r = kura_buf_append_uint(b, clen, 8)) || (r = kura_buf_append_uint(b, nchunks, 4)))
		return r;
	for (uint32_t i = 0; i < nchunks; i++)
		if ((r = kura_buf_append(b, chunks[i].id, KURA_OBJ_ID_LEN)) ||
		    (r = kura_buf_append_uint(b, chunks[i].len, 4)))
			return r;
	return 0;
}

int kura_seg_add_version(struct kura_seg_writer *w, const uint8_t *leaf, size_t len, int mode,
			 const uint8_t *content, size_t clen, const struct kura_seg_chunk *chunks,
			 uint32_t nchunks)
{
	if ((mode == KURA_SEG_INLINE && clen > KURA_MAX_CONTENT) ||
	    (mode == KURA_SEG_CHUNKED && !chunks_ok(chunks, nchunks, clen)) ||
	    (mode != KURA_SEG_NONE && mode != KURA_SEG_INLINE && mode != KURA_SEG_CHUNKED))
		return KURA_EINVAL;
	size_t at = w->buf.len;
	int r = start_entry(w, KURA_SEG_VERSION, leaf, len);
	if (!r)
		r = put_content(&w->buf, mode, content, clen, chunks, nchunks);
	if (r) {
		truncate_to(&w->buf, at);
		return r;
	}
	w->count++;
	return 0;
}

int kura_seg_add_sth(struct kura_seg_writer *w, const struct kura_sth *sth)
{
	int r;
	if (w->count == 0 || w->nsth == UINT32_MAX)
		return KURA_EINVAL;
	if (w->nsth && get_be(w->buf.data + w->buf.len - KURA_SEG_STH_LEN, 8) >= sth->tree_size)
		return KURA_EINVAL;
	if (!w->sth_at) {
		if ((r = kura_buf_append_uint(&w->buf, 0, 4)))
			return r;
		w->sth_at = w->buf.len - 4;
	}
	size_t at = w->buf.len;
	if ((r = kura_buf_append_uint(&w->buf, sth->tree_size, 8)) ||
	    (r = kura_buf_append_uint(&w->buf, (uint64_t)sth->time_us, 8)) ||
	    (r = kura_buf_append(&w->buf, sth->root, KURA_HASH_LEN)) ||
	    (r = kura_buf_append(&w->buf, sth->signature, KURA_SIG_LEN))) {
		truncate_to(&w->buf, at);
		return r;
	}
	w->nsth++;
	return 0;
}

int kura_seg_finish(struct kura_seg_writer *w)
{
	int r;
	if (w->count == 0 || w->first > MERKLE_MAX_SIZE - w->count)
		return KURA_EINVAL;
	if (!w->sth_at) {
		if ((r = kura_buf_append_uint(&w->buf, 0, 4)))
			return r;
		w->sth_at = w->buf.len - 4;
	}
	put_u32(w->buf.data + SEG_COUNT_AT, w->count);
	put_u32(w->buf.data + w->sth_at, w->nsth);
	return 0;
}

size_t kura_seg_size(const struct kura_seg_writer *w)
{
	return w->buf.len;
}

void kura_seg_release(struct kura_seg_writer *w)
{
	kura_buf_release_secret(&w->buf); /* content is patient data */
	memset(w, 0, sizeof(*w));
}

/* Parsing. */

static int get_chunked(struct kura_slice *s, struct kura_seg_entry *e)
{
	uint64_t total, n, sum = 0;
	const uint8_t *p;
	if (kura_slice_get_uint(s, 8, &total) || total > KURA_MAX_CONTENT ||
	    kura_slice_get_uint(s, 4, &n) || n < 1 || n > KURA_SEG_MAX_CHUNKS ||
	    kura_slice_get_bytes(s, (size_t)n * CHUNK_REF, &p))
		return KURA_ECORRUPT;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t len = get_be(p + i * CHUNK_REF + KURA_OBJ_ID_LEN, 4);
		if (len < 1 || len > KURA_CDC_MAX)
			return KURA_ECORRUPT;
		sum += len;
	}
	if (sum != total)
		return KURA_ECORRUPT;
	e->content_len = (size_t)total;
	e->nchunks = (uint32_t)n;
	e->chunks = p;
	return 0;
}

static int get_entry(struct kura_slice *s, struct kura_seg_entry *e)
{
	uint64_t kind, mode;
	struct kura_slice v;
	memset(e, 0, sizeof(*e));
	if (kura_slice_get_uint(s, 1, &kind) || (kind != KURA_SEG_VERSION && kind != KURA_SEG_EVENT) ||
	    kura_slice_get_vec(s, 4, &v) || !leaf_ok((int)kind, v.ptr, v.len))
		return KURA_ECORRUPT;
	e->kind = (int)kind;
	e->leaf = v.ptr;
	e->leaf_len = v.len;
	if (kind == KURA_SEG_EVENT)
		return 0;
	if (kura_slice_get_uint(s, 1, &mode))
		return KURA_ECORRUPT;
	e->mode = (int)mode;
	if (mode == KURA_SEG_NONE)
		return 0;
	if (mode == KURA_SEG_CHUNKED)
		return get_chunked(s, e);
	if (mode != KURA_SEG_INLINE || kura_slice_get_vec(s, 4, &v) || v.len > KURA_MAX_CONTENT)
		return KURA_ECORRUPT;
	e->content = v.ptr;
	e->content_len = v.len;
	return 0;
}

static int get_sth(struct kura_slice *s, struct kura_sth *sth)
{
	uint64_t size, t;
	const uint8_t *root, *sig;
	memset(sth, 0, sizeof(*sth));
	if (kura_slice_get_uint(s, 8, &size) || kura_slice_get_uint(s, 8, &t) ||
	    kura_slice_get_bytes(s, KURA_HASH_LEN, &root) ||
	    kura_slice_get_bytes(s, KURA_SIG_LEN, &sig))
		return KURA_ECORRUPT;
	sth->tree_size = size;
	sth->time_us = (int64_t)t;
	memcpy(sth->root, root, KURA_HASH_LEN);
	memcpy(sth->signature, sig, KURA_SIG_LEN);
	return 0;
}

static int walk_sths(struct kura_slice *s, kura_seg_sth_fn on_sth, void *ctx)
{
	uint64_t n, last = 0;
	struct kura_sth sth;
	int r;
	if (kura_slice_get_uint(s, 4, &n) || n > s->len / KURA_SEG_STH_LEN)
		return KURA_ECORRUPT;
	for (uint64_t i = 0; i < n; i++) {
		if (get_sth(s, &sth) || sth.tree_size > MERKLE_MAX_SIZE ||
		    (i && sth.tree_size <= last))
			return KURA_ECORRUPT;
		last = sth.tree_size;
		if (on_sth && (r = on_sth(ctx, &sth)))
			return r;
	}
	return 0;
}

static int walk(const uint8_t *p, size_t n, uint64_t *ret_first, uint32_t *ret_count,
		kura_seg_entry_fn on_entry, kura_seg_sth_fn on_sth, void *ctx)
{
	struct kura_slice s = kura_slice_make(p, n);
	struct kura_seg_entry e;
	const uint8_t *magic;
	uint64_t first, count;
	int r;
	*ret_first = 0;
	*ret_count = 0;
	if (kura_slice_get_bytes(&s, 4, &magic) || memcmp(magic, KURA_SEG_MAGIC, 4) ||
	    kura_slice_get_uint(&s, 8, &first) || kura_slice_get_uint(&s, 4, &count) ||
	    count < 1 || first > MERKLE_MAX_SIZE - count)
		return KURA_ECORRUPT;
	for (uint64_t i = 0; i < count; i++) {
		if (get_entry(&s, &e))
			return KURA_ECORRUPT;
		if (on_entry && (r = on_entry(ctx, first + i, &e)))
			return r;
	}
	if ((r = walk_sths(&s, on_sth, ctx)))
		return r;
	if (s.len)
		return KURA_ECORRUPT;
	*ret_first = first;
	*ret_count = (uint32_t)count;
	return 0;
}

/* Validate everything first, so no callback acts on a segment that turns
 * out to be damaged further on; then walk it again with the callbacks. */
int kura_seg_parse(const uint8_t *p, size_t n, uint64_t *ret_first, uint32_t *ret_count,
		   kura_seg_entry_fn on_entry, kura_seg_sth_fn on_sth, void *ctx)
{
	int r = walk(p, n, ret_first, ret_count, NULL, NULL, NULL);
	if (r || (!on_entry && !on_sth))
		return r;
	return walk(p, n, ret_first, ret_count, on_entry, on_sth, ctx);
}
