/*
 * run.c - making a backup generation (BK-01..BK-04; docs/formats/backup.md).
 *
 * 1. The generation ends at the vault's latest signed tree head.
 * 2. Leaves the previous generation already holds keep their segments
 *    (listed again in the new manifest); a target that lacks the previous
 *    generation gets them regenerated, which gives the same objects
 *    because objects are deterministic (object.h).
 * 3. New leaves become new segments; large documents are cut into
 *    content-defined chunks (cdc.h), each an object of its own, so a
 *    document stored twice is kept once.
 * 4. The state snapshot (meta, patient keys, state rows) is one object.
 * 5. Every object goes to every target that lacks it, then the signed
 *    manifest, last: a generation is whole or not there at all.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "backup/backup.h"
#include "backup/cdc.h"
#include "backup/segment.h"
#include "ledger/ledger.h"
#include "util/err.h"
#include "util/time.h"
#include "util/banned.h"

#define DEFAULT_ZSTD_LEVEL 3

struct idlist {
	uint8_t (*id)[KURA_OBJ_ID_LEN];
	size_t n, cap;
};

static int idlist_add(struct idlist *l, const uint8_t id[KURA_OBJ_ID_LEN])
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 1024;
		void *p = realloc(l->id, cap * KURA_OBJ_ID_LEN);
		if (!p)
			return KURA_ENOMEM;
		l->id = p;
		l->cap = cap;
	}
	memcpy(l->id[l->n++], id, KURA_OBJ_ID_LEN);
	return 0;
}

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, KURA_OBJ_ID_LEN);
}

/* Sort and drop duplicates; ret_dups gets how many were dropped. */
static void idlist_unique(struct idlist *l, uint64_t *ret_dups)
{
	size_t w = 0;
	if (l->n)
		qsort(l->id, l->n, KURA_OBJ_ID_LEN, cmp_id);
	for (size_t i = 0; i < l->n; i++)
		if (!w || memcmp(l->id[w - 1], l->id[i], KURA_OBJ_ID_LEN))
			memmove(l->id[w++], l->id[i], KURA_OBJ_ID_LEN);
	if (ret_dups)
		*ret_dups += l->n - w;
	l->n = w;
}

struct sth_list {
	struct kura_sth *s;
	size_t n, cap;
	uint64_t max;
};
/*
 * Writing objects to the targets
 (and waiting for their fsyncs) happens on
 * a second thread, so that reading, chunking, compressing and encrypting
 * the next objects overlaps it.  At most IOQ_MAX_BYTES wait in the queue;
 * the manifest is written only after the queue has drained.
 */
#define IOQ_MAX_BYTES (64u * 1024 * 1024)
/* Directory targets take several puts at once (each waits on its own
 * fsyncs); a receiver connection takes one at a time. */
#define IO_THREADS 4
#define MAX_TARGETS_RUN 16

/* A job is an object ready to write (plain == 0), or a segment's
 * plaintext that the I/O thread encodes first, filling in its id in the
 * manifest's list at slot (segments are the bulk of the compression work,
 * and nothing needs their ids before the manifest). */
struct io_job {
	uint8_t id[KURA_OBJ_ID_LEN];
	uint8_t *data;
	size_t len, cap;
	int plain;
	size_t slot;
	struct io_job *next;
};

struct ioq {
	pthread_mutex_t mu;
	pthread_cond_t cv;    /* signalled on every change */
	struct io_job *head, *tail;
	size_t bytes;
	int closing;          /* no more jobs will come */
	int err;              /* every target failed */
	int started;          /* threads running */
	pthread_t th[IO_THREADS];
	pthread_mutex_t serial[MAX_TARGETS_RUN]; /* one put at a time on a receiver */
};

struct run {
	struct kura_vault *v;
	struct kura_backup_keys keys;
	struct kura_obj_ctx *z;
	struct kura_backup_target *t;
	size_t nt;
	const struct kura_backup_opts *o;
	struct kura_backup_result *res;
	struct kura_buf obj;            /* the object being written */
	struct kura_seg_writer seg;
	int seg_open;
	/* Segment boundaries to keep (regenerating a previous generation's
	 * segments cuts exactly where it did); NULL: cut by size. */
	const struct kura_manifest_segment *cuts;
	size_t ncuts, next_cut;
	struct kura_manifest_segment *segs;
	size_t nsegs, capsegs;
	struct idlist chunks;
	struct kura_seg_chunk *cbuf;    /* chunks of the current document */
	size_t ncbuf, capcbuf;
	struct kura_sth *sths;          /* tree heads up to the generation's, by size */
	size_t nsths, next_sth;
	uint64_t done, total;
	struct ioq q;
	/* The generation being made, and the one it builds on. */
	struct kura_manifest m, pm;
	const uint8_t *prev;
	size_t prev_len;
	int have_prev;
	uint64_t newest;   /* the newest generation the vault or a target knows */
	uint64_t patients; /* in the state snapshot */
	int zlevel;
	struct sth_list sl;
};

