/* test_store.c - the SQLite store through its contract (store.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "store/store.h"

struct fx {
	char dir[64];
	char path[96];
	struct kura_store *s;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/kura-store-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/vault.db", f->dir);
	if (kura_store_sqlite_open(f->path, KURA_STORE_CREATE, &f->s))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];
	kura_store_close(f->s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	int r = system(cmd);
	free(f);
	return r == 0 ? 0 : -1;
}

static void sample_row(struct kura_version_row *row, uint64_t index, const char *rec, uint32_t v)
{
	memset(row, 0, sizeof(*row));
	row->leaf_index = index;
	snprintf(row->leaf.record_id, sizeof(row->leaf.record_id), "%s", rec);
	row->leaf.version = v;
	memcpy(row->leaf.patient_id, "P1", 3);
	memcpy(row->leaf.type, "Observation", 12);
	memcpy(row->leaf.content_type, "application/fhir+json", 22);
	row->leaf.status = KURA_STATUS_DRAFT;
	memcpy(row->leaf.inputter, "dr.a", 5);
	row->sealed = kura_slice_make("box", 3);
}

static int count_row(void *ctx, const struct kura_version_row *row)
{
	(void)row;
	(*(int *)ctx)++;
	return 0;
}

static void test_create_mode_and_exists(void **state)
{
	struct fx *f = *state;
	struct stat st;
	struct kura_store *again = NULL;
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(kura_store_sqlite_open(f->path, KURA_STORE_CREATE, &again), KURA_EEXIST);
	assert_int_equal(kura_store_sqlite_open("/nonexistent/x.db", 0, &again), KURA_ENOVAULT);
}

static void test_rows(void **state)
{
	struct fx *f = *state;
	struct kura_store *s = f->s;
	struct kura_version_row row;
	struct kura_buf b;
	int n = 0;
	kura_buf_init(&b, 1024);
	assert_int_equal(s->ops->txn_begin(s, 1), 0);
	assert_int_equal(s->ops->meta_put(s, "k", "v", 1), 0);
	assert_int_equal(s->ops->meta_put(s, "k", "w", 1), KURA_EEXIST);
	sample_row(&row, 0, "r1", 1);
	assert_int_equal(s->ops->version_put(s, &row), 0);
	sample_row(&row, 1, "r1", 2);
	assert_int_equal(s->ops->version_put(s, &row), 0);
	sample_row(&row, 2, "r1", 2); /* the same (record, version) again */
	assert_int_equal(s->ops->version_put(s, &row), KURA_EEXIST);
	assert_int_equal(s->ops->txn_commit(s), 0);
	assert_int_equal(s->ops->meta_get(s, "k", &b), 0);
	assert_memory_equal(b.data, "v", 1);
	assert_int_equal(s->ops->meta_get(s, "nope", &b), KURA_ENOTFOUND);
	assert_int_equal(s->ops->version_history(s, "r1", count_row, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(s->ops->version_get(s, "r2", 0, count_row, &n), KURA_ENOTFOUND);
	uint64_t total = 0;
	assert_int_equal(s->ops->version_count(s, &total), 0);
	assert_int_equal(total, 2);
	kura_buf_release(&b);
}

/* A value of the wrong storage class is damage, never cast (review H2). */
static void test_strict_columns(void **state)
{
	struct fx *f = *state;
	struct kura_store *s = f->s;
	struct kura_version_row row;
	sqlite3 *db;
	int n = 0;
	assert_int_equal(s->ops->txn_begin(s, 1), 0);
	sample_row(&row, 0, "r1", 1);
	assert_int_equal(s->ops->version_put(s, &row), 0);
	assert_int_equal(s->ops->txn_commit(s), 0);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP TRIGGER versions_append_only_u;"
					  "UPDATE versions SET status = 2.5;" /* REAL: no integer affinity conversion */, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(s->ops->version_scan(s, 0, count_row, &n), KURA_ECORRUPT);
	assert_int_equal(n, 0);
}

static void test_not_a_store(void **state)
{
	struct fx *f = *state;
	char other[128];
	struct kura_store *s = NULL;
	FILE *fp;
	snprintf(other, sizeof(other), "%s/other.db", f->dir);
	fp = fopen(other, "w");
	assert_non_null(fp);
	fputs("not a database at all, just text", fp);
	fclose(fp);
	assert_int_equal(kura_store_sqlite_open(other, 0, &s), KURA_EFOREIGN);
	struct stat before, after;
	stat(other, &before);
	kura_store_sqlite_open(other, 0, &s);
	stat(other, &after);
	assert_int_equal(before.st_size, after.st_size); /* opening wrote nothing */
}

static void test_tree_heads_and_nodes(void **state)
{
	struct fx *f = *state;
	struct kura_store *s = f->s;
	struct kura_sth a, b;
	uint8_t h[KURA_HASH_LEN] = {7}, out[KURA_HASH_LEN];
	memset(&a, 0, sizeof(a));
	assert_int_equal(s->ops->sth_latest(s, &b), KURA_ENOTFOUND);
	assert_int_equal(s->ops->txn_begin(s, 1), 0);
	a.tree_size = 5;
	assert_int_equal(s->ops->sth_put(s, &a), 0);
	a.tree_size = 9;
	assert_int_equal(s->ops->sth_put(s, &a), 0);
	assert_int_equal(s->ops->node_put(s, 3, 1, h), 0);
	assert_int_equal(s->ops->txn_commit(s), 0);
	assert_int_equal(s->ops->sth_latest(s, &b), 0);
	assert_int_equal(b.tree_size, 9);
	assert_int_equal(s->ops->sth_get(s, 5, &b), 0);
	assert_int_equal(s->ops->sth_get(s, 6, &b), KURA_ENOTFOUND);
	assert_int_equal(s->ops->node_get(s, 3, 1, out), 0);
	assert_memory_equal(out, h, KURA_HASH_LEN);
	assert_int_equal(s->ops->node_get(s, 3, 2, out), KURA_ENOTFOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_mode_and_exists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_strict_columns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_store, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tree_heads_and_nodes, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
