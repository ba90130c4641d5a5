/*
 * store_sqlite.c - the embedded default backend: one SQLite database in WAL
 * mode with synchronous=FULL, so a COMMIT returns only after fsync.
 * Schema: docs/formats/vault.md.  Triggers refuse UPDATE and DELETE on the
 * append-only tables; they do not stop someone with the file (they can drop
 * them) - that is what the ledger and `kura verify` are for.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "util/limits.h"
#include "util/banned.h"

enum stmt_id {
	ST_META_GET, ST_META_PUT, ST_PKEY_GET, ST_PKEY_PUT, ST_VPUT, ST_VGET,
	ST_VLATEST, ST_VHIST, ST_LIST_ALL, ST_LIST_PATIENT, ST_VSCAN, ST_VCOUNT,
	ST_NODE_GET, ST_NODE_PUT, ST_NODE_SCAN, ST_STH_PUT, ST_STH_LATEST,
	ST_STH_GET, ST_STH_SCAN, ST_EV_PUT, ST_EV_SCAN, ST_EV_COUNT, ST_STATE_GET,
	ST_STATE_PUT, ST_STATE_DEL, ST_STATE_SCAN, ST_STATE_SCAN_ALL, ST_META_SCAN, ST_PKEY_SCAN,
	ST_COUNT
};

#define ECOLS "leaf_index, time_us, utc_offset_min, clock, severity, outcome, action, " \
	      "actor, role, terminal, client_ip, cert_fp, patient_id, record_id, "   \
	      "version, query, reason, detail"

#define VCOLS "leaf_index, record_id, version, patient_id, type, content_type, " \
	      "status, inputter, confirmer, on_behalf_of, time_us, reason, "   \
	      "content_length, commitment, previous, sealed"

static const char *const stmt_sql[ST_COUNT] = {
	[ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
	[ST_META_PUT] = "INSERT INTO meta(key, value) VALUES (?1, ?2)",
	[ST_PKEY_GET] = "SELECT wrapped_key FROM patients WHERE patient_id = ?1",
	[ST_PKEY_PUT] = "INSERT INTO patients(patient_id, wrapped_key, created_us) "
			"VALUES (?1, ?2, ?3)",
	[ST_VPUT] = "INSERT INTO versions(" VCOLS ") VALUES "
		    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
	[ST_VGET] = "SELECT " VCOLS " FROM versions WHERE record_id = ?1 AND version = ?2",
	[ST_VLATEST] = "SELECT " VCOLS " FROM versions WHERE record_id = ?1 "
		       "ORDER BY version DESC LIMIT 1",
	[ST_VHIST] = "SELECT " VCOLS " FROM versions WHERE record_id = ?1 ORDER BY version",
	[ST_LIST_ALL] = "SELECT " VCOLS " FROM versions v WHERE version = "
			"(SELECT MAX(version) FROM versions w WHERE w.record_id = v.record_id) "
			"ORDER BY record_id",
	[ST_LIST_PATIENT] = "SELECT " VCOLS " FROM versions v WHERE patient_id = ?1 AND "
			    "version = (SELECT MAX(version) FROM versions w "
			    "WHERE w.record_id = v.record_id) ORDER BY record_id",
	[ST_VSCAN] = "SELECT " VCOLS " FROM versions WHERE leaf_index >= ?1 ORDER BY leaf_index",
	[ST_VCOUNT] = "SELECT COUNT(*) FROM versions",
	[ST_NODE_GET] = "SELECT hash FROM nodes WHERE id = ?1",
	[ST_NODE_PUT] = "INSERT INTO nodes(id, hash) VALUES (?1, ?2)",
	[ST_NODE_SCAN] = "SELECT id, hash FROM nodes ORDER BY id",
	[ST_STH_PUT] = "INSERT INTO tree_heads(tree_size, time_us, root, log_id, signature) "
		       "VALUES (?1, ?2, ?3, ?4, ?5)",
	[ST_STH_LATEST] = "SELECT tree_size, time_us, root, log_id, signature FROM tree_heads "
			  "ORDER BY tree_size DESC LIMIT 1",
	[ST_STH_GET] = "SELECT tree_size, time_us, root, log_id, signature FROM tree_heads "
		       "WHERE tree_size = ?1",
	[ST_STH_SCAN] = "SELECT tree_size, time_us, root, log_id, signature FROM tree_heads "
			"ORDER BY tree_size",
	[ST_EV_PUT] = "INSERT INTO events(" ECOLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
		      "?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
	[ST_EV_SCAN] = "SELECT " ECOLS " FROM events WHERE leaf_index >= ?1 ORDER BY leaf_index",
	[ST_EV_COUNT] = "SELECT COUNT(*) FROM events",
	[ST_STATE_GET] = "SELECT value, mac FROM state WHERE kind = ?1 AND key = ?2",
	[ST_STATE_PUT] = "INSERT OR REPLACE INTO state(kind, key, value, mac) VALUES (?1, ?2, ?3, ?4)",
	[ST_STATE_DEL] = "DELETE FROM state WHERE kind = ?1 AND key = ?2",
	[ST_STATE_SCAN] = "SELECT key, value, mac FROM state WHERE kind = ?1 ORDER BY key",
	[ST_STATE_SCAN_ALL] = "SELECT kind || '/' || key, value, mac FROM state ORDER BY kind, key",
	[ST_META_SCAN] = "SELECT key, value FROM meta ORDER BY key",
	[ST_PKEY_SCAN] = "SELECT patient_id, wrapped_key, created_us FROM patients ORDER BY patient_id",
};

/* Tables added with identity and audit (issue 3); created on every
 * writable open too, so vaults made before them gain them. */
