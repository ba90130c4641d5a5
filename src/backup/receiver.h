/*
 * receiver.h - `kura receiver`: an HTTPS server (libevent, mutual TLS)
 * that keeps the backups of one vault on another machine, where the vault
 * host cannot remove or rewrite them (BK-02, BK-03).
 *
 * The protocol (docs/formats/backup-receiver.md) has put-if-absent, get
 * and list, nothing else: a client holding the vault's client certificate
 * can add objects and manifests that are signed by the vault's ledger key,
 * newer than every stored one and consistent with the newest stored tree
 * head; it can never delete or replace.  Retention is the receiver's own
 * (its config), applied after each accepted manifest, at start and hourly,
 * and never removes a generation stored less than lock_days ago or among
 * the newest keep_min.
 *
 * Storage is a directory repository (repo.h) with the same layout, so a
 * receiver's data directory can be read by `kura restore` directly.
 */
#ifndef KURA_BACKUP_RECEIVER_H
#define KURA_BACKUP_RECEIVER_H

#include <stddef.h>
#include <stdint.h>

#include "backup/object.h"
#include "backup/policy.h"
#include "backup/repo.h"
#include "crypto/x509.h"

#define KURA_RECV_PATH_MAX 4096     /* config values that are paths */
#define KURA_RECV_MAX_ALLOW 64      /* allow= fingerprints */
#define KURA_RECV_MAX_URI 256       /* a request path longer than this is 404 */
#define KURA_RECV_MAX_HEADERS 16384 /* bytes of request headers */
#define KURA_RECV_TIMEOUT_S 120     /* an idle or stalled connection */
#define KURA_RECV_LIST_MAX (16u * 1024 * 1024) /* GET /v1/manifests answer */
#define KURA_RECV_DEFAULT_LOCK_DAYS 30

/* ---- the request path (a pure function, fuzzed) ---- */

enum kura_recv_route {
	KURA_RECV_OBJECT = 1,    /* /v1/objects/<64 lowercase hex> */
	KURA_RECV_MANIFEST = 2,  /* /v1/manifests/<generation: 1..20 digits, no leading 0> */
	KURA_RECV_MANIFESTS = 3, /* /v1/manifests */
};

struct kura_recv_path {
	int route;
	uint8_t id[KURA_OBJ_ID_LEN];
	uint64_t generation;
};

/* Parse the request target p[0..n) exactly (no query, no percent
 * escapes, no trailing '/', no "..").  0 and *ret filled, or
 * KURA_ENOTFOUND for anything else. */
int kura_receiver_parse_path(const char *p, size_t n, struct kura_recv_path *ret);

/* ---- configuration (INI, docs/formats/backup-receiver.md §4) ---- */

struct kura_receiver_config {
	char listen[256]; /* ADDR:PORT, [V6ADDR]:PORT */
	char data[KURA_RECV_PATH_MAX];
	char cert[KURA_RECV_PATH_MAX], key[KURA_RECV_PATH_MAX], client_ca[KURA_RECV_PATH_MAX];
	char ledger_pubkey[KURA_RECV_PATH_MAX];
	char allow[KURA_RECV_MAX_ALLOW][KURA_CERT_FP_HEX + 1]; /* empty: any cert of client_ca */
	size_t nallow;
	uint64_t quota;      /* bytes; 0: none */
	uint64_t max_object; /* bytes; default and ceiling KURA_OBJ_MAX */
	struct kura_policy policy;
	char alert_command[KURA_RECV_PATH_MAX]; /* "" none */
	char log[KURA_RECV_PATH_MAX];           /* "" stderr */
};

/* Read and check a config file; err gets the first problem ("file:line:
 * ...").  KURA_ENOTFOUND, KURA_EINVAL (bad key or value, missing required
 * key), KURA_EIO. */
int kura_receiver_config_load(const char *path, struct kura_receiver_config *ret,
			      char err[256]);


/* ---- the server ---- */

struct kura_receiver;

/* Open (create if missing) the data directory, read the ledger key, load
 * the TLS material when serve is set, open the log.  err says what failed. */
int kura_receiver_new(const struct kura_receiver_config *cfg, int serve,
		      struct kura_receiver **ret, char err[256]);
void kura_receiver_free(struct kura_receiver *rv);

/* Bind the listening socket; out gets "ADDR:PORT" with the real port
 * (listen on port 0 in tests).  KURA_EIO. */
int kura_receiver_bind(struct kura_receiver *rv, char *out, size_t cap);

/* Serve until SIGTERM or SIGINT, then finish and return 0. */
int kura_receiver_run(struct kura_receiver *rv);

/* One generation as retention sees it. */
struct kura_receiver_gen {
	struct kura_repo_gen g;
	int64_t stored_us; /* when it arrived here; retention ages by this */
	int keep;
	const char *why; /* "newest", "locked", "daily", ... or NULL */
};

/* The generations with the policy's verdict at now_us; *ret malloc'd. */
int kura_receiver_plan(struct kura_receiver *rv, int64_t now_us, struct kura_receiver_gen **ret,
		       size_t *ret_n);

struct kura_receiver_pruned {
	uint64_t generations, objects, bytes;
};

/* Apply retention once: remove the generations the plan does not keep,
 * then objects no manifest names and older than the lock.  KURA_EBUSY if
 * another process has the data directory open (a running receiver). */
int kura_receiver_prune(struct kura_receiver *rv, int64_t now_us,
			struct kura_receiver_pruned *ret);

/* The last error's text (a repository or policy problem), or "". */
const char *kura_receiver_error(const struct kura_receiver *rv);

#endif