/* Put an object on every target still in the run that lacks it (on the I/O
 * threads; target state is shared under q.mu). */
static int put_all(struct run *u, const uint8_t id[KURA_OBJ_ID_LEN], const uint8_t *p, size_t n)
{
	struct ioq *q = &u->q;
	size_t live = 0;
	for (size_t i = 0; i < u->nt; i++) {
		struct kura_backup_target *t = &u->t[i];
		int serial = t->kind == KURA_REPO_RECEIVER, put = 0;
		pthread_mutex_lock(&q->mu);
		int ok = t->ok;
		pthread_mutex_unlock(&q->mu);
		if (!ok)
			continue;
		if (serial)
			pthread_mutex_lock(&q->serial[i]);
		int r = t->repo->ops->has(t->repo, id);
		if (r == 0) {
			r = t->repo->ops->put(t->repo, id, p, n);
			put = !r;
		}
		pthread_mutex_lock(&q->mu);
		if (put) {
			t->put_objects++;
			t->put_bytes += n;
		}
		if (r < 0 && t->ok) {
			t->ok = 0;
			snprintf(t->err, sizeof(t->err), "%s", *t->repo->err ? t->repo->err
									     : kura_strerror(r));
		}
		live += t->ok != 0;
		pthread_mutex_unlock(&q->mu);
		if (serial)
			pthread_mutex_unlock(&q->serial[i]);
	}
	return live ? 0 : KURA_EIO;
}

/* Encode a segment's plaintext on an I/O thread; its id goes to its slot. */
static int encode_job(struct run *u, struct io_job *j, struct kura_obj_ctx *z,
		      struct kura_buf *out)
{
	int r = kura_obj_encode(z, &u->keys, KURA_OBJ_SEGMENT, j->data, j->len, out, j->id);
	pthread_mutex_lock(&u->q.mu);
	if (!r) {
		memcpy(u->segs[j->slot].id, j->id, KURA_OBJ_ID_LEN);
		u->res->new_objects++;
		u->res->new_bytes += out->len;
	}
	pthread_mutex_unlock(&u->q.mu);
	return r;
}

static void job_free(struct io_job *j)
{
	if (j->plain)
		kura_wipe(j->data, j->cap); /* patient data */
	free(j->data);
	free(j);
}

static void *io_main(void *arg)
{
	struct run *u = arg;
	struct ioq *q = &u->q;
	struct kura_obj_ctx *z = kura_obj_ctx_new(u->zlevel);
	struct kura_buf out;
	kura_buf_init(&out, KURA_OBJ_MAX);
	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (!q->head && !q->closing)
			pthread_cond_wait(&q->cv, &q->mu);
		struct io_job *j = q->head;
		if (!j)
			break;
		q->head = j->next;
		if (!q->head)
			q->tail = NULL;
		int skip = q->err != 0;
		pthread_mutex_unlock(&q->mu);
		int r = 0;
		if (!skip && j->plain)
			r = z ? encode_job(u, j, z, &out) : KURA_ENOMEM;
		if (!skip && !r)
			r = j->plain ? put_all(u, j->id, out.data, out.len)
				     : put_all(u, j->id, j->data, j->len);
		pthread_mutex_lock(&q->mu);
		if (r && !q->err)
			q->err = r;
		q->bytes -= j->len;
		pthread_cond_broadcast(&q->cv);
		job_free(j);
	}
	pthread_mutex_unlock(&q->mu);
	kura_obj_ctx_free(z);
	kura_buf_release(&out);
	return NULL;
}

static int ioq_start(struct run *u)
{
	struct ioq *q = &u->q;
	if (u->nt > MAX_TARGETS_RUN)
		return KURA_ETOOBIG;
	if (pthread_mutex_init(&q->mu, NULL))
		return KURA_ENOMEM;
	if (pthread_cond_init(&q->cv, NULL)) {
		pthread_mutex_destroy(&q->mu);
		return KURA_ENOMEM;
	}
	for (size_t i = 0; i < u->nt; i++)
		pthread_mutex_init(&q->serial[i], NULL);
	while (q->started < IO_THREADS && !pthread_create(&q->th[q->started], NULL, io_main, u))
		q->started++;
	if (q->started)
		return 0;
	for (size_t i = 0; i < u->nt; i++)
		pthread_mutex_destroy(&q->serial[i]);
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
	return KURA_ENOMEM;
}