static const char schema2_sql[] =
	"CREATE TABLE IF NOT EXISTS events(leaf_index INTEGER PRIMARY KEY,"
	" time_us INTEGER NOT NULL, utc_offset_min INTEGER NOT NULL, clock INTEGER NOT NULL,"
	" severity INTEGER NOT NULL, outcome INTEGER NOT NULL, action TEXT NOT NULL,"
	" actor TEXT NOT NULL, role TEXT NOT NULL, terminal TEXT NOT NULL,"
	" client_ip TEXT NOT NULL, cert_fp TEXT NOT NULL, patient_id TEXT NOT NULL,"
	" record_id TEXT NOT NULL, version INTEGER NOT NULL, query TEXT NOT NULL,"
	" reason TEXT NOT NULL, detail TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS events_patient ON events(patient_id, time_us);"
	"CREATE INDEX IF NOT EXISTS events_actor ON events(actor, time_us);"
	"CREATE INDEX IF NOT EXISTS events_time ON events(time_us);"
	"CREATE TRIGGER IF NOT EXISTS events_append_only_u BEFORE UPDATE ON events"
	" BEGIN SELECT RAISE(ABORT, 'kura: audit events are append-only'); END;"
	"CREATE TRIGGER IF NOT EXISTS events_append_only_d BEFORE DELETE ON events"
	" BEGIN SELECT RAISE(ABORT, 'kura: audit events are append-only'); END;"
	"CREATE TABLE IF NOT EXISTS state(kind TEXT NOT NULL, key TEXT NOT NULL,"
	" value BLOB NOT NULL, mac BLOB NOT NULL, PRIMARY KEY(kind, key)) WITHOUT ROWID;";

static const char schema_sql[] =
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB NOT NULL);"
	"CREATE TABLE patients(patient_id TEXT PRIMARY KEY, wrapped_key BLOB NOT NULL,"
	" created_us INTEGER NOT NULL);"
	"CREATE TABLE versions(leaf_index INTEGER PRIMARY KEY, record_id TEXT NOT NULL,"
	" version INTEGER NOT NULL, patient_id TEXT NOT NULL, type TEXT NOT NULL,"
	" content_type TEXT NOT NULL, status INTEGER NOT NULL, inputter TEXT NOT NULL,"
	" confirmer TEXT NOT NULL, on_behalf_of TEXT NOT NULL, time_us INTEGER NOT NULL,"
	" reason TEXT NOT NULL, content_length INTEGER NOT NULL, commitment BLOB NOT NULL,"
	" previous BLOB NOT NULL, sealed BLOB NOT NULL, UNIQUE(record_id, version));"
	"CREATE INDEX versions_patient ON versions(patient_id);"
	"CREATE TABLE nodes(id INTEGER PRIMARY KEY, hash BLOB NOT NULL);"
	"CREATE TABLE tree_heads(tree_size INTEGER PRIMARY KEY, time_us INTEGER NOT NULL,"
	" root BLOB NOT NULL, log_id BLOB NOT NULL, signature BLOB NOT NULL);"
	"CREATE TRIGGER versions_append_only_u BEFORE UPDATE ON versions"
	" BEGIN SELECT RAISE(ABORT, 'kura: versions are append-only'); END;"
	"CREATE TRIGGER versions_append_only_d BEFORE DELETE ON versions"
	" BEGIN SELECT RAISE(ABORT, 'kura: versions are append-only'); END;"
	"CREATE TRIGGER nodes_append_only_u BEFORE UPDATE ON nodes"
	" BEGIN SELECT RAISE(ABORT, 'kura: the ledger is append-only'); END;"
	"CREATE TRIGGER nodes_append_only_d BEFORE DELETE ON nodes"
	" BEGIN SELECT RAISE(ABORT, 'kura: the ledger is append-only'); END;"
	"CREATE TRIGGER sth_append_only_u BEFORE UPDATE ON tree_heads"
	" BEGIN SELECT RAISE(ABORT, 'kura: tree heads are append-only'); END;"
	"CREATE TRIGGER sth_append_only_d BEFORE DELETE ON tree_heads"
	" BEGIN SELECT RAISE(ABORT, 'kura: tree heads are append-only'); END;";

struct sqlite_store {
	struct kura_store base;
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT];
	int in_txn;
	int holds_write_mu; /* this connection holds write_mu (a write transaction) */
};

static struct sqlite_store *S(struct kura_store *s)
{
	return (struct sqlite_store *)s;
}

static int map_rc(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return KURA_EBUSY;
	case SQLITE_NOMEM:
		return KURA_ENOMEM;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
	case SQLITE_FORMAT:
		return KURA_ECORRUPT;
	case SQLITE_CONSTRAINT:
		return KURA_EEXIST;
	case SQLITE_CANTOPEN:
		return KURA_ENOVAULT;
	case SQLITE_FULL:
	case SQLITE_IOERR:
	default:
		return KURA_EIO;
	}
}

