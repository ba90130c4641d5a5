/*
 * restore.c - restoring a generation into a new vault (BK-05, BK-06,
 * MW-01; docs/formats/backup.md §9).
 *
 * Nothing is trusted before it is checked, and nothing is written over a
 * running vault: the target directory must be new (or empty).
 *   1. The master key opens from the manifest's key material with the
 *      passphrase or the recovery key (AES-GCM: a wrong secret fails).
 *   2. The state snapshot authenticates under the backup key, so the
 *      ledger public key it holds is the vault's; the manifest's
 *      signature and tree head must verify under it (and under
 *      trusted_pub when given).
 *   3. Every later generation in the repository that verifies must be
 *      consistent with this one, and so must every tree head or
 *      consistency proof given with --against.
 *   4. Every object must match its id and authenticate; every document is
 *      scanned with libclamav after decryption and decompression; every
 *      version's content must match the commitment in its leaf; the
 *      leaves must reproduce every tree head in the segments and the
 *      generation's own.
 *   5. The restored vault passes kura verify.
 * Any failure removes what was written.
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backup/backup.h"
#include "backup/segment.h"
#include "ledger/ledger.h"
#include "ledger/proof.h"
#include "util/err.h"
#include "util/fs.h"
#include "util/time.h"
#include "vault/verify.h"
#include "util/banned.h"

struct rst {
	struct kura_repo *repo;
	const struct kura_restore_opts *o;
	struct kura_restore_result *res;
	struct kura_backup_keys keys;
	struct kura_obj_ctx *z;
	struct kura_buf obj, plain, doc, chunk;
	struct kura_restore_writer *w;
	struct kura_scanq *scanq;
	uint8_t pub[KURA_PUBKEY_LEN];
	uint64_t done, total;
	int err_set;
};

static void why(struct rst *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void why(struct rst *s, const char *fmt, ...)
{
	va_list ap;
	if (s->err_set)
		return;
	s->err_set = 1;
	va_start(ap, fmt);
	vsnprintf(s->res->why, sizeof(s->res->why), fmt, ap);
	va_end(ap);
}

/* Fetch and open an object of the expected type into out. */
static int fetch(struct rst *s, const uint8_t id[KURA_OBJ_ID_LEN], int type, struct kura_buf *out)
{
	char hex[KURA_OBJ_ID_HEX + 1];
	kura_obj_id_hex(id, hex);
	int r = s->repo->ops->get(s->repo, id, &s->obj);
	if (r) {
		why(s, "object %.16s: %s", hex, r == KURA_ENOTFOUND ? "missing"
					      : r == KURA_ECORRUPT ? "does not match its id (altered)"
								   : kura_strerror(r));
		return r == KURA_ENOTFOUND || r == KURA_ECORRUPT ? KURA_EVERIFY : r;
	}
	r = kura_obj_decode(s->z, &s->keys, type, s->obj.data, s->obj.len, out);
	if (r) {
		why(s, "object %.16s does not authenticate (altered, or another vault's)", hex);
		return KURA_ECRYPTO;
	}
	return 0;
}

/* ---- the state snapshot ---- */

static int hex_field(json_t *row, size_t i, struct kura_buf *out)
{
	const char *h = json_string_value(json_array_get(row, i));
	size_t n = h ? strlen(h) : 1;
	kura_buf_reset(out);
	if (!h || n % 2 || kura_buf_reserve(out, n / 2))
		return KURA_ECORRUPT;
	if (kura_hex_decode(h, out->data, n / 2))
		return KURA_ECORRUPT;
	out->len = n / 2;
	return 0;
}

/* Writing the snapshot into a new store: the store, a scratch buffer, and
 * for a recovery restore the master key wrapped under the new passphrase. */
struct snap_writer {
	struct rst *s;
	struct kura_store *st;
	struct kura_buf val, kdf, box;
};

