/*
 * cli.h - what the command files share: the parsed common options, output
 * in the user's language, errors with exit codes, the passphrase, progress.
 * Only cli/ prints or exits (STYLE.md rule 6).
 */
#ifndef KURA_CLI_CLI_H
#define KURA_CLI_CLI_H

#include <jansson.h>
#include <stdio.h>

#include "util/buf.h"
#include "auth/access.h"
#include "vault/vault.h"

enum cli_lang { LANG_EN = 0, LANG_JA = 1 };

struct cli {
	const char *vault_dir;
	int json;
	int lang;
	const char *prog;
	int progress; /* show progress bars (stderr is a tty and not --json) */
	const char *credentials; /* --credentials FILE or KURA_CREDENTIALS */
	const char *otp;         /* --otp CODE or KURA_OTP: a one-time code */
};

/* An authenticated operation: the vault, who is acting, and the access
 * layer bound to both (auth/access.h). */
struct cli_op {
	struct kura_vault *v;
	struct kura_identity id;
	struct kura_access a;
	int oneshot; /* logged in for this command only: logged out at close */
	char token[KURA_TOKEN_HEX + 1]; /* the session token of a fresh login; wiped at close */
};

/* Exit statuses (documented in README and kura(1)). */
enum cli_exit {
	EXIT_OK = 0,
	EXIT_VERIFY = 1,   /* verification found a problem */
	EXIT_USAGE = 2,
	EXIT_DENIED = 3,   /* wrong passphrase, or not allowed */
	EXIT_NOTFOUND = 4, /* unknown record or version */
	EXIT_INVALID = 5,  /* bad input */
	EXIT_TOOBIG = 6,
	EXIT_STATE = 7,    /* e.g. amending a retracted record */
	EXIT_BUSY = 8,
	EXIT_NOVAULT = 9,
	EXIT_FOREIGN = 10, /* not a kura vault */
	EXIT_CORRUPT = 11, /* the vault is damaged */
	EXIT_EXISTS = 12,
	EXIT_IO = 13,
	EXIT_AUTH = 14,    /* not authenticated: wrong credentials, no session */
	EXIT_LOCKED = 15,  /* account locked or disabled */
	EXIT_EXPIRED = 16, /* session expired, or the password must be changed */
	EXIT_POLICY = 17,  /* a password or setting breaks the policy */
	EXIT_INTERNAL = 70,
};

/* Pick the text for the current language. */
static inline const char *L(const struct cli *c, const char *en, const char *ja)
{
	return c->lang == LANG_JA ? ja : en;
}

/* Report err with a one-line message (what happened, what to do next) on
 * stderr, or as {"error": ...} on stdout with --json; returns the exit code. */
int cli_fail(const struct cli *c, int err, const char *en, const char *ja, ...);
/* The default message for an error code. */
int cli_fail_code(const struct cli *c, int err, const char *what);
int cli_exit_code(int err);
/* An error reading or writing the file at path. */
int cli_fail_file(const struct cli *c, int err, const char *path);

/* Open the vault of c->vault_dir, asking for the passphrase. On failure
 * prints the error and returns the exit code (non-zero). */
int cli_open_vault(const struct cli *c, int flags, struct kura_vault **ret);
/* Read the passphrase (KURA_PASSPHRASE_FILE, KURA_PASSPHRASE, or the tty;
 * confirm asks twice).  The result is in locked memory: kura_secret_free. */
int cli_passphrase(const struct cli *c, int confirm, char **ret, size_t *ret_len);

/* Open the vault and authenticate the operator (AU-01, K2 item 5): a
 * credentials file (--credentials / KURA_CREDENTIALS: password and/or a
 * machine certificate and key), else the session of 'kura login'
 * (KURA_SESSION_FILE or ~/.cache/kura/), else prompts on the terminal.
 * Never a password on the command line.  Prints the error and returns the
 * exit code on failure.  allow_must_change: the command is 'kura passwd'. */
int cli_op_open(struct cli *c, struct cli_op *op, int allow_must_change);
void cli_op_close(struct cli_op *op);
/* Report a failed access (denied with the reason, locked, expired...). */
int cli_access_fail(const struct cli *c, const struct cli_op *op, int err, const char *what);
/* Where the operator sits: host and tty, SSH client address. */
void cli_where(struct kura_actor *where);
/* The session file for this vault. */
int cli_session_path(const struct cli *c, struct kura_buf *out);
/* Record an event of action (about nothing else) for op; prints nothing. */
int cli_audit(struct cli_op *op, const char *action, const char *detail);

/* Read one line from the terminal, echoed or not (secrets); ret_len may be
 * NULL.  KURA_ENOTFOUND when there is no terminal. */