/* Prepared statements are made on first use and kept until close. */
static int stmt(struct sqlite_store *ss, enum stmt_id id, sqlite3_stmt **ret)
{
	if (!ss->st[id]) {
		int rc = sqlite3_prepare_v3(ss->db, stmt_sql[id], -1,
					    SQLITE_PREPARE_PERSISTENT, &ss->st[id], NULL);
		if (rc)
			return map_rc(rc);
	}
	sqlite3_reset(ss->st[id]);
	sqlite3_clear_bindings(ss->st[id]);
	*ret = ss->st[id];
	return 0;
}

static int step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : map_rc(rc);
}

static int exec(struct sqlite_store *ss, const char *sql)
{
	return map_rc(sqlite3_exec(ss->db, sql, NULL, NULL, NULL));
}

/*
 * Writers of one process (the event loops of kura serve, each with its own
 * connection) queue on this mutex rather than on SQLite's busy handler,
 * which sleeps 1 to 25 ms between retries: a loop waiting there holds up
 * every request it serves.  Other processes still meet the busy handler.
 */
static pthread_mutex_t write_mu = PTHREAD_MUTEX_INITIALIZER;

static void release_write(struct sqlite_store *ss)
{
	if (ss->holds_write_mu) {
		ss->holds_write_mu = 0;
		pthread_mutex_unlock(&write_mu);
	}
}

static void sq_close(struct kura_store *s)
{
	struct sqlite_store *ss = S(s);
	if (!ss)
		return;
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(ss->st[i]);
	if (ss->in_txn)
		exec(ss, "ROLLBACK");
	release_write(ss);
	sqlite3_close_v2(ss->db);
	free(ss);
}

static int sq_begin(struct kura_store *s, int write)
{
	struct sqlite_store *ss = S(s);
	if (write && !ss->holds_write_mu) {
		/* As long as SQLite's own busy timeout, then KURA_EBUSY. */
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += KURA_BUSY_TIMEOUT_MS / 1000;
		if (pthread_mutex_timedlock(&write_mu, &until) != 0)
			return KURA_EBUSY;
		ss->holds_write_mu = 1;
	}
	/* IMMEDIATE takes the write lock now, so two writers queue on the busy
	 * handler instead of failing later with a deadlock. */
	int r = exec(ss, write ? "BEGIN IMMEDIATE" : "BEGIN");
	if (!r)
		ss->in_txn = 1;
	else
		release_write(ss);
	return r;
}

static int sq_commit(struct kura_store *s)
{
	struct sqlite_store *ss = S(s);
	int r = exec(ss, "COMMIT");
	if (r) {
		exec(ss, "ROLLBACK");
	}
	ss->in_txn = 0;
	release_write(ss);
	return r;
}

static void sq_abort(struct kura_store *s)
{
	struct sqlite_store *ss = S(s);
	if (ss->in_txn)
		exec(ss, "ROLLBACK");
	ss->in_txn = 0;
	release_write(ss);
}

static int copy_blob(sqlite3_stmt *st, int col, struct kura_buf *out)
{
	const void *p = sqlite3_column_blob(st, col);
	int n = sqlite3_column_bytes(st, col);
	return kura_buf_append(out, p, (size_t)n);
}

static int get_one_blob(struct sqlite_store *ss, enum stmt_id id, const char *key,
			struct kura_buf *out)
{
	sqlite3_stmt *st = NULL;
	int r = stmt(ss, id, &st);
	if (r)
		return r;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		r = copy_blob(st, 0, out);
	else
		r = rc == SQLITE_DONE ? KURA_ENOTFOUND : map_rc(rc);
	sqlite3_reset(st);
	return r;
}

static int sq_meta_get(struct kura_store *s, const char *key, struct kura_buf *out)
{
	return get_one_blob(S(s), ST_META_GET, key, out);
}

static int sq_meta_put(struct kura_store *s, const char *key, const void *v, size_t len)
{
	sqlite3_stmt *st = NULL;
	int r = stmt(S(s), ST_META_PUT, &st);
	if (r)
		return r;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, v, (int)len, SQLITE_STATIC);
	return step_done(st);
}

static int sq_pkey_get(struct kura_store *s, const char *patient, struct kura_buf *out)
{
	return get_one_blob(S(s), ST_PKEY_GET, patient, out);
}

static int sq_pkey_put(struct kura_store *s, const char *patient, const void *wrapped,
		       size_t len, int64_t time_us)
{
	sqlite3_stmt *st = NULL;
	int r = stmt(S(s), ST_PKEY_PUT, &st);
	if (r)
		return r;
	sqlite3_bind_text(st, 1, patient, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, wrapped, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, time_us);
	return step_done(st);
}

static int sq_version_put(struct kura_store *s, const struct kura_version_row *row)
{
	sqlite3_stmt *st = NULL;
	const struct kura_leaf *l = &row->leaf;
	int r = stmt(S(s), ST_VPUT, &st);
	if (r)
		return r;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)row->leaf_index);
	sqlite3_bind_text(st, 2, l->record_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, l->version);
	sqlite3_bind_text(st, 4, l->patient_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, l->type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, l->content_type, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 7, l->status);
	sqlite3_bind_text(st, 8, l->inputter, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, l->confirmer, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 10, l->on_behalf_of, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 11, l->time_us);
	sqlite3_bind_text(st, 12, l->reason, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 13, (sqlite3_int64)l->content_length);
	sqlite3_bind_blob(st, 14, l->commitment, KURA_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 15, l->previous, KURA_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 16, row->sealed.len ? (const void *)row->sealed.ptr : "",
			  (int)row->sealed.len, SQLITE_STATIC);
	return step_done(st);
}

