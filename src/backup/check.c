/*
 * check.c - checking a backup repository without writing anything
 * (`kura backup verify`), and exporting one generation for offline media
 * (`kura backup export`; BK-03, BK-04, BK-07).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "backup/backup.h"
#include "backup/segment.h"
#include "ledger/merkle.h"
#include "util/err.h"
#include "util/fs.h"
#include "util/time.h"
#include "util/banned.h"

struct chk {
	struct kura_repo *repo;
	const struct kura_backup_keys *keys;
	struct kura_obj_ctx *z;
	void (*report)(void *ctx, const char *line);
	void *rctx;
	struct kura_check_result *res;
	struct kura_buf obj, plain;
	uint8_t (*seen)[KURA_OBJ_ID_LEN]; /* objects already checked, sorted */
	size_t nseen, capseen;
	struct merkle_range range;
	uint64_t generation;
	int bad_leaf;
	/* The tree heads of the segment being read (listed after its leaves):
	 * collected in a first pass, checked as the leaves reach their size. */
	struct kura_sth *sths;
	size_t nsths, capsths, next_sth;
	const uint8_t *pub;
	const uint8_t *log_id;
};

static void problem(struct chk *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct chk *c, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	c->res->problems++;
	if (c->report)
		c->report(c->rctx, line);
}

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, KURA_OBJ_ID_LEN);
}

static int seen(struct chk *c, const uint8_t id[KURA_OBJ_ID_LEN])
{
	return c->nseen && bsearch(id, c->seen, c->nseen, KURA_OBJ_ID_LEN, cmp_id) != NULL;
}

static int mark_seen(struct chk *c, const uint8_t id[KURA_OBJ_ID_LEN])
{
	if (c->nseen == c->capseen) {
		size_t cap = c->capseen ? 2 * c->capseen : 1024;
		void *p = realloc(c->seen, cap * KURA_OBJ_ID_LEN);
		if (!p)
			return KURA_ENOMEM;
		c->seen = p;
		c->capseen = cap;
	}
	/* Insertion keeps the list sorted (objects are few thousand). */
	size_t i = c->nseen;
	while (i > 0 && memcmp(c->seen[i - 1], id, KURA_OBJ_ID_LEN) > 0) {
		memcpy(c->seen[i], c->seen[i - 1], KURA_OBJ_ID_LEN);
		i--;
	}
	memcpy(c->seen[i], id, KURA_OBJ_ID_LEN);
	c->nseen++;
	return 0;
}

/* Read an object (its hash is checked by get) and, with keys, open it. */
static int check_object(struct chk *c, const uint8_t id[KURA_OBJ_ID_LEN], int type, int need_plain)
{
	char hex[KURA_OBJ_ID_HEX + 1];
	kura_obj_id_hex(id, hex);
	if (!need_plain && seen(c, id))
		return 0;
	int r = c->repo->ops->get(c->repo, id, &c->obj);
	if (r == KURA_ENOTFOUND) {
		problem(c, "generation %llu: object %s is missing", (unsigned long long)c->generation, hex);
		return KURA_EVERIFY;
	}
	if (r == KURA_ECORRUPT) {
		problem(c, "generation %llu: object %s does not match its id (altered)",
			(unsigned long long)c->generation, hex);
		return KURA_EVERIFY;
	}
	if (r)
		return r;
	if (c->keys) {
		r = kura_obj_decode(c->z, c->keys, type, c->obj.data, c->obj.len, &c->plain);
		if (r) {
			problem(c, "generation %llu: object %s does not authenticate",
				(unsigned long long)c->generation, hex);
			return KURA_EVERIFY;
		}
	}
	if (!seen(c, id)) {
		c->res->objects++;
		c->res->bytes += c->obj.len;
		r = mark_seen(c, id);
	}
	return r;
}

static int no_entry(void *ctx, uint64_t index, const struct kura_seg_entry *e)
{
	(void)ctx;
	(void)index;
	(void)e;
	return 0;
}

static int collect_sth(void *ctx, const struct kura_sth *sth)
{
	struct chk *c = ctx;
	if (c->nsths == c->capsths) {
		size_t cap = c->capsths ? 2 * c->capsths : 64;
		void *p = realloc(c->sths, cap * sizeof(*c->sths));
		if (!p)
			return KURA_ENOMEM;
		c->sths = p;
		c->capsths = cap;
	}
	c->sths[c->nsths] = *sth;
	memcpy(c->sths[c->nsths].log_id, c->log_id, KURA_HASH_LEN);
	if (kura_sth_verify(&c->sths[c->nsths], c->pub))
		c->bad_leaf = 1;
	c->nsths++;
	return 0;
}

