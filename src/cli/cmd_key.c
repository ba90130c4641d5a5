/*
 * cmd_key.c - `kura key recovery`: replace the recovery key (issue 4,
 * docs/RECOVERY.md).  Security administrators only; the new key's box and
 * the audit event are one transaction, and a key file is written before
 * that transaction commits, so a failure never leaves the vault with a
 * key nobody holds.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "crypto/crypto.h"
#include "util/fs.h"
#include "util/banned.h"

#define ACTION "key-operation" /* ledger/event.h */

static const char key_usage[] =
	"kura key recovery [--vault DIR] [--out FILE] [--json]\n"
	"  make a new recovery key (security administrators): the previous key\n"
	"  stops opening this vault, though backups made before still open with\n"
	"  it (docs/RECOVERY.md).  The key is printed once, or written to FILE,\n"
	"  which must not exist (mode 0600).  Print it and keep it offline.";

/* The new key and its event in one transaction; out (if any) written
 * before the commit.  ret_file_err tells a failed file write apart. */
static int replace_key(struct cli_op *op, const char *out, char *key, int *ret_file_err)
{
	struct kura_txn *t = NULL;
	struct kura_event e;
	kura_audit_event(&e, &op->id.actor, ACTION);
	e.severity = KURA_SEV_NOTICE;
	KURA_AUDIT_SET(e.detail, "new recovery key; the previous one no longer opens the vault");
	int r = kura_txn_begin(op->v, &t);
	if (!r)
		r = kura_txn_recovery_new(t, key);
	if (!r)
		r = kura_txn_event(t, &e, NULL);
	if (!r && out && (r = cli_write_secret_line(out, key)))
		*ret_file_err = 1;
	return t ? kura_txn_finish(t, r, NULL) : r;
}

static int report(struct cli *c, const char *out, const char *key)
{
	if (c->json)
		return cli_print_json(json_pack("{s:b, s:s?, s:s?}", "ok", 1, "recovery_key",
						out ? NULL : key, "recovery_key_file", out))
			       ? EXIT_INTERNAL
			       : EXIT_OK;
	if (out)
		printf(L(c, "new recovery key written to '%s' (mode 0600): print it, keep it offline, then delete the file; the previous key no longer opens this vault\n",
			 "新しい復旧鍵を '%s' に書き出しました（モード 0600）。印刷してオフラインで保管し、ファイルは削除してください。以前の復旧鍵ではこの保管庫を開けなくなりました\n"),
		       out);
	else
		printf(L(c, "new recovery key (shown once; print it, keep two copies offline, see docs/RECOVERY.md; the previous key no longer opens this vault):\n  %s\n",
			 "新しい復旧鍵（一度だけ表示。印刷して 2 部をオフラインで保管してください。docs/RECOVERY.md 参照。以前の復旧鍵ではこの保管庫を開けなくなりました）:\n  %s\n"),
		       key);
	return fflush(stdout) ? EXIT_IO : EXIT_OK;
}

static int key_recovery(struct cli *c, const char *out)
{
	struct cli_op op;
	int file_err = 0;
	int e = cli_op_open(c, &op, 0);
	if (e)
		return e;
	int r = kura_access_require(&op.a, KURA_ACT_ADMINISTER, ACTION);
	if (r) {
		e = cli_access_fail(c, &op, r, "key recovery");
		cli_op_close(&op);
		return e;
	}
	char *key = kura_secret_alloc(KURA_RECOVERY_KEY_TEXT_LEN + 1);
	if (!key) {
		cli_op_close(&op);
		return cli_fail_code(c, KURA_ENOMEM, "key recovery");
	}
	if ((e = out ? cli_claim_new_file(c, out, "--out FILE") : 0) == 0) {
		r = replace_key(&op, out, key, &file_err);
		if (r && out)
			unlink(out);
		e = !r	       ? report(c, out, key)
		    : file_err ? cli_fail_file(c, r, out)
			       : cli_fail_code(c, r, "key recovery");
	}
	kura_secret_free(key);
	cli_op_close(&op);
	return e;
}

int cmd_key(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"out", required_argument, NULL, 'o'},
		{NULL, 0, NULL, 0},
	};
	const char *out = NULL;
	int o;
	while ((o = cli_getopt(c, argc, argv, "o:", opts, key_usage)) != -1) {
		if (o == '?')
			return EXIT_USAGE;
		out = optarg;
	}
	if (optind + 1 != argc || strcmp(argv[optind], "recovery") != 0)
		return cli_fail(c, KURA_EUSAGE, "usage: %s", "使い方: %s", key_usage);
	return key_recovery(c, out);
}