/* Copy a text column into a fixed field; damaged data gives KURA_ECORRUPT
 * rather than a truncated value, and a value of another storage class (a
 * BLOB where text belongs) is damage too: SQL lookups compare stored
 * values, so a re-typed id could hide a version from them. */
static int col_text(sqlite3_stmt *st, int col, char *dst, size_t cap)
{
	if (sqlite3_column_type(st, col) != SQLITE_TEXT)
		return KURA_ECORRUPT;
	const unsigned char *t = sqlite3_column_text(st, col);
	int n = sqlite3_column_bytes(st, col);
	if (!t || n < 0 || (size_t)n >= cap || memchr(t, 0, (size_t)n))
		return KURA_ECORRUPT;
	memcpy(dst, t, (size_t)n);
	dst[n] = 0;
	return 0;
}

static int col_hash(sqlite3_stmt *st, int col, uint8_t out[KURA_HASH_LEN])
{
	if (sqlite3_column_type(st, col) != SQLITE_BLOB ||
	    sqlite3_column_bytes(st, col) != KURA_HASH_LEN)
		return KURA_ECORRUPT;
	memcpy(out, sqlite3_column_blob(st, col), KURA_HASH_LEN);
	return 0;
}

/* An INTEGER column within [min, max]. */
static int col_int(sqlite3_stmt *st, int col, int64_t min, int64_t max, int64_t *ret)
{
	if (sqlite3_column_type(st, col) != SQLITE_INTEGER)
		return KURA_ECORRUPT;
	int64_t v = sqlite3_column_int64(st, col);
	if (v < min || v > max)
		return KURA_ECORRUPT;
	*ret = v;
	return 0;
}

/* The integer columns of a version row, each of its storage class and range. */
static int read_row_ints(sqlite3_stmt *st, struct kura_leaf *l)
{
	int64_t index, version, status, time, length;
	if (col_int(st, 0, 0, INT64_MAX, &index) || col_int(st, 2, 1, UINT32_MAX, &version) ||
	    col_int(st, 6, KURA_STATUS_DRAFT, KURA_STATUS_ENTERED_IN_ERROR, &status) ||
	    col_int(st, 10, INT64_MIN, INT64_MAX, &time) ||
	    col_int(st, 12, 0, KURA_MAX_CONTENT, &length))
		return KURA_ECORRUPT;
	l->version = (uint32_t)version;
	l->status = (uint8_t)status;
	l->time_us = time;
	l->content_length = (uint64_t)length;
	return 0;
}

static int read_row(sqlite3_stmt *st, struct kura_version_row *row)
{
	struct kura_leaf *l = &row->leaf;
	memset(row, 0, sizeof(*row));
	row->leaf_index = (uint64_t)sqlite3_column_int64(st, 0);
	if (read_row_ints(st, l))
		return KURA_ECORRUPT;
	if (col_text(st, 1, l->record_id, sizeof(l->record_id)) ||
	    col_text(st, 3, l->patient_id, sizeof(l->patient_id)) ||
	    col_text(st, 4, l->type, sizeof(l->type)) ||
	    col_text(st, 5, l->content_type, sizeof(l->content_type)) ||
	    col_text(st, 7, l->inputter, sizeof(l->inputter)) ||
	    col_text(st, 8, l->confirmer, sizeof(l->confirmer)) ||
	    col_text(st, 9, l->on_behalf_of, sizeof(l->on_behalf_of)) ||
	    col_text(st, 11, l->reason, sizeof(l->reason)) ||
	    col_hash(st, 13, l->commitment) || col_hash(st, 14, l->previous) ||
	    sqlite3_column_type(st, 15) != SQLITE_BLOB)
		return KURA_ECORRUPT;
	row->sealed = kura_slice_make(sqlite3_column_blob(st, 15),
				      (size_t)sqlite3_column_bytes(st, 15));
	return 0;
}

/* Step through a prepared query, handing each row to cb.  A row that cannot
 * be read is reported with the leaf index in row->leaf_index and
 * KURA_ECORRUPT, so verify can name it. */
static int run_rows(sqlite3_stmt *st, kura_version_cb cb, void *ctx, int *ret_count)
{
	int r = 0, rc, count = 0;
	struct kura_version_row row;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		count++;
		r = read_row(st, &row);
		if (r) {
			row.leaf_index = (uint64_t)sqlite3_column_int64(st, 0);
			break;
		}
		if ((r = cb(ctx, &row)))
			break;
	}
	if (!r && rc != SQLITE_DONE)
		r = map_rc(rc);
	sqlite3_reset(st);
	if (ret_count)
		*ret_count = count;
	return r;
}

static int sq_version_get(struct kura_store *s, const char *record_id, uint32_t version,
			  kura_version_cb cb, void *ctx)
{
	sqlite3_stmt *st = NULL;
	int count = 0, r = stmt(S(s), version ? ST_VGET : ST_VLATEST, &st);
	if (r)
		return r;
	sqlite3_bind_text(st, 1, record_id, -1, SQLITE_STATIC);
	if (version)
		sqlite3_bind_int64(st, 2, version);
	r = run_rows(st, cb, ctx, &count);
	return !r && count == 0 ? KURA_ENOTFOUND : r;
}