/* Check the collected tree heads of the current size. */
static void check_sths_at(struct chk *c)
{
	uint8_t root[KURA_HASH_LEN];
	while (c->next_sth < c->nsths && c->sths[c->next_sth].tree_size <= c->range.size) {
		const struct kura_sth *t = &c->sths[c->next_sth++];
		merkle_range_root(&c->range, root);
		if (t->tree_size != c->range.size || !kura_ct_equal(root, t->root, KURA_HASH_LEN))
			c->bad_leaf = 1;
	}
}

static int leaf_cb(void *ctx, uint64_t index, const struct kura_seg_entry *e)
{
	struct chk *c = ctx;
	uint8_t h[KURA_HASH_LEN];
	if (index != c->range.size)
		return KURA_ECORRUPT;
	check_sths_at(c);
	merkle_leaf_hash(e->leaf, e->leaf_len, h);
	int r = merkle_range_append(&c->range, h, NULL, NULL);
	if (!r)
		check_sths_at(c);
	return r;
}

static int no_sth(void *ctx, const struct kura_sth *sth)
{
	(void)ctx;
	(void)sth;
	return 0;
}

/* A segment's leaves extend the tree; its tree heads must match on the way. */
static int walk_segment(struct chk *c)
{
	uint64_t first;
	uint32_t count;
	c->nsths = c->next_sth = 0;
	int r = kura_seg_parse(c->plain.data, c->plain.len, &first, &count, no_entry, collect_sth, c);
	if (!r)
		r = kura_seg_parse(c->plain.data, c->plain.len, &first, &count, leaf_cb, no_sth, c);
	if (!r && c->next_sth != c->nsths)
		c->bad_leaf = 1; /* a tree head beyond the segment's leaves */
	return r;
}

/* One object of a generation; with keys, a segment's leaves are walked. */
static int check_one(struct chk *c, const struct kura_manifest *m, const uint8_t *id, size_t i,
		     int *bad)
{
	int type = i == 0 ? KURA_OBJ_STATE : i <= m->nsegs ? KURA_OBJ_SEGMENT : KURA_OBJ_CHUNK;
	int walk = c->keys && type == KURA_OBJ_SEGMENT;
	int e = check_object(c, id, type, walk);
	if (e == KURA_EVERIFY) {
		*bad = 1;
		return 0;
	}
	if (!e && walk && !*bad && walk_segment(c)) {
		problem(c, "generation %llu: segment %zu is malformed",
			(unsigned long long)m->generation, i - 1);
		*bad = 1;
	}
	return e;
}

/* One generation: every object, and with keys its leaves and root. */
static int check_generation(struct chk *c, const struct kura_manifest *m)
{
	uint8_t (*ids)[KURA_OBJ_ID_LEN] = NULL;
	uint8_t root[KURA_HASH_LEN];
	size_t n = 0;
	int bad = 0;
	int r = kura_manifest_objects(m, &ids, &n);
	merkle_range_init(&c->range);
	c->bad_leaf = 0;
	c->pub = m->ledger_pub;
	c->log_id = m->sth.log_id;
	for (size_t i = 0; !r && i < n; i++)
		r = check_one(c, m, ids[i], i, &bad);
	free(ids);
	if (r || !c->keys || bad)
		return r ? r : bad ? KURA_EVERIFY : 0;
	merkle_range_root(&c->range, root);
	if (c->bad_leaf || c->range.size != m->sth.tree_size ||
	    !kura_ct_equal(root, m->sth.root, KURA_HASH_LEN)) {
		problem(c, "generation %llu: its leaves do not reproduce its signed tree head",
			(unsigned long long)m->generation);
		return KURA_EVERIFY;
	}
	return 0;
}

/* A generation's manifest: readable, its own number, signed by the key
 * (the first manifest's when none is trusted), consistent with the one
 * before; 0 with *ok set when it can be checked further. */
