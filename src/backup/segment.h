/*
 * segment.h - a run of ledger leaves with their content, the plaintext of
 * a KURA_OBJ_SEGMENT object (docs/formats/backup.md §4).
 *
 *   segment = "KSG1" || first_leaf (u64) || count (u32)
 *             || count × entry || nsth (u32) || nsth × tree head
 *   entry   = kind (u8: 1 version, 2 event) || leaf (u32 length || bytes)
 *             version only: mode (u8)
 *               0 none (a retraction)      nothing more
 *               1 inline                    u32 length || content
 *               2 chunked                   u64 total || u32 n || n × (id (32) || u32 length)
 *   tree head = tree_size (u64) || time_us (i64) || root (32) || signature (64)
 *
 * All integers big-endian.  The leaf bytes are exactly the ledger's
 * (ledger/leaf.h, ledger/event.h), so the Merkle tree is rebuilt from
 * them bit for bit; content is the plaintext of the version.
 */
#ifndef KURA_BACKUP_SEGMENT_H
#define KURA_BACKUP_SEGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "backup/object.h"
#include "ledger/sth.h"
#include "util/buf.h"

#define KURA_SEG_MAGIC "KSG1"
/* A writer closes a segment once it holds this much (content included). */
#define KURA_SEG_TARGET (8u * 1024 * 1024)
/* Content up to this size is stored inline, larger content is chunked. */
#define KURA_SEG_INLINE_MAX (256u * 1024)
#define KURA_SEG_MAX_CHUNKS (1u << 20)
/* The longest ledger leaf a segment carries (a leaf's fields are capped
 * far below this by ledger/leaf.h and ledger/event.h). */
#define KURA_SEG_MAX_LEAF (64u * 1024)
/* The size of one tree head in a segment. */
#define KURA_SEG_STH_LEN (8 + 8 + KURA_HASH_LEN + KURA_SIG_LEN)

enum kura_seg_kind { KURA_SEG_VERSION = 1, KURA_SEG_EVENT = 2 };
enum kura_seg_mode { KURA_SEG_NONE = 0, KURA_SEG_INLINE = 1, KURA_SEG_CHUNKED = 2 };

struct kura_seg_chunk {
	uint8_t id[KURA_OBJ_ID_LEN];
	uint32_t len; /* plaintext length of the chunk */
};

/* One entry as read back: pointers into the segment's bytes (valid while
 * they are), chunks too (unaligned: copy with kura_seg_chunk_at). */
struct kura_seg_entry {
	int kind;
	const uint8_t *leaf;
	size_t leaf_len;
	int mode;
	const uint8_t *content; /* inline */
	size_t content_len;     /* inline: its length; chunked: the total */
	uint32_t nchunks;
	const uint8_t *chunks;  /* nchunks × 36 bytes */
};
void kura_seg_chunk_at(const struct kura_seg_entry *e, uint32_t i, struct kura_seg_chunk *ret);

/* Writing: begin, add entries in leaf order, add tree heads, finish. */
struct kura_seg_writer {
	struct kura_buf buf;
	uint64_t first;
	uint32_t count;
	uint32_t nsth;
	size_t sth_at; /* offset of the tree-head part once started */
};
void kura_seg_begin(struct kura_seg_writer *w, uint64_t first_leaf);
int kura_seg_add_event(struct kura_seg_writer *w, const uint8_t *leaf, size_t len);
/* mode KURA_SEG_NONE or KURA_SEG_INLINE (content, clen) or KURA_SEG_CHUNKED
 * (chunks[nchunks], clen = the total length). */
int kura_seg_add_version(struct kura_seg_writer *w, const uint8_t *leaf, size_t len, int mode,
			 const uint8_t *content, size_t clen, const struct kura_seg_chunk *chunks,
			 uint32_t nchunks);
/* After the last entry; tree heads in increasing tree_size. */
int kura_seg_add_sth(struct kura_seg_writer *w, const struct kura_sth *sth);
/* The finished bytes (w->buf holds them); size of the payload so far. */
int kura_seg_finish(struct kura_seg_writer *w);
size_t kura_seg_size(const struct kura_seg_writer *w);
void kura_seg_release(struct kura_seg_writer *w);

/* Reading: parse strictly (every length in bounds, kinds and modes known,
 * nothing left over); KURA_ECORRUPT otherwise.  The callbacks get each
 * entry in order with its leaf index, then each tree head (log_id is
 * left zero: the caller fills it from the public key).  A nonzero
 * return from a callback stops the walk and is passed back. */
typedef int (*kura_seg_entry_fn)(void *ctx, uint64_t leaf_index, const struct kura_seg_entry *e);
typedef int (*kura_seg_sth_fn)(void *ctx, const struct kura_sth *sth);
int kura_seg_parse(const uint8_t *p, size_t n, uint64_t *ret_first, uint32_t *ret_count,
		   kura_seg_entry_fn on_entry, kura_seg_sth_fn on_sth, void *ctx);

#endif