static int sq_version_history(struct kura_store *s, const char *record_id,
			      kura_version_cb cb, void *ctx)
{
	sqlite3_stmt *st = NULL;
	int count = 0, r = stmt(S(s), ST_VHIST, &st);
	if (r)
		return r;
	sqlite3_bind_text(st, 1, record_id, -1, SQLITE_STATIC);
	r = run_rows(st, cb, ctx, &count);
	return !r && count == 0 ? KURA_ENOTFOUND : r;
}

static int sq_record_list(struct kura_store *s, const char *patient, kura_version_cb cb,
			  void *ctx)
{
	sqlite3_stmt *st = NULL;
	int r = stmt(S(s), patient ? ST_LIST_PATIENT : ST_LIST_ALL, &st);
	if (r)
		return r;
	if (patient)
		sqlite3_bind_text(st, 1, patient, -1, SQLITE_STATIC);
	return run_rows(st, cb, ctx, NULL);
}

static int sq_version_scan(struct kura_store *s, uint64_t from_leaf, kura_version_cb cb,
			   void *ctx)
{
	sqlite3_stmt *st = NULL;
	int r = stmt(S(s), ST_VSCAN, &st);
	if (r)
		return r;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)from_leaf);
	return run_rows(st, cb, ctx, NULL);
}

/* A statement that gives one integer (a COUNT). */
static int one_count(struct sqlite_store *ss, enum stmt_id id, uint64_t *ret)
{
	sqlite3_stmt *st = NULL;
	int r = stmt(ss, id, &st);
	if (r)
		return r;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*ret = (uint64_t)sqlite3_column_int64(st, 0);
	else
		r = map_rc(rc);
	sqlite3_reset(st);
	return r;
}

static int sq_version_count(struct kura_store *s, uint64_t *ret)
{
	return one_count(S(s), ST_VCOUNT, ret);
}

/* Node ids pack (level, index) so one integer key orders a level's nodes. */
#define NODE_ID(level, index) ((sqlite3_int64)(((uint64_t)(level) << 57) | (index)))

static int sq_node_get(struct kura_store *s, unsigned level, uint64_t index,
		       uint8_t out[KURA_HASH_LEN])
{
	sqlite3_stmt *st = NULL;
	int r = stmt(S(s), ST_NODE_GET, &st);
	if (r)
		return r;
	sqlite3_bind_int64(st, 1, NODE_ID(level, index));
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		r = col_hash(st, 0, out);
	else
		r = rc == SQLITE_DONE ? KURA_ENOTFOUND : map_rc(rc);
	sqlite3_reset(st);
	return r;
}

static int sq_node_put(struct kura_store *s, unsigned level, uint64_t index,
		       const uint8_t hash[KURA_HASH_LEN])
{
	sqlite3_stmt *st = NULL;
	int r = stmt(S(s), ST_NODE_PUT, &st);
	if (r)
		return r;
	sqlite3_bind_int64(st, 1, NODE_ID(level, index));
	sqlite3_bind_blob(st, 2, hash, KURA_HASH_LEN, SQLITE_STATIC);
	return step_done(st);
}

static int sq_node_scan(struct kura_store *s, kura_node_cb cb, void *ctx)
{
	sqlite3_stmt *st = NULL;
	int r = stmt(S(s), ST_NODE_SCAN, &st), rc;
	uint8_t h[KURA_HASH_LEN];
	if (r)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		uint64_t id = (uint64_t)sqlite3_column_int64(st, 0);
		if ((r = col_hash(st, 1, h)) ||
		    (r = cb(ctx, (unsigned)(id >> 57), id & ((1ull << 57) - 1), h)))
			break;
	}
	if (!r && rc != SQLITE_DONE)
		r = map_rc(rc);
	sqlite3_reset(st);
	return r;
}

static int sq_sth_put(struct kura_store *s, const struct kura_sth *sth)
{
	sqlite3_stmt *st = NULL;
	int r = stmt(S(s), ST_STH_PUT, &st);
	if (r)
		return r;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)sth->tree_size);
	sqlite3_bind_int64(st, 2, sth->time_us);
	sqlite3_bind_blob(st, 3, sth->root, KURA_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, sth->log_id, KURA_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 5, sth->signature, KURA_SIG_LEN, SQLITE_STATIC);
	return step_done(st);
}

static int read_sth(sqlite3_stmt *st, struct kura_sth *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->tree_size = (uint64_t)sqlite3_column_int64(st, 0);
	ret->time_us = sqlite3_column_int64(st, 1);
	if (col_hash(st, 2, ret->root) || col_hash(st, 3, ret->log_id) ||
	    sqlite3_column_bytes(st, 4) != KURA_SIG_LEN)
		return KURA_ECORRUPT;
	memcpy(ret->signature, sqlite3_column_blob(st, 4), KURA_SIG_LEN);
	return 0;
}

static int sth_one(struct sqlite_store *ss, enum stmt_id id, uint64_t size,
		   struct kura_sth *ret)
{
	sqlite3_stmt *st = NULL;
	int r = stmt(ss, id, &st);
	if (r)
		return r;
	if (id == ST_STH_GET)
		sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		r = read_sth(st, ret);
	else
		r = rc == SQLITE_DONE ? KURA_ENOTFOUND : map_rc(rc);
	sqlite3_reset(st);
	return r;
}

static int sq_sth_latest(struct kura_store *s, struct kura_sth *ret)
{
	return sth_one(S(s), ST_STH_LATEST, 0, ret);
}

static int sq_sth_get(struct kura_store *s, uint64_t tree_size, struct kura_sth *ret)
{
	return sth_one(S(s), ST_STH_GET, tree_size, ret);
}

