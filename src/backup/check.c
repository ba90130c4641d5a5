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
	/* The current segment's tree heads, checked as the leaves reach their
	 * sizes (a segment lists them after its leaves). */
	struct kura_sth *heads;
	size_t nheads, capheads, nexthead;
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

/* Every tree head up to the current size must have this size and root
 * (a head whose size the leaves passed without reaching it is bad). */
static void check_heads(struct chk *c)
{
	while (c->nexthead < c->nheads && c->heads[c->nexthead].tree_size <= c->range.size) {
		const struct kura_sth *sth = &c->heads[c->nexthead++];
		uint8_t root[KURA_HASH_LEN];
		merkle_range_root(&c->range, root);
		if (sth->tree_size != c->range.size || !kura_ct_equal(root, sth->root, KURA_HASH_LEN))
			c->bad_leaf = 1;
	}
}

static int leaf_cb(void *ctx, uint64_t index, const struct kura_seg_entry *e)
{
	struct chk *c = ctx;
	uint8_t h[KURA_HASH_LEN];
	if (index != c->range.size)
		return KURA_ECORRUPT;
	check_heads(c); /* a head at the segment's start (the empty tree's, in the first) */
	merkle_leaf_hash(e->leaf, e->leaf_len, h);
	int r = merkle_range_append(&c->range, h, NULL, NULL);
	if (!r)
		check_heads(c);
	return r;
}

static int sth_cb(void *ctx, const struct kura_sth *sth)
{
	struct chk *c = ctx;
	if (c->nheads == c->capheads) {
		size_t cap = c->capheads ? 2 * c->capheads : 64;
		void *p = realloc(c->heads, cap * sizeof(*c->heads));
		if (!p)
			return KURA_ENOMEM;
		c->heads = p;
		c->capheads = cap;
	}
	c->heads[c->nheads++] = *sth;
	return 0;
}

/* One generation: every object, and with keys its leaves and root. */
static int check_generation(struct chk *c, const struct kura_manifest *m)
{
	uint8_t (*ids)[KURA_OBJ_ID_LEN] = NULL;
	size_t n = 0;
	int bad = 0;
	int r = kura_manifest_objects(m, &ids, &n);
	merkle_range_init(&c->range);
	c->bad_leaf = 0;
	for (size_t i = 0; !r && i < n; i++) {
		int type = i == 0 ? KURA_OBJ_STATE : i <= m->nsegs ? KURA_OBJ_SEGMENT : KURA_OBJ_CHUNK;
		int e = check_object(c, ids[i], type, c->keys && type == KURA_OBJ_SEGMENT);
		if (e == KURA_EVERIFY) {
			bad = 1;
			continue;
		}
		if (e) {
			r = e;
			break;
		}
		if (c->keys && type == KURA_OBJ_SEGMENT && !bad) {
			uint64_t first;
			uint32_t count;
			/* The heads first (they follow the leaves), then the leaves. */
			c->nheads = c->nexthead = 0;
			int x = kura_seg_parse(c->plain.data, c->plain.len, &first, &count, NULL,
					       sth_cb, c);
			if (!x)
				x = kura_seg_parse(c->plain.data, c->plain.len, &first, &count,
						   leaf_cb, NULL, c);
			if (!x && c->nexthead < c->nheads)
				c->bad_leaf = 1; /* a head beyond the segment's leaves */
			if (x == KURA_ENOMEM) {
				r = x;
				break;
			}
			if (x) {
				problem(c, "generation %llu: segment %zu is malformed",
					(unsigned long long)m->generation, i - 1);
				bad = 1;
			}
		}
	}
	if (!r && c->keys && !bad) {
		uint8_t root[KURA_HASH_LEN];
		merkle_range_root(&c->range, root);
		if (c->bad_leaf || c->range.size != m->sth.tree_size ||
		    !kura_ct_equal(root, m->sth.root, KURA_HASH_LEN)) {
			problem(c, "generation %llu: its leaves do not reproduce its signed tree head",
				(unsigned long long)m->generation);
			bad = 1;
		}
	}
	free(ids);
	return r ? r : bad ? KURA_EVERIFY : 0;
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
		int e = repo->ops->manifest_get(repo, gens[i].generation, &mb);
		if (!e)
			e = kura_manifest_parse(mb.data, mb.len, &m);
		if (e) {
			problem(&c, "generation %llu: the manifest is unreadable or malformed",
				(unsigned long long)gens[i].generation);
			kura_manifest_release(&m);
			continue;
		}
		if (m.generation != gens[i].generation)
			problem(&c, "generation %llu: the manifest says it is generation %llu",
				(unsigned long long)gens[i].generation,
				(unsigned long long)m.generation);
		/* Without a trusted key, the first manifest's key is taken and
		 * every other must agree (kura backup verify --pubkey is better). */
		if (!have_pub) {
			memcpy(pub, m.ledger_pub, KURA_PUBKEY_LEN);
			have_pub = 1;
		}
		if (kura_manifest_verify(&m, mb.data, mb.len, pub)) {
			problem(&c, "generation %llu: the manifest's signature does not verify "
				    "(forged, altered, or another vault's)",
				(unsigned long long)m.generation);
			kura_manifest_release(&m);
			continue;
		}
		if (have_prev) {
			int x = kura_manifest_extends(&prev, &m);
			if (x == KURA_EVERIFY || x == KURA_EINVAL)
				problem(&c, "generation %llu rewrites the history of generation %llu",
					(unsigned long long)m.generation,
					(unsigned long long)prev.generation);
			else if (x == KURA_ENOTFOUND)
				problem(&c, "generation %llu carries no proof of consistency with "
					    "generation %llu",
					(unsigned long long)m.generation,
					(unsigned long long)prev.generation);
		}
		e = check_generation(&c, &m);
		if (e && e != KURA_EVERIFY)
			r = e;
		kura_manifest_release(&prev);
		prev = m;
		have_prev = 1;
	}
	kura_manifest_release(&prev);
	kura_obj_ctx_free(c.z);
	kura_buf_release(&mb);
	kura_buf_release(&c.obj);
	kura_buf_release_secret(&c.plain);
	free(c.seen);
	free(c.heads);
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

