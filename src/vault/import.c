/*
 * import.c - `kura import`: store a parsed import (fhir/import.h) in
 * durable batches: each batch of up to KURA_IMPORT_BATCH versions (and
 * KURA_IMPORT_BATCH_BYTES of content) is one store transaction with one
 * signed tree head and one fsync (group commit).  An atomic import (a FHIR
 * transaction Bundle) is a single batch.
 *
 * A batch is prepared in three steps so both cores work: (1) on this thread,
 * fill each leaf and copy its patient's keys (the key cache and the store
 * are not shared); (2) seal the contents (zstd, AES-GCM, SHA-256, HMAC) on
 * two threads, each with its own buffers; (3) on this thread, append the
 * leaves and rows in file order.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fhir/import.h"
#include "util/limits.h"
#include "util/time.h"
#include "vault/vault_int.h"
#include "util/banned.h"

#define SEAL_THREADS 2
#define PARALLEL_MIN 16 /* smaller batches are sealed on one thread */

struct job {
	const struct kura_import_item *it;
	struct kura_leaf leaf;
	size_t off, len; /* the sealed box inside its worker's buffer */
	unsigned worker;
};

struct worker {
	struct job *jobs;
	const struct patient_keys *keys; /* parallel to jobs, locked memory */
	size_t from, to;
	struct kura_envelope_ctx *z;
	struct kura_buf aad, out;
	int r;
};

struct batch_work {
	struct job *jobs;
	struct patient_keys *keys;
	size_t cap;
	struct worker w[SEAL_THREADS];
};

static int fill_leaf(struct job *j, const struct kura_import_item *it, const struct kura_write *w,
		     int64_t now)
{
	struct kura_leaf *l = &j->leaf;
	memset(l, 0, sizeof(*l));
	size_t pn = strlen(it->patient), tn = strlen(it->type), cn = strlen(it->content_type);
	if (pn >= sizeof(l->patient_id) || tn >= sizeof(l->type) || cn >= sizeof(l->content_type))
		return KURA_EINVAL;
	memcpy(l->patient_id, it->patient, pn + 1);
	memcpy(l->type, it->type, tn + 1);
	memcpy(l->content_type, it->content_type, cn + 1);
	memcpy(l->inputter, w->actor, strlen(w->actor) + 1);
	if (w->on_behalf_of)
		memcpy(l->on_behalf_of, w->on_behalf_of, strlen(w->on_behalf_of) + 1);
	if (w->reason)
		memcpy(l->reason, w->reason, strlen(w->reason) + 1);
	l->status = w->confirm ? KURA_STATUS_CONFIRMED : KURA_STATUS_DRAFT;
	if (w->confirm)
		memcpy(l->confirmer, l->inputter, sizeof(l->confirmer));
	l->version = 1;
	l->time_us = now;
	j->it = it;
	return vault_new_record_id(l->record_id);
}

static void *seal_range(void *arg)
{
	struct worker *w = arg;
	kura_buf_reset(&w->out);
	for (size_t i = w->from; i < w->to && !w->r; i++) {
		struct job *j = &w->jobs[i];
		j->off = w->out.len;
		w->r = vault_seal(w->z, &w->keys[i], &j->leaf, j->it->content.ptr, j->it->content.len,
				  &w->aad, &w->out);
		j->len = w->out.len - j->off;
	}
	return NULL;
}

/* Step 2: seal jobs [0, n) on up to SEAL_THREADS threads. */
static int seal_all(struct batch_work *bw, size_t n)
{
	size_t parts = n < PARALLEL_MIN ? 1 : SEAL_THREADS, per = (n + parts - 1) / parts;
	pthread_t th[SEAL_THREADS];
	int started[SEAL_THREADS] = {0};
	for (size_t t = 0; t < parts; t++) {
		struct worker *w = &bw->w[t];
		w->jobs = bw->jobs;
		w->keys = bw->keys;
		w->from = t * per;
		w->to = w->from + per < n ? w->from + per : n;
		w->r = 0;
		for (size_t i = w->from; i < w->to; i++)
			bw->jobs[i].worker = (unsigned)t;
		if (t > 0 && pthread_create(&th[t], NULL, seal_range, w) == 0)
			started[t] = 1;
		else if (t > 0)
			seal_range(w); /* no thread to be had: do it here */
	}
	seal_range(&bw->w[0]);
	int r = 0;
	for (size_t t = 0; t < parts; t++) {
		if (started[t])
			pthread_join(th[t], NULL);
		if (!r)
			r = bw->w[t].r;
	}
	return r;
}