static int sq_sth_scan(struct kura_store *s, kura_sth_cb cb, void *ctx)
{
	sqlite3_stmt *st = NULL;
	struct kura_sth sth;
	int r = stmt(S(s), ST_STH_SCAN, &st), rc;
	if (r)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if ((r = read_sth(st, &sth)) || (r = cb(ctx, &sth)))
			break;
	if (!r && rc != SQLITE_DONE)
		r = map_rc(rc);
	sqlite3_reset(st);
	return r;
}

static int sq_check(struct kura_store *s, struct kura_buf *msg)
{
	sqlite3_stmt *st = NULL;
	int r = map_rc(sqlite3_prepare_v2(S(s)->db, "PRAGMA quick_check", -1, &st, NULL));
	if (r)
		return r;
	int rc = sqlite3_step(st);
	const unsigned char *t = rc == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
	if (!t)
		r = rc == SQLITE_ROW ? KURA_ECORRUPT : map_rc(rc);
	else if (strcmp((const char *)t, "ok") != 0) {
		kura_buf_append_str(msg, (const char *)t);
		r = KURA_ECORRUPT;
	}
	sqlite3_finalize(st);
	return r;
}


/* ---- audit events ---- */

static int sq_event_put(struct kura_store *s, const struct kura_event_row *row)
{
	sqlite3_stmt *st = NULL;
	const struct kura_event *e = &row->ev;
	const char *text[] = {e->action, e->actor, e->role, e->terminal, e->client_ip,
			      e->cert_fp, e->patient_id, e->record_id};
	int r = stmt(S(s), ST_EV_PUT, &st);
	if (r)
		return r;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)row->leaf_index);
	sqlite3_bind_int64(st, 2, e->time_us);
	sqlite3_bind_int(st, 3, e->utc_offset_min);
	sqlite3_bind_int(st, 4, e->clock);
	sqlite3_bind_int(st, 5, e->severity);
	sqlite3_bind_int(st, 6, e->outcome);
	for (int i = 0; i < 8; i++)
		sqlite3_bind_text(st, 7 + i, text[i], -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 15, e->version);
	sqlite3_bind_text(st, 16, e->query, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 17, e->reason, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 18, e->detail, -1, SQLITE_STATIC);
	return step_done(st);
}

static int read_event_ints(sqlite3_stmt *st, struct kura_event *e)
{
	int64_t t, off, clock, sev, outcome, version;
	if (col_int(st, 1, INT64_MIN, INT64_MAX, &t) || col_int(st, 2, -1440, 1440, &off) ||
	    col_int(st, 3, 0, 255, &clock) || col_int(st, 4, 0, 255, &sev) ||
	    col_int(st, 5, 0, 255, &outcome) || col_int(st, 14, 0, UINT32_MAX, &version))
		return KURA_ECORRUPT;
	e->time_us = t;
	e->utc_offset_min = (int16_t)off;
	e->clock = (uint8_t)clock;
	e->severity = (uint8_t)sev;
	e->outcome = (uint8_t)outcome;
	e->version = (uint32_t)version;
	return 0;
}

static int read_event(sqlite3_stmt *st, struct kura_event_row *row)
{
	struct kura_event *e = &row->ev;
	int64_t index;
	memset(row, 0, sizeof(*row));
	if (col_int(st, 0, 0, INT64_MAX, &index) || read_event_ints(st, e) ||
	    col_text(st, 6, e->action, sizeof(e->action)) ||
	    col_text(st, 7, e->actor, sizeof(e->actor)) ||
	    col_text(st, 8, e->role, sizeof(e->role)) ||
	    col_text(st, 9, e->terminal, sizeof(e->terminal)) ||
	    col_text(st, 10, e->client_ip, sizeof(e->client_ip)) ||
	    col_text(st, 11, e->cert_fp, sizeof(e->cert_fp)) ||
	    col_text(st, 12, e->patient_id, sizeof(e->patient_id)) ||
	    col_text(st, 13, e->record_id, sizeof(e->record_id)) ||
	    col_text(st, 15, e->query, sizeof(e->query)) ||
	    col_text(st, 16, e->reason, sizeof(e->reason)) ||
	    col_text(st, 17, e->detail, sizeof(e->detail)))
		return KURA_ECORRUPT;
	row->leaf_index = (uint64_t)index;
	return 0;
}

/* Step through events; a damaged row is reported as KURA_ECORRUPT with its
 * leaf index in *ret_bad (for verify). */
static int run_events(sqlite3_stmt *st, kura_event_cb cb, void *ctx, uint64_t limit)
{
	struct kura_event_row row;
	uint64_t n = 0;
	int r = 0, rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((r = read_event(st, &row))) {
			row.leaf_index = (uint64_t)sqlite3_column_int64(st, 0);
			break;
		}
		if ((r = cb(ctx, &row)) || (limit && ++n >= limit))
			break;
	}
	if (!r && rc != SQLITE_DONE && rc != SQLITE_ROW)
		r = map_rc(rc);
	sqlite3_reset(st);
	return r;
}

static int sq_event_scan(struct kura_store *s, uint64_t from_leaf, kura_event_cb cb, void *ctx)
{
	sqlite3_stmt *st = NULL;
	int r = stmt(S(s), ST_EV_SCAN, &st);
	if (r)
		return r;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)from_leaf);
	return run_events(st, cb, ctx, 0);
}