static int put_meta(struct snap_writer *w, json_t *meta)
{
	json_t *row;
	size_t i;
	int r = 0;
	json_array_foreach(meta, i, row) {
		const char *name = json_string_value(json_array_get(row, 0));
		if (!name || json_array_size(row) != 2 || hex_field(row, 1, &w->val))
			return KURA_ECORRUPT;
		const struct kura_buf *v = &w->val;
		if (w->s->o->recovery && strcmp(name, "kdf") == 0)
			v = &w->kdf;
		else if (w->s->o->recovery && strcmp(name, "master_key") == 0)
			v = &w->box;
		if ((r = w->st->ops->meta_put(w->st, name, v->data, v->len)))
			break;
	}
	return r;
}

static int put_patients(struct snap_writer *w, json_t *pats)
{
	json_t *row;
	size_t i;
	int r = 0;
	json_array_foreach(pats, i, row) {
		const char *id = json_string_value(json_array_get(row, 0));
		json_t *t = json_array_get(row, 2);
		if (!id || json_array_size(row) != 3 || !json_is_integer(t) || hex_field(row, 1, &w->val))
			return KURA_ECORRUPT;
		if ((r = w->st->ops->patient_key_put(w->st, id, w->val.data, w->val.len,
						    json_integer_value(t))))
			break;
		w->s->res->patients++;
	}
	return r;
}

static int put_state(struct snap_writer *w, json_t *rows)
{
	json_t *row;
	size_t i;
	int r = 0;
	json_array_foreach(rows, i, row) {
		const char *kind = json_string_value(json_array_get(row, 0));
		const char *key = json_string_value(json_array_get(row, 1));
		json_t *value = json_array_get(row, 2);
		if (!kind || !key || !json_is_string(value) || json_array_size(row) != 4 ||
		    hex_field(row, 3, &w->val) || w->val.len != KURA_HASH_LEN)
			return KURA_ECORRUPT;
		if ((r = w->st->ops->state_put(w->st, kind, key, json_string_value(value),
					      json_string_length(value), w->val.data)))
			break;
		w->s->res->state_rows++;
	}
	return r;
}

static int open_new_store(const char *dir, struct kura_store **ret)
{
	struct kura_buf path;
	kura_buf_init(&path, 8192);
	int r = kura_buf_printf(&path, "%s/%s", dir, KURA_VAULT_DB);
	if (!r)
		r = kura_buf_append_byte(&path, 0);
	if (!r)
		r = kura_store_sqlite_open((char *)path.data, KURA_STORE_CREATE, ret);
	kura_buf_release(&path);
	return r;
}

/* Write meta, patients and state of the snapshot into a new store. */
static int write_snapshot(struct rst *s, json_t *snap, const char *dir,
			  const uint8_t master[KURA_KEY_LEN], const uint8_t vault_id[16])
{
	struct snap_writer w = {.s = s};
	json_t *meta = json_object_get(snap, "meta"), *pats = json_object_get(snap, "patients"),
	       *rows = json_object_get(snap, "state");
	int r = json_is_array(meta) && json_is_array(pats) && json_is_array(rows) ? 0
										 : KURA_ECORRUPT;
	kura_buf_init(&w.val, KURA_OBJ_MAX_PLAIN);
	kura_buf_init(&w.kdf, 4096);
	kura_buf_init(&w.box, 4096);
	/* A recovery restore sets a new passphrase: the master key is wrapped
	 * anew (the recovery key keeps working too). */
	if (!r && s->o->recovery) {
		struct kura_kdf_params p = {KURA_KDF_DEFAULT_OPS, KURA_KDF_DEFAULT_MEM_KIB};
		r = kura_key_wrap_master(master, vault_id, s->o->new_pass, s->o->new_pass_len, &p,
					 &w.kdf, &w.box);
	}
	if (!r)
		r = open_new_store(dir, &w.st);
	if (!r)
		r = w.st->ops->txn_begin(w.st, 1);
	if (!r)
		r = put_meta(&w, meta);
	if (!r)
		r = put_patients(&w, pats);
	if (!r)
		r = put_state(&w, rows);
	if (!r)
		r = w.st->ops->txn_commit(w.st);
	else if (w.st)
		w.st->ops->txn_abort(w.st);
	kura_store_close(w.st);
	if (r == KURA_ECORRUPT)
		why(s, "the state snapshot is malformed");
	kura_buf_release_secret(&w.val);
	kura_buf_release(&w.kdf);
	kura_buf_release(&w.box);
	return r;
}

