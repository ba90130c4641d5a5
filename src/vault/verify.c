/*
 * verify.c - recomputes every claim of a vault (LG-02, AUTH-03/04): see
 * verify.h for the list.  One pass over the versions in leaf order gathers
 * leaf hashes; the tree, its heads and its stored nodes are then recomputed
 * from those hashes alone, so nothing stored is trusted.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/merkle.h"
#include "util/limits.h"
#include "vault/envelope.h"
#include "vault/verify.h"
#include "vault/vault_int.h"
#include "util/banned.h"

/* The last version seen of each record, for chain checks.  Ids and the
 * fields that never change are kept as 128-bit digests (SHA-256, cut), so
 * an entry is 72 bytes rather than 300: the table has a slot for twice the
 * versions, and at 200,000 versions the strings cost 150 MB. */
#define CHAIN_DIGEST 16
struct chain_entry {
	uint8_t used;
	uint8_t status;
	uint32_t version;
	uint8_t id[CHAIN_DIGEST];   /* of the record id */
	uint8_t meta[CHAIN_DIGEST]; /* of patient, type, content type */
	uint8_t hash[KURA_HASH_LEN];
};

/* Which version each leaf came from, to name it in node findings. */
struct leaf_ref {
	char record_id[KURA_MAX_ID + 1];
	uint32_t version;
};

#define VCHUNK 256 /* rows per content-check chunk */
/* ...and bytes: two chunks are in flight, each buffer doubles past its
 * need, so this bounds verify's memory (large documents) to ~4x it. */
#define VCHUNK_BYTES (8u * 1024 * 1024)

/* What the content check needs of a row (a whole leaf is 4.7 KB to copy). */
struct crow {
	uint64_t leaf_index;
	char record_id[KURA_MAX_ID + 1];
	char patient_id[KURA_MAX_ID + 1];
	uint32_t version;
	uint8_t status;
	uint64_t content_length;
	uint8_t commitment[KURA_HASH_LEN];
};

struct vchunk {
	size_t n;
	struct crow rows[VCHUNK];
	size_t off[VCHUNK], len[VCHUNK];      /* sealed bytes inside .sealed */
	struct kura_buf sealed;
	struct patient_keys *keys;            /* VCHUNK, locked memory */
	uint8_t key_ok[VCHUNK];
	unsigned bad[VCHUNK];                 /* BAD_* bits found by the worker */
	uint64_t bytes;
	int r;                                /* an error that stops verification */
	struct kura_envelope_ctx *z;
	struct kura_buf aad, content;
};

struct vctx {
	struct kura_vault *v;
	const struct kura_verify_opts *opts;
	struct kura_verify_report *rep;
	struct kura_sth *sths;
	size_t nsths;
	uint64_t size;          /* tree size of the latest head */
	uint8_t (*hashes)[KURA_HASH_LEN]; /* leaf hashes, index = leaf index */
	struct leaf_ref *refs;            /* same index */
	uint64_t next;          /* the leaf after the last row read (damage reports) */
	uint8_t *present;       /* per leaf: a row (version or event) claims it */
	struct chain_entry *chain;
	size_t chain_cap;       /* power of 2 */
	struct kura_buf leaf;
	struct vchunk *ch; /* two: one filled here, one checked by the worker */
	unsigned cur;
	pthread_t th;
	int busy;
	uint64_t total;
};

