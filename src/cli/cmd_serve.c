/*
 * cmd_serve.c - kura serve: the HTTPS server (serve/serve.h, docs/SERVE.md)
 * from one INI file.  Prints "listening on https://ADDR:PORT" per listener
 * to stderr once bound, then runs until SIGTERM.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "crypto/crypto.h"
#include "serve/serve.h"
#include "util/fs.h"
#include "util/limits.h"
#include "util/banned.h"

static const char usage[] = "kura serve --config FILE\n"
			    "  serve the HTTPS API and FHIR R4 until SIGTERM (docs/SERVE.md)";

/* The passphrase: the file's bytes without trailing newlines, in locked
 * memory (kura_secret_free). */
static int read_pass(const char *path, char **ret, size_t *ret_len)
{
	struct kura_buf b;
	*ret = NULL;
	kura_buf_init(&b, KURA_MAX_PASSPHRASE + 2);
	int r = kura_fs_read(path, KURA_MAX_PASSPHRASE + 1, &b);
	while (!r && b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
		b.len--;
	char *p = r ? NULL : kura_secret_alloc(b.len + 1);
	if (!r && !p)
		r = KURA_ENOMEM;
	if (!r) {
		memcpy(p, b.data, b.len);
		*ret = p;
		*ret_len = b.len;
	}
	kura_buf_release_secret(&b);
	return r;
}

static int start(struct cli *c, const struct kura_serve_config *cfg, struct kura_server **ret)
{
	char err[256], *pass = NULL;
	size_t passlen = 0;
	int r = read_pass(cfg->passphrase_file, &pass, &passlen);
	if (r)
		return cli_fail(c, r, "cannot read the passphrase file '%s': %s",
				"パスフレーズファイル '%s' を読めません: %s", cfg->passphrase_file,
				kura_strerror(r));
	r = kura_server_new(cfg, pass, passlen, ret, err);
	kura_secret_free(pass);
	if (r)
		return cli_fail(c, r, "cannot start the server: %s", "サーバを開始できません: %s",
				err);
	r = kura_server_bind(*ret, err);
	if (r)
		return cli_fail(c, r, "%s (is another program using the port?)",
				"%s（他のプログラムがポートを使用していませんか）", err);
	return 0;
}

int cmd_serve(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {NULL, 0, NULL, 0}};
	struct kura_serve_config *cfg = malloc(sizeof(*cfg));
	struct kura_server *srv = NULL;
	const char *path = NULL;
	char err[256];
	int o, e;
	if (!cfg)
		return cli_fail_code(c, KURA_ENOMEM, NULL);
	while ((o = cli_getopt(c, argc, argv, "c:", opts, usage)) != -1) {
		if (o != 'c') {
			free(cfg);
			return EXIT_USAGE;
		}
		path = optarg;
	}
	if (!path || optind != argc) {
		free(cfg);
		return cli_fail(c, KURA_EUSAGE, "usage: %s", "使い方: %s", usage);
	}
	int r = kura_serve_config_load(path, cfg, err);
	e = r ? cli_fail(c, r, "bad server configuration: %s", "サーバ設定に誤りがあります: %s", err)
	      : start(c, cfg, &srv);
	for (unsigned i = 0; !e && i < cfg->nlisten; i++)
		fprintf(stderr, "%s %s\n", L(c, "listening on", "待ち受け中:"),
			kura_server_url(srv, i));
	if (!e && (r = kura_server_run(srv)))
		e = cli_fail(c, r, "the server stopped: %s", "サーバが停止しました: %s",
			     kura_strerror(r));
	kura_server_free(srv);
	free(cfg);
	return e;
}