int kura_backup_export(struct kura_repo *src, uint64_t gen, const char *dir,
		       kura_progress_fn progress, void *pctx, uint64_t *ret_gen,
		       uint64_t *ret_bytes)
{
	struct kura_repo_gen *gens = NULL;
	struct kura_manifest m = {0};
	struct kura_repo *dst = NULL;
	struct kura_buf mb, ob, sums, path;
	uint8_t (*ids)[KURA_OBJ_ID_LEN] = NULL;
	size_t n = 0, nids = 0;
	*ret_bytes = 0;
	kura_buf_init(&mb, KURA_MANIFEST_MAX);
	kura_buf_init(&ob, KURA_OBJ_MAX);
	kura_buf_init(&sums, 64u << 20);
	kura_buf_init(&path, 8192);
	int r = src->ops->manifest_list(src, &gens, &n);
	if (!r && n == 0)
		r = KURA_ENOTFOUND;
	if (!r && !gen)
		gen = gens[n - 1].generation;
	if (!r)
		r = src->ops->manifest_get(src, gen, &mb);
	if (!r)
		r = kura_manifest_parse(mb.data, mb.len, &m);
	if (!r)
		r = kura_manifest_objects(&m, &ids, &nids);
	if (!r)
		r = kura_repo_dir_open(dir, 1, m.vault_id, &dst);
	for (size_t i = 0; !r && i < nids; i++) {
		char hex[KURA_OBJ_ID_HEX + 1], rel[KURA_OBJ_ID_HEX + 16];
		r = src->ops->get(src, ids[i], &ob);
		if (!r)
			r = dst->ops->put(dst, ids[i], ob.data, ob.len);
		kura_obj_id_hex(ids[i], hex);
		snprintf(rel, sizeof(rel), "objects/%.2s/%s", hex, hex);
		if (!r)
			r = sums_line(&sums, rel, ob.data, ob.len);
		*ret_bytes += ob.len;
		if (progress)
			progress(pctx, i + 1, nids);
	}
	if (!r)
		r = dst->ops->manifest_put(dst, gen, mb.data, mb.len);
	if (!r) {
		char rel[64];
		snprintf(rel, sizeof(rel), "manifests/%0*llu", KURA_REPO_GEN_DIGITS,
			 (unsigned long long)gen);
		r = sums_line(&sums, rel, mb.data, mb.len);
		*ret_bytes += mb.len;
	}
	if (!r)
		r = kura_buf_printf(&path, "%s/SHA256SUMS", dir);
	if (!r)
		r = kura_buf_append_byte(&path, 0);
	if (!r)
		r = kura_fs_write_atomic((char *)path.data, sums.data, sums.len, 0444);
	kura_buf_reset(&path);
	if (!r)
		r = kura_buf_printf(&path, "%s/README.txt", dir);
	if (!r)
		r = kura_buf_append_byte(&path, 0);
	if (!r)
		r = kura_fs_write_atomic((char *)path.data, readme_text, sizeof(readme_text) - 1,
					 0444);
	if (!r)
		r = kura_fs_sync_dir(dir);
	*ret_gen = gen;
	kura_repo_close(dst);
	kura_manifest_release(&m);
	free(ids);
	free(gens);
	kura_buf_release(&mb);
	kura_buf_release(&ob);
	kura_buf_release(&sums);
	kura_buf_release(&path);
	return r;
}