/* Wait until every queued object is written; the I/O threads' verdict. */
static int ioq_finish(struct run *u)
{
	struct ioq *q = &u->q;
	if (!q->started)
		return 0;
	pthread_mutex_lock(&q->mu);
	q->closing = 1;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	for (int i = 0; i < q->started; i++)
		pthread_join(q->th[i], NULL);
	for (size_t i = 0; i < u->nt; i++)
		pthread_mutex_destroy(&q->serial[i]);
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
	q->started = 0;
	return q->err;
}

/* Queue a job (waiting while the queue is full); KURA_EIO as soon as
 * every target has failed.  The job is freed on error. */
static int enqueue_job(struct run *u, struct io_job *j)
{
	struct ioq *q = &u->q;
	pthread_mutex_lock(&q->mu);
	while (!q->err && q->bytes > 0 && q->bytes + j->len > IOQ_MAX_BYTES)
		pthread_cond_wait(&q->cv, &q->mu);
	int r = q->err;
	if (!r) {
		if (q->tail)
			q->tail->next = j;
		else
			q->head = j;
		q->tail = j;
		q->bytes += j->len;
		pthread_cond_broadcast(&q->cv);
	}
	pthread_mutex_unlock(&q->mu);
	if (r)
		job_free(j);
	return r;
}

/* Hand the object in u->obj to the I/O threads. */
static int enqueue(struct run *u, const uint8_t id[KURA_OBJ_ID_LEN])
{
	struct io_job *j = calloc(1, sizeof(*j));
	uint8_t *data = malloc(u->obj.len ? u->obj.len : 1);
	if (!j || !data) {
		free(j);
		free(data);
		return KURA_ENOMEM;
	}
	memcpy(j->id, id, KURA_OBJ_ID_LEN);
	memcpy(data, u->obj.data, u->obj.len);
	j->data = data;
	j->len = j->cap = u->obj.len;
	return enqueue_job(u, j);
}

/* Hand a finished segment (its buffer, taken from the writer) to the I/O
 * threads to encode and write; its id will be filled in at slot. */
static int enqueue_segment(struct run *u, size_t slot)
{
	struct io_job *j = calloc(1, sizeof(*j));
	if (!j)
		return KURA_ENOMEM;
	j->plain = 1;
	j->slot = slot;
	j->data = u->seg.buf.data;
	j->len = u->seg.buf.len;
	j->cap = u->seg.buf.cap;
	u->seg.buf.data = NULL; /* the job owns it now */
	u->seg.buf.len = u->seg.buf.cap = 0;
	return enqueue_job(u, j);
}

static int encode_put(struct run *u, int type, const uint8_t *p, size_t n,
		      uint8_t id[KURA_OBJ_ID_LEN])
{
	int r = kura_obj_encode(u->z, &u->keys, type, p, n, &u->obj, id);
	if (!r) {
		u->res->new_objects++;
		u->res->new_bytes += u->obj.len;
		r = enqueue(u, id);
	}
	return r;
}

/* A slot at the end of the manifest's segment list (the I/O threads
 * write ids into the list, so it grows under their lock). */
static int seg_slot(struct run *u, size_t *ret)
{
	int r = 0;
	pthread_mutex_lock(&u->q.mu);
	if (u->nsegs == u->capsegs) {
		size_t cap = u->capsegs ? 2 * u->capsegs : 64;
		void *p = realloc(u->segs, cap * sizeof(*u->segs));
		if (!p)
			r = KURA_ENOMEM;
		else {
			u->segs = p;
			u->capsegs = cap;
		}
	}
	if (!r) {
		struct kura_manifest_segment *s = &u->segs[u->nsegs];
		memset(s, 0, sizeof(*s));
		s->first = u->seg.first;
		s->count = u->seg.count;
		*ret = u->nsegs++;
	}
	pthread_mutex_unlock(&u->q.mu);
	return r;
}

