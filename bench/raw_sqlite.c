/*
 * raw_sqlite.c - the reference for bench/ingest: the same content bytes that
 * `kura import` stores, inserted as plain BLOBs into a fresh SQLite database
 * with kura's durability settings (journal_mode=WAL, synchronous=FULL, 1000
 * rows per transaction) and nothing else: no parsing, no compression, no
 * encryption, no hashing, no ledger.
 *
 *   raw_sqlite IN.ndjson OUT.db [--batch N] [--whole-line]
 *
 * Each line is {"patient":...,"type":...,"content":{...}} as gen_records
 * writes it; the row is the raw JSON text of the "content" value (what kura
 * stores, before it compresses and encrypts it), or with --whole-line the
 * whole line.  Prints one JSON object:
 *
 *   records, bytes       rows and content bytes inserted
 *   seconds              the insert phase: first BEGIN to sqlite3_close()
 *                        returned (which checkpoints the WAL), as in kura
 *   read_seconds         reading the file and finding the content spans
 *   records_per_s, mb_per_s   over seconds (MB = 10^6 bytes)
 *   journal_mode, synchronous, batch   what SQLite reports it used
 */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/banned.h"

struct span {
	size_t off, len;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int read_file(const char *path, char **ret_data, size_t *ret_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *p = NULL;
	size_t got = 0;
	if (fd < 0 || fstat(fd, &st) != 0)
		goto fail;
	p = malloc((size_t)st.st_size + 1);
	if (!p)
		goto fail;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, p + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		got += (size_t)n;
	}
	close(fd);
	*ret_data = p;
	*ret_len = got;
	return 0;
fail:
	fprintf(stderr, "raw_sqlite: %s: %s\n", path, strerror(errno ? errno : EIO));
	free(p);
	if (fd >= 0)
		close(fd);
	return -1;
}

/* The content value of one gen_records line: after "content": up to the
 * line's last byte but one (the line is {...,"content":{...}}). */
static struct span content_span(const char *line, size_t len, size_t off, int whole)
{
	static const char key[] = "\"content\":";
	struct span s = {off, len};
	if (whole)
		return s;
	const char *k = memmem(line, len, key, sizeof key - 1);
	while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
		len--;
	if (!k || len < 2 || line[len - 1] != '}')
		return s; /* not gen_records output: store the line */
	size_t from = (size_t)(k - line) + sizeof key - 1;
	if (from >= len - 1)
		return s;
	s.off = off + from;
	s.len = len - 1 - from;
	return s;
}

static int split(const char *data, size_t len, int whole, struct span **ret, size_t *ret_n)
{
	size_t cap = 1024, n = 0, off = 0;
	struct span *v = malloc(cap * sizeof(*v));
	if (!v)
		return -1;
	while (off < len) {
		const char *nl = memchr(data + off, '\n', len - off);
		size_t l = nl ? (size_t)(nl - (data + off)) : len - off;
		if (l) {
			if (n == cap) {
				struct span *t = realloc(v, 2 * cap * sizeof(*v));
				if (!t) {
					free(v);
					return -1;
				}
				v = t;
				cap *= 2;
			}
			v[n++] = content_span(data + off, l, off, whole);
		}
		off += l + 1;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static int exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	fprintf(stderr, "raw_sqlite: %s: %s\n", sql, msg ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	return -1;
}

static int pragma_text(sqlite3 *db, const char *sql, char *out, size_t cap)
{
	sqlite3_stmt *st;
	out[0] = 0;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return 0;
}

/* Create the database and its table, as `kura init` does before an import. */
static int setup(const char *path, sqlite3 **ret_db, char *jm, size_t jmcap, char *sync,
		 size_t synccap)
{
	sqlite3 *db = NULL;
	if (unlink(path) != 0 && errno != ENOENT)
		return -1;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		fprintf(stderr, "raw_sqlite: %s: %s\n", path, db ? sqlite3_errmsg(db) : "no memory");
		sqlite3_close(db);
		return -1;
	}
	if (exec(db, "PRAGMA journal_mode = WAL") || exec(db, "PRAGMA synchronous = FULL") ||
	    exec(db, "CREATE TABLE records(id INTEGER PRIMARY KEY, content BLOB NOT NULL)") ||
	    pragma_text(db, "PRAGMA journal_mode", jm, jmcap) ||
	    pragma_text(db, "PRAGMA synchronous", sync, synccap)) {
		sqlite3_close(db);
		return -1;
	}
	*ret_db = db;
	return 0;
}

static int insert_all(sqlite3 *db, const char *data, const struct span *v, size_t n,
		      size_t batch)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, "INSERT INTO records(content) VALUES (?1)", -1, &st, NULL) !=
	    SQLITE_OK)
		return -1;
	for (size_t i = 0; i < n; i += batch) {
		size_t to = n - i < batch ? n : i + batch;
		if (exec(db, "BEGIN"))
			goto fail;
		for (size_t j = i; j < to; j++) {
			sqlite3_bind_blob(st, 1, data + v[j].off, (int)v[j].len, SQLITE_STATIC);
			if (sqlite3_step(st) != SQLITE_DONE) {
				fprintf(stderr, "raw_sqlite: insert: %s\n", sqlite3_errmsg(db));
				goto fail;
			}
			sqlite3_reset(st);
		}
		if (exec(db, "COMMIT"))
			goto fail;
	}
	sqlite3_finalize(st);
	return 0;
fail:
	sqlite3_finalize(st);
	return -1;
}

static int parse_args(int argc, char **argv, size_t *batch, int *whole)
{
	for (int i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--whole-line") == 0) {
			*whole = 1;
		} else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
			char *end;
			errno = 0;
			unsigned long b = strtoul(argv[++i], &end, 10);
			if (errno || *end || b == 0 || b > 1000000 || argv[i][0] == '-')
				return -1;
			*batch = b;
		} else {
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	size_t batch = 1000, len = 0, n = 0, bytes = 0;
	int whole = 0;
	char *data = NULL, jm[32], sync[32];
	struct span *v = NULL;
	sqlite3 *db = NULL;
	if (argc < 3 || parse_args(argc, argv, &batch, &whole)) {
		fprintf(stderr, "usage: raw_sqlite IN.ndjson OUT.db [--batch N] [--whole-line]\n");
		return 2;
	}
	double t0 = now_s();
	if (read_file(argv[1], &data, &len) || split(data, len, whole, &v, &n))
		return 1;
	double t1 = now_s();
	for (size_t i = 0; i < n; i++)
		bytes += v[i].len;
	if (setup(argv[2], &db, jm, sizeof jm, sync, sizeof sync))
		return 1;
	double t2 = now_s();
	if (insert_all(db, data, v, n, batch)) {
		sqlite3_close(db);
		return 1;
	}
	if (sqlite3_close(db) != SQLITE_OK) {
		fprintf(stderr, "raw_sqlite: close failed\n");
		return 1;
	}
	double secs = now_s() - t2;
	printf("{\"records\":%zu,\"bytes\":%zu,\"seconds\":%.6f,\"read_seconds\":%.6f,"
	       "\"records_per_s\":%.1f,\"mb_per_s\":%.3f,\"batch\":%zu,\"journal_mode\":\"%s\","
	       "\"synchronous\":\"%s\",\"rows\":\"%s\",\"sqlite\":\"%s\"}\n",
	       n, bytes, secs, t1 - t0, secs > 0 ? (double)n / secs : 0.0,
	       secs > 0 ? (double)bytes / 1e6 / secs : 0.0, batch, jm, sync,
	       whole ? "whole line" : "content value", sqlite3_libversion());
	free(v);
	free(data);
	return 0;
}