/* The ledger public key inside the snapshot's meta. */
static int snapshot_pub(json_t *snap, uint8_t pub[KURA_PUBKEY_LEN], uint8_t vid[16])
{
	json_t *meta = json_object_get(snap, "meta"), *row;
	size_t i;
	int got = 0;
	json_array_foreach(meta, i, row) {
		const char *name = json_string_value(json_array_get(row, 0));
		const char *hex = json_string_value(json_array_get(row, 1));
		if (!name || !hex)
			return KURA_ECORRUPT;
		if (strcmp(name, "ledger_pub") == 0) {
			if (strlen(hex) != 2 * KURA_PUBKEY_LEN ||
			    kura_hex_decode(hex, pub, KURA_PUBKEY_LEN))
				return KURA_ECORRUPT;
			got |= 1;
		} else if (strcmp(name, "vault_id") == 0) {
			if (strlen(hex) != 32 || kura_hex_decode(hex, vid, 16))
				return KURA_ECORRUPT;
			got |= 2;
		}
	}
	return got == 3 ? 0 : KURA_ECORRUPT;
}

/* ---- the leaves ---- */

/* Hand a document to the scanners (scanq.c); KURA_ESTATE once one of them
 * has found malware, which undoes the restore. */
static int put_content(struct rst *s, const uint8_t *p, size_t n)
{
	int r = kura_scanq_add(s->scanq, p, n);
	if (r == KURA_ESTATE)
		why(s, "malware found");
	return r;
}

/* Wait for the scans; their verdict. */
static int scans_done(struct rst *s)
{
	struct kura_scanq_result sr;
	int r = kura_scanq_finish(s->scanq, &sr);
	s->scanq = NULL;
	s->res->scanned_docs += sr.docs;
	s->res->scanned_bytes += sr.bytes;
	s->res->scan_seconds += sr.seconds;
	if (r == KURA_ESTATE) {
		snprintf(s->res->infected, sizeof(s->res->infected), "%s", sr.virus);
		s->err_set = 0;
		why(s, "malware found: %s", sr.virus);
	} else if (r) {
		why(s, "the malware scan failed: %s", sr.virus);
	}
	return r;
}

/* A chunked document, joined from its chunks into s->doc. */
static int join_chunks(struct rst *s, uint64_t index, const struct kura_seg_entry *e)
{
	kura_buf_reset(&s->doc);
	for (uint32_t i = 0; i < e->nchunks; i++) {
		struct kura_seg_chunk ch;
		kura_seg_chunk_at(e, i, &ch);
		int r = fetch(s, ch.id, KURA_OBJ_CHUNK, &s->chunk);
		if (r)
			return r;
		if (s->chunk.len != ch.len) {
			why(s, "a chunk of leaf %llu has the wrong length", (unsigned long long)index);
			return KURA_EVERIFY;
		}
		if ((r = kura_buf_append(&s->doc, s->chunk.data, s->chunk.len)))
			return r;
	}
	if (s->doc.len != e->content_len) {
		why(s, "leaf %llu: chunks do not add up", (unsigned long long)index);
		return KURA_EVERIFY;
	}
	return 0;
}

/* The content of a version entry (NULL for an event or a retraction). */
static int entry_content(struct rst *s, uint64_t index, const struct kura_seg_entry *e,
			 const uint8_t **ret, size_t *ret_len)
{
	*ret = NULL;
	*ret_len = 0;
	if (e->kind != KURA_SEG_VERSION || e->mode == KURA_SEG_NONE)
		return 0;
	int r = 0;
	if (e->mode == KURA_SEG_INLINE) {
		*ret = e->content ? e->content : (const uint8_t *)"";
		*ret_len = e->content_len;
	} else if (!(r = join_chunks(s, index, e))) {
		*ret = s->doc.data ? s->doc.data : (const uint8_t *)"";
		*ret_len = s->doc.len;
	}
	return r ? r : put_content(s, *ret, *ret_len);
}

static void count_entry(struct rst *s, const struct kura_seg_entry *e, size_t clen)
{
	if (e->kind == KURA_SEG_VERSION)
		s->res->versions++;
	else
		s->res->events++;
	s->res->content_bytes += clen;
	s->done++;
	if (s->o->progress && (s->done % 1024 == 0 || s->done == s->total))
		s->o->progress(s->o->pctx, s->done, s->total);
}

