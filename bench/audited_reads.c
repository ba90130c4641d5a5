/*
 * audited_reads.c - what the audit trail costs a read (issue 3 benchmark).
 *
 * In one run, on one vault: plain reads (kura_vault_get: look up, decrypt,
 * check the commitment) beside audited reads (kura_access_get: the same,
 * plus the authorization decision, the "read" event appended as a ledger
 * leaf, a signed tree head and a durable commit), and as the reference the
 * floor every durable write pays on this disk: raw SQLite commits of one
 * small row each in WAL mode with synchronous=FULL, the vault's settings.
 *
 *   audited_reads [RECORDS [READS]]   (defaults 2000 and 1000)
 *
 * Prints one JSON object; bench/run saves it in bench/results/audit.json.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/access.h"
#include "auth/auth.h"
#include "util/time.h"
#include "util/banned.h"

#define PASS "bench passphrase"
#define PW "q8#Vt2!mZr5@Lw"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int must(int r, const char *what)
{
	if (r) {
		fprintf(stderr, "audited_reads: %s: %s\n", what, kura_strerror(r));
		exit(1);
	}
	return r;
}

/* A doctor of department "bench" whose first password is already changed. */
static void make_doctor(struct kura_vault *v)
{
	struct kura_txn *t;
	struct kura_account_spec s = {"bench.dr", "", "", "doctor", "bench", 0};
	int reason = 0;
	must(kura_txn_begin(v, &t), "begin");
	must(kura_setting_set(t, "password.argon2_ops", "1"), "setting");
	must(kura_setting_set(t, "password.argon2_mem_mib", "8"), "setting");
	must(kura_account_add(t, &s, "Init-" PW, strlen(PW) + 5), "account");
	must(kura_account_set_password(t, "bench.dr", PW, strlen(PW), 1, &reason), "password");
	must(kura_txn_commit(t, NULL), "commit");
}

static void write_records(struct kura_vault *v, struct kura_identity *id, unsigned n,
			  char (*ids)[KURA_RECORD_ID_LEN + 1])
{
	struct kura_txn *t;
	struct kura_written w;
	struct kura_write wr = {id->actor.user, NULL, "", 1, NULL};
	char patient[32], body[512];
	must(kura_txn_begin(v, &t), "begin");
	for (unsigned i = 0; i < n; i++) {
		snprintf(patient, sizeof(patient), "P%05u", i % 100);
		int len = snprintf(body, sizeof(body),
				   "{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":"
				   "{\"text\":\"体温\"},\"valueQuantity\":{\"value\":36.%u,\"unit\":\"Cel\"}}",
				   i % 10);
		must(kura_patient_register(t, id, patient), "register");
		must(kura_txn_put(t, patient, "Observation", "application/fhir+json",
				  (const uint8_t *)body, (size_t)len, &wr, &w), "put");
		memcpy(ids[i], w.record_id, sizeof(ids[i]));
	}
	must(kura_txn_commit(t, NULL), "commit");
}

static double plain_reads(struct kura_vault *v, char (*ids)[KURA_RECORD_ID_LEN + 1],
			  unsigned n, unsigned reads)
{
	struct kura_leaf l;
	struct kura_buf b;
	kura_buf_init(&b, KURA_MAX_CONTENT);
	double t0 = now_s();
	for (unsigned i = 0; i < reads; i++) {
		kura_buf_reset(&b);
		must(kura_vault_get(v, ids[(i * 7919u) % n], 0, &l, &b), "get");
	}
	double dt = now_s() - t0;
	kura_buf_release(&b);
	return reads / dt;
}

static double audited_reads(struct kura_access *a, char (*ids)[KURA_RECORD_ID_LEN + 1],
			    unsigned n, unsigned reads)
{
	struct kura_leaf l;
	struct kura_buf b;
	kura_buf_init(&b, KURA_MAX_CONTENT);
	double t0 = now_s();
	for (unsigned i = 0; i < reads; i++) {
		kura_buf_reset(&b);
		must(kura_access_get(a, ids[(i * 7919u) % n], 0, KURA_ACT_READ, &l, &b), "audited get");
	}
	double dt = now_s() - t0;
	kura_buf_release(&b);
	return reads / dt;
}

/* The reference: one durable SQLite commit per small row, same settings. */
static double sqlite_commits(const char *dir, unsigned n)
{
	char path[4200];
	sqlite3 *db;
	sqlite3_stmt *st;
	snprintf(path, sizeof(path), "%s/ref.db", dir);
	if (sqlite3_open(path, &db) ||
	    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
			     "CREATE TABLE log(id INTEGER PRIMARY KEY, body BLOB)", NULL, NULL, NULL) ||
	    sqlite3_prepare_v2(db, "INSERT INTO log(body) VALUES (?1)", -1, &st, NULL))
		must(KURA_EIO, "sqlite reference");
	double t0 = now_s();
	for (unsigned i = 0; i < n; i++) {
		sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
		sqlite3_bind_blob(st, 1, "0123456789abcdef0123456789abcdef0123456789abcdef"
					 "0123456789abcdef0123456789abcdef0123456789abcdef",
				  96, SQLITE_STATIC);
		sqlite3_step(st);
		sqlite3_reset(st);
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	}
	double dt = now_s() - t0;
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n / dt;
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 2000;
	unsigned reads = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 1000;
	char dir[] = "/tmp/kura-bench-audit-XXXXXX", vdir[4200], tok[KURA_TOKEN_HEX + 1];
	struct kura_kdf_params kdf = {1, 8 * 1024};
	struct kura_sth sth;
	struct kura_vault *v;
	struct kura_identity id;
	struct kura_actor where;
	if (n == 0 || reads == 0 || !mkdtemp(dir) || kura_crypto_init())
		return 2;
	snprintf(vdir, sizeof(vdir), "%s/vault", dir);
	must(kura_vault_init(vdir, PASS, strlen(PASS), &kdf, &sth), "init");
	must(kura_vault_open(vdir, PASS, strlen(PASS), 0, &v), "open");
	make_doctor(v);
	memset(&where, 0, sizeof(where));
	memcpy(where.terminal, "bench", 6);
	struct kura_login in = {"bench.dr", PW, strlen(PW), NULL, NULL, NULL};
	must(kura_auth_login(v, &in, &where, &id, tok), "login");
	char (*ids)[KURA_RECORD_ID_LEN + 1] = calloc(n, sizeof(*ids));
	if (!ids)
		return 2;
	write_records(v, &id, n, ids);
	struct kura_access a = {v, &id, NULL, NULL, NULL};
	double plain = plain_reads(v, ids, n, reads);
	double audited = audited_reads(&a, ids, n, reads);
	double ref = sqlite_commits(dir, reads);
	printf("{\"records\": %u, \"reads\": %u, \"plain_reads_per_s\": %.0f, "
	       "\"audited_reads_per_s\": %.0f, \"audited_over_plain\": %.4f, "
	       "\"sqlite_durable_commits_per_s\": %.0f, \"audited_over_sqlite_commit\": %.3f}\n",
	       n, reads, plain, audited, audited / plain, ref, audited / ref);
	kura_vault_close(v);
	free(ids);
	char cmd[4300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : 1;
}