static int seg_close(struct run *u, uint64_t end)
{
	size_t slot = 0;
	if (!u->seg_open)
		return 0;
	/* Tree heads of sizes (first, end], and size 0 in the first segment. */
	int r = 0;
	while (!r && u->next_sth < u->nsths && u->sths[u->next_sth].tree_size <= end) {
		const struct kura_sth *s = &u->sths[u->next_sth++];
		if (s->tree_size > u->seg.first || s->tree_size == 0)
			r = kura_seg_add_sth(&u->seg, s);
	}
	if (!r)
		r = kura_seg_finish(&u->seg);
	if (!r)
		r = seg_slot(u, &slot);
	if (!r)
		r = enqueue_segment(u, slot);
	kura_seg_release(&u->seg);
	u->seg_open = 0;
	return r;
}

/* Cut a large document into chunks, store each, and note their ids. */
static int chunk_content(struct run *u, const uint8_t *p, size_t n)
{
	u->ncbuf = 0;
	while (n) {
		size_t c = kura_cdc_cut(p, n);
		if (u->ncbuf == u->capcbuf) {
			size_t cap = u->capcbuf ? 2 * u->capcbuf : 64;
			void *q = realloc(u->cbuf, cap * sizeof(*u->cbuf));
			if (!q)
				return KURA_ENOMEM;
			u->cbuf = q;
			u->capcbuf = cap;
		}
		struct kura_seg_chunk *ch = &u->cbuf[u->ncbuf++];
		int r = encode_put(u, KURA_OBJ_CHUNK, p, c, ch->id);
		if (!r)
			r = idlist_add(&u->chunks, ch->id);
		if (r)
			return r;
		ch->len = (uint32_t)c;
		p += c;
		n -= c;
	}
	return 0;
}

/* One leaf into the open segment (a large document's chunks first). */
static int add_entry(struct run *u, const struct kura_vault_leaf *l)
{
	if (l->kind == KURA_LEAF_AUDIT_EVENT) {
		u->res->events++;
		return kura_seg_add_event(&u->seg, l->leaf, l->len);
	}
	u->res->versions++;
	if (!l->has_content)
		return kura_seg_add_version(&u->seg, l->leaf, l->len, KURA_SEG_NONE, NULL, 0, NULL, 0);
	u->res->content_bytes += l->content_len;
	if (l->content_len <= KURA_SEG_INLINE_MAX)
		return kura_seg_add_version(&u->seg, l->leaf, l->len, KURA_SEG_INLINE, l->content,
					    l->content_len, NULL, 0);
	int r = chunk_content(u, l->content, l->content_len);
	return r ? r : kura_seg_add_version(&u->seg, l->leaf, l->len, KURA_SEG_CHUNKED, NULL,
					    l->content_len, u->cbuf, (uint32_t)u->ncbuf);
}

/* Does the segment end after leaf end - 1?  Where the previous generation
 * cut it (regenerating), or once it is large enough. */
static int cut_here(struct run *u, uint64_t end)
{
	if (!u->cuts)
		return kura_seg_size(&u->seg) >= KURA_SEG_TARGET;
	while (u->next_cut < u->ncuts && u->cuts[u->next_cut].first + u->cuts[u->next_cut].count < end)
		u->next_cut++;
	return u->next_cut < u->ncuts && u->cuts[u->next_cut].first + u->cuts[u->next_cut].count == end;
}

static int on_leaf(void *ctx, const struct kura_vault_leaf *l)
{
	struct run *u = ctx;
	if (!u->seg_open) {
		kura_seg_begin(&u->seg, l->index);
		u->seg_open = 1;
	}
	int r = add_entry(u, l);
	if (!r && cut_here(u, l->index + 1))
		r = seg_close(u, l->index + 1);
	u->done++;
	if (u->o && u->o->progress && (u->done % 1024 == 0 || u->done == u->total))
		u->o->progress(u->o->pctx, u->done, u->total);
	return r;
}

/* Leaves [from, to) into segments (cut where cuts say, or by size). */
static int emit_range(struct run *u, uint64_t from, uint64_t to,
		      const struct kura_manifest_segment *cuts, size_t ncuts)
{
	u->cuts = cuts;
	u->ncuts = ncuts;
	u->next_cut = 0;
	/* Tree heads restart from the first at or after `from`. */
	u->next_sth = 0;
	while (u->next_sth < u->nsths && u->sths[u->next_sth].tree_size < from)
		u->next_sth++;
	if (from > 0)
		while (u->next_sth < u->nsths && u->sths[u->next_sth].tree_size == from)
			u->next_sth++;
	int r = from < to ? kura_vault_leaves(u->v, from, to, on_leaf, u) : 0;
	if (!r)
		r = seg_close(u, to);
	if (u->seg_open) {
		kura_seg_release(&u->seg);
		u->seg_open = 0;
	}
	return r;
}

/* ---- tree heads ---- */


