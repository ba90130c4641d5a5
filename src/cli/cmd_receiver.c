/*
 * cmd_receiver.c - kura receiver: run the backup receiver (backup/receiver.h,
 * docs/formats/backup-receiver.md), apply its retention once, or show what
 * it keeps.  No vault is involved: a receiver holds only ciphertext and the
 * vault's ledger public key.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "backup/receiver.h"
#include "cli/cli.h"
#include "util/time.h"
#include "util/banned.h"

static const char usage_all[] =
	"kura receiver [run|prune|status] --config FILE ... (--help for each)";

static int parse_opts(struct cli *c, int argc, char **argv, const char *usage,
		      const char **ret_config)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {NULL, 0, NULL, 0}};
	int o;
	*ret_config = NULL;
	while ((o = cli_getopt(c, argc, argv, "c:", opts, usage)) != -1) {
		if (o == 'c')
			*ret_config = optarg;
		else
			return EXIT_USAGE;
	}
	if (!*ret_config || optind != argc)
		return cli_fail(c, KURA_EUSAGE, "usage: %s", "使い方: %s", usage);
	return 0;
}

static int load(struct cli *c, const char *path, int serve, struct kura_receiver **ret)
{
	struct kura_receiver_config cfg;
	char err[256];
	int r = kura_receiver_config_load(path, &cfg, err);
	if (r)
		return cli_fail(c, r, "bad receiver configuration: %s",
				"受信サーバの設定に誤りがあります: %s", err);
	r = kura_receiver_new(&cfg, serve, ret, err);
	if (r)
		return cli_fail(c, r, "cannot start the receiver: %s",
				"受信サーバを開始できません: %s", err);
	return 0;
}

static int cmd_run(struct cli *c, int argc, char **argv)
{
	static const char usage[] = "kura receiver [run] --config FILE\n"
				    "  serve backups over HTTPS with mutual TLS until SIGTERM";
	struct kura_receiver *rv = NULL;
	const char *config;
	char where[300];
	int e = parse_opts(c, argc, argv, usage, &config);
	if (e || (e = load(c, config, 1, &rv)))
		return e;
	int r = kura_receiver_bind(rv, where, sizeof(where));
	if (r) {
		e = cli_fail(c, r, "cannot listen: %s (is another program using the port?)",
			     "待ち受けできません: %s（他のプログラムがポートを使用していませんか）",
			     kura_receiver_error(rv));
		kura_receiver_free(rv);
		return e;
	}
	fprintf(stderr, "%s %s\n", L(c, "listening on", "待ち受け中:"), where);
	r = kura_receiver_run(rv);
	kura_receiver_free(rv);
	return r ? cli_fail(c, r, "the receiver stopped: %s", "受信サーバが停止しました: %s",
			    kura_strerror(r))
		 : EXIT_OK;
}

static int cmd_prune(struct cli *c, int argc, char **argv)
{
	static const char usage[] = "kura receiver prune --config FILE [--json]\n"
				    "  remove the generations the retention policy no longer keeps";
	struct kura_receiver *rv = NULL;
	struct kura_receiver_pruned p;
	const char *config;
	int e = parse_opts(c, argc, argv, usage, &config);
	if (e || (e = load(c, config, 0, &rv)))
		return e;
	int r = kura_receiver_prune(rv, kura_time_now_us(), &p);
	if (r == KURA_EBUSY)
		e = cli_fail(c, r, "the receiver is running and prunes by itself every hour; stop it "
			     "to prune now", "受信サーバが稼働中です（1時間ごとに自動で整理します）。"
			     "今すぐ整理するには停止してください");
	else if (r)
		e = cli_fail(c, r, "pruning failed: %s", "整理に失敗しました: %s",
			     kura_receiver_error(rv));
	else if (c->json)
		e = cli_print_json(json_pack("{s:I,s:I,s:I}", "generations_removed",
					     (json_int_t)p.generations, "objects_removed",
					     (json_int_t)p.objects, "bytes_freed",
					     (json_int_t)p.bytes));
	else
		printf(L(c, "removed %llu generation(s) and %llu object(s), %llu bytes freed\n",
			 "%llu 世代と %llu 個のオブジェクトを削除し、%llu バイトを解放しました\n"),
		       (unsigned long long)p.generations, (unsigned long long)p.objects,
		       (unsigned long long)p.bytes);
	kura_receiver_free(rv);
	return e;
}

static json_t *gen_json(const struct kura_receiver_gen *g)
{
	char t[KURA_TIME_STR], s[KURA_TIME_STR];
	kura_time_format(g->g.created_us, t);
	kura_time_format(g->stored_us, s);
	return json_pack("{s:I,s:I,s:s,s:s,s:I,s:b,s:s?}", "generation",
			 (json_int_t)g->g.generation, "tree_size", (json_int_t)g->g.tree_size,
			 "created", t, "stored", s, "bytes", (json_int_t)g->g.bytes, "keep",
			 g->keep, "why", g->why);
}

static void print_gens(const struct cli *c, const struct kura_receiver_gen *v, size_t n)
{
	printf("%-10s %-12s %-22s %-14s %s\n", L(c, "generation", "世代"),
	       L(c, "tree size", "木の大きさ"), L(c, "stored", "保存日時"),
	       L(c, "bytes", "バイト"), L(c, "kept", "保持"));
	for (size_t i = 0; i < n; i++) {
		char s[KURA_TIME_STR];
		kura_time_format(v[i].stored_us, s);
		printf("%-10llu %-12llu %-22s %-14llu %s%s%s\n",
		       (unsigned long long)v[i].g.generation, (unsigned long long)v[i].g.tree_size,
		       s, (unsigned long long)v[i].g.bytes,
		       v[i].keep ? L(c, "yes", "はい") : L(c, "no (next prune)", "いいえ（次回削除）"),
		       v[i].why ? " " : "", v[i].why ? v[i].why : "");
	}
}

static int cmd_status(struct cli *c, int argc, char **argv)
{
	static const char usage[] = "kura receiver status --config FILE [--json]\n"
				    "  list the stored generations, newest first, and why each is kept";
	struct kura_receiver *rv = NULL;
	struct kura_receiver_gen *v = NULL;
	size_t n = 0;
	const char *config;
	int e = parse_opts(c, argc, argv, usage, &config);
	if (e || (e = load(c, config, 0, &rv)))
		return e;
	int r = kura_receiver_plan(rv, kura_time_now_us(), &v, &n);
	if (r) {
		e = cli_fail(c, r, "cannot list the generations: %s", "世代を一覧できません: %s",
			     kura_receiver_error(rv));
	} else if (c->json) {
		json_t *a = json_array();
		for (size_t i = 0; a && i < n; i++)
			json_array_append_new(a, gen_json(&v[i]));
		e = cli_print_json(json_pack("{s:o}", "generations", a));
	} else {
		print_gens(c, v, n);
	}
	free(v);
	kura_receiver_free(rv);
	return e;
}

int cmd_receiver(struct cli *c, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(struct cli *, int, char **);
	} sub[] = {{"run", cmd_run}, {"prune", cmd_prune}, {"status", cmd_status}};
	for (size_t i = 0; argc > 1 && i < sizeof(sub) / sizeof(sub[0]); i++)
		if (strcmp(argv[1], sub[i].name) == 0)
			return sub[i].run(c, argc - 1, argv + 1);
	if (argc > 1 && argv[1][0] != '-')
		return cli_fail(c, KURA_EUSAGE, "usage: %s", "使い方: %s", usage_all);
	return cmd_run(c, argc, argv);
}