static int on_entry(void *ctx, uint64_t index, const struct kura_seg_entry *e)
{
	struct rst *s = ctx;
	const uint8_t *content;
	size_t clen;
	if (index != kura_restore_size(s->w)) {
		why(s, "segment leaves out of order at leaf %llu", (unsigned long long)index);
		return KURA_EVERIFY;
	}
	int r = entry_content(s, index, e, &content, &clen);
	if (r)
		return r;
	r = kura_restore_leaf(s->w, e->leaf, e->leaf_len, content, clen);
	if (r) {
		why(s, "leaf %llu %s", (unsigned long long)index,
		    r == KURA_EVERIFY ? "does not match the content the ledger committed to"
				      : "cannot be restored");
		return r == KURA_EINVAL ? KURA_EVERIFY : r;
	}
	count_entry(s, e, clen);
	return 0;
}

static int on_sth(void *ctx, const struct kura_sth *sth)
{
	struct rst *s = ctx;
	struct kura_sth t = *sth;
	memcpy(t.log_id, s->res->sth.log_id, KURA_HASH_LEN);
	int r = kura_restore_sth(s->w, &t);
	if (r) {
		why(s, "the leaves do not reproduce the signed tree head of size %llu",
		    (unsigned long long)sth->tree_size);
		return KURA_EVERIFY;
	}
	s->res->sths++;
	return 0;
}

/* ---- consistency with what is known to come later ---- */

/* Generation gen's manifest into l if it is readable, filed under its own
 * generation and signed with the vault's key. */
static int later_manifest(struct rst *s, uint64_t gen, struct kura_buf *b, struct kura_manifest *l)
{
	if (s->repo->ops->manifest_get(s->repo, gen, b) || kura_manifest_parse(b->data, b->len, l))
		return KURA_EVERIFY;
	return l->generation != gen || kura_manifest_verify(l, b->data, b->len, s->pub) ? KURA_EVERIFY
											 : 0;
}

static int check_later(struct rst *s, const struct kura_manifest *g, const struct kura_repo_gen *gens,
		       size_t ngens)
{
	struct kura_manifest *ok = calloc(ngens + 1, sizeof(*ok));
	struct kura_buf b;
	size_t nok = 0;
	int r = ok ? 0 : KURA_ENOMEM;
	kura_buf_init(&b, KURA_MANIFEST_MAX);
	s->res->newest = g->sth;
	for (size_t i = 0; !r && i < ngens; i++) {
		struct kura_manifest l = {0};
		if (gens[i].generation <= g->generation)
			continue;
		/* A manifest that does not verify is not the vault's: it proves
		 * nothing either way (kura backup verify reports it). */
		if (later_manifest(s, gens[i].generation, &b, &l)) {
			kura_manifest_release(&l);
			continue;
		}
		int e = kura_manifest_extends(g, &l);
		for (size_t j = 0; e == KURA_ENOTFOUND && j < nok; j++)
			e = kura_manifest_extends(&ok[j], &l);
		if (e == KURA_EVERIFY || e == KURA_EINVAL) {
			why(s, "generation %llu is inconsistent with the later generation %llu "
			       "(history was rewritten)",
			    (unsigned long long)g->generation, (unsigned long long)l.generation);
			kura_manifest_release(&l);
			r = KURA_EVERIFY;
			break;
		}
		if (e) {
			kura_manifest_release(&l);
			continue;
		}
		s->res->later_checked++;
		if (l.sth.tree_size >= s->res->newest.tree_size)
			s->res->newest = l.sth;
		ok[nok++] = l;
	}
	for (size_t j = 0; j < nok; j++)
		kura_manifest_release(&ok[j]);
	free(ok);
	kura_buf_release(&b);
	return r;
}

/* A tree head (kura sth --json) or a consistency proof (kura proof
 * --consistency G_SIZE) given with --against. */
/* A consistency proof document: it must prove the step from this
 * generation's tree head (its old_size and old_root) to its own. */
