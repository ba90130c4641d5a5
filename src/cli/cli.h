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
#include "vault/vault.h"

enum cli_lang { LANG_EN = 0, LANG_JA = 1 };

struct cli {
	const char *vault_dir;
	int json;
	int lang;
	const char *prog;
	int progress; /* show progress bars (stderr is a tty and not --json) */
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

/* Option parsing shared by the commands: getopt_long over the command's own
 * options plus --vault, --json, --lang, --help.  Returns the option
 * character, -1 at the end, '?' on error (already reported). */
struct option;
int cli_getopt(struct cli *c, int argc, char **argv, const char *shortopts,
	       const struct option *longopts, const char *usage);

#endif
