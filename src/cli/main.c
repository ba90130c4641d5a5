/*
 * main.c - the kura command: one table of subcommands (like git's
 * builtin/), each parsing its own arguments and calling the library.
 */
#include <getopt.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "crypto/crypto.h"
#include "util/banned.h"

struct command {
	const char *name;
	int (*run)(struct cli *c, int argc, char **argv);
	const char *en, *ja;
};

static const struct command commands[] = {
	{"init", cmd_init, "create a vault", "保管庫を作成する"},
	{"put", cmd_put, "store a new record", "新しい記録を保存する"},
	{"amend", cmd_amend, "add a version to a record", "記録に新しい版を追加する"},
	{"confirm", cmd_confirm, "confirm the latest draft", "最新の仮保存版を確定する"},
	{"retract", cmd_retract, "mark a record entered-in-error", "記録を誤入力として取り消す"},
	{"get", cmd_get, "print a version's content", "版の内容を出力する"},
	{"history", cmd_history, "list every version of a record", "記録の全版を表示する"},
	{"list", cmd_list, "list records", "記録の一覧を表示する"},
	{"import", cmd_import, "store many records (NDJSON or FHIR Bundle)",
	 "多数の記録を取り込む（NDJSON または FHIR Bundle）"},
	{"sth", cmd_sth, "print the latest signed tree head", "最新の署名付きツリーヘッドを表示する"},
	{"pubkey", cmd_pubkey, "print the ledger's public key (PEM)", "台帳の公開鍵（PEM）を出力する"},
	{"proof", cmd_proof, "print an inclusion or consistency proof", "包含証明または整合性証明を出力する"},
	{"verify-proof", cmd_verify_proof, "check a proof with a public key only",
	 "公開鍵だけで証明を検証する"},
	{"verify", cmd_verify, "recompute and check the whole vault", "保管庫全体を再計算して検証する"},
	{"login", cmd_login, "log in and keep a session", "ログインしてセッションを保持する"},
	{"logout", cmd_logout, "end the session", "セッションを終了する"},
	{"whoami", cmd_whoami, "show who is logged in", "ログイン中の利用者を表示する"},
	{"passwd", cmd_passwd, "change your password", "自分のパスワードを変更する"},
	{"user", cmd_user, "add, list and change accounts", "アカウントを追加・一覧・変更する"},
	{"role", cmd_role, "list roles and their rules", "ロールとその規則を表示する"},
	{"config", cmd_config, "show or change settings", "設定を表示・変更する"},
	{"care", cmd_care, "assign or end care of a patient", "患者の担当を割り当て・終了する"},
	{"patient", cmd_patient, "restrict a patient, grant or revoke access", "患者の制限、アクセスの許可・取消"},
	{"factor", cmd_factor, "enrol, list or remove second factors", "二要素目を登録・一覧・削除する"},
	{"breakglass", cmd_breakglass, "emergency access to a patient (alerted)", "患者への緊急アクセス（通知される）"},
	{"backup", cmd_backup, "back up, list, export and check generations",
	 "世代バックアップの作成・一覧・書き出し・検証"},
	{"restore", cmd_restore, "restore a generation into a new vault", "世代を新しい保管庫に復元する"},
	{"drill", cmd_drill, "restore drill: restore, verify, measure RTO/RPO", "復旧訓練：復元・検証・RTO/RPO の測定"},
	{"receiver", cmd_receiver, "run the append-only backup receiver", "追記専用のバックアップ受信サーバを動かす"},
	{"serve", cmd_serve, "run the HTTPS server (FHIR R4 API)", "HTTPS サーバ（FHIR R4 API）を動かす"},
	{"cert", cmd_cert, "make a local CA, server and client certificates", "ローカル CA・サーバ・クライアント証明書を作る"},
	{"key", cmd_key, "make a new recovery key", "新しい復旧鍵を作成する"},
	{"audit", cmd_audit, "search, report, review, export and forward the audit trail",
	 "監査証跡を検索・報告・レビュー・出力・転送する"},
};

static void usage(const struct cli *c, FILE *f)
{
	fprintf(f, "%s\n\n", L(c, "usage: kura [--vault DIR] [--credentials FILE] [--otp CODE] [--json] [--lang en|ja] COMMAND [ARGS]",
			       "使い方: kura [--vault DIR] [--credentials FILE] [--otp CODE] [--json] [--lang en|ja] コマンド [引数]"));
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-13s %s\n", commands[i].name, L(c, commands[i].en, commands[i].ja));
	fprintf(f, "\n%s\n", L(c, "'kura COMMAND --help' shows a command's options.",
			       "'kura コマンド --help' で各コマンドのオプションを表示します。"));
}

static void defaults(struct cli *c, char *prog)
{
	const char *v = getenv("KURA_VAULT"), *lang = getenv("LC_ALL");
	memset(c, 0, sizeof(*c));
	c->prog = "kura";
	(void)prog;
	c->vault_dir = v && *v ? v : "./kura-vault";
	if (!lang || !*lang)
		lang = getenv("LC_MESSAGES");
	if (!lang || !*lang)
		lang = getenv("LANG");
	c->lang = lang && strncmp(lang, "ja", 2) == 0 ? LANG_JA : LANG_EN;
	c->progress = isatty(STDERR_FILENO);
	c->credentials = getenv("KURA_CREDENTIALS");
	if (c->credentials && !*c->credentials)
		c->credentials = NULL;
	c->otp = getenv("KURA_OTP");
	if (c->otp && !*c->otp)
		c->otp = NULL;
}

/* Options before the command name: --vault, --json, --lang, --help, --version. */
static int global_opts(struct cli *c, int argc, char **argv)
{
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--json") == 0)
			c->json = 1;
		else if (strcmp(a, "--credentials") == 0 && i + 1 < argc)
			c->credentials = argv[++i];
		else if (strcmp(a, "--otp") == 0 && i + 1 < argc)
			c->otp = argv[++i];
		else if ((strcmp(a, "--vault") == 0 || strcmp(a, "--lang") == 0) && i + 1 < argc) {
			if (a[2] == 'v')
				c->vault_dir = argv[++i];
			else
				c->lang = strncmp(argv[++i], "ja", 2) == 0 ? LANG_JA : LANG_EN;
		} else if (strcmp(a, "--version") == 0) {
			printf("kura 0.1.0\n");
			exit(EXIT_OK);
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(c, stdout);
			exit(EXIT_OK);
		} else
			return -1;
	}
	return i;
}

int main(int argc, char **argv)
{
	struct cli c;
	setlocale(LC_ALL, "");
	defaults(&c, argv[0]);
	if (kura_crypto_init())
		return cli_fail(&c, KURA_EINTERNAL, "cannot initialise libsodium",
				"libsodium を初期化できません");
	int i = global_opts(&c, argc, argv);
	if (i < 0 || i >= argc) {
		usage(&c, stderr);
		return EXIT_USAGE;
	}
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
		if (strcmp(argv[i], commands[k].name) == 0) {
			optind = 1;
			return commands[k].run(&c, argc - i, argv + i);
		}
	return cli_fail(&c, KURA_EUSAGE, "unknown command '%s'; see 'kura --help'",
			"不明なコマンド '%s' です。'kura --help' を参照してください", argv[i]);
}