static int collect_sth(void *ctx, const struct kura_sth *sth)
{
	struct sth_list *l = ctx;
	if (sth->tree_size > l->max)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 256;
		void *p = realloc(l->s, cap * sizeof(*l->s));
		if (!p)
			return KURA_ENOMEM;
		l->s = p;
		l->cap = cap;
	}
	l->s[l->n++] = *sth;
	return 0;
}

/* ---- the state snapshot ---- */

static int hexstr(json_t *arr, struct kura_slice v)
{
	struct kura_buf b;
	kura_buf_init(&b, 2 * v.len + 1);
	int r = kura_buf_append_hex(&b, v.ptr, v.len);
	if (!r)
		r = kura_buf_append_byte(&b, 0);
	if (!r && json_array_append_new(arr, json_string((char *)b.data)))
		r = KURA_ENOMEM;
	kura_buf_release(&b);
	return r;
}

static int snap_meta(void *ctx, const char *name, struct kura_slice value, int64_t n)
{
	json_t *row = json_array();
	(void)n;
	int r = row && !json_array_append_new(row, json_string(name)) ? hexstr(row, value)
								      : KURA_ENOMEM;
	if (!r && json_array_append_new(ctx, row))
		return KURA_ENOMEM;
	if (r)
		json_decref(row);
	return r;
}

static int snap_patient(void *ctx, const char *name, struct kura_slice value, int64_t n)
{
	int r = snap_meta(ctx, name, value, 0);
	json_t *row = r ? NULL : json_array_get(ctx, json_array_size(ctx) - 1);
	if (!r && json_array_append_new(row, json_integer(n)))
		r = KURA_ENOMEM;
	return r;
}

static int snap_state(void *ctx, const char *kindkey, struct kura_slice value,
		      const uint8_t mac[KURA_HASH_LEN])
{
	const char *slash = strchr(kindkey, '/');
	/* The vault's copy of its last manifest is not part of its state. */
	if (strcmp(kindkey, KURA_BACKUP_STATE_KIND "/" KURA_BACKUP_LATEST) == 0)
		return 0;
	json_t *row = json_array();
	if (!slash || !row) {
		json_decref(row);
		return slash ? KURA_ENOMEM : KURA_ECORRUPT;
	}
	int r = 0;
	if (json_array_append_new(row, json_stringn(kindkey, (size_t)(slash - kindkey))) ||
	    json_array_append_new(row, json_string(slash + 1)) ||
	    json_array_append_new(row, json_stringn((const char *)value.ptr, value.len)))
		r = KURA_ENOMEM;
	if (!r)
		r = hexstr(row, kura_slice_make(mac, KURA_HASH_LEN));
	if (!r && json_array_append(ctx, row))
		r = KURA_ENOMEM;
	json_decref(row);
	return r;
}

/* The snapshot as a JSON document (formats/backup.md §5). */
static int snapshot_json(struct kura_vault *v, json_t *j, uint64_t *ret_patients)
{
	struct kura_store *s = kura_vault_store(v);
	json_t *meta = json_array(), *pats = json_array(), *st = json_array();
	int r = meta && pats && st ? 0 : KURA_ENOMEM;
	if (!r)
		r = s->ops->meta_scan(s, snap_meta, meta);
	if (!r)
		r = s->ops->patient_scan(s, snap_patient, pats);
	if (!r)
		r = s->ops->state_scan(s, NULL, snap_state, st);
	*ret_patients = json_array_size(pats);
	if (!r && (json_object_set(j, "meta", meta) || json_object_set(j, "patients", pats) ||
		   json_object_set(j, "state", st)))
		r = KURA_ENOMEM;
	json_decref(meta);
	json_decref(pats);
	json_decref(st);
	return r;
}

/* {"meta":[[name,hex]...],"patients":[[id,hex,created_us]...],
 *  "state":[[kind,key,value,machex]...]}, compact, into out. */
static int snapshot(struct kura_vault *v, struct kura_buf *out, uint64_t *ret_patients)
{
	json_t *j = json_object();
	int r = j ? snapshot_json(v, j, ret_patients) : KURA_ENOMEM;
	char *text = r ? NULL : json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!r && !text)
		r = KURA_ENOMEM;
	kura_buf_reset(out);
	if (!r)
		r = kura_buf_append(out, text, strlen(text));
	if (text) {
		kura_wipe(text, strlen(text));
		free(text);
	}
	json_decref(j);
	return r;
}

/* ---- proofs from earlier generations ---- */

