/*
 * record.c - writing and reading record versions (AUTH-01..06): every write
 * appends versions as ledger leaves inside one durable transaction; nothing
 * is ever updated in place.
 */
#include <stdlib.h>
#include <string.h>

#include "fhir/import.h"
#include "fhir/jspan.h"
#include "ledger/merkle.h"
#include "util/limits.h"
#include "util/time.h"
#include "vault/envelope.h"
#include "vault/vault_int.h"
#include "util/banned.h"

int vault_new_record_id(char out[KURA_RECORD_ID_LEN + 1])
{
	uint8_t b[16];
	uint64_t ms = (uint64_t)(kura_time_now_us() / 1000);
	kura_random(b, sizeof(b));
	for (int i = 0; i < 6; i++)
		b[i] = (uint8_t)(ms >> (8 * (5 - i)));
	b[6] = (uint8_t)(0x70 | (b[6] & 0x0f)); /* version 7 */
	b[8] = (uint8_t)(0x80 | (b[8] & 0x3f)); /* RFC 9562 variant */
	char hex[33];
	kura_hex_encode(b, sizeof(b), hex);
	int o = 0;
	for (int i = 0; i < 32; i++) {
		if (i == 8 || i == 12 || i == 16 || i == 20)
			out[o++] = '-';
		out[o++] = hex[i];
	}
	out[o] = 0;
	return 0;
}

static void batch_release(struct vault_batch *b)
{
	kura_buf_release(&b->leaf);
	kura_buf_release(&b->aad);
	kura_buf_release(&b->sealed);
}

int vault_batch_begin(struct vault_batch *b, struct kura_vault *v)
{
	memset(b, 0, sizeof(*b));
	b->v = v;
	kura_buf_init(&b->leaf, 16384);
	kura_buf_init(&b->aad, 1024);
	kura_buf_init(&b->sealed, KURA_MAX_CONTENT + 4096);
	b->zctx = vault_zctx(v);
	int r = v->readonly ? KURA_EDENIED : v->store->ops->txn_begin(v->store, 1);
	if (r) {
		batch_release(b);
		return r;
	}
	r = kura_ledger_begin(&b->lg, v->store);
	if (r)
		vault_batch_abort(b);
	return r;
}


void vault_batch_abort(struct vault_batch *b)
{
	struct kura_vault *v = b->v;
	v->store->ops->txn_abort(v->store);
	/* Patient keys made in this transaction are gone with it: forget every
	 * cached key so none that was never stored can be used again. */
	kura_wipe(v->sec->cache, sizeof(v->sec->cache));
	batch_release(b);
}

int vault_batch_commit(struct vault_batch *b, struct kura_sth *ret_sth)
{
	struct kura_vault *v = b->v;
	/* A transaction that only changed state (no leaf) signs no new tree
	 * head: the tree did not grow.  ret_sth gets the current one. */
	int r = b->lg.range.size == b->lg.start_size
			? v->store->ops->sth_latest(v->store, ret_sth)
			: kura_ledger_seal(&b->lg, v->sec->sign_seed, v->pub, ret_sth);
	if (!r)
		r = v->store->ops->txn_commit(v->store);
	if (r) {
		vault_batch_abort(b);
		return r;
	}
	batch_release(b);
	return 0;
}

int vault_seal(struct kura_envelope_ctx *z, const struct patient_keys *k, struct kura_leaf *l,
	       const uint8_t *content, size_t len, struct kura_buf *aad, struct kura_buf *out)
{
	uint8_t sha[KURA_HASH_LEN];
	kura_buf_reset(aad);
	int r = kura_envelope_aad(l->record_id, l->version, l->patient_id, aad);
	if (!r)
		r = kura_envelope_seal(z, k->enc, kura_buf_slice(aad), content, len, out, sha);
	if (!r)
		r = vault_commitment(k, sha, l->commitment);
	kura_wipe(sha, sizeof(sha));
	l->content_length = len;
	return r;
}

int vault_batch_finish(struct vault_batch *b, int r, struct kura_sth *ret_sth)
{
	if (r) {
		vault_batch_abort(b);
		return r;
	}
	return vault_batch_commit(b, ret_sth);
}

/* Encrypt content and fill the leaf's commitment and length. */
static int seal_content(struct vault_batch *b, struct kura_leaf *l, const uint8_t *content,
			size_t len)
{
	const struct patient_keys *k;
	int r = vault_patient_keys(b->v, l->patient_id, 1, &k);
	return r ? r : vault_seal(b->zctx, k, l, content, len, &b->aad, &b->sealed);
}

