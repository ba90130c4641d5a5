/*
 * import.c - `kura import`: store a parsed import (fhir/import.h) in
 * durable batches: each batch of up to KURA_IMPORT_BATCH versions (and
 * KURA_IMPORT_BATCH_BYTES of content) is one store transaction with one
 * signed tree head and one fsync (group commit).  An atomic import (a FHIR
 * transaction Bundle) is a single batch.
 *
 * Batches are pipelined over both cores.  Inside batch k's transaction the
 * main thread prepares batch k+1 (fills its leaves, copies its patients'
 * keys: the key cache and the store are used by this thread only; a patient
 * key made here is simply committed with batch k), hands it to a worker
 * thread that seals it (zstd, AES-GCM, SHA-256, HMAC), and meanwhile appends
 * and commits batch k.  Batch k+1's leaves are appended in its own
 * transaction after the worker is done.
 */
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "fhir/import.h"
#include "util/limits.h"
#include "util/time.h"
#include "vault/vault_int.h"
#include "util/banned.h"

struct job {
	const struct kura_import_item *it;
	struct kura_leaf leaf;
	size_t off, len; /* the sealed box inside the stage's out buffer */
};

/* One batch in flight: prepared on the main thread, sealed by whoever
 * runs seal_stage, appended on the main thread. */
struct stage {
	size_t from, to; /* items of the import */
	struct job *jobs;
	struct patient_keys *keys; /* parallel to jobs, locked memory */
	struct kura_envelope_ctx *z;
	struct kura_buf aad, out;
	int r;
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
	int r = vault_fill_authors(l, w);
	if (r)
		return r;
	l->version = 1;
	l->time_us = now;
	j->it = it;
	return vault_new_record_id(l->record_id);
}

static void *seal_stage(void *arg)
{
	struct stage *s = arg;
	kura_buf_reset(&s->out);
	s->r = 0;
	for (size_t i = 0; i < s->to - s->from && !s->r; i++) {
		struct job *j = &s->jobs[i];
		j->off = s->out.len;
		s->r = vault_seal(s->z, &s->keys[i], &j->leaf, j->it->content.ptr, j->it->content.len,
				  &s->aad, &s->out);
		j->len = s->out.len - j->off;
	}
	return NULL;
}

/* Fill the stage's leaves and key copies for items [from, to); must run
 * inside a write transaction (it may create patient keys). */
static int prepare(struct vault_batch *b, struct stage *s, const struct kura_import *imp,
		   size_t from, size_t to, const struct kura_write *w)
{
	const struct patient_keys *k;
	int64_t now = kura_time_now_us();
	int r = 0;
	s->from = from;
	s->to = to;
	for (size_t i = from; !r && i < to; i++) {
		r = fill_leaf(&s->jobs[i - from], &imp->items[i], w, now);
		if (!r)
			r = vault_patient_keys(b->v, imp->items[i].patient, 1, &k);
		if (!r)
			memcpy(&s->keys[i - from], k, sizeof(*k));
	}
	return r;
}

static int append_stage(struct vault_batch *b, struct stage *s)
{
	struct kura_written out;
	int r = s->r;
	for (size_t i = 0; !r && i < s->to - s->from; i++) {
		const struct job *j = &s->jobs[i];
		r = vault_batch_append(b, &j->leaf, kura_slice_make(s->out.data + j->off, j->len),
				       &out);
	}
	kura_wipe(s->keys, (s->to - s->from) * sizeof(*s->keys));
	return r;
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

static int stage_init(struct stage *s, size_t cap)
{
	memset(s, 0, sizeof(*s));
	s->jobs = calloc(cap, sizeof(*s->jobs));
	s->keys = kura_secret_alloc(cap * sizeof(*s->keys));
	s->z = kura_envelope_ctx_new();
	kura_buf_init(&s->aad, 1024);
	kura_buf_init(&s->out, (size_t)KURA_MAX_IMPORT_FILE + KURA_MAX_CONTENT);
	return s->jobs && s->keys && s->z ? 0 : KURA_ENOMEM;
}

static void stage_release(struct stage *s)
{
	free(s->jobs);
	kura_secret_free(s->keys);
	kura_envelope_ctx_free(s->z);
	kura_buf_release(&s->aad);
	kura_buf_release(&s->out);
}

struct pipeline {
	struct kura_vault *v;
	const struct kura_import *imp;
	const struct kura_write *w;
	struct stage st[2];
	pthread_t th;
	int busy; /* a worker is sealing st[next] */
};

/* Inside cur's transaction: prepare the next batch and start sealing it. */
static int start_next(struct pipeline *p, struct vault_batch *b, struct stage *next)
{
	size_t from = p->st[0].to > p->st[1].to ? p->st[0].to : p->st[1].to;
	if (from >= p->imp->count)
		return 0;
	int r = prepare(b, next, p->imp, from, batch_end(p->imp, from), p->w);
	if (r)
		return r;
	if (pthread_create(&p->th, NULL, seal_stage, next) == 0)
		p->busy = 1;
	else
		seal_stage(next); /* no thread to be had: seal it here */
	return 0;
}

static void finish_next(struct pipeline *p)
{
	if (p->busy)
		pthread_join(p->th, NULL);
	p->busy = 0;
}

/* One transaction: batch cur is appended and committed while the next one
 * is sealed on the worker.  The first batch has nobody to prepare it
 * ahead, so it is prepared and sealed here first. */
static int run_batch(struct pipeline *p, struct stage *cur, struct stage *next, int first,
		     struct kura_sth *ret_sth)
{
	struct vault_batch b;
	int r = vault_batch_begin(&b, p->v);
	if (r)
		return r;
	if (first) {
		r = prepare(&b, cur, p->imp, 0, batch_end(p->imp, 0), p->w);
		if (!r)
			seal_stage(cur);
	}
	if (!r)
		r = start_next(p, &b, next);
	if (!r)
		r = append_stage(&b, cur);
	if (!r && p->w->audit) {
		/* The batch's audit event is committed with the batch (LG-02). */
		struct kura_event e = *p->w->audit;
		snprintf(e.query, sizeof(e.query), "records %zu..%zu of %zu", cur->from + 1, cur->to,
			 p->imp->count);
		r = vault_batch_event(&b, &e, NULL);
	}
	return vault_batch_finish(&b, r, ret_sth);
}

static int check_write(const struct kura_write *w)
{
	struct kura_leaf probe;
	memset(&probe, 0, sizeof(probe));
	return vault_fill_authors(&probe, w);
}

int kura_vault_import(struct kura_vault *v, const struct kura_import *imp,
		      const struct kura_write *w, kura_progress_fn progress, void *pctx,
		      uint64_t *ret_count, struct kura_sth *ret_sth)
{
	struct pipeline p = {.v = v, .imp = imp, .w = w};
	size_t cap = imp->atomic ? imp->count : KURA_IMPORT_BATCH;
	*ret_count = 0;
	int r = check_write(w);
	if (r || imp->count == 0)
		return r;
	if ((r = stage_init(&p.st[0], cap)) || (r = stage_init(&p.st[1], cap)))
		goto out;
	for (unsigned k = 0, first = 1; !r; k ^= 1, first = 0) {
		struct stage *cur = &p.st[k], *next = &p.st[k ^ 1];
		r = run_batch(&p, cur, next, first, ret_sth);
		finish_next(&p);
		if (r)
			break;
		*ret_count = cur->to;
		if (progress)
			progress(pctx, cur->to, imp->count);
		if (cur->to >= imp->count)
			break;
	}
out:
	finish_next(&p);
	stage_release(&p.st[0]);
	stage_release(&p.st[1]);
	return r;
}
