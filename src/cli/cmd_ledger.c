/* cmd_ledger.c - sth, pubkey, proof and verify-proof. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "crypto/crypto.h"
#include "ledger/proof.h"
#include "util/fs.h"
#include "util/limits.h"
#include "util/time.h"
#include "util/banned.h"

static int output_opt(struct cli *c, int argc, char **argv, const char *usage,
		      const char **ret_out)
{
	static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
					     {"consistency", required_argument, NULL, 'k'},
					     {NULL, 0, NULL, 0}};
	int o;
	while ((o = cli_getopt(c, argc, argv, "o:", opts, usage)) != -1) {
		if (o == 'o')
			ret_out[0] = optarg;
		else if (o == 'k' && ret_out[1] != NULL)
			ret_out[1] = optarg;
		else
			return o == 'k' ? cli_fail(c, KURA_EUSAGE, "usage: %s", "使い方: %s", usage)
					: EXIT_USAGE;
	}
	return 0;
}

static int write_json(struct cli *c, const char *out, json_t *j)
{
	char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
	json_decref(j);
	if (!text)
		return cli_fail_code(c, KURA_ENOMEM, NULL);
	size_t n = strlen(text);
	text[n] = 0;
	struct kura_buf b;
	kura_buf_init(&b, n + 2);
	int e = kura_buf_append(&b, text, n) || kura_buf_append_byte(&b, '\n')
			? cli_fail_code(c, KURA_ENOMEM, NULL)
			: cli_write_out(c, out, b.data, b.len);
	kura_buf_release(&b);
	free(text);
	return e;
}

static const char sth_usage[] = "kura sth [-o FILE] [--json]\n"
				"  print the latest signed tree head; save it elsewhere and check\n"
				"  later with 'kura verify --against FILE'.";

int cmd_sth(struct cli *c, int argc, char **argv)
{
	const char *out[2] = {NULL, NULL};
	struct kura_vault *v;
	struct kura_sth sth;
	int e = output_opt(c, argc, argv, sth_usage, out);
	if (e || (e = cli_open_vault(c, KURA_VAULT_READONLY, &v)))
		return e;
	int r = kura_vault_sth(v, &sth);
	kura_vault_close(v);
	if (r)
		return cli_fail_code(c, r, NULL);
	if (out[0] || c->json)
		return write_json(c, out[0], kura_sth_to_json(&sth));
	char ts[KURA_TIME_STR], root[2 * KURA_HASH_LEN + 1], id[2 * KURA_HASH_LEN + 1];
	kura_time_format(sth.time_us, ts);
	kura_hex_encode(sth.root, KURA_HASH_LEN, root);
	kura_hex_encode(sth.log_id, KURA_HASH_LEN, id);
	printf("%s %llu\n%s %s\n%s %s\n%s %s\n", L(c, "tree size:", "ツリーサイズ:"),
	       (unsigned long long)sth.tree_size, L(c, "root hash:", "ルートハッシュ:"), root,
	       L(c, "time:     ", "時刻:      "), ts, L(c, "log id:   ", "ログ ID:   "), id);
	return EXIT_OK;
}

int cmd_pubkey(struct cli *c, int argc, char **argv)
{
	const char *out[2] = {NULL, NULL};
	struct kura_vault *v;
	uint8_t pub[KURA_PUBKEY_LEN];
	struct kura_buf pem;
	int e = output_opt(c, argc, argv, "kura pubkey [-o FILE]", out);
	if (e || (e = cli_open_vault(c, KURA_VAULT_READONLY, &v)))
		return e;
	kura_vault_pubkey(v, pub);
	kura_vault_close(v);
	kura_buf_init(&pem, 4096);
	e = kura_ed25519_public_pem(pub, &pem) ? cli_fail_code(c, KURA_EINTERNAL, NULL)
					       : cli_write_out(c, out[0], pem.data, pem.len);
	kura_buf_release(&pem);
	return e;
}

static int inclusion(struct cli *c, struct cli_op *op, const char *ref, json_t **ret)
{
	struct kura_vault *v = op->v;
	char id[KURA_MAX_ID + 1];
	uint32_t ver;
	struct kura_version_row row;
	struct kura_sth sth;
	struct kura_buf leaf;
	if (cli_parse_ref(ref, id, sizeof(id), &ver))
		return cli_fail(c, KURA_EUSAGE, "invalid record reference '%s' (RECORD or RECORD@VERSION)",
				"不正な記録参照 '%s'（RECORD または RECORD@VERSION）", ref);
	kura_buf_init(&leaf, KURA_MAX_PROOF_FILE);
	int r = kura_vault_locate(v, id, ver, &row, &leaf);
	/* A proof carries the leaf (patient, authors, time): handing it out is
	 * an export of that version, allowed and audited like one. */
	if (!r && (r = kura_access_about(&op->a, KURA_ACT_EXPORT, "export", &row.leaf,
					 "inclusion proof"))) {
		kura_buf_release(&leaf);
		return cli_access_fail(c, op, r, ref);
	}
	if (!r)
		r = kura_vault_sth(v, &sth);
	if (!r)
		r = kura_proof_inclusion(kura_vault_store(v), &sth, row.leaf_index, leaf.data,
					 leaf.len, ret);
	kura_buf_release(&leaf);
	return r ? cli_fail_code(c, r, ref) : 0;
}