static int against_proof(struct rst *s, const struct kura_manifest *g, json_t *j,
			 const struct kura_buf *doc, struct kura_sth *t)
{
	struct kura_proof_summary sum;
	uint8_t old_root[KURA_HASH_LEN];
	if (kura_proof_verify(doc->data, doc->len, s->pub, &sum, NULL) ||
	    sum.type != KURA_PROOF_CONSISTENCY || sum.old_size != g->sth.tree_size)
		return KURA_EVERIFY;
	if (kura_json_get_hash(j, "old_root", old_root, KURA_HASH_LEN) ||
	    !kura_ct_equal(old_root, g->sth.root, KURA_HASH_LEN))
		return KURA_EVERIFY;
	return kura_sth_from_json(json_object_get(j, "sth"), t) ? KURA_EVERIFY : 0;
}

/* A tree head: no larger than the generation, compared with the restored
 * tree at its size; else equal to the newest later generation's. */
static int against_sth(struct rst *s, struct kura_vault *v, const struct kura_manifest *g,
		       const char *path, json_t *j, struct kura_sth *t)
{
	uint8_t root[KURA_HASH_LEN];
	int r = kura_sth_from_json(j, t);
	if (r)
		return r;
	if (kura_sth_verify(t, s->pub))
		return KURA_EVERIFY;
	if (t->tree_size == 0)
		return 0;
	if (t->tree_size <= g->sth.tree_size) {
		r = merkle_subtree_root(0, t->tree_size, kura_ledger_get_node, kura_vault_store(v),
					root);
		return r ? r : kura_ct_equal(root, t->root, KURA_HASH_LEN) ? 0 : KURA_EVERIFY;
	}
	if (t->tree_size == s->res->newest.tree_size)
		return kura_ct_equal(t->root, s->res->newest.root, KURA_HASH_LEN) ? 0 : KURA_EVERIFY;
	why(s, "%s cannot be compared with generation %llu (no later generation here has its "
	       "size): give a consistency proof (kura proof --consistency %llu) instead",
	    path, (unsigned long long)g->generation, (unsigned long long)g->sth.tree_size);
	return KURA_EVERIFY;
}

/* A tree head (kura sth --json) or a consistency proof (kura proof
 * --consistency G_SIZE) given with --against. */
static int check_against(struct rst *s, struct kura_vault *v, const struct kura_manifest *g,
			 const char *path)
{
	struct kura_buf b;
	json_error_t je;
	struct kura_sth t = {0};
	kura_buf_init(&b, 1u << 20);
	int r = kura_fs_read(path, 1u << 20, &b);
	json_t *j = r ? NULL : json_loadb((char *)b.data, b.len, 0, &je);
	if (!r && !j)
		r = KURA_EINVAL;
	if (!r)
		r = json_object_get(j, "kura_proof") ? against_proof(s, g, j, &b, &t)
						     : against_sth(s, v, g, path, j, &t);
	if (r == KURA_EVERIFY)
		why(s, "generation %llu is inconsistent with the tree head in %s",
		    (unsigned long long)g->generation, path);
	else if (r)
		why(s, "cannot read %s: %s", path, kura_strerror(r));
	if (!r && t.tree_size > s->res->newest.tree_size)
		s->res->newest = t;
	s->res->later_checked += !r;
	json_decref(j);
	kura_buf_release(&b);
	return r ? KURA_EVERIFY : 0;
}

/* ---- the directory ---- */

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p) ? -1 : 0;
}

