/*
 * fuzz_merkle.c - libFuzzer target for merkle_verify_inclusion and
 * merkle_verify_consistency.
 *
 * Input layout (missing bytes read as zero):
 *   [0]       t: the reference tree has 1 + t % 48 leaves
 *   [1..8]    a, little-endian: leaf index or old size
 *   [9..16]   b, little-endian: tree size or new size
 *   [17..48]  h1: leaf hash or old root
 *   [49..80]  h2: root or new root
 *   [81..]    the path, 32 bytes a hash (a partial last hash is ignored)
 *
 * Both verifiers first run on (a, b, h1, h2, path) as given: they must not
 * crash whatever the sizes.  Then against a reference tree built here, with
 * a and b reduced into it and the true roots, a proof must be accepted
 * exactly when h1 and the path are the genuine ones: anything else would be
 * a SHA-256 collision or a bug.  A violation aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/merkle.h"
#include "util/err.h"
#include "util/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define H KURA_HASH_LEN
#define TREE_MAX 48u
#define TREE_LEVELS 6u /* 2^5 <= TREE_MAX < 2^6 */
#define HEADER 81u
#define PATH_MAX_IN (MERKLE_MAX_PATH + 16u)

struct tree {
	uint64_t size;
	uint8_t node[TREE_LEVELS][TREE_MAX][H];
};

struct input {
	uint64_t a, b;
	uint8_t t, h1[H], h2[H];
	const uint8_t (*path)[H];
	size_t len;
};

static int tree_get(void *ctx, unsigned level, uint64_t index, uint8_t out[H])
{
	const struct tree *t = ctx;
	/* The library must only ask for nodes the tree has. */
	if (level >= TREE_LEVELS || index >= (t->size >> level))
		abort();
	memcpy(out, t->node[level][index], H);
	return 0;
}

static int tree_put(void *ctx, unsigned level, uint64_t index, const uint8_t h[H])
{
	struct tree *t = ctx;
	if (level >= TREE_LEVELS || index >= TREE_MAX)
		abort();
	memcpy(t->node[level][index], h, H);
	return 0;
}

static void tree_build(struct tree *t, uint64_t n)
{
	struct merkle_range r;
	uint8_t leaf[H];
	merkle_range_init(&r);
	for (uint64_t i = 0; i < n; i++) {
		const uint8_t d[2] = { 'f', (uint8_t)i };
		merkle_leaf_hash(d, sizeof(d), leaf);
		if (merkle_range_append(&r, leaf, tree_put, t))
			abort();
	}
	t->size = n;
}

/* The root of the first n leaves of t. */
static void tree_root(struct tree *t, uint64_t n, uint8_t out[H])
{
	struct merkle_range r;
	uint64_t full = t->size;
	t->size = n;
	if (merkle_range_load(&r, n, tree_get, t))
		abort();
	t->size = full;
	merkle_range_root(&r, out);
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void decode(const uint8_t *data, size_t size, struct input *in)
{
	uint8_t head[HEADER];
	memset(head, 0, sizeof(head));
	memcpy(head, data, size < HEADER ? size : HEADER);
	in->t = head[0];
	in->a = get_u64(head + 1);
	in->b = get_u64(head + 9);
	memcpy(in->h1, head + 17, H);
	memcpy(in->h2, head + 49, H);
	in->len = size > HEADER ? (size - HEADER) / H : 0;
	/* Point past the header only when there is something there. */
	in->path = (const uint8_t (*)[H])(in->len ? data + HEADER : data);
	if (in->len > PATH_MAX_IN)
		in->len = PATH_MAX_IN;
}

static int same_path(const struct input *in, uint8_t g[][H], size_t glen)
{
	return in->len == glen && (glen == 0 || memcmp(in->path, g, glen * H) == 0);
}

static void check_inclusion(struct tree *t, const struct input *in)
{
	uint8_t g[MERKLE_MAX_PATH][H], root[H];
	size_t glen;
	uint64_t n = 1 + in->b % t->size, i = in->a % n;
	uint64_t full = t->size;
	t->size = n;
	if (merkle_inclusion_proof(i, n, tree_get, t, g, &glen))
		abort();
	t->size = full;
	tree_root(t, n, root);
	int genuine = memcmp(in->h1, t->node[0][i], H) == 0 && same_path(in, g, glen);
	int ok = merkle_verify_inclusion(i, n, in->h1, in->path, in->len, root) == 0;
	if (ok != genuine)
		abort();
}

static void check_consistency(struct tree *t, const struct input *in)
{
	uint8_t g[MERKLE_MAX_PATH][H], old_root[H], new_root[H];
	size_t glen;
	uint64_t n = 1 + in->b % t->size, m = in->a % (n + 1);
	uint64_t full = t->size;
	t->size = n;
	if (merkle_consistency_proof(m, n, tree_get, t, g, &glen))
		abort();
	t->size = full;
	if (m == 0)
		merkle_empty_root(old_root);
	else
		tree_root(t, m, old_root);
	tree_root(t, n, new_root);
	int genuine = memcmp(in->h1, old_root, H) == 0 && same_path(in, g, glen);
	int ok = merkle_verify_consistency(m, n, in->h1, new_root, in->path, in->len) == 0;
	if (ok != genuine)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in;
	struct tree t;
	decode(data, size, &in);
	/* Raw sizes: any result is fine, a crash or a hang is not. */
	(void)merkle_verify_inclusion(in.a, in.b, in.h1, in.path, in.len, in.h2);
	(void)merkle_verify_consistency(in.a, in.b, in.h1, in.h2, in.path, in.len);
	tree_build(&t, 1 + in.t % TREE_MAX);
	check_inclusion(&t, &in);
	check_consistency(&t, &in);
	return 0;
}