static int consistency(struct cli *c, struct kura_vault *v, const char *olds, const char *news,
		       json_t **ret)
{
	uint64_t old, nsize = 0;
	struct kura_sth sth;
	struct kura_store *s = kura_vault_store(v);
	if (cli_parse_u64(olds, &old) || old == 0 || (news && cli_parse_u64(news, &nsize)))
		return cli_fail(c, KURA_EUSAGE, "sizes must be positive integers", "サイズは正の整数です");
	int r = news ? s->ops->sth_get(s, nsize, &sth) : kura_vault_sth(v, &sth);
	if (r == KURA_ENOTFOUND)
		return cli_fail(c, r, "no signed tree head at size %s; see 'kura sth'",
				"サイズ %s の署名付きツリーヘッドがありません。'kura sth' を参照", news);
	if (!r && old > sth.tree_size)
		return cli_fail(c, KURA_EINVAL, "old size %llu is larger than the tree (%llu)",
				"旧サイズ %llu がツリー（%llu）より大きいです",
				(unsigned long long)old, (unsigned long long)sth.tree_size);
	if (!r)
		r = kura_proof_consistency(s, old, &sth, ret);
	return r ? cli_fail_code(c, r, NULL) : 0;
}

static const char proof_usage[] =
	"kura proof RECORD[@VERSION] [-o FILE]\n"
	"kura proof --consistency OLD_SIZE [NEW_SIZE] [-o FILE]";

int cmd_proof(struct cli *c, int argc, char **argv)
{
	const char *out[2] = {NULL, ""};
	json_t *doc = NULL;
	int e = output_opt(c, argc, argv, proof_usage, out);
	int left = argc - optind, cons = out[1] && *out[1];
	if (e)
		return e;
	if ((cons && left > 1) || (!cons && left != 1))
		return cli_fail(c, KURA_EUSAGE, "usage: %s", "使い方: %s", proof_usage);
	struct cli_op op;
	if ((e = cli_op_open(c, &op, 0)))
		return e;
	/* A consistency proof holds only hashes: any account may have one. */
	e = cons ? consistency(c, op.v, out[1], left ? argv[optind] : NULL, &doc)
		 : inclusion(c, &op, argv[optind], &doc);
	if (!e && cons)
		cli_audit(&op, "export", "consistency proof");
	cli_op_close(&op);
	return e ? e : write_json(c, out[0], doc);
}