int vault_batch_append(struct vault_batch *b, const struct kura_leaf *l,
		       struct kura_slice sealed, struct kura_written *ret)
{
	struct kura_version_row row;
	kura_buf_reset(&b->leaf);
	int r = kura_leaf_encode(l, &b->leaf);
	if (r)
		return r;
	memset(&row, 0, sizeof(row));
	row.leaf = *l;
	row.sealed = sealed;
	r = kura_ledger_append(&b->lg, b->leaf.data, b->leaf.len, &row.leaf_index,
			       ret->leaf_hash);
	if (!r)
		r = b->v->store->ops->version_put(b->v->store, &row);
	if (r)
		return r;
	memcpy(ret->record_id, l->record_id, strlen(l->record_id) + 1);
	ret->version = l->version;
	ret->leaf_index = row.leaf_index;
	b->count++;
	return 0;
}

int vault_batch_add(struct vault_batch *b, struct kura_leaf *l, const uint8_t *content,
		    size_t len, struct kura_written *ret)
{
	int r = 0;
	if (len > KURA_MAX_CONTENT)
		return KURA_ETOOBIG;
	kura_buf_reset(&b->sealed);
	l->time_us = kura_time_now_us();
	memset(l->commitment, 0, KURA_HASH_LEN);
	l->content_length = 0;
	if (content)
		r = seal_content(b, l, content, len);
	return r ? r : vault_batch_append(b, l, kura_buf_slice(&b->sealed), ret);
}

static int copy_field(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strlen(src) : 0;
	if (n >= cap)
		return KURA_EINVAL;
	if (n)
		memcpy(dst, src, n);
	dst[n] = 0;
	return 0;
}

/* Who and why, common to every kind of write (vault_int.h). */
static int check_authors(const struct kura_write *w)
{
	int proxy = w->on_behalf_of && *w->on_behalf_of;
	if (!w->actor || !kura_valid_id(w->actor) || (proxy && !kura_valid_id(w->on_behalf_of)) ||
	    (w->reason && !kura_utf8_text_valid(w->reason)))
		return KURA_EINVAL;
	if (w->confirm && proxy && strcmp(w->on_behalf_of, w->actor) != 0)
		return KURA_EDENIED;
	return 0;
}

int vault_fill_authors(struct kura_leaf *l, const struct kura_write *w)
{
	int r = check_authors(w);
	if (r)
		return r;
	if (copy_field(l->inputter, sizeof(l->inputter), w->actor) ||
	    copy_field(l->on_behalf_of, sizeof(l->on_behalf_of), w->on_behalf_of) ||
	    copy_field(l->reason, sizeof(l->reason), w->reason))
		return KURA_EINVAL;
	l->status = w->confirm ? KURA_STATUS_CONFIRMED : KURA_STATUS_DRAFT;
	if (w->confirm)
		memcpy(l->confirmer, l->inputter, sizeof(l->confirmer));
	return 0;
}

/* The event a write carries (kura_write.audit), completed with what was
 * written, appended in the same batch. */
static int audit_write(struct vault_batch *b, const struct kura_write *w,
		       const struct kura_leaf *l, const struct kura_written *done)
{
	if (!w->audit)
		return 0;
	struct kura_event e = *w->audit;
	memcpy(e.patient_id, l->patient_id, sizeof(e.patient_id));
	memcpy(e.record_id, done->record_id, sizeof(done->record_id));
	e.version = done->version;
	return vault_batch_event(b, &e, NULL);
}

int vault_batch_event(struct vault_batch *b, const struct kura_event *e, uint64_t *ret_index)
{
	struct kura_event_row row;
	uint8_t hash[KURA_HASH_LEN];
	kura_buf_reset(&b->leaf);
	int r = kura_event_encode(e, &b->leaf);
	if (r)
		return r;
	row.ev = *e;
	r = kura_ledger_append(&b->lg, b->leaf.data, b->leaf.len, &row.leaf_index, hash);
	if (!r)
		r = b->v->store->ops->event_put(b->v->store, &row);
	if (!r && ret_index)
		*ret_index = row.leaf_index;
	return r;
}

int kura_txn_begin(struct kura_vault *v, struct kura_txn **ret)
{
	struct kura_txn *t = calloc(1, sizeof(*t));
	*ret = NULL;
	if (!t)
		return KURA_ENOMEM;
	int r = vault_batch_begin(&t->b, v);
	if (r) {
		free(t);
		return r;
	}
	*ret = t;
	return 0;
}

