/*
 * backup.c - what backups need from the vault (src/backup; BK-01, BK-05):
 * every leaf of a range of the ledger with its content decrypted (the
 * source of a generation), and a writer that rebuilds a vault from such
 * leaves (a restore), checking each version's content against the
 * commitment its leaf carries and each tree head against the rebuilt tree.
 */
#include <stdlib.h>
#include <string.h>

#include "ledger/ledger.h"
#include "ledger/merkle.h"
#include "util/err.h"
#include "vault/vault_int.h"
#include "util/banned.h"

/* Leaves are read in windows: the events of a window are buffered (as
 * their encoded bytes) and merged with the versions, which are streamed. */
#define LEAF_WINDOW 16384u
#define SCAN_STOP 1 /* a callback's "stop here", never passed back */

struct leaf_scan {
	struct kura_vault *v;
	uint64_t from, to;             /* the window */
	kura_leaf_fn cb;
	void *ctx;
	struct kura_buf events;        /* encoded events of the window */
	uint64_t *ev_index;            /* their leaf indexes */
	size_t *ev_end;                /* end offset of each in events */
	size_t nev, next_ev;
	struct kura_buf leaf, content, aad;
	struct kura_envelope_ctx *z;
	uint64_t expect;               /* the next leaf index due */
};

static int collect_event(void *ctx, const struct kura_event_row *row)
{
	struct leaf_scan *s = ctx;
	if (row->leaf_index >= s->to)
		return SCAN_STOP;
	if (s->nev == LEAF_WINDOW)
		return KURA_ECORRUPT;
	int r = kura_event_encode(&row->ev, &s->events);
	if (r)
		return r;
	s->ev_index[s->nev] = row->leaf_index;
	s->ev_end[s->nev++] = s->events.len;
	return 0;
}

/* Hand the buffered events before leaf index `before` to the callback. */
static int flush_events(struct leaf_scan *s, uint64_t before)
{
	while (s->next_ev < s->nev && s->ev_index[s->next_ev] < before) {
		size_t i = s->next_ev++;
		size_t start = i ? s->ev_end[i - 1] : 0;
		if (s->ev_index[i] != s->expect)
			return KURA_ECORRUPT; /* a gap: a leaf is missing from both tables */
		struct kura_vault_leaf l = {
			.index = s->ev_index[i],
			.kind = KURA_LEAF_AUDIT_EVENT,
			.leaf = s->events.data + start,
			.len = s->ev_end[i] - start,
		};
		int r = s->cb(s->ctx, &l);
		if (r)
			return r;
		s->expect++;
	}
	return 0;
}

static int visit_version(void *ctx, const struct kura_version_row *row)
{
	struct leaf_scan *s = ctx;
	const struct patient_keys *k;
	uint8_t sha[KURA_HASH_LEN], commit[KURA_HASH_LEN];
	if (row->leaf_index >= s->to)
		return SCAN_STOP;
	int r = flush_events(s, row->leaf_index);
	if (r)
		return r;
	if (row->leaf_index != s->expect)
		return KURA_ECORRUPT;
	kura_buf_reset(&s->leaf);
	kura_buf_reset(&s->content);
	r = kura_leaf_encode(&row->leaf, &s->leaf);
	struct kura_vault_leaf l = {
		.index = row->leaf_index,
		.kind = KURA_LEAF_RECORD_VERSION,
		.has_content = row->leaf.status != KURA_STATUS_ENTERED_IN_ERROR,
	};
	if (!r && l.has_content) {
		r = vault_patient_keys(s->v, row->leaf.patient_id, 0, &k);
		if (r == KURA_ENOTFOUND)
			r = KURA_ECORRUPT;
		kura_buf_reset(&s->aad);
		if (!r)
			r = kura_envelope_aad(row->leaf.record_id, row->leaf.version,
					      row->leaf.patient_id, &s->aad);
		if (!r)
			r = kura_envelope_open(s->z, k->enc, kura_buf_slice(&s->aad), row->sealed,
					       KURA_MAX_CONTENT, &s->content, sha);
		if (!r)
			r = vault_commitment(k, sha, commit);
		/* A backup must never carry content the ledger did not commit to. */
		if (!r && !kura_ct_equal(commit, row->leaf.commitment, KURA_HASH_LEN))
			r = KURA_ECORRUPT;
		if (r == KURA_ECRYPTO)
			r = KURA_ECORRUPT;
	}
	if (r)
		return r;
	l.leaf = s->leaf.data;
	l.len = s->leaf.len;
	l.content = s->content.data;
	l.content_len = s->content.len;
	l.row = row;
	r = s->cb(s->ctx, &l);
	s->expect++;
	kura_wipe(s->content.data, s->content.len);
	return r;
}