static int add_proof(struct kura_vault *v, struct kura_manifest *m, uint64_t gen, uint64_t size,
		     const uint8_t root[KURA_HASH_LEN])
{
	size_t len = 0;
	if (size == 0 || size > m->sth.tree_size || m->nproofs == KURA_MANIFEST_MAX_PROOFS)
		return 0;
	for (size_t i = 0; i < m->nproofs; i++)
		if (m->proofs[i].generation == gen)
			return 0;
	struct kura_manifest_proof *p = &m->proofs[m->nproofs];
	memset(p, 0, sizeof(*p));
	p->generation = gen;
	p->old_size = size;
	memcpy(p->old_root, root, KURA_HASH_LEN);
	int r = merkle_consistency_proof(size, m->sth.tree_size, kura_ledger_get_node,
					 kura_vault_store(v), p->path, &len);
	if (r)
		return r;
	p->npath = (unsigned)len;
	/* Only a proof that verifies against this vault's own tree goes out. */
	if (merkle_verify_consistency(size, m->sth.tree_size, root, m->sth.root,
				      (const uint8_t(*)[KURA_HASH_LEN])p->path, len))
		return KURA_EVERIFY;
	m->nproofs++;
	return 0;
}

static int sign_cb(void *ctx, const void *msg, size_t len, uint8_t sig[KURA_SIG_LEN])
{
	return kura_vault_sign(ctx, msg, len, sig);
}

int kura_backup_keys_of(struct kura_vault *v, struct kura_backup_keys *ret)
{
	kura_vault_id(v, ret->vault_id);
	int r = kura_vault_derive(v, "kura/v1/backup-enc", ret->enc);
	return r ? r : kura_vault_derive(v, "kura/v1/backup-nonce", ret->nonce);
}

/* The newest manifest a target holds, verified with this vault's key;
 * 0 with *ret zeroed when it holds none. */
static int target_newest(struct kura_vault *v, struct kura_backup_target *t,
			 struct kura_manifest *ret)
{
	struct kura_repo_gen *g = NULL;
	struct kura_buf b;
	uint8_t pub[KURA_PUBKEY_LEN];
	size_t n = 0;
	memset(ret, 0, sizeof(*ret));
	int r = t->repo->ops->manifest_list(t->repo, &g, &n);
	if (r || n == 0) {
		free(g);
		return r;
	}
	kura_buf_init(&b, KURA_MANIFEST_MAX);
	kura_vault_pubkey(v, pub);
	r = t->repo->ops->manifest_get(t->repo, g[n - 1].generation, &b);
	if (!r)
		r = kura_manifest_parse(b.data, b.len, ret);
	if (!r)
		r = kura_manifest_verify(ret, b.data, b.len, pub);
	if (r) {
		snprintf(t->err, sizeof(t->err),
			 "generation %llu on this target is not this vault's: %s",
			 (unsigned long long)g[n - 1].generation, kura_strerror(r));
		kura_manifest_release(ret);
		r = KURA_EVERIFY;
	}
	free(g);
	kura_buf_release(&b);
	return r;
}

static void target_failed(struct kura_backup_target *t, int e)
{
	t->ok = 0;
	if (!t->err[0])
		snprintf(t->err, sizeof(t->err), "%s", *t->repo->err ? t->repo->err : kura_strerror(e));
}

/* The vault's own last manifest, the base of this generation. */
static int load_prev(struct run *u)
{
	if (!u->prev || !u->prev_len)
		return 0;
	int r = kura_manifest_parse(u->prev, u->prev_len, &u->pm);
	u->have_prev = !r;
	if (!r && u->m.sth.tree_size < u->pm.sth.tree_size)
		r = KURA_ECORRUPT; /* the vault is behind its own last backup */
	return r;
}

/* Keys, the tree head the generation ends at, and the previous manifest. */
static int run_prepare(struct run *u, const struct kura_backup_opts *o)
{
	int r = kura_backup_keys_of(u->v, &u->keys);
	u->zlevel = o && o->zstd_level ? o->zstd_level : DEFAULT_ZSTD_LEVEL;
	u->z = r ? NULL : kura_obj_ctx_new(u->zlevel);
	if (!r && !u->z)
		r = KURA_ENOMEM;
	if (!r)
		r = kura_vault_sth(u->v, &u->m.sth);
	if (!r)
		r = load_prev(u);
	u->newest = u->have_prev ? u->pm.generation : 0;
	u->m.proofs = r ? NULL : calloc(KURA_MANIFEST_MAX_PROOFS, sizeof(*u->m.proofs));
	if (!r && !u->m.proofs)
		r = KURA_ENOMEM;
	return r;
}