static int check_manifest(struct chk *c, uint64_t gen, struct kura_buf *mb,
			  struct kura_manifest *m, const struct kura_manifest *prev, uint8_t *pub,
			  int *have_pub)
{
	if (c->repo->ops->manifest_get(c->repo, gen, mb) || kura_manifest_parse(mb->data, mb->len, m)) {
		problem(c, "generation %llu: the manifest is unreadable or malformed",
			(unsigned long long)gen);
		return KURA_EVERIFY;
	}
	if (m->generation != gen)
		problem(c, "generation %llu: the manifest says it is generation %llu",
			(unsigned long long)gen, (unsigned long long)m->generation);
	/* Without a trusted key, the first manifest's key is taken and every
	 * other must agree (kura backup verify --pubkey is better). */
	if (!*have_pub) {
		memcpy(pub, m->ledger_pub, KURA_PUBKEY_LEN);
		*have_pub = 1;
	}
	if (kura_manifest_verify(m, mb->data, mb->len, pub)) {
		problem(c, "generation %llu: the manifest's signature does not verify "
			   "(forged, altered, or another vault's)", (unsigned long long)m->generation);
		return KURA_EVERIFY;
	}
	int x = prev ? kura_manifest_extends(prev, m) : 0;
	if (x == KURA_EVERIFY || x == KURA_EINVAL)
		problem(c, "generation %llu rewrites the history of generation %llu",
			(unsigned long long)m->generation, (unsigned long long)prev->generation);
	else if (x == KURA_ENOTFOUND)
		problem(c, "generation %llu carries no proof of consistency with generation %llu",
			(unsigned long long)m->generation, (unsigned long long)prev->generation);
	return 0;
}

static void check_release(struct chk *c)
{
	kura_obj_ctx_free(c->z);
	kura_buf_release(&c->obj);
	kura_buf_release_secret(&c->plain);
	free(c->seen);
	free(c->sths);
}

int kura_backup_check(struct kura_repo *repo, const uint8_t *trusted_pub,
		      const struct kura_backup_keys *read_data,
		      void (*report)(void *ctx, const char *line), void *rctx,
		      struct kura_check_result *ret)
{
	struct chk c = {.repo = repo, .keys = read_data, .report = report, .rctx = rctx, .res = ret};
	struct kura_repo_gen *gens = NULL;
	struct kura_manifest prev = {0};
	struct kura_buf mb;
	uint8_t pub[KURA_PUBKEY_LEN];
	size_t n = 0;
	int have_pub = trusted_pub != NULL, have_prev = 0;
	memset(ret, 0, sizeof(*ret));
	if (trusted_pub)
		memcpy(pub, trusted_pub, KURA_PUBKEY_LEN);
	kura_buf_init(&mb, KURA_MANIFEST_MAX);
	kura_buf_init(&c.obj, KURA_OBJ_MAX);
	kura_buf_init(&c.plain, KURA_OBJ_MAX_PLAIN);
	c.z = kura_obj_ctx_new(3);
	int r = c.z ? repo->ops->manifest_list(repo, &gens, &n) : KURA_ENOMEM;
	if (!r && n == 0)
		problem(&c, "no generation here");
	for (size_t i = 0; !r && i < n; i++) {
		struct kura_manifest m = {0};
		c.generation = gens[i].generation;
		ret->generations++;
		if (check_manifest(&c, gens[i].generation, &mb, &m, have_prev ? &prev : NULL, pub,
				   &have_pub)) {
			kura_manifest_release(&m);
			continue;
		}
		int e = check_generation(&c, &m);
		r = e == KURA_EVERIFY ? 0 : e;
		kura_manifest_release(&prev);
		prev = m;
		have_prev = 1;
	}
	kura_manifest_release(&prev);
	kura_buf_release(&mb);
	check_release(&c);
	free(gens);
	return r ? r : ret->problems ? KURA_EVERIFY : 0;
}

/* ---- export ---- */

static const char readme_text[] =
	"kura backup - one generation for offline storage / オフライン保管用の 1 世代\n"
	"=======================================================================\n"
	"\n"
	"This directory is a complete kura backup repository holding one generation\n"
	"(manifests/ and objects/, format: docs/formats/backup.md of kura). Everything\n"
	"in it is encrypted (AES-256-GCM) and signed; nothing here reveals patient data.\n"
	"\n"
	"Check it (no keys needed):   sha256sum -c SHA256SUMS\n"
	"                             kura backup verify --from THIS_DIR\n"
	"Restore it on any machine, without the network, with kura and either the\n"
	"vault passphrase or the recovery key printed at `kura init`:\n"
	"    kura restore --from THIS_DIR --to NEW_VAULT_DIR\n"
	"    kura restore --from THIS_DIR --recovery-key-file KEY --to NEW_VAULT_DIR\n"
	"Malware signatures are needed for the restore (clamav database directory,\n"
	"--clamav-db DIR); the restore scans every document before writing it.\n"
	"\n"
	"このディレクトリは 1 世代分の完全な kura バックアップです（暗号化・署名済み）。\n"
	"検証: sha256sum -c SHA256SUMS または kura backup verify --from このディレクトリ\n"
	"復元: kura restore --from このディレクトリ --to 新しい保管庫\n"
	"（パスフレーズ、または kura init で印刷した復旧鍵 --recovery-key-file が必要）\n"
	"ネットワークは不要です。復元時にはすべての文書をマルウェア検査します。\n";