static void report(struct vctx *c, const char *code, const struct kura_version_row *row,
		   uint64_t tree_size, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void report(struct vctx *c, const char *code, const struct kura_version_row *row,
		   uint64_t tree_size, const char *fmt, ...)
{
	struct kura_verify_problem p;
	unsigned max = c->opts->max_problems ? c->opts->max_problems : 1000;
	c->rep->problems++;
	if (c->rep->problems > max || !c->opts->problem)
		return;
	memset(&p, 0, sizeof(p));
	p.code = code;
	p.leaf_index = row ? row->leaf_index : KURA_NO_LEAF;
	p.tree_size = tree_size;
	if (row) {
		memcpy(p.record_id, row->leaf.record_id, sizeof(p.record_id));
		p.version = row->leaf.version;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p.detail, sizeof(p.detail), fmt, ap);
	va_end(ap);
	c->opts->problem(c->opts->ctx, &p);
}

static int keep_sth(void *ctx, const struct kura_sth *sth)
{
	struct vctx *c = ctx;
	struct kura_sth *n = realloc(c->sths, (c->nsths + 1) * sizeof(*n));
	if (!n)
		return KURA_ENOMEM;
	c->sths = n;
	c->sths[c->nsths++] = *sth;
	return 0;
}

static int check_tree_heads(struct vctx *c)
{
	struct kura_store *s = c->v->store;
	int r = s->ops->sth_scan(s, keep_sth, c);
	if (r)
		return r;
	if (c->nsths == 0) {
		report(c, "sth-missing", NULL, 0, "the vault has no signed tree head");
		return 0;
	}
	for (size_t i = 0; i < c->nsths; i++) {
		const struct kura_sth *h = &c->sths[i];
		c->rep->tree_heads++;
		if (kura_sth_verify(h, c->v->pub))
			report(c, "sth-signature", NULL, h->tree_size,
			       "tree head at size %llu: signature does not verify",
			       (unsigned long long)h->tree_size);
		if (i && h->time_us < c->sths[i - 1].time_us)
			report(c, "sth-order", NULL, h->tree_size,
			       "tree head at size %llu is older than the one before it",
			       (unsigned long long)h->tree_size);
	}
	c->size = c->sths[c->nsths - 1].tree_size;
	c->rep->tree_size = c->size;
	return 0;
}

/* SHA-256 of NUL-separated strings, cut to CHAIN_DIGEST bytes. */
static void chain_digest(const char *a, const char *b, const char *d, uint8_t out[CHAIN_DIGEST])
{
	uint8_t h[KURA_HASH_LEN];
	struct kura_buf t;
	kura_buf_init(&t, 4 * (KURA_MAX_ID + KURA_MAX_TYPE + 2));
	kura_buf_append(&t, a, strlen(a) + 1);
	if (b) {
		kura_buf_append(&t, b, strlen(b) + 1);
		kura_buf_append(&t, d, strlen(d) + 1);
	}
	kura_sha256(t.data, t.len, h);
	memcpy(out, h, CHAIN_DIGEST);
	kura_buf_release(&t);
}

static size_t chain_slot(struct vctx *c, const uint8_t id[CHAIN_DIGEST])
{
	uint64_t h;
	memcpy(&h, id, sizeof(h));
	size_t i = (size_t)h & (c->chain_cap - 1);
	while (c->chain[i].used && memcmp(c->chain[i].id, id, CHAIN_DIGEST) != 0)
		i = (i + 1) & (c->chain_cap - 1);
	return i;
}

/* The writer rules of docs/formats/ledger.md §1 (AUTH-02, AUTH-06): a
 * confirmer only on a confirmed version, and proxy input confirmed only by
 * the person it was entered for. */
static void check_authors(struct vctx *c, const struct kura_version_row *row)
{
	const struct kura_leaf *l = &row->leaf;
	if (l->status != KURA_STATUS_CONFIRMED && l->confirmer[0])
		report(c, "authors", row, 0, "a version that is not confirmed names a confirmer");
	if (l->status == KURA_STATUS_CONFIRMED && !l->confirmer[0])
		report(c, "authors", row, 0, "a confirmed version names no confirmer");
	if (l->status == KURA_STATUS_CONFIRMED && l->on_behalf_of[0] &&
	    strcmp(l->confirmer, l->on_behalf_of) != 0)
		report(c, "authors", row, 0, "proxy input confirmed by someone other than the person "
					     "it was entered for (AUTH-06)");
}

/* Version numbers, links and status rules (AUTH-03..05). */
static void check_chain(struct vctx *c, const struct kura_version_row *row,
			const uint8_t hash[KURA_HASH_LEN])
{
	const struct kura_leaf *l = &row->leaf;
	uint8_t id[CHAIN_DIGEST], meta[CHAIN_DIGEST];
	chain_digest(l->record_id, NULL, NULL, id);
	chain_digest(l->patient_id, l->type, l->content_type, meta);
	struct chain_entry *e = &c->chain[chain_slot(c, id)];
	uint8_t zero[KURA_HASH_LEN] = {0};
	int seen = e->used;
	if (!seen && l->version != 1)
		report(c, "chain", row, 0, "version %u has no earlier versions", l->version);
	else if (seen && l->version != e->version + 1)
		report(c, "chain", row, 0, "version %u follows version %u", l->version, e->version);
	if (memcmp(l->previous, seen ? e->hash : zero, KURA_HASH_LEN) != 0)
		report(c, "chain", row, 0, "previous-version hash does not match");
	if (seen && e->status == KURA_STATUS_ENTERED_IN_ERROR)
		report(c, "after-retraction", row, 0, "a version follows a retraction");
	if (seen && memcmp(meta, e->meta, CHAIN_DIGEST) != 0)
		report(c, "chain", row, 0, "patient or type differs from earlier versions");
	e->used = 1;
	memcpy(e->id, id, CHAIN_DIGEST);
	memcpy(e->meta, meta, CHAIN_DIGEST);
	e->version = l->version;
	e->status = l->status;
	memcpy(e->hash, hash, KURA_HASH_LEN);
}

/*
 * Content checks run on a worker thread, one chunk of rows behind the
 * scan: the main thread reads rows (SQLite), checks leaves and chains and
 * copies each row, its sealed bytes and its patient's keys into a chunk;
 * the worker opens the boxes and records what it found; the main thread
 * reports it (report() is not shared).  Both cores work.
 */
enum {
	BAD_CIPHER = 1,    /* the box does not authenticate */
	BAD_HASH = 2,      /* it opens but its inside is inconsistent */
	BAD_COMMIT = 4,    /* content differs from the ledger's commitment */
	BAD_LENGTH = 8,    /* content length differs from the leaf */
	BAD_KEY = 16,      /* the patient's data key is missing or damaged */
	BAD_TOMBSTONE = 32 /* a retraction carries content */
};

static void check_one(struct vchunk *ch, size_t i)
{
	const struct crow *l = &ch->rows[i];
	uint8_t sha[KURA_HASH_LEN], commit[KURA_HASH_LEN], zero[KURA_HASH_LEN] = {0};
	struct kura_slice sealed = kura_slice_make(ch->sealed.data + ch->off[i], ch->len[i]);
	if (l->status == KURA_STATUS_ENTERED_IN_ERROR) {
		if (sealed.len || l->content_length || memcmp(l->commitment, zero, KURA_HASH_LEN))
			ch->bad[i] |= BAD_TOMBSTONE;
		return;
	}
	if (!ch->key_ok[i]) {
		ch->bad[i] |= BAD_KEY;
		return;
	}
	kura_buf_reset(&ch->aad);
	kura_buf_reset(&ch->content);
	int r = kura_envelope_aad(l->record_id, l->version, l->patient_id, &ch->aad);
	if (!r)
		r = kura_envelope_open(ch->z, ch->keys[i].enc, kura_buf_slice(&ch->aad), sealed,
				       KURA_MAX_CONTENT, &ch->content, sha);
	if (r == KURA_ECRYPTO || r == KURA_ECORRUPT) {
		ch->bad[i] |= r == KURA_ECRYPTO ? BAD_CIPHER : BAD_HASH;
		return;
	}
	if (r || (r = vault_commitment(&ch->keys[i], sha, commit))) {
		ch->r = r;
		return;
	}
	ch->bytes += ch->content.len;
	if (!kura_ct_equal(commit, l->commitment, KURA_HASH_LEN))
		ch->bad[i] |= BAD_COMMIT;
	if (ch->content.len != l->content_length)
		ch->bad[i] |= BAD_LENGTH;
}

static void *check_chunk(void *arg)
{
	struct vchunk *ch = arg;
	for (size_t i = 0; i < ch->n && !ch->r; i++)
		check_one(ch, i);
	return NULL;
}

static const struct {
	unsigned bit;
	const char *code, *detail;
} bad_text[] = {
	{BAD_CIPHER, "ciphertext", "ciphertext does not authenticate"},
	{BAD_HASH, "content-hash", "decrypted content does not match its hash"},
	{BAD_COMMIT, "commitment", "content does not match the ledger's commitment"},
	{BAD_LENGTH, "length", "content length differs from the ledger"},
	{BAD_KEY, "patient-key", "the patient's data key is missing or damaged"},
	{BAD_TOMBSTONE, "content", "a retraction carries content"},
};

static void report_row(struct vctx *c, const struct crow *cr, unsigned bad)
{
	struct kura_version_row row;
	memset(&row, 0, sizeof(row));
	row.leaf_index = cr->leaf_index;
	memcpy(row.leaf.record_id, cr->record_id, sizeof(cr->record_id));
	row.leaf.version = cr->version;
	for (size_t b = 0; b < sizeof(bad_text) / sizeof(bad_text[0]); b++)
		if (bad & bad_text[b].bit)
			report(c, bad_text[b].code, &row, 0, "%s", bad_text[b].detail);
}

static int report_chunk(struct vctx *c, struct vchunk *ch)
{
	for (size_t i = 0; i < ch->n; i++)
		if (ch->bad[i])
			report_row(c, &ch->rows[i], ch->bad[i]);
	c->rep->content_bytes += ch->bytes;
	kura_wipe(ch->keys, ch->n * sizeof(*ch->keys));
	int r = ch->r;
	ch->n = 0;
	ch->bytes = 0;
	ch->r = 0;
	kura_buf_reset(&ch->sealed);
	return r;
}

/* Wait for the worker's chunk and report it. */
static int wait_worker(struct vctx *c)
{
	if (!c->busy)
		return 0;
	pthread_join(c->th, NULL);
	c->busy = 0;
	return report_chunk(c, &c->ch[c->cur ^ 1]);
}

/* Hand the current chunk to the worker and start filling the other. */
static int flush_chunk(struct vctx *c)
{
	int r = wait_worker(c);
	struct vchunk *ch = &c->ch[c->cur];
	if (r || ch->n == 0)
		return r;
	if (pthread_create(&c->th, NULL, check_chunk, ch) == 0)
		c->busy = 1;
	else {
		check_chunk(ch); /* no thread to be had: check it here */
		return report_chunk(c, ch);
	}
	c->cur ^= 1;
	return 0;
}

static int queue_content(struct vctx *c, const struct kura_version_row *row)
{
	struct vchunk *ch = &c->ch[c->cur];
	const struct patient_keys *k;
	size_t i = ch->n;
	int r = 0;
	struct crow *cr = &ch->rows[i];
	cr->leaf_index = row->leaf_index;
	memcpy(cr->record_id, row->leaf.record_id, sizeof(cr->record_id));
	memcpy(cr->patient_id, row->leaf.patient_id, sizeof(cr->patient_id));
	cr->version = row->leaf.version;
	cr->status = row->leaf.status;
	cr->content_length = row->leaf.content_length;
	memcpy(cr->commitment, row->leaf.commitment, KURA_HASH_LEN);
	ch->off[i] = ch->sealed.len;
	ch->len[i] = row->sealed.len;
	ch->bad[i] = 0;
	ch->key_ok[i] = 0;
	if ((r = kura_buf_append(&ch->sealed, row->sealed.ptr, row->sealed.len)))
		return r;
	if (row->leaf.status != KURA_STATUS_ENTERED_IN_ERROR) {
		r = vault_patient_keys(c->v, row->leaf.patient_id, 0, &k);
		if (r == 0) {
			memcpy(&ch->keys[i], k, sizeof(*k));
			ch->key_ok[i] = 1;
		} else if (r != KURA_ENOTFOUND && r != KURA_ECORRUPT)
			return r;
	}
	ch->n++;
	/* Chunks are bounded by rows and by bytes (large documents). */
	return ch->n == VCHUNK || ch->sealed.len > VCHUNK_BYTES ? flush_chunk(c) : 0;
}

/* A leaf index claimed by a row: beyond the tree, or claimed twice. */
static int claim_leaf(struct vctx *c, const struct kura_version_row *row)
{
	if (row->leaf_index >= c->size) {
		report(c, "leaf-extra", row, 0, "a row is beyond the signed tree (inserted row?)");
		return 0;
	}
	if (c->present[row->leaf_index]) {
		report(c, "leaf-duplicate", row, 0, "two rows claim the same leaf (inserted row?)");
		return 0;
	}
	c->present[row->leaf_index] = 1;
	c->next = row->leaf_index + 1;
	return 1;
}

static void note_missing(struct vctx *c)
{
	for (uint64_t i = 0; i < c->size; i++) {
		if (c->present[i])
			continue;
		struct kura_version_row none;
		memset(&none, 0, sizeof(none));
		none.leaf_index = i;
		report(c, "leaf-missing", &none, 0,
		       "leaf %llu has no record version or audit event (deleted row?)",
		       (unsigned long long)i);
	}
}

static int check_row(void *ctx, const struct kura_version_row *row)
{
	struct vctx *c = ctx;
	uint8_t h[KURA_HASH_LEN];
	c->rep->versions++;
	if (!claim_leaf(c, row))
		return 0;
	kura_buf_reset(&c->leaf);
	if (kura_leaf_encode(&row->leaf, &c->leaf)) {
		report(c, "leaf-encoding", row, 0, "version fields are out of range");
		return 0;
	}
	merkle_leaf_hash(c->leaf.data, c->leaf.len, h);
	memcpy(c->hashes[row->leaf_index], h, KURA_HASH_LEN);
	memcpy(c->refs[row->leaf_index].record_id, row->leaf.record_id, sizeof(row->leaf.record_id));
	c->refs[row->leaf_index].version = row->leaf.version;
	check_chain(c, row, h);
	check_authors(c, row);
	int r = queue_content(c, row);
	if (c->opts->progress && (c->rep->versions & 1023) == 0)
		c->opts->progress(c->opts->ctx, c->rep->versions, c->total);
	return r;
}

static int unreadable_row(struct vctx *c, int r, uint64_t index)
{
	struct kura_version_row none;
	memset(&none, 0, sizeof(none));
	none.leaf_index = index;
	report(c, "row-damaged", &none, 0, "a version row cannot be read: %s", kura_strerror(r));
	return 0;
}

static int check_versions(struct vctx *c)
{
	struct kura_store *s = c->v->store;
	int r = s->ops->version_scan(s, 0, check_row, c);
	/* A damaged row stops SQLite's cursor and the store cannot skip it:
	 * report it, finish the rows already queued, and stop the scan. */
	int damaged = r == KURA_ECORRUPT;
	if (damaged)
		r = unreadable_row(c, r, c->next);
	if (!r)
		r = flush_chunk(c);
	if (!r)
		r = wait_worker(c);
	return r;
}

/* Audit events are leaves too (LG-02): each row must re-encode to the leaf
 * the tree holds, like a version. */
static int check_event(void *ctx, const struct kura_event_row *ev)
{
	struct vctx *c = ctx;
	struct kura_version_row row;
	memset(&row, 0, sizeof(row));
	row.leaf_index = ev->leaf_index;
	c->rep->events++;
	if (!claim_leaf(c, &row))
		return 0;
	kura_buf_reset(&c->leaf);
	if (kura_event_encode(&ev->ev, &c->leaf)) {
		report(c, "event-encoding", &row, 0, "audit event fields are out of range");
		return 0;
	}
	merkle_leaf_hash(c->leaf.data, c->leaf.len, c->hashes[ev->leaf_index]);
	memcpy(c->refs[ev->leaf_index].record_id, "(audit event)", 14);
	return 0;
}

static int check_events(struct vctx *c)
{
	struct kura_store *s = c->v->store;
	int r = s->ops->event_scan(s, 0, check_event, c);
	if (r == KURA_ECORRUPT) {
		struct kura_version_row none;
		memset(&none, 0, sizeof(none));
		none.leaf_index = KURA_NO_LEAF;
		report(c, "row-damaged", &none, 0, "an audit event row cannot be read");
		return 0;
	}
	if (!r)
		note_missing(c);
	return r;
}

static void bad_state(void *ctx, const char *row)
{
	report(ctx, "state-mac", NULL, 0,
	       "state row '%s' does not carry the vault's MAC (edited outside kura?)", row);
}

static int check_state(struct vctx *c)
{
	return kura_state_check(c->v, bad_state, c, &c->rep->state_rows);
}

/* Recompute the root at every signed size from the leaf hashes. */
static void check_roots(struct vctx *c)
{
	struct merkle_range range;
	uint8_t root[KURA_HASH_LEN];
	size_t i = 0;
	merkle_range_init(&range);
	for (uint64_t n = 0;; n++) {
		for (; i < c->nsths && c->sths[i].tree_size == n; i++) {
			merkle_range_root(&range, root);
			if (!kura_ct_equal(root, c->sths[i].root, KURA_HASH_LEN))
				report(c, "sth-root", NULL, n,
				       "tree head at size %llu does not match the leaves",
				       (unsigned long long)n);
		}
		if (n >= c->size || i >= c->nsths)
			break;
		merkle_range_append(&range, c->hashes[n], NULL, NULL);
	}
	for (; i < c->nsths; i++)
		report(c, "sth-order", NULL, c->sths[i].tree_size, "tree heads are out of order");
}

/* Stored perfect nodes are compared level by level with ones recomputed
 * from the leaf hashes; the scan comes in (level, index) order. */
struct node_ctx {
	struct vctx *c;
	unsigned level;
	uint8_t (*cur)[KURA_HASH_LEN];
	uint64_t count, seen;
};

static int node_next_level(struct node_ctx *n)
{
	uint64_t half = n->count / 2;
	for (uint64_t i = 0; i < half; i++)
		merkle_node_hash(n->cur[2 * i], n->cur[2 * i + 1], n->cur[i]);
	n->level++;
	n->count = half;
	n->seen = 0;
	return 0;
}

static void node_level_done(struct node_ctx *n)
{
	if (n->seen < n->count)
		report(n->c, "node-missing", NULL, 0, "%llu stored tree nodes missing at level %u",
		       (unsigned long long)(n->count - n->seen), n->level);
}

static int check_node(void *ctx, unsigned level, uint64_t index, const uint8_t hash[KURA_HASH_LEN])
{
	struct node_ctx *n = ctx;
	while (n->level < level && n->count > 0) {
		node_level_done(n);
		node_next_level(n);
	}
	n->c->rep->nodes++;
	if (level != n->level || index >= n->count) {
		report(n->c, "node-extra", NULL, 0, "stored tree node (%u, %llu) is outside the tree",
		       level, (unsigned long long)index);
		return 0;
	}
	n->seen++;
	if (kura_ct_equal(hash, n->cur[index], KURA_HASH_LEN))
		return 0;
	if (level == 0 && strcmp(n->c->refs[index].record_id, "(audit event)") == 0) {
		struct kura_version_row row;
		memset(&row, 0, sizeof(row));
		row.leaf_index = index;
		report(n->c, "event-hash", &row, 0,
		       "the audit event row does not match its ledger leaf (edited row?)");
	} else if (level == 0 && n->c->refs[index].record_id[0]) {
		/* The row re-encodes to a different leaf than the one the tree
		 * holds: this version's stored fields were changed. */
		struct kura_version_row row;
		memset(&row, 0, sizeof(row));
		row.leaf_index = index;
		memcpy(row.leaf.record_id, n->c->refs[index].record_id, sizeof(row.leaf.record_id));
		row.leaf.version = n->c->refs[index].version;
		report(n->c, "leaf-hash", &row, 0,
		       "the version row does not match its ledger leaf (edited row?)");
	} else
		report(n->c, "node", NULL, 0, "stored tree node (%u, %llu) does not match the leaves",
		       level, (unsigned long long)index);
	return 0;
}

static int check_nodes(struct vctx *c)
{
	struct node_ctx n = {c, 0, NULL, c->size, 0};
	int r = 0;
	if (c->size) {
		n.cur = malloc(c->size * KURA_HASH_LEN);
		if (!n.cur)
			return KURA_ENOMEM;
		memcpy(n.cur, c->hashes, c->size * KURA_HASH_LEN);
	}
	r = c->v->store->ops->node_scan(c->v->store, check_node, &n);
	while (!r && n.count > 0) {
		node_level_done(&n);
		node_next_level(&n);
	}
	free(n.cur);
	return r;
}

/* A tree head saved elsewhere must be ours and a prefix of this tree. */
static void check_against(struct vctx *c, const struct kura_sth *old)
{
	struct merkle_range range;
	uint8_t root[KURA_HASH_LEN];
	if (kura_sth_verify(old, c->v->pub)) {
		report(c, "against-key", NULL, old->tree_size,
		       "the saved tree head is not signed by this vault's ledger key "
		       "(vault replaced or rebuilt?)");
		return;
	}
	if (old->tree_size > c->size) {
		report(c, "against-rollback", NULL, old->tree_size,
		       "the vault has %llu leaves but a saved tree head has %llu (rolled back?)",
		       (unsigned long long)c->size, (unsigned long long)old->tree_size);
		return;
	}
	merkle_range_init(&range);
	for (uint64_t i = 0; i < old->tree_size; i++)
		merkle_range_append(&range, c->hashes[i], NULL, NULL);
	merkle_range_root(&range, root);
	if (!kura_ct_equal(root, old->root, KURA_HASH_LEN))
		report(c, "against-root", NULL, old->tree_size,
		       "the first %llu leaves differ from the saved tree head (history rewritten)",
		       (unsigned long long)old->tree_size);
}

static int check_store(struct vctx *c)
{
	struct kura_buf msg;
	kura_buf_init(&msg, 4096);
	int r = c->v->store->ops->check(c->v->store, &msg);
	if (r == KURA_ECORRUPT)
		report(c, "store-damaged", NULL, 0, "database structure is damaged: %s",
		       msg.data ? (char *)msg.data : "unknown");
	kura_buf_release(&msg);
	return r == KURA_ECORRUPT ? 0 : r;
}

static int vctx_init(struct vctx *c)
{
	struct kura_store *s = c->v->store;
	uint64_t events = 0;
	int r = s->ops->version_count(s, &c->total);
	if (!r)
		r = s->ops->event_count(s, &events);
	if (r)
		return r;
	c->total += events;
	/* The latest tree head's size decides how much is allocated below; a
	 * forged head must not make that unbounded.  Rows can be missing (a
	 * deletion is reported leaf by leaf), but not most of them. */
	if (c->size > 2 * c->total + 1024) {
		report(c, "sth-size", NULL, c->size,
		       "the latest tree head claims %llu leaves but the vault holds %llu versions",
		       (unsigned long long)c->size, (unsigned long long)c->total);
		c->size = c->total;
	}
	c->chain_cap = 16;
	while (c->chain_cap < 2 * c->total + 2)
		c->chain_cap *= 2;
	c->chain = calloc(c->chain_cap, sizeof(*c->chain));
	c->hashes = calloc(c->size ? c->size : 1, KURA_HASH_LEN);
	c->refs = calloc(c->size ? c->size : 1, sizeof(*c->refs));
	c->present = calloc(c->size ? c->size : 1, 1);
	kura_buf_init(&c->leaf, 16384);
	c->ch = calloc(2, sizeof(*c->ch));
	if (!c->chain || !c->hashes || !c->refs || !c->ch || !c->present)
		return KURA_ENOMEM;
	for (int i = 0; i < 2; i++) {
		struct vchunk *ch = &c->ch[i];
		kura_buf_init(&ch->sealed, (size_t)VCHUNK * (KURA_MAX_CONTENT + 65536));
		kura_buf_init(&ch->aad, 1024);
		kura_buf_init(&ch->content, KURA_MAX_CONTENT + 1);
		ch->z = kura_envelope_ctx_new();
		ch->keys = kura_secret_alloc(VCHUNK * sizeof(*ch->keys));
		if (!ch->z || !ch->keys)
			return KURA_ENOMEM;
	}
	return 0;
}

static void vctx_release(struct vctx *c)
{
	free(c->sths);
	free(c->hashes);
	free(c->refs);
	free(c->present);
	free(c->chain);
	kura_buf_release(&c->leaf);
	if (c->busy)
		pthread_join(c->th, NULL);
	for (int i = 0; c->ch && i < 2; i++) {
		kura_buf_release(&c->ch[i].sealed);
		kura_buf_release(&c->ch[i].aad);
		kura_buf_release_secret(&c->ch[i].content);
		kura_envelope_ctx_free(c->ch[i].z);
		kura_secret_free(c->ch[i].keys);
	}
	free(c->ch);
}

int kura_vault_verify(struct kura_vault *v, const struct kura_verify_opts *opts,
		      struct kura_verify_report *ret)
{
	struct vctx c;
	memset(&c, 0, sizeof(c));
	memset(ret, 0, sizeof(*ret));
	c.v = v;
	c.opts = opts;
	c.rep = ret;
	/* One read transaction: in WAL mode every step below sees the same
	 * snapshot, so a writer committing meanwhile is not mistaken for
	 * tampering. */
	struct kura_store *s = v->store;
	int r = s->ops->txn_begin(s, 0);
	if (r)
		return r;
	r = check_store(&c);
	if (!r)
		r = check_tree_heads(&c);
	if (!r)
		r = vctx_init(&c);
	if (!r)
		r = check_versions(&c);
	if (!r)
		r = check_events(&c);
	if (!r)
		r = check_state(&c);
	if (!r)
		check_roots(&c);
	if (!r)
		r = check_nodes(&c);
	if (!r && opts->against)
		check_against(&c, opts->against);
	if (!r && opts->progress)
		opts->progress(opts->ctx, ret->versions, c.total);
	vctx_release(&c);
	s->ops->txn_abort(s);
	if (!r && ret->problems)
		r = KURA_EVERIFY;
	return r;
}