/* What a target holds: its newest generation must be in this ledger's past
 * (a proof from it goes into the manifest).  A target that fails is left
 * out of the run with the reason; only errors of the vault's own stop it. */
static int examine_target(struct run *u, struct kura_backup_target *t)
{
	struct kura_repo_info info = {0};
	struct kura_manifest tn = {0};
	t->ok = 1;
	t->err[0] = 0;
	if (!t->repo->ops->info(t->repo, &info)) {
		t->immutable = info.immutable;
		t->kind = info.kind;
	}
	int e = target_newest(u->v, t, &tn);
	if (e) {
		target_failed(t, e);
		return 0;
	}
	if (tn.generation > u->newest)
		u->newest = tn.generation;
	/* (A target ahead of the vault is left to refuse the manifest itself:
	 * the receiver, a witness, says why.) */
	int r = tn.generation ? add_proof(u->v, &u->m, tn.generation, tn.sth.tree_size, tn.sth.root)
			      : 0;
	if (r == KURA_EVERIFY) {
		/* This target's history is not this ledger's past: the vault was
		 * restored from an older generation or rebuilt.  The target (a
		 * witness) would refuse the generation; the others get it. */
		t->ok = 0;
		snprintf(t->err, sizeof(t->err),
			 "generation %llu on this target (tree size %llu) is not in this vault's "
			 "history: the vault was restored or rebuilt; back it up to a new repository",
			 (unsigned long long)tn.generation, (unsigned long long)tn.sth.tree_size);
		r = 0;
	}
	kura_manifest_release(&tn);
	return r;
}

/* Proofs from the previous generation and the ones it carried. */
static int proofs_from_prev(struct run *u)
{
	const struct kura_manifest *pm = &u->pm;
	if (!u->have_prev)
		return 0;
	int r = add_proof(u->v, &u->m, pm->generation, pm->sth.tree_size, pm->sth.root);
	for (size_t i = 0; !r && i < pm->nproofs; i++)
		r = add_proof(u->v, &u->m, pm->proofs[i].generation, pm->proofs[i].old_size,
			      pm->proofs[i].old_root);
	return r;
}

/* Tree heads up to the generation's, oldest first; the numbers. */
static int load_sths(struct run *u)
{
	struct kura_store *s = kura_vault_store(u->v);
	u->sl.max = u->m.sth.tree_size;
	int r = s->ops->sth_scan(s, collect_sth, &u->sl);
	u->sths = u->sl.s;
	u->nsths = u->sl.n;
	u->m.generation = u->newest + 1;
	u->res->generation = u->m.generation;
	u->res->base_generation = u->have_prev ? u->pm.generation : 0;
	u->res->sth = u->m.sth;
	u->total = u->m.sth.tree_size - (u->have_prev ? u->pm.sth.tree_size : 0);
	return r;
}

/* 1 if some target still in the run lacks the previous generation. */
static int prev_missing(struct run *u)
{
	struct kura_buf b;
	int missing = 0;
	kura_buf_init(&b, KURA_MANIFEST_MAX);
	for (size_t i = 0; !missing && i < u->nt; i++) {
		if (!u->t[i].ok)
			continue;
		kura_buf_reset(&b);
		int e = u->t[i].repo->ops->manifest_get(u->t[i].repo, u->pm.generation, &b);
		missing = e || b.len != u->prev_len || memcmp(b.data, u->prev, u->prev_len) != 0;
	}
	kura_buf_release(&b);
	return missing;
}

/* The previous generation's leaves: listed again as they are, or
 * regenerated (same boundaries, same objects) for targets that lack them. */
static int carry_prev(struct run *u)
{
	const struct kura_manifest *pm = &u->pm;
	int r = 0;
	if (!u->have_prev)
		return 0;
	if (prev_missing(u)) {
		u->total += pm->sth.tree_size;
		r = emit_range(u, 0, pm->sth.tree_size, pm->segs, pm->nsegs);
	} else {
		u->segs = malloc((pm->nsegs ? pm->nsegs : 1) * sizeof(*u->segs));
		if (!u->segs)
			return KURA_ENOMEM;
		memcpy(u->segs, pm->segs, pm->nsegs * sizeof(*u->segs));
		u->nsegs = u->capsegs = pm->nsegs;
		for (size_t i = 0; !r && i < pm->nchunks; i++)
			r = idlist_add(&u->chunks, pm->chunks[i]);
	}
	/* The counts are of the new leaves only. */
	u->res->versions = u->res->events = u->res->content_bytes = 0;
	return r;
}