static int sq_event_count(struct kura_store *s, uint64_t *ret)
{
	return one_count(S(s), ST_EV_COUNT, ret);
}

/* The WHERE clause of a filter; parameters are bound in the same order. */
static int event_where(const struct kura_event_filter *f, struct kura_buf *sql)
{
	int r = kura_buf_append_str(sql, "SELECT " ECOLS " FROM events WHERE leaf_index >= ?");
	if (!r && f->patient_id && *f->patient_id)
		r = kura_buf_append_str(sql, " AND patient_id = ?");
	if (!r && f->actor && *f->actor)
		r = kura_buf_append_str(sql, " AND actor = ?");
	if (!r && f->action && *f->action)
		r = kura_buf_append_str(sql, " AND action = ?");
	if (!r && f->from_us)
		r = kura_buf_append_str(sql, " AND time_us >= ?");
	if (!r && f->to_us)
		r = kura_buf_append_str(sql, " AND time_us < ?");
	if (!r && f->outcome >= 0)
		r = kura_buf_append_str(sql, " AND outcome = ?");
	if (!r)
		r = kura_buf_append_str(sql, " ORDER BY time_us, leaf_index");
	return r;
}

static void event_bind(sqlite3_stmt *st, const struct kura_event_filter *f)
{
	int i = 1;
	sqlite3_bind_int64(st, i++, (sqlite3_int64)f->min_leaf);
	if (f->patient_id && *f->patient_id)
		sqlite3_bind_text(st, i++, f->patient_id, -1, SQLITE_STATIC);
	if (f->actor && *f->actor)
		sqlite3_bind_text(st, i++, f->actor, -1, SQLITE_STATIC);
	if (f->action && *f->action)
		sqlite3_bind_text(st, i++, f->action, -1, SQLITE_STATIC);
	if (f->from_us)
		sqlite3_bind_int64(st, i++, f->from_us);
	if (f->to_us)
		sqlite3_bind_int64(st, i++, f->to_us);
	if (f->outcome >= 0)
		sqlite3_bind_int(st, i++, f->outcome);
}

static int sq_event_query(struct kura_store *s, const struct kura_event_filter *f,
			  kura_event_cb cb, void *ctx)
{
	struct kura_buf sql;
	sqlite3_stmt *st = NULL;
	kura_buf_init(&sql, 4096);
	int r = event_where(f, &sql);
	if (!r)
		r = map_rc(sqlite3_prepare_v2(S(s)->db, (const char *)sql.data, -1, &st, NULL));
	if (!r) {
		event_bind(st, f);
		r = run_events(st, cb, ctx, f->limit ? f->limit : KURA_MAX_AUDIT_RESULTS);
	}
	sqlite3_finalize(st);
	kura_buf_release(&sql);
	return r;
}

/* ---- mutable state ---- */

static int sq_state_get(struct kura_store *s, const char *kind, const char *key,
			struct kura_buf *value, uint8_t mac[KURA_HASH_LEN])
{
	sqlite3_stmt *st = NULL;
	int r = stmt(S(s), ST_STATE_GET, &st);
	if (r)
		return r;
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		r = col_hash(st, 1, mac);
		if (!r)
			r = copy_blob(st, 0, value);
	} else
		r = rc == SQLITE_DONE ? KURA_ENOTFOUND : map_rc(rc);
	sqlite3_reset(st);
	return r;
}

static int sq_state_put(struct kura_store *s, const char *kind, const char *key,
			const void *value, size_t len, const uint8_t mac[KURA_HASH_LEN])
{
	sqlite3_stmt *st = NULL;
	int r = stmt(S(s), ST_STATE_PUT, &st);
	if (r)
		return r;
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, len ? value : "", (int)len, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, mac, KURA_HASH_LEN, SQLITE_STATIC);
	return step_done(st);
}

static int sq_state_del(struct kura_store *s, const char *kind, const char *key)
{
	sqlite3_stmt *st = NULL;
	int r = stmt(S(s), ST_STATE_DEL, &st);
	if (r)
		return r;
	sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
	return step_done(st);
}

static int sq_state_scan(struct kura_store *s, const char *kind, kura_state_cb cb, void *ctx)
{
	sqlite3_stmt *st = NULL;
	uint8_t mac[KURA_HASH_LEN];
	char key[2 * KURA_MAX_STATE_KEY + 2];
	int r = stmt(S(s), kind ? ST_STATE_SCAN : ST_STATE_SCAN_ALL, &st), rc;
	if (r)
		return r;
	if (kind)
		sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((r = col_text(st, 0, key, sizeof(key))) || (r = col_hash(st, 2, mac)))
			break;
		struct kura_slice v = kura_slice_make(sqlite3_column_blob(st, 1),
						      (size_t)sqlite3_column_bytes(st, 1));
		if ((r = cb(ctx, key, v, mac)))
			break;
	}
	if (!r && rc != SQLITE_DONE && rc != SQLITE_ROW)
		r = map_rc(rc);
	sqlite3_reset(st);
	return r;
}