static void remove_tree(const char *dir, int created)
{
	if (created) {
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		return;
	}
	/* An empty directory the user made: empty it again. */
	DIR *d = opendir(dir);
	struct dirent *de;
	struct kura_buf p;
	kura_buf_init(&p, 8192);
	while (d && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		kura_buf_reset(&p);
		if (!kura_buf_printf(&p, "%s/%s", dir, de->d_name) && !kura_buf_append_byte(&p, 0))
			nftw((char *)p.data, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
	if (d)
		closedir(d);
	kura_buf_release(&p);
}

static int new_dir(const char *dir, int *created)
{
	*created = 0;
	if (mkdir(dir, 0700) == 0) {
		*created = 1;
		return 0;
	}
	if (errno != EEXIST)
		return KURA_EIO;
	DIR *d = opendir(dir);
	struct dirent *de;
	int empty = 1;
	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			empty = 0;
	if (d)
		closedir(d);
	return d && empty ? 0 : KURA_EEXIST; /* never over an existing vault */
}

static int pubkey_file(const char *dir, const uint8_t pub[KURA_PUBKEY_LEN])
{
	struct kura_buf pem, path;
	kura_buf_init(&pem, 4096);
	kura_buf_init(&path, 8192);
	int r = kura_ed25519_public_pem(pub, &pem);
	if (!r)
		r = kura_buf_printf(&path, "%s/%s", dir, KURA_VAULT_PUBKEY);
	if (!r)
		r = kura_buf_append_byte(&path, 0);
	if (!r)
		r = kura_fs_write_atomic((char *)path.data, pem.data, pem.len, 0644);
	kura_buf_release(&pem);
	kura_buf_release(&path);
	return r;
}

static void problem_cb(void *ctx, const struct kura_verify_problem *p)
{
	struct rst *s = ctx;
	why(s, "the restored vault fails kura verify: %s: %s", p->code, p->detail);
}

/* A generation being restored. */
struct gen_ctx {
	uint64_t gen;
	struct kura_manifest m;
	struct kura_buf mb;        /* the manifest file */
	uint8_t master[KURA_KEY_LEN];
	json_t *snap;              /* the state snapshot */
	struct kura_vault *v;      /* the new vault */
	int created, made;         /* the directory was made / written into */
};

static int load_manifest(struct rst *s, struct gen_ctx *g)
{
	int r = s->repo->ops->manifest_get(s->repo, g->gen, &g->mb);
	if (r) {
		why(s, "generation %llu: %s", (unsigned long long)g->gen, s->repo->err);
		return r;
	}
	if ((r = kura_manifest_parse(g->mb.data, g->mb.len, &g->m))) {
		why(s, "the manifest of generation %llu is malformed", (unsigned long long)g->gen);
		return r;
	}
	if (g->m.generation != g->gen) {
		why(s, "the manifest named %llu says it is generation %llu",
		    (unsigned long long)g->gen, (unsigned long long)g->m.generation);
		return KURA_EVERIFY;
	}
	s->res->generation = g->gen;
	s->res->sth = g->m.sth;
	return 0;
}

/* Steps 1-2 (formats/backup.md §9): the keys open, the snapshot
 * authenticates, and the manifest is signed by the key it holds. */
static int open_generation(struct rst *s, struct gen_ctx *g)
{
	const struct kura_manifest *m = &g->m;
	uint8_t vid[16];
	json_error_t je;
	int r = kura_key_unwrap_master(m->keys, m->vault_id, s->o->secret, s->o->secret_len,
				       s->o->recovery, g->master);
	if (r) {
		why(s, "the %s does not open this backup",
		    s->o->recovery ? "recovery key" : "passphrase");
		return r;
	}
	if ((r = kura_backup_keys_derive(g->master, m->vault_id, &s->keys)) ||
	    (r = fetch(s, m->state_id, KURA_OBJ_STATE, &s->plain)))
		return r;
	g->snap = json_loadb((char *)s->plain.data, s->plain.len, 0, &je);
	if (!g->snap || snapshot_pub(g->snap, s->pub, vid) || memcmp(vid, m->vault_id, sizeof(vid))) {
		why(s, "the state snapshot of generation %llu is malformed", (unsigned long long)g->gen);
		return KURA_EVERIFY;
	}
	if (s->o->trusted_pub && !kura_ct_equal(s->o->trusted_pub, s->pub, KURA_PUBKEY_LEN)) {
		why(s, "generation %llu belongs to another vault (its ledger key differs)",
		    (unsigned long long)g->gen);
		return KURA_EVERIFY;
	}
	if (kura_manifest_verify(m, g->mb.data, g->mb.len, s->pub)) {
		why(s, "the manifest of generation %llu is not signed by the vault's ledger key",
		    (unsigned long long)g->gen);
		return KURA_EVERIFY;
	}
	memcpy(s->res->sth.log_id, m->sth.log_id, KURA_HASH_LEN);
	return 0;
}

/* The new vault: its directory, meta, patients, state and public key;
 * then it is opened like any vault. */
static int create_vault(struct rst *s, struct gen_ctx *g, const char *dir)
{
	int r = new_dir(dir, &g->created);
	if (r) {
		why(s, "%s %s", dir, r == KURA_EEXIST ? "is not empty: restore only into a new directory"
						   : "cannot be created");
		return r;
	}
	g->made = 1;
	if ((r = write_snapshot(s, g->snap, dir, g->master, g->m.vault_id)) ||
	    (r = pubkey_file(dir, s->pub)))
		return r;
	const char *pass = s->o->recovery ? s->o->new_pass : s->o->secret;
	size_t plen = s->o->recovery ? s->o->new_pass_len : s->o->secret_len;
	r = kura_vault_open(dir, pass, plen, 0, &g->v);
	if (r)
		why(s, "the restored key material does not open: %s", kura_strerror(r));
	return r;
}

static int restore_segment(struct rst *s, struct gen_ctx *g, size_t i)
{
	const struct kura_manifest_segment *seg = &g->m.segs[i];
	uint64_t first;
	uint32_t count;
	int r = fetch(s, seg->id, KURA_OBJ_SEGMENT, &s->plain);
	if (r)
		return r;
	r = kura_seg_parse(s->plain.data, s->plain.len, &first, &count, on_entry, on_sth, s);
	if (r == KURA_ECORRUPT)
		why(s, "segment %zu of generation %llu is malformed", i, (unsigned long long)g->gen);
	if (!r && (first != seg->first || count != seg->count)) {
		why(s, "segment %zu covers other leaves than the manifest says", i);
		r = KURA_EVERIFY;
	}
	return r ? r : kura_restore_commit(s->w);
}

/* The generation's own tree head ends it. */
static int check_final_sth(struct rst *s, struct gen_ctx *g)
{
	struct kura_store *st = kura_vault_store(g->v);
	struct kura_sth have;
	if (kura_restore_size(s->w) != g->m.sth.tree_size) {
		why(s, "generation %llu holds %llu leaves, its tree head %llu",
		    (unsigned long long)g->gen, (unsigned long long)kura_restore_size(s->w),
		    (unsigned long long)g->m.sth.tree_size);
		return KURA_EVERIFY;
	}
	int e = st->ops->sth_get(st, g->m.sth.tree_size, &have);
	if (e == KURA_ENOTFOUND)
		return on_sth(s, &g->m.sth);
	if (e || !kura_ct_equal(have.root, g->m.sth.root, KURA_HASH_LEN) ||
	    !kura_ct_equal(have.signature, g->m.sth.signature, KURA_SIG_LEN)) {
		why(s, "the leaves do not reproduce generation %llu's tree head",
		    (unsigned long long)g->gen);
		return KURA_EVERIFY;
	}
	return 0;
}

/* Steps 4-6: every segment's leaves, scanned on two threads beside the
 * writes (up to 16 MiB waiting); every document must be clean. */
static int restore_leaves(struct rst *s, struct gen_ctx *g)
{
	int r = kura_restore_begin(g->v, &s->w);
	if (!r)
		r = kura_scanq_start(s->o->scanner, 2, 16u << 20, &s->scanq);
	s->total = g->m.sth.tree_size;
	for (size_t i = 0; !r && i < g->m.nsegs; i++)
		r = restore_segment(s, g, i);
	if (!r)
		r = check_final_sth(s, g);
	int sv = scans_done(s);
	if (!r || r == KURA_ESTATE)
		r = sv ? sv : r;
	if (!r)
		r = kura_restore_commit(s->w);
	kura_restore_end(s->w);
	s->w = NULL;
	return r;
}

/* Step 7 and the RPO: the tree heads given with --against, kura verify. */
static int final_checks(struct rst *s, struct gen_ctx *g)
{
	struct kura_verify_opts vo = {.ctx = s, .problem = problem_cb};
	struct kura_verify_report rep;
	int r = 0;
	for (size_t i = 0; !r && i < s->o->nagainst; i++)
		r = check_against(s, g->v, &g->m, s->o->against[i]);
	if (r)
		return r;
	r = kura_vault_verify(g->v, &vo, &rep);
	if (r) {
		if (!s->err_set)
			why(s, "the restored vault fails kura verify: %s", kura_strerror(r));
		return KURA_EVERIFY;
	}
	if (s->res->newest.tree_size >= g->m.sth.tree_size) {
		s->res->rpo_entries = s->res->newest.tree_size - g->m.sth.tree_size;
		s->res->rpo_us = s->res->newest.time_us - g->m.sth.time_us;
	}
	return 0;
}

/* Restore one generation; on failure the directory is emptied. */
static int restore_one(struct rst *s, uint64_t gen, const char *dir, const struct kura_repo_gen *gens,
		       size_t ngens)
{
	struct gen_ctx g = {.gen = gen};
	kura_buf_init(&g.mb, KURA_MANIFEST_MAX);
	s->err_set = 0;
	s->res->why[0] = 0;
	s->res->infected[0] = 0;
	int r = load_manifest(s, &g);
	if (!r)
		r = open_generation(s, &g);
	if (!r)
		r = check_later(s, &g.m, gens, ngens);
	if (!r)
		r = create_vault(s, &g, dir);
	if (!r)
		r = restore_leaves(s, &g);
	if (!r)
		r = final_checks(s, &g);
	kura_vault_close(g.v);
	if (r && g.made)
		remove_tree(dir, g.created);
	kura_wipe(g.master, sizeof(g.master));
	kura_wipe(&s->keys, sizeof(s->keys));
	json_decref(g.snap);
	kura_manifest_release(&g.m);
	kura_buf_release(&g.mb);
	return r;
}

/* The generation asked for. */
static int restore_chosen(struct rst *s, const char *dir, const struct kura_repo_gen *gens,
			  size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (gens[i].generation == s->o->generation)
			return restore_one(s, s->o->generation, dir, gens, n);
	snprintf(s->res->why, sizeof(s->res->why), "there is no generation %llu here",
		 (unsigned long long)s->o->generation);
	return KURA_ENOTFOUND;
}

/* The newest, or with latest_clean the newest that passes. */
static int restore_newest(struct rst *s, const char *dir, const struct kura_repo_gen *gens,
			  size_t n)
{
	int r = KURA_ENOTFOUND;
	for (size_t i = n; i-- > 0;) {
		r = restore_one(s, gens[i].generation, dir, gens, n);
		/* A wrong key or an occupied directory is the same for every one. */
		if (!r || !s->o->latest_clean || r == KURA_EDENIED || r == KURA_EEXIST ||
		    r == KURA_ENOMEM)
			break;
		if (s->o->refused)
			s->o->refused(s->o->rctx, gens[i].generation, r, s->res->why);
	}
	return r;
}

int kura_restore(struct kura_repo *repo, const char *dir, const struct kura_restore_opts *o,
		 struct kura_restore_result *ret)
{
	struct rst s = {.repo = repo, .o = o, .res = ret};
	struct kura_repo_gen *gens = NULL;
	size_t n = 0;
	memset(ret, 0, sizeof(*ret));
	if (!o->scanner)
		return KURA_EINVAL; /* never restore unscanned */
	int r = repo->ops->manifest_list(repo, &gens, &n);
	if (!r && n == 0) {
		snprintf(ret->why, sizeof(ret->why), "there is no generation here");
		r = KURA_ENOTFOUND;
	}
	kura_buf_init(&s.obj, KURA_OBJ_MAX);
	kura_buf_init(&s.plain, KURA_OBJ_MAX_PLAIN);
	kura_buf_init(&s.chunk, KURA_OBJ_MAX_PLAIN);
	kura_buf_init(&s.doc, KURA_MAX_CONTENT);
	s.z = kura_obj_ctx_new(3);
	if (!r && !s.z)
		r = KURA_ENOMEM;
	if (!r)
		r = o->generation && !o->latest_clean ? restore_chosen(&s, dir, gens, n)
						      : restore_newest(&s, dir, gens, n);
	kura_obj_ctx_free(s.z);
	kura_buf_release(&s.obj);
	kura_buf_release_secret(&s.plain);
	kura_buf_release_secret(&s.chunk);
	kura_buf_release_secret(&s.doc);
	free(gens);
	return r;
}