int kura_vault_leaves(struct kura_vault *v, uint64_t from, uint64_t to, kura_leaf_fn cb,
		      void *ctx)
{
	struct leaf_scan s = {.v = v, .cb = cb, .ctx = ctx, .expect = from};
	struct kura_store *st = v->store;
	int r = 0;
	kura_buf_init(&s.events, (size_t)LEAF_WINDOW * (KURA_MAX_LEAF + 16));
	kura_buf_init(&s.leaf, KURA_MAX_LEAF);
	kura_buf_init(&s.content, KURA_MAX_CONTENT);
	kura_buf_init(&s.aad, 1024);
	s.ev_index = calloc(LEAF_WINDOW, sizeof(*s.ev_index));
	s.ev_end = calloc(LEAF_WINDOW, sizeof(*s.ev_end));
	s.z = kura_envelope_ctx_new();
	if (!s.ev_index || !s.ev_end || !s.z)
		r = KURA_ENOMEM;
	for (uint64_t a = from; !r && a < to; a = s.to) {
		s.from = a;
		s.to = to - a > LEAF_WINDOW ? a + LEAF_WINDOW : to;
		s.nev = s.next_ev = 0;
		kura_buf_reset(&s.events);
		r = st->ops->event_scan(st, a, collect_event, &s);
		if (r == SCAN_STOP)
			r = 0;
		if (!r)
			r = st->ops->version_scan(st, a, visit_version, &s);
		if (r == SCAN_STOP)
			r = 0;
		if (!r)
			r = flush_events(&s, s.to);
		if (!r && s.expect != s.to)
			r = KURA_ECORRUPT; /* leaves missing at the end of the window */
	}
	kura_envelope_ctx_free(s.z);
	free(s.ev_index);
	free(s.ev_end);
	kura_buf_release(&s.events);
	kura_buf_release(&s.leaf);
	kura_buf_release_secret(&s.content);
	kura_buf_release(&s.aad);
	return r;
}

/* ---- restore ---- */

struct kura_restore_writer {
	struct kura_vault *v;
	struct merkle_range range;
	int in_txn;
	struct kura_buf sealed, aad;
	struct kura_envelope_ctx *z;
};

static int put_node(void *ctx, unsigned level, uint64_t index, const uint8_t hash[KURA_HASH_LEN])
{
	struct kura_store *s = ctx;
	return s->ops->node_put(s, level, index, hash);
}

int kura_restore_begin(struct kura_vault *v, struct kura_restore_writer **ret)
{
	struct kura_restore_writer *w = calloc(1, sizeof(*w));
	*ret = NULL;
	if (!w)
		return KURA_ENOMEM;
	w->v = v;
	merkle_range_init(&w->range);
	kura_buf_init(&w->sealed, KURA_MAX_CONTENT + 4096);
	kura_buf_init(&w->aad, 1024);
	w->z = kura_envelope_ctx_new();
	if (!w->z) {
		kura_restore_end(w);
		return KURA_ENOMEM;
	}
	*ret = w;
	return 0;
}

static int ensure_txn(struct kura_restore_writer *w)
{
	if (w->in_txn)
		return 0;
	int r = w->v->store->ops->txn_begin(w->v->store, 1);
	if (!r)
		w->in_txn = 1;
	return r;
}

static int restore_event(struct kura_restore_writer *w, const uint8_t *leaf, size_t len,
			 const uint8_t *content)
{
	struct kura_event_row row = {.leaf_index = w->range.size};
	int r = kura_event_decode(leaf, len, &row.ev);
	if (!r && content)
		r = KURA_ECORRUPT; /* an event has no content */
	return r ? r : w->v->store->ops->event_put(w->v->store, &row);
}