/* Step 1 for one job: its leaf and a private copy of its patient's keys. */
static int prepare(struct vault_batch *b, struct batch_work *bw, size_t i,
		   const struct kura_import_item *it, const struct kura_write *w, int64_t now)
{
	const struct patient_keys *k;
	int r = fill_leaf(&bw->jobs[i], it, w, now);
	if (!r)
		r = vault_patient_keys(b->v, it->patient, 1, &k);
	if (!r)
		memcpy(&bw->keys[i], k, sizeof(*k));
	return r;
}

static int import_range(struct kura_vault *v, struct batch_work *bw,
			const struct kura_import *imp, size_t from, size_t to,
			const struct kura_write *w, struct kura_sth *ret_sth)
{
	struct vault_batch b;
	struct kura_written out;
	int64_t now = kura_time_now_us();
	int r = vault_batch_begin(&b, v);
	for (size_t i = from; !r && i < to; i++)
		r = prepare(&b, bw, i - from, &imp->items[i], w, now);
	if (!r)
		r = seal_all(bw, to - from);
	for (size_t i = 0; !r && i < to - from; i++) {
		const struct job *j = &bw->jobs[i];
		struct kura_slice sealed = kura_slice_make(bw->w[j->worker].out.data + j->off, j->len);
		r = vault_batch_append(&b, &j->leaf, sealed, &out);
	}
	kura_wipe(bw->keys, bw->cap * sizeof(*bw->keys));
	if (r) {
		vault_batch_abort(&b);
		return r;
	}
	return vault_batch_commit(&b, ret_sth);
}

/* Where the batch that starts at from ends. */
static size_t batch_end(const struct kura_import *imp, size_t from)
{
	size_t bytes = 0, i = from;
	if (imp->atomic)
		return imp->count;
	for (; i < imp->count && i - from < KURA_IMPORT_BATCH; i++) {
		bytes += imp->items[i].content.len;
		if (bytes > KURA_IMPORT_BATCH_BYTES && i > from)
			break;
	}
	return i;
}

static int work_init(struct batch_work *bw, size_t cap)
{
	memset(bw, 0, sizeof(*bw));
	bw->cap = cap;
	bw->jobs = calloc(cap, sizeof(*bw->jobs));
	bw->keys = kura_secret_alloc(cap * sizeof(*bw->keys));
	for (int t = 0; t < SEAL_THREADS; t++) {
		bw->w[t].z = kura_envelope_ctx_new();
		kura_buf_init(&bw->w[t].aad, 1024);
		kura_buf_init(&bw->w[t].out, (size_t)KURA_MAX_IMPORT_FILE + KURA_MAX_CONTENT);
		if (!bw->w[t].z)
			return KURA_ENOMEM;
	}
	return bw->jobs && bw->keys ? 0 : KURA_ENOMEM;
}

static void work_release(struct batch_work *bw)
{
	free(bw->jobs);
	kura_secret_free(bw->keys);
	for (int t = 0; t < SEAL_THREADS; t++) {
		kura_envelope_ctx_free(bw->w[t].z);
		kura_buf_release(&bw->w[t].aad);
		kura_buf_release(&bw->w[t].out);
	}
}

static int check_write(const struct kura_write *w)
{
	if (!w->actor || !*w->actor || strlen(w->actor) > KURA_MAX_ID)
		return KURA_EINVAL;
	if (w->on_behalf_of && strlen(w->on_behalf_of) > KURA_MAX_ID)
		return KURA_EINVAL;
	if (w->reason && strlen(w->reason) > KURA_MAX_REASON)
		return KURA_EINVAL;
	return 0;
}

int kura_vault_import(struct kura_vault *v, const struct kura_import *imp,
		      const struct kura_write *w, kura_progress_fn progress, void *pctx,
		      uint64_t *ret_count, struct kura_sth *ret_sth)
{
	struct batch_work bw;
	size_t cap = imp->atomic ? imp->count : KURA_IMPORT_BATCH;
	*ret_count = 0;
	int r = check_write(w);
	if (r)
		return r;
	r = work_init(&bw, cap ? cap : 1);
	for (size_t i = 0; !r && i < imp->count;) {
		size_t to = batch_end(imp, i);
		r = import_range(v, &bw, imp, i, to, w, ret_sth);
		if (!r)
			*ret_count = to;
		if (!r && progress)
			progress(pctx, to, imp->count);
		i = to;
	}
	work_release(&bw);
	return r;
}