int kura_txn_commit(struct kura_txn *t, struct kura_sth *ret_sth)
{
	struct kura_sth sth;
	int r = vault_batch_commit(&t->b, ret_sth ? ret_sth : &sth);
	free(t);
	return r;
}

void kura_txn_abort(struct kura_txn *t)
{
	if (!t)
		return;
	vault_batch_abort(&t->b);
	free(t);
}

struct kura_vault *kura_txn_vault(struct kura_txn *t)
{
	return t->b.v;
}

int kura_txn_event(struct kura_txn *t, const struct kura_event *e, uint64_t *ret_index)
{
	return vault_batch_event(&t->b, e, ret_index);
}

int kura_txn_put(struct kura_txn *t, const char *patient, const char *type,
		 const char *content_type, const uint8_t *content, size_t len,
		 const struct kura_write *w, struct kura_written *ret)
{
	struct kura_leaf l;
	memset(&l, 0, sizeof(l));
	memset(ret, 0, sizeof(*ret));
	if (copy_field(l.patient_id, sizeof(l.patient_id), patient) ||
	    copy_field(l.type, sizeof(l.type), type) ||
	    copy_field(l.content_type, sizeof(l.content_type), content_type) || !*patient ||
	    !*type)
		return KURA_EINVAL;
	int r = vault_fill_authors(&l, w);
	if (!r)
		r = kura_fhir_check_content(type, content, len);
	if (r)
		return r;
	vault_new_record_id(l.record_id);
	l.version = 1;
	r = vault_batch_add(&t->b, &l, content, len, ret);
	return r ? r : audit_write(&t->b, w, &l, ret);
}

int kura_txn_finish(struct kura_txn *t, int r, struct kura_sth *ret_sth)
{
	if (r) {
		kura_txn_abort(t);
		return r;
	}
	return kura_txn_commit(t, ret_sth);
}

int kura_vault_put(struct kura_vault *v, const char *patient, const char *type,
		   const char *content_type, const uint8_t *content, size_t len,
		   const struct kura_write *w, struct kura_written *ret)
{
	struct kura_txn *t;
	memset(ret, 0, sizeof(*ret));
	int r = kura_txn_begin(v, &t);
	if (r)
		return r;
	r = kura_txn_put(t, patient, type, content_type, content, len, w, ret);
	return kura_txn_finish(t, r, &ret->sth);
}

struct latest_ctx {
	struct kura_version_row row;
	int found;
};

static int keep_row(void *ctx, const struct kura_version_row *row)
{
	struct latest_ctx *c = ctx;
	c->row = *row;
	c->row.sealed = kura_slice_make(NULL, 0); /* not valid after the callback */
	c->found = 1;
	return 0;
}

/* Inside a write transaction: the latest version of a record and its hash,
 * to chain the next version to. */
static int next_from_latest(struct vault_batch *b, const char *record_id,
			    struct kura_leaf *next, struct kura_leaf *ret_latest)
{
	struct kura_store *s = b->v->store;
	struct latest_ctx c = {.found = 0};
	int r = s->ops->version_get(s, record_id, 0, keep_row, &c);
	if (r)
		return r;
	*ret_latest = c.row.leaf;
	if (c.row.leaf.status == KURA_STATUS_ENTERED_IN_ERROR)
		return KURA_ESTATE;
	/* Fail closed: the latest row must still be the leaf the tree holds,
	 * or the new version would chain to (and a new tree head certify)
	 * an edited row. */
	uint8_t stored[KURA_HASH_LEN];
	kura_buf_reset(&b->leaf);
	r = kura_leaf_encode(&c.row.leaf, &b->leaf);
	if (!r)
		r = s->ops->node_get(s, 0, c.row.leaf_index, stored);
	if (r)
		return r == KURA_EINVAL || r == KURA_ENOTFOUND ? KURA_ECORRUPT : r;
	merkle_leaf_hash(b->leaf.data, b->leaf.len, next->previous);
	if (!kura_ct_equal(stored, next->previous, KURA_HASH_LEN))
		return KURA_ECORRUPT;
	memcpy(next->record_id, c.row.leaf.record_id, sizeof(next->record_id));
	memcpy(next->patient_id, c.row.leaf.patient_id, sizeof(next->patient_id));
	memcpy(next->type, c.row.leaf.type, sizeof(next->type));
	memcpy(next->content_type, c.row.leaf.content_type, sizeof(next->content_type));
	next->version = c.row.leaf.version + 1;
	return 0;
}

enum change_kind { CHANGE_AMEND, CHANGE_CONFIRM, CHANGE_RETRACT };

