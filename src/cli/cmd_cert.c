/*
 * cmd_cert.c - kura cert: a local CA, server and client certificates for a
 * site without a PKI (crypto/x509_issue.h, docs/SERVE.md).  Keys are
 * written 0600 and never printed; nothing is overwritten.
 */
#include <getopt.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "crypto/x509_issue.h"
#include "util/fs.h"
#include "util/limits.h"
#include "util/banned.h"

static const char usage_all[] =
	"kura cert ca --out DIR [--name NAME]\n"
	"kura cert server --ca DIR --host NAME_OR_IP [--host ...] --out PREFIX [--days N]\n"
	"kura cert client --ca DIR --name CN [--account ID] --out PREFIX [--days N]";
/* Errors are one line (cli_fail). */
static const char usage_line[] = "kura cert ca|server|client ... (kura cert --help)";

struct opts {
	const char *out, *ca, *name, *account;
	const char *hosts[KURA_CERT_MAX_HOSTS];
	size_t nhosts;
	unsigned days;
};

static int parse(struct cli *c, int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{"out", required_argument, NULL, 'o'}, {"ca", required_argument, NULL, 'C'},
		{"name", required_argument, NULL, 'n'}, {"account", required_argument, NULL, 'a'},
		{"host", required_argument, NULL, 'H'}, {"days", required_argument, NULL, 'd'},
		{NULL, 0, NULL, 0}};
	uint64_t d;
	int ch;
	while ((ch = cli_getopt(c, argc, argv, "o:C:n:a:H:d:", lo, usage_all)) != -1) {
		if (ch == 'o')
			o->out = optarg;
		else if (ch == 'C')
			o->ca = optarg;
		else if (ch == 'n')
			o->name = optarg;
		else if (ch == 'a')
			o->account = optarg;
		else if (ch == 'H' && o->nhosts < KURA_CERT_MAX_HOSTS)
			o->hosts[o->nhosts++] = optarg;
		else if (ch == 'd' && cli_parse_u64(optarg, &d) == 0 && d > 0 && d <= KURA_CA_DAYS)
			o->days = (unsigned)d;
		else
			return cli_fail(c, KURA_EUSAGE, "usage: %s", "使い方: %s", usage_line);
	}
	if (!o->out || optind != argc)
		return cli_fail(c, KURA_EUSAGE, "usage: %s", "使い方: %s", usage_line);
	return 0;
}

/* Write key (0600) and certificate (0644), refusing to replace a file. */
static int write_pair(struct cli *c, const char *kpath, const char *cpath,
		      const struct kura_buf *key, const struct kura_buf *cert)
{
	if (access(kpath, F_OK) == 0 || access(cpath, F_OK) == 0)
		return cli_fail(c, KURA_EEXIST, "'%s' or '%s' already exists; choose another --out",
				"'%s' または '%s' が既に存在します。別の --out を指定してください",
				kpath, cpath);
	int r = kura_fs_write_atomic(kpath, key->data, key->len, 0600);
	if (r)
		return cli_fail_file(c, r, kpath);
	r = kura_fs_write_atomic(cpath, cert->data, cert->len, 0644);
	if (r)
		return cli_fail_file(c, r, cpath);
	fprintf(stderr, L(c, "wrote %s and %s (key mode 0600)\n",
			  "%s と %s を書き出しました（鍵は 0600）\n"), cpath, kpath);
	return 0;
}