/* Everything the manifest says, and the manifest file, signed. */
static int build_manifest(struct run *u, const uint8_t state_id[KURA_OBJ_ID_LEN])
{
	struct kura_manifest *m = &u->m;
	struct kura_backup_result *ret = u->res;
	idlist_unique(&u->chunks, &ret->dedup_chunks);
	kura_vault_id(u->v, m->vault_id);
	kura_vault_pubkey(u->v, m->ledger_pub);
	m->created_us = ret->created_us;
	m->keys = kura_vault_key_material(u->v);
	memcpy(m->state_id, state_id, KURA_OBJ_ID_LEN);
	m->segs = u->segs;
	m->nsegs = u->nsegs;
	m->chunks = u->chunks.id;
	m->nchunks = u->chunks.n;
	ret->new_leaves = m->sth.tree_size - (u->have_prev ? u->pm.sth.tree_size : 0);
	ret->objects = 1 + m->nsegs + m->nchunks;
	m->stats = json_pack("{sI sI sI sI sI sI}", "versions", (json_int_t)ret->versions, "events",
			     (json_int_t)ret->events, "patients", (json_int_t)u->patients,
			     "content_bytes", (json_int_t)ret->content_bytes, "new_bytes",
			     (json_int_t)ret->new_bytes, "objects", (json_int_t)ret->objects);
	if (!m->keys || !m->stats)
		return KURA_ENOMEM;
	return kura_manifest_encode(m, sign_cb, u->v, &ret->manifest);
}

/* The manifest last, on every target that received all the objects;
 * KURA_EIO if none did. */
static int put_manifests(struct run *u)
{
	size_t whole = 0;
	for (size_t i = 0; i < u->nt; i++) {
		struct kura_backup_target *t = &u->t[i];
		struct kura_repo_info info = {0};
		if (t->ok) {
			int e = t->repo->ops->manifest_put(t->repo, u->m.generation,
							   u->res->manifest.data, u->res->manifest.len);
			if (e)
				target_failed(t, e);
			whole += !e;
		}
		if (!t->repo->ops->info(t->repo, &info))
			t->immutable = info.immutable;
	}
	return whole ? 0 : KURA_EIO;
}

static void run_release(struct run *u)
{
	/* m borrowed segs and chunks from u. */
	u->m.segs = NULL;
	u->m.chunks = NULL;
	u->m.nsegs = u->m.nchunks = 0;
	kura_manifest_release(&u->m);
	kura_manifest_release(&u->pm);
	free(u->segs);
	free(u->chunks.id);
	free(u->cbuf);
	free(u->sl.s);
	kura_obj_ctx_free(u->z);
	kura_wipe(&u->keys, sizeof(u->keys));
	kura_buf_release(&u->obj);
}

int kura_backup_run(struct kura_vault *v, const uint8_t *prev, size_t prev_len,
		    struct kura_backup_target *t, size_t nt, const struct kura_backup_opts *o,
		    struct kura_backup_result *ret)
{
	struct run u = {.v = v, .t = t, .nt = nt, .o = o, .res = ret, .prev = prev,
			.prev_len = prev_len};
	struct kura_buf snap;
	uint8_t state_id[KURA_OBJ_ID_LEN];
	memset(ret, 0, sizeof(*ret));
	kura_buf_init(&ret->manifest, KURA_MANIFEST_MAX);
	kura_buf_init(&u.obj, KURA_OBJ_MAX);
	kura_buf_init(&snap, KURA_OBJ_MAX_PLAIN);
	ret->created_us = kura_time_now_us();
	int r = run_prepare(&u, o);
	for (size_t i = 0; !r && i < nt; i++)
		r = examine_target(&u, &t[i]);
	if (!r)
		r = proofs_from_prev(&u);
	if (!r)
		r = load_sths(&u);
	if (!r)
		r = ioq_start(&u);
	if (!r)
		r = carry_prev(&u);
	if (!r)
		r = emit_range(&u, u.have_prev ? u.pm.sth.tree_size : 0, u.m.sth.tree_size, NULL, 0);
	if (!r)
		r = snapshot(v, &snap, &u.patients);
	if (!r)
		r = encode_put(&u, KURA_OBJ_STATE, snap.data, snap.len, state_id);
	/* Every object is on the targets before the manifest names them. */
	int qe = ioq_finish(&u);
	if (!r)
		r = qe;
	if (!r)
		r = build_manifest(&u, state_id);
	if (!r)
		r = put_manifests(&u);
	run_release(&u);
	kura_buf_release_secret(&snap);
	return r;
}