static int sums_line(struct kura_buf *sums, const char *rel, const uint8_t *p, size_t n)
{
	uint8_t h[KURA_HASH_LEN];
	kura_sha256(p, n, h);
	int r = kura_buf_append_hex(sums, h, KURA_HASH_LEN);
	return r ? r : kura_buf_printf(sums, "  %s\n", rel);
}

/* dir/name, written once and durably. */
static int write_file(const char *dir, const char *name, const void *p, size_t n)
{
	struct kura_buf path;
	kura_buf_init(&path, 8192);
	int r = kura_buf_printf(&path, "%s/%s", dir, name);
	if (!r)
		r = kura_buf_append_byte(&path, 0);
	if (!r)
		r = kura_fs_write_atomic((char *)path.data, p, n, 0444);
	kura_buf_release(&path);
	return r;
}

/* Copy every object of m from src to dst, noting each in sums. */
static int copy_objects(struct kura_repo *src, struct kura_repo *dst, const struct kura_manifest *m,
			struct kura_buf *sums, kura_progress_fn progress, void *pctx,
			uint64_t *bytes)
{
	uint8_t (*ids)[KURA_OBJ_ID_LEN] = NULL;
	struct kura_buf ob;
	size_t n = 0;
	kura_buf_init(&ob, KURA_OBJ_MAX);
	int r = kura_manifest_objects(m, &ids, &n);
	for (size_t i = 0; !r && i < n; i++) {
		char hex[KURA_OBJ_ID_HEX + 1], rel[KURA_OBJ_ID_HEX + 16];
		kura_obj_id_hex(ids[i], hex);
		snprintf(rel, sizeof(rel), "objects/%.2s/%s", hex, hex);
		r = src->ops->get(src, ids[i], &ob);
		if (!r)
			r = dst->ops->put(dst, ids[i], ob.data, ob.len);
		if (!r)
			r = sums_line(sums, rel, ob.data, ob.len);
		*bytes += ob.len;
		if (progress)
			progress(pctx, i + 1, n);
	}
	free(ids);
	kura_buf_release(&ob);
	return r;
}

/* The newest generation's number when gen is 0; the manifest of it. */
static int export_manifest(struct kura_repo *src, uint64_t *gen, struct kura_buf *mb,
			   struct kura_manifest *m)
{
	struct kura_repo_gen *gens = NULL;
	size_t n = 0;
	int r = src->ops->manifest_list(src, &gens, &n);
	if (!r && n == 0)
		r = KURA_ENOTFOUND;
	if (!r && !*gen)
		*gen = gens[n - 1].generation;
	free(gens);
	if (!r)
		r = src->ops->manifest_get(src, *gen, mb);
	return r ? r : kura_manifest_parse(mb->data, mb->len, m);
}

int kura_backup_export(struct kura_repo *src, uint64_t gen, const char *dir,
		       kura_progress_fn progress, void *pctx, uint64_t *ret_gen,
		       uint64_t *ret_bytes)
{
	struct kura_manifest m = {0};
	struct kura_repo *dst = NULL;
	struct kura_buf mb, sums;
	char rel[64];
	*ret_bytes = 0;
	kura_buf_init(&mb, KURA_MANIFEST_MAX);
	kura_buf_init(&sums, 64u << 20);
	int r = export_manifest(src, &gen, &mb, &m);
	if (!r)
		r = kura_repo_dir_open(dir, 1, m.vault_id, &dst);
	if (!r)
		r = copy_objects(src, dst, &m, &sums, progress, pctx, ret_bytes);
	/* The manifest last, as for any target. */
	if (!r)
		r = dst->ops->manifest_put(dst, gen, mb.data, mb.len);
	snprintf(rel, sizeof(rel), "manifests/%0*llu", KURA_REPO_GEN_DIGITS, (unsigned long long)gen);
	if (!r)
		r = sums_line(&sums, rel, mb.data, mb.len);
	*ret_bytes += r ? 0 : mb.len;
	if (!r)
		r = write_file(dir, "SHA256SUMS", sums.data, sums.len);
	if (!r)
		r = write_file(dir, "README.txt", readme_text, sizeof(readme_text) - 1);
	if (!r)
		r = kura_fs_sync_dir(dir);
	*ret_gen = gen;
	kura_repo_close(dst);
	kura_manifest_release(&m);
	kura_buf_release(&mb);
	kura_buf_release(&sums);
	return r;
}