struct change {
	enum change_kind kind;
	const uint8_t *content;
	size_t len;
};

/* For confirm: the draft's content, decrypted inside the transaction. */
static int draft_content(struct vault_batch *b, const struct kura_leaf *latest,
			 struct kura_buf *out)
{
	struct kura_leaf l;
	if (latest->status != KURA_STATUS_DRAFT)
		return KURA_ESTATE;
	return kura_vault_get(b->v, latest->record_id, latest->version, &l, out);
}

/* Confirmation (AUTH-02/06): a new version with the draft's content and
 * authors, confirmed by the actor, who must be the person a proxy draft
 * was entered for. */
static int add_confirmation(struct vault_batch *b, struct kura_leaf *l,
			    const struct kura_leaf *latest, const char *actor,
			    struct kura_written *ret)
{
	struct kura_buf content;
	if (latest->on_behalf_of[0] && strcmp(latest->on_behalf_of, actor) != 0)
		return KURA_EDENIED;
	kura_buf_init(&content, KURA_MAX_CONTENT);
	int r = draft_content(b, latest, &content);
	memcpy(l->confirmer, l->inputter, sizeof(l->confirmer));
	memcpy(l->inputter, latest->inputter, sizeof(l->inputter));
	memcpy(l->on_behalf_of, latest->on_behalf_of, sizeof(l->on_behalf_of));
	l->status = KURA_STATUS_CONFIRMED;
	if (!r)
		r = vault_batch_add(b, l, content.data ? content.data : (const uint8_t *)"",
				    content.len, ret);
	kura_buf_release_secret(&content);
	return r;
}

static int apply_change(struct vault_batch *b, const char *record_id, const struct change *c,
			const struct kura_write *w, struct kura_written *ret)
{
	struct kura_leaf l, latest;
	memset(&l, 0, sizeof(l));
	int r = next_from_latest(b, record_id, &l, &latest);
	if (!r)
		r = vault_fill_authors(&l, w);
	if (r)
		return r;
	switch (c->kind) {
	case CHANGE_AMEND:
		r = kura_fhir_check_content(l.type, c->content, c->len);
		return r ? r : vault_batch_add(b, &l, c->content, c->len, ret);
	case CHANGE_RETRACT:
		l.status = KURA_STATUS_ENTERED_IN_ERROR;
		l.confirmer[0] = 0;
		return vault_batch_add(b, &l, NULL, 0, ret);
	case CHANGE_CONFIRM:
		return add_confirmation(b, &l, &latest, w->actor, ret);
	}
	return KURA_EINTERNAL;
}

static int txn_change(struct kura_txn *t, const char *record_id, const struct change *c,
		      const struct kura_write *w, struct kura_written *ret)
{
	struct kura_leaf l;
	memset(ret, 0, sizeof(*ret));
	if (c->kind != CHANGE_CONFIRM && (!w->reason || !*w->reason))
		return KURA_EINVAL;
	int r = apply_change(&t->b, record_id, c, w, ret);
	if (r || !w->audit)
		return r;
	r = kura_txn_locate(t, ret->record_id, ret->version, &l);
	return r ? r : audit_write(&t->b, w, &l, ret);
}

int kura_txn_amend(struct kura_txn *t, const char *record_id, const uint8_t *content,
		   size_t len, const struct kura_write *w, struct kura_written *ret)
{
	struct change c = {CHANGE_AMEND, content, len};
	return txn_change(t, record_id, &c, w, ret);
}

int kura_txn_confirm(struct kura_txn *t, const char *record_id, const struct kura_write *w,
		     struct kura_written *ret)
{
	struct change c = {CHANGE_CONFIRM, NULL, 0};
	struct kura_write cw = *w;
	cw.confirm = 1;
	if (!cw.reason)
		cw.reason = "";
	return txn_change(t, record_id, &c, &cw, ret);
}

int kura_txn_retract(struct kura_txn *t, const char *record_id, const struct kura_write *w,
		     struct kura_written *ret)
{
	struct change c = {CHANGE_RETRACT, NULL, 0};
	struct kura_write rw = *w;
	rw.confirm = 0;
	return txn_change(t, record_id, &c, &rw, ret);
}

typedef int (*txn_change_fn)(struct kura_txn *t, const char *record_id,
			     const struct kura_write *w, struct kura_written *ret);

static int vault_change(struct kura_vault *v, const char *record_id, txn_change_fn fn,
			const struct kura_write *w, struct kura_written *ret)
{
	struct kura_txn *t;
	memset(ret, 0, sizeof(*ret));
	int r = kura_txn_begin(v, &t);
	if (r)
		return r;
	r = fn(t, record_id, w, ret);
	return kura_txn_finish(t, r, &ret->sth);
}