static const char vp_usage[] = "kura verify-proof FILE --pubkey PEM_FILE";

static int read_pubkey(struct cli *c, const char *path, uint8_t pub[KURA_PUBKEY_LEN])
{
	struct kura_buf b;
	kura_buf_init(&b, 65536);
	int r = kura_fs_read(path, b.max, &b);
	if (!r && kura_ed25519_public_from_pem(b.data, b.len, pub))
		r = KURA_EINVAL;
	kura_buf_release(&b);
	if (r == KURA_EINVAL)
		return cli_fail(c, r, "'%s' is not an Ed25519 public key in PEM ('kura pubkey' prints one)",
				"'%s' は PEM 形式の Ed25519 公開鍵ではありません（'kura pubkey' で出力できます）",
				path);
	return r ? cli_fail_file(c, r, path) : 0;
}

static int proof_result(struct cli *c, int r, const struct kura_proof_summary *s,
			const struct kura_buf *msg)
{
	const char *why = msg->data ? (const char *)msg->data : kura_strerror(r);
	if (c->json) {
		json_t *j = json_pack("{s:b, s:s, s:I}", "ok", !r, "type",
				      s->type == KURA_PROOF_CONSISTENCY ? "consistency" : "inclusion",
				      "tree_size", (json_int_t)s->tree_size);
		if (r)
			json_object_set_new(j, "error", json_string(why));
		if (!r && s->type == KURA_PROOF_INCLUSION)
			json_object_set_new(j, "leaf", cli_leaf_json(&s->leaf, s->leaf_index));
		cli_print_json(j);
		return r ? cli_exit_code(r) : EXIT_OK;
	}
	if (r)
		return cli_fail(c, r, "proof does not verify: %s", "証明を検証できません: %s", why);
	if (s->type == KURA_PROOF_INCLUSION)
		printf(L(c, "ok: %s@%u is leaf %llu of the signed tree of size %llu\n",
			 "正常: %s@%u は署名付きツリー（サイズ %llu）のリーフ %llu です\n"),
		       s->leaf.record_id, s->leaf.version,
		       (unsigned long long)(c->lang == LANG_JA ? s->tree_size : s->leaf_index),
		       (unsigned long long)(c->lang == LANG_JA ? s->leaf_index : s->tree_size));
	else
		printf(L(c, "ok: the signed tree of size %llu extends the tree of size %llu%s\n",
			 "正常: サイズ %llu の署名付きツリーはサイズ %llu のツリーを拡張しています%s\n"),
		       (unsigned long long)s->tree_size, (unsigned long long)s->old_size,
		       s->old_signed ? L(c, " (both signed)", "（両方署名済み）") : "");
	return EXIT_OK;
}

int cmd_verify_proof(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"pubkey", required_argument, NULL, 'k'},
					     {NULL, 0, NULL, 0}};
	const char *keyfile = NULL;
	uint8_t pub[KURA_PUBKEY_LEN];
	int o;
	while ((o = cli_getopt(c, argc, argv, "", opts, vp_usage)) != -1) {
		if (o == '?')
			return EXIT_USAGE;
		keyfile = optarg;
	}
	if (argc - optind != 1 || !keyfile)
		return cli_fail(c, KURA_EUSAGE, "usage: %s", "使い方: %s", vp_usage);
	int e = read_pubkey(c, keyfile, pub);
	if (e)
		return e;
	struct kura_buf doc, msg;
	struct kura_proof_summary sum;
	kura_buf_init(&doc, KURA_MAX_PROOF_FILE);
	kura_buf_init(&msg, 1024);
	int r = kura_fs_read(argv[optind], doc.max, &doc);
	if (r)
		e = cli_fail_file(c, r, argv[optind]);
	else
		e = proof_result(c, kura_proof_verify(doc.data, doc.len, pub, &sum, &msg), &sum, &msg);
	kura_buf_release(&doc);
	kura_buf_release(&msg);
	return e;
}