/* Seal content anew under the patient's key; it must give the commitment
 * the leaf carries (KURA_EVERIFY otherwise). */
static int reseal(struct kura_restore_writer *w, struct kura_version_row *row,
		  const uint8_t *content, size_t clen)
{
	const struct patient_keys *k;
	struct kura_leaf check = row->leaf;
	if (clen != row->leaf.content_length)
		return KURA_ECORRUPT;
	int r = vault_patient_keys(w->v, row->leaf.patient_id, 0, &k);
	if (r)
		return r == KURA_ENOTFOUND ? KURA_ECORRUPT : r; /* the snapshot lacks this key */
	kura_buf_reset(&w->sealed);
	r = vault_seal(w->z, k, &check, content, clen, &w->aad, &w->sealed);
	if (!r && !kura_ct_equal(check.commitment, row->leaf.commitment, KURA_HASH_LEN))
		r = KURA_EVERIFY;
	row->sealed = kura_buf_slice(&w->sealed);
	return r;
}

static int restore_version(struct kura_restore_writer *w, const uint8_t *leaf, size_t len,
			   const uint8_t *content, size_t clen)
{
	struct kura_version_row row = {.leaf_index = w->range.size};
	int r = kura_leaf_decode(leaf, len, &row.leaf);
	if (r)
		return r;
	int tomb = row.leaf.status == KURA_STATUS_ENTERED_IN_ERROR;
	if (tomb != !content)
		return KURA_ECORRUPT; /* content where none belongs, or none where it does */
	if (content && (r = reseal(w, &row, content, clen)))
		return r;
	return w->v->store->ops->version_put(w->v->store, &row);
}

int kura_restore_leaf(struct kura_restore_writer *w, const uint8_t *leaf, size_t len,
		      const uint8_t *content, size_t clen)
{
	uint8_t hash[KURA_HASH_LEN];
	int r = ensure_txn(w);
	if (!r)
		r = kura_leaf_kind(leaf, len) == KURA_LEAF_AUDIT_EVENT
			    ? restore_event(w, leaf, len, content)
			    : restore_version(w, leaf, len, content, clen);
	if (!r) {
		merkle_leaf_hash(leaf, len, hash);
		r = merkle_range_append(&w->range, hash, put_node, w->v->store);
	}
	return r;
}

int kura_restore_sth(struct kura_restore_writer *w, const struct kura_sth *sth)
{
	uint8_t root[KURA_HASH_LEN];
	int r = ensure_txn(w);
	if (r)
		return r;
	if (sth->tree_size > w->range.size)
		return KURA_ECORRUPT;
	if (kura_sth_verify(sth, w->v->pub))
		return KURA_EVERIFY;
	/* A segment lists its tree heads after its leaves: earlier sizes are
	 * checked against the stored nodes (uncommitted ones included). */
	if (sth->tree_size == w->range.size)
		merkle_range_root(&w->range, root);
	else if (sth->tree_size == 0)
		merkle_empty_root(root);
	else
		r = merkle_subtree_root(0, sth->tree_size, kura_ledger_get_node, w->v->store, root);
	if (r)
		return r;
	if (!kura_ct_equal(root, sth->root, KURA_HASH_LEN))
		return KURA_EVERIFY; /* the leaves do not reproduce the signed tree head */
	return w->v->store->ops->sth_put(w->v->store, sth);
}

uint64_t kura_restore_size(const struct kura_restore_writer *w)
{
	return w->range.size;
}

int kura_restore_commit(struct kura_restore_writer *w)
{
	if (!w->in_txn)
		return 0;
	w->in_txn = 0;
	return w->v->store->ops->txn_commit(w->v->store);
}

void kura_restore_end(struct kura_restore_writer *w)
{
	if (!w)
		return;
	if (w->in_txn)
		w->v->store->ops->txn_abort(w->v->store);
	kura_envelope_ctx_free(w->z);
	kura_buf_release(&w->sealed);
	kura_buf_release(&w->aad);
	free(w);
}