int kura_vault_amend(struct kura_vault *v, const char *record_id, const uint8_t *content,
		     size_t len, const struct kura_write *w, struct kura_written *ret)
{
	struct kura_txn *t;
	memset(ret, 0, sizeof(*ret));
	int r = kura_txn_begin(v, &t);
	if (r)
		return r;
	r = kura_txn_amend(t, record_id, content, len, w, ret);
	return kura_txn_finish(t, r, &ret->sth);
}

int kura_vault_confirm(struct kura_vault *v, const char *record_id,
		       const struct kura_write *w, struct kura_written *ret)
{
	return vault_change(v, record_id, kura_txn_confirm, w, ret);
}

int kura_vault_retract(struct kura_vault *v, const char *record_id,
		       const struct kura_write *w, struct kura_written *ret)
{
	return vault_change(v, record_id, kura_txn_retract, w, ret);
}

struct get_ctx {
	struct kura_vault *v;
	struct kura_leaf *leaf;
	struct kura_buf *content;
	kura_leaf_check_fn check; /* may be NULL */
	void *cctx;
};

static int open_row(void *ctx, const struct kura_version_row *row)
{
	struct get_ctx *g = ctx;
	const struct patient_keys *k;
	uint8_t sha[KURA_HASH_LEN], commit[KURA_HASH_LEN];
	struct kura_buf aad;
	*g->leaf = row->leaf;
	int r = g->check ? g->check(g->cctx, &row->leaf) : 0;
	if (r)
		return r;
	if (row->leaf.status == KURA_STATUS_ENTERED_IN_ERROR)
		return KURA_ESTATE;
	kura_buf_init(&aad, 1024);
	r = vault_patient_keys(g->v, row->leaf.patient_id, 0, &k);
	if (r == KURA_ENOTFOUND)
		r = KURA_ECORRUPT;
	if (!r)
		r = kura_envelope_aad(row->leaf.record_id, row->leaf.version,
				      row->leaf.patient_id, &aad);
	if (!r)
		r = kura_envelope_open(vault_zctx(g->v), k->enc, kura_buf_slice(&aad), row->sealed, KURA_MAX_CONTENT,
				       g->content, sha);
	if (!r)
		r = vault_commitment(k, sha, commit);
	/* Content that opens but is not what the ledger committed to is as
	 * corrupt as content that does not open. */
	if (!r && !kura_ct_equal(commit, row->leaf.commitment, KURA_HASH_LEN))
		r = KURA_ECORRUPT;
	kura_buf_release(&aad);
	return r == KURA_ECRYPTO ? KURA_ECORRUPT : r;
}

int kura_vault_get_checked(struct kura_vault *v, const char *record_id, uint32_t version,
			   kura_leaf_check_fn check, void *cctx, struct kura_leaf *ret_leaf,
			   struct kura_buf *content)
{
	struct get_ctx g = {v, ret_leaf, content, check, cctx};
	memset(ret_leaf, 0, sizeof(*ret_leaf));
	return v->store->ops->version_get(v->store, record_id, version, open_row, &g);
}

int kura_vault_get(struct kura_vault *v, const char *record_id, uint32_t version,
		   struct kura_leaf *ret_leaf, struct kura_buf *content)
{
	return kura_vault_get_checked(v, record_id, version, NULL, NULL, ret_leaf, content);
}

int kura_vault_locate(struct kura_vault *v, const char *record_id, uint32_t version,
		      struct kura_version_row *ret_row, struct kura_buf *ret_leaf)
{
	struct latest_ctx c = {.found = 0};
	int r = v->store->ops->version_get(v->store, record_id, version, keep_row, &c);
	if (!r)
		r = kura_leaf_encode(&c.row.leaf, ret_leaf);
	if (!r)
		*ret_row = c.row;
	return r;
}

int kura_txn_locate(struct kura_txn *t, const char *record_id, uint32_t version,
		    struct kura_leaf *ret)
{
	struct latest_ctx c = {.found = 0};
	struct kura_store *s = t->b.v->store;
	memset(ret, 0, sizeof(*ret));
	int r = s->ops->version_get(s, record_id, version, keep_row, &c);
	if (!r)
		*ret = c.row.leaf;
	return r;
}

int kura_vault_sth(struct kura_vault *v, struct kura_sth *ret)
{
	return v->store->ops->sth_latest(v->store, ret);
}