/* Rows of (text, blob[, integer]) for meta_scan and patient_scan. */
static int scan_pairs(struct kura_store *s, enum stmt_id id, kura_pair_cb cb, void *ctx)
{
	sqlite3_stmt *st = NULL;
	char key[KURA_MAX_ID + 1];
	int r = stmt(S(s), id, &st), rc;
	if (r)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((r = col_text(st, 0, key, sizeof(key))))
			break;
		if (sqlite3_column_type(st, 1) != SQLITE_BLOB &&
		    sqlite3_column_type(st, 1) != SQLITE_TEXT) {
			r = KURA_ECORRUPT;
			break;
		}
		struct kura_slice v = kura_slice_make(sqlite3_column_blob(st, 1),
						      (size_t)sqlite3_column_bytes(st, 1));
		int64_t n = id == ST_PKEY_SCAN ? sqlite3_column_int64(st, 2) : 0;
		if ((r = cb(ctx, key, v, n)))
			break;
	}
	if (!r && rc != SQLITE_DONE && rc != SQLITE_ROW)
		r = map_rc(rc);
	sqlite3_reset(st);
	return r;
}

static int sq_meta_scan(struct kura_store *s, kura_pair_cb cb, void *ctx)
{
	return scan_pairs(s, ST_META_SCAN, cb, ctx);
}

static int sq_patient_scan(struct kura_store *s, kura_pair_cb cb, void *ctx)
{
	return scan_pairs(s, ST_PKEY_SCAN, cb, ctx);
}

static const struct kura_store_ops sqlite_ops = {
	.meta_scan = sq_meta_scan,
	.patient_scan = sq_patient_scan,
	.close = sq_close,
	.txn_begin = sq_begin,
	.txn_commit = sq_commit,
	.txn_abort = sq_abort,
	.meta_get = sq_meta_get,
	.meta_put = sq_meta_put,
	.patient_key_get = sq_pkey_get,
	.patient_key_put = sq_pkey_put,
	.version_put = sq_version_put,
	.version_get = sq_version_get,
	.version_history = sq_version_history,
	.record_list = sq_record_list,
	.version_scan = sq_version_scan,
	.version_count = sq_version_count,
	.node_get = sq_node_get,
	.node_put = sq_node_put,
	.node_scan = sq_node_scan,
	.sth_put = sq_sth_put,
	.sth_latest = sq_sth_latest,
	.sth_get = sq_sth_get,
	.sth_scan = sq_sth_scan,
	.event_put = sq_event_put,
	.event_scan = sq_event_scan,
	.event_query = sq_event_query,
	.event_count = sq_event_count,
	.state_get = sq_state_get,
	.state_put = sq_state_put,
	.state_del = sq_state_del,
	.state_scan = sq_state_scan,
	.check = sq_check,
};

/* An existing file is a kura store only if it has our tables; checked
 * before anything could write to it (journal mode changes rewrite the
 * header, so WAL is set only when the store is created: it persists). */
static int is_kura_store(struct sqlite_store *ss)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(ss->db,
				    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
				    "name IN ('meta', 'patients', 'versions', 'nodes', 'tree_heads')",
				    -1, &st, NULL);
	if (rc) {
		sqlite3_finalize(st);
		return rc == SQLITE_NOTADB ? KURA_EFOREIGN : map_rc(rc);
	}
	rc = sqlite3_step(st);
	int r = rc == SQLITE_ROW ? (sqlite3_column_int(st, 0) == 5 ? 0 : KURA_EFOREIGN)
				 : (rc & 0xff) == SQLITE_NOTADB ? KURA_EFOREIGN : map_rc(rc);
	sqlite3_finalize(st);
	return r;
}

static int configure(struct sqlite_store *ss, int flags)
{
	int r;
	sqlite3_busy_timeout(ss->db, KURA_BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(ss->db, 1);
	if ((r = exec(ss, "PRAGMA cell_size_check = ON")))
		return r;
	if (!(flags & KURA_STORE_CREATE) && (r = is_kura_store(ss)))
		return r;
	if (flags & KURA_STORE_READONLY)
		return 0;
	if ((r = exec(ss, "PRAGMA synchronous = FULL")))
		return r;
	if (flags & KURA_STORE_CREATE) {
		if ((r = exec(ss, "PRAGMA journal_mode = WAL")) || (r = exec(ss, "BEGIN")) ||
		    (r = exec(ss, schema_sql)) || (r = exec(ss, "COMMIT")))
			return r;
	}
	return exec(ss, schema2_sql);
}

int kura_store_sqlite_open(const char *path, int flags, struct kura_store **ret)
{
	struct sqlite_store *ss = NULL;
	int r = KURA_EINTERNAL;
	*ret = NULL;
	if (flags & KURA_STORE_CREATE) {
		/* Made here, exclusively and private (0600): SQLite gives the -wal
		 * and -shm files the database file's mode. */
		int fd = open(path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
		if (fd < 0)
			return errno == EEXIST ? KURA_EEXIST : KURA_EIO;
		close(fd);
	} else if (access(path, F_OK) != 0)
		return KURA_ENOVAULT;
	ss = calloc(1, sizeof(*ss));
	if (!ss)
		return KURA_ENOMEM;
	ss->base.ops = &sqlite_ops;
	int oflags = flags & KURA_STORE_READONLY ? SQLITE_OPEN_READONLY
						 : SQLITE_OPEN_READWRITE;
	if (flags & KURA_STORE_CREATE)
		oflags |= SQLITE_OPEN_CREATE;
	int rc = sqlite3_open_v2(path, &ss->db, oflags | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc) {
		r = map_rc(rc);
		goto out;
	}
	r = configure(ss, flags);
	if (r)
		goto out;
	*ret = &ss->base;
	ss = NULL;
out:
	sq_close(ss ? &ss->base : NULL);
	return r;
}