static int cert_ca(struct cli *c, const struct opts *o)
{
	struct kura_buf key, cert;
	char kpath[4096], cpath[4096];
	if (mkdir(o->out, 0700) != 0 && !kura_fs_is_dir(o->out))
		return cli_fail(c, KURA_EIO, "cannot create the directory '%s'",
				"ディレクトリ '%s' を作成できません", o->out);
	snprintf(kpath, sizeof(kpath), "%s/ca.key", o->out);
	snprintf(cpath, sizeof(cpath), "%s/ca.pem", o->out);
	kura_buf_init(&key, 65536);
	kura_buf_init(&cert, 65536);
	int r = kura_x509_make_ca(o->name ? o->name : "kura local CA", o->days ? o->days : KURA_CA_DAYS,
				  &key, &cert);
	int e = r ? cli_fail(c, r, "cannot make the CA: %s", "CA を作成できません: %s",
			     kura_strerror(r))
		  : write_pair(c, kpath, cpath, &key, &cert);
	kura_buf_release_secret(&key);
	kura_buf_release(&cert);
	return e;
}

static int read_ca(struct cli *c, const char *dir, struct kura_buf *key, struct kura_buf *cert)
{
	char kpath[4096], cpath[4096];
	snprintf(kpath, sizeof(kpath), "%s/ca.key", dir);
	snprintf(cpath, sizeof(cpath), "%s/ca.pem", dir);
	int r = kura_fs_read(cpath, KURA_MAX_CERTFILE, cert);
	if (r)
		return cli_fail_file(c, r, cpath);
	r = kura_fs_read(kpath, KURA_MAX_CERTFILE, key);
	return r ? cli_fail_file(c, r, kpath) : 0;
}

static int cert_issue(struct cli *c, const struct opts *o, int kind)
{
	struct kura_buf cakey, cacert, key, cert;
	char kpath[4096], cpath[4096];
	struct kura_cert_req req = {.kind = kind, .hosts = o->hosts, .nhosts = o->nhosts,
				    .account = o->account,
				    .cn = kind == KURA_CERT_SERVER ? (o->nhosts ? o->hosts[0] : NULL)
								   : o->name,
				    .days = o->days ? o->days : KURA_SERVER_DAYS};
	if (!o->ca || !req.cn)
		return cli_fail(c, KURA_EUSAGE, "usage: %s", "使い方: %s", usage_line);
	snprintf(kpath, sizeof(kpath), "%s.key", o->out);
	snprintf(cpath, sizeof(cpath), "%s.pem", o->out);
	kura_buf_init(&cakey, KURA_MAX_CERTFILE);
	kura_buf_init(&cacert, KURA_MAX_CERTFILE);
	kura_buf_init(&key, 65536);
	kura_buf_init(&cert, 65536);
	int e = read_ca(c, o->ca, &cakey, &cacert);
	int r = e ? 0 : kura_x509_issue(cacert.data, cacert.len, cakey.data, cakey.len, &req, &key,
					&cert);
	if (!e && r)
		e = cli_fail(c, r, "cannot issue the certificate: %s (hosts are DNS names or IP "
			     "addresses; at most 825 days; the CA files must match)",
			     "証明書を発行できません: %s（ホストは DNS 名か IP アドレス、期間は最長 825 日、"
			     "CA の証明書と鍵が対応していること）", kura_strerror(r));
	if (!e)
		e = write_pair(c, kpath, cpath, &key, &cert);
	kura_buf_release_secret(&cakey);
	kura_buf_release_secret(&key);
	kura_buf_release(&cacert);
	kura_buf_release(&cert);
	return e;
}

int cmd_cert(struct cli *c, int argc, char **argv)
{
	struct opts o = {0};
	static const char *const subs[] = {"ca", "server", "client"};
	int which = -1;
	for (int i = 0; argc > 1 && i < 3; i++)
		if (strcmp(argv[1], subs[i]) == 0)
			which = i;
	if (which < 0 && argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("%s\n", usage_all);
		return EXIT_OK;
	}
	if (which < 0)
		return cli_fail(c, KURA_EUSAGE, "usage: %s", "使い方: %s", usage_line);
	int e = parse(c, argc - 1, argv + 1, &o);
	if (e)
		return e;
	if (which == 0)
		return cert_ca(c, &o);
	return cert_issue(c, &o, which == 1 ? KURA_CERT_SERVER : KURA_CERT_CLIENT);
}