int cli_tty_line(const char *prompt, int echo, char *buf, size_t cap, size_t *ret_len);
/* A password from the first line of a file (no newline), into buf. */
int cli_read_password_file(const char *path, char *buf, size_t cap, size_t *ret_len);
/* A random one-time password (initial or reset) of 16 characters. */
void cli_random_password(char out[17]);
/* The message for a rejected password (KURA_EPOLICY with its reason). */
int cli_password_error(struct cli *c, int r, int reason);

/* Create path empty (mode 0600, O_EXCL) before a secret is made for it, so
 * an existing file or an unwritable place is refused first; option names
 * the option in the message.  0, or the printed error's exit code. */
int cli_claim_new_file(const struct cli *c, const char *path, const char *option);
/* A secret (a recovery key) as one line into path, mode 0600, durably. */
int cli_write_secret_line(const char *path, const char *text);

/* Print JSON to stdout and free it. */
int cli_print_json(json_t *j);
/* Progress bar on stderr when c->progress. */
void cli_progress(void *ctx, uint64_t done, uint64_t total);
void cli_progress_end(const struct cli *c);

/* "RECORD" or "RECORD@VERSION". */
int cli_parse_ref(const char *s, char *id, size_t idcap, uint32_t *ret_version);
/* Decimal unsigned integer, whole string. */
int cli_parse_u64(const char *s, uint64_t *ret);
/* Write bytes to path ("-" or NULL for stdout), durably for a file. */
int cli_write_out(const struct cli *c, const char *path, const void *data, size_t len);

json_t *cli_leaf_json(const struct kura_leaf *l, uint64_t leaf_index);
void cli_leaf_from_json(const json_t *o, struct kura_leaf *l);
void cli_print_leaf(const struct cli *c, const struct kura_leaf *l, uint64_t leaf_index);

/* Commands: argc/argv start at the command name. */
int cmd_init(struct cli *c, int argc, char **argv);
int cmd_put(struct cli *c, int argc, char **argv);
int cmd_amend(struct cli *c, int argc, char **argv);
int cmd_confirm(struct cli *c, int argc, char **argv);
int cmd_retract(struct cli *c, int argc, char **argv);
int cmd_get(struct cli *c, int argc, char **argv);
int cmd_history(struct cli *c, int argc, char **argv);
int cmd_list(struct cli *c, int argc, char **argv);
int cmd_import(struct cli *c, int argc, char **argv);
int cmd_sth(struct cli *c, int argc, char **argv);
int cmd_pubkey(struct cli *c, int argc, char **argv);
int cmd_proof(struct cli *c, int argc, char **argv);
int cmd_verify_proof(struct cli *c, int argc, char **argv);
int cmd_verify(struct cli *c, int argc, char **argv);
int cmd_login(struct cli *c, int argc, char **argv);
int cmd_logout(struct cli *c, int argc, char **argv);
int cmd_whoami(struct cli *c, int argc, char **argv);
int cmd_passwd(struct cli *c, int argc, char **argv);
int cmd_user(struct cli *c, int argc, char **argv);
int cmd_role(struct cli *c, int argc, char **argv);
int cmd_config(struct cli *c, int argc, char **argv);
int cmd_care(struct cli *c, int argc, char **argv);
int cmd_patient(struct cli *c, int argc, char **argv);
int cmd_factor(struct cli *c, int argc, char **argv);
int cmd_breakglass(struct cli *c, int argc, char **argv);
int cmd_audit(struct cli *c, int argc, char **argv);
int cmd_backup(struct cli *c, int argc, char **argv);
int cmd_restore(struct cli *c, int argc, char **argv);
int cmd_drill(struct cli *c, int argc, char **argv);
int cmd_receiver(struct cli *c, int argc, char **argv);
int cmd_key(struct cli *c, int argc, char **argv);
int cmd_serve(struct cli *c, int argc, char **argv);
int cmd_cert(struct cli *c, int argc, char **argv);

/* Forward the trail to every receiver of 'kura audit forward' at once (once
 * mode, at most 2 s each; delivery failures are ignored: the cursor stays
 * and the next run resends).  For BG-02 after a break-glass.  Returns 0 or
 * an error reading the receiver list. */
int cli_forward_now(struct cli_op *op);

/* Option parsing shared by the commands: getopt_long over the command's own
 * options plus --vault, --json, --lang, --help.  Returns the option
 * character, -1 at the end, '?' on error (already reported). */
struct option;
int cli_getopt(struct cli *c, int argc, char **argv, const char *shortopts,
	       const struct option *longopts, const char *usage);

#endif
