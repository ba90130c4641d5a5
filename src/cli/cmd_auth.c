/* cmd_auth.c - login, logout, whoami, passwd (AU-01..11, AC-01). */
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/password.h"
#include "cli/cli.h"
#include "crypto/crypto.h"
#include "util/fs.h"
#include "util/time.h"
#include "util/banned.h"

static int no_args(struct cli *c, int argc, char **argv, const char *usage)
{
	int o;
	while ((o = cli_getopt(c, argc, argv, "", NULL, usage)) != -1)
		return EXIT_USAGE;
	return optind == argc ? 0 : cli_fail(c, KURA_EUSAGE, "usage: %s", "使い方: %s", usage);
}

/* mkdir -p of the session file's directory, private. */
static int make_parent(const char *path)
{
	char dir[4096];
	size_t n = strlen(path);
	if (n >= sizeof(dir))
		return KURA_EINVAL;
	memcpy(dir, path, n + 1);
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(dir, 0700) && access(dir, F_OK))
			return KURA_EIO;
		*p = '/';
	}
	return 0;
}

static json_t *identity_json(const struct kura_identity *id)
{
	json_t *deps = json_array();
	for (unsigned i = 0; i < id->ndepartments; i++)
		json_array_append_new(deps, json_string(id->departments[i]));
	return json_pack("{s:s, s:s, s:o, s:b, s:i, s:s}", "user", id->actor.user, "role",
			 id->actor.role, "departments", deps, "must_change", id->must_change,
			 "factor_types", kura_factor_types(id->factors), "terminal",
			 id->actor.terminal);
}

int cmd_login(struct cli *c, int argc, char **argv)
{
	static const char usage[] =
		"kura login [--credentials FILE] [--otp CODE]\n"
		"  log in (password, then a one-time code) and keep a session for the next\n"
		"  commands (idle 15 min, at most 12 h); 'kura logout' ends it.";
	struct cli_op op;
	struct kura_buf path;
	int e = no_args(c, argc, argv, usage);
	if (e || (e = cli_op_open(c, &op, 2))) /* 2: a fresh login */
		return e;
	/* cli_op_open made a one-shot session; keep it instead of ending it. */
	op.oneshot = 0;
	kura_buf_init(&path, 8192);
	e = cli_session_path(c, &path) || make_parent((char *)path.data) ? EXIT_IO : 0;
	if (!e && op.token[0]) {
		char line[KURA_TOKEN_HEX + 2];
		memcpy(line, op.token, KURA_TOKEN_HEX);
		line[KURA_TOKEN_HEX] = '\n';
		int r = kura_fs_write_atomic((char *)path.data, line, sizeof(line) - 1, 0600);
		kura_wipe(line, sizeof(line));
		e = r ? cli_fail_file(c, r, (char *)path.data) : 0;
	}
	if (!e && c->json)
		cli_print_json(identity_json(&op.id));
	else if (!e)
		printf(L(c, "logged in as %s (%s)%s\n", "%s（%s）としてログインしました%s\n"), op.id.actor.user,
		       op.id.actor.role,
		       op.id.must_change ? L(c, "; change your password now: kura passwd",
					     "。パスワードを変更してください: kura passwd") : "");
	kura_buf_release(&path);
	cli_op_close(&op);
	return e;
}

int cmd_logout(struct cli *c, int argc, char **argv)
{
	struct cli_op op;
	struct kura_buf path;
	int e = no_args(c, argc, argv, "kura logout");
	if (e || (e = cli_op_open(c, &op, 1)))
		return e;
	int r = op.oneshot ? 0 : kura_auth_logout(op.v, &op.id);
	op.oneshot = 1; /* a one-shot login is ended by close */
	kura_buf_init(&path, 8192);
	if (!r && !c->credentials && cli_session_path(c, &path) == 0)
		unlink((char *)path.data);
	kura_buf_release(&path);
	cli_op_close(&op);
	if (r)
		return cli_fail_code(c, r, NULL);
	if (!c->json)
		printf("%s\n", L(c, "logged out", "ログアウトしました"));
	return EXIT_OK;
}

int cmd_whoami(struct cli *c, int argc, char **argv)
{
	struct cli_op op;
	int e = no_args(c, argc, argv, "kura whoami");
	if (e || (e = cli_op_open(c, &op, 1)))
		return e;
	if (c->json)
		cli_print_json(identity_json(&op.id));
	else {
		printf("%s (%s)", op.id.actor.user, op.id.actor.role);
		for (unsigned i = 0; i < op.id.ndepartments; i++)
			printf("%s%s", i ? "," : " ", op.id.departments[i]);
		printf("\n");
	}
	cli_op_close(&op);
	return EXIT_OK;
}

/* A new password from a file (scripts) or typed twice on the terminal. */
static int read_new_password(struct cli *c, const char *file, char *buf, size_t cap, size_t *ret)
{
	if (file) {
		int r = cli_read_password_file(file, buf, cap, ret);
		return r ? cli_fail_file(c, r, file) : 0;
	}
	char *again = kura_secret_alloc(cap);
	int r = again ? cli_tty_line(L(c, "new password: ", "新しいパスワード: "), 0, buf, cap, NULL) : KURA_ENOMEM;
	if (!r)
		r = cli_tty_line(L(c, "again: ", "もう一度: "), 0, again, cap, NULL);
	if (!r && strcmp(buf, again) != 0)
		r = KURA_EINVAL;
	kura_secret_free(again);
	*ret = strlen(buf);
	if (r)
		return cli_fail(c, KURA_EUSAGE, "no new password: give --new-password-file FILE or type it twice on a terminal",
				"新しいパスワードがありません。--new-password-file FILE を指定するか端末で2回入力してください");
	return 0;
}

int cli_password_error(struct cli *c, int r, int reason)
{
	if (r == KURA_EPOLICY)
		return cli_fail(c, r, "%s", "%s", kura_pw_reason_text((enum kura_pw_reason)reason, c->lang == LANG_JA));
	if (r == KURA_EIO)
		return cli_fail(c, r, "the password dictionary cannot be read; install cracklib-runtime",
				"パスワード辞書を読めません。cracklib-runtime をインストールしてください");
	return cli_fail_code(c, r, NULL);
}

int cmd_passwd(struct cli *c, int argc, char **argv)
{
	static const char usage[] =
		"kura passwd [--new-password-file FILE]\n"
		"  change your own password (AU-07..11); every session of yours ends";
	static const struct option opts[] = {{"new-password-file", required_argument, NULL, 'f'},
					     {NULL, 0, NULL, 0}};
	const char *file = NULL;
	struct cli_op op;
	size_t n = 0;
	int o, reason = 0;
	while ((o = cli_getopt(c, argc, argv, "", opts, usage)) != -1) {
		if (o == '?')
			return EXIT_USAGE;
		file = optarg;
	}
	if (optind != argc)
		return cli_fail(c, KURA_EUSAGE, "usage: %s", "使い方: %s", usage);
	char *pw = kura_secret_alloc(KURA_MAX_PASSWORD + 2);
	if (!pw)
		return cli_fail_code(c, KURA_ENOMEM, NULL);
	int e = read_new_password(c, file, pw, KURA_MAX_PASSWORD + 1, &n);
	if (e || (e = cli_op_open(c, &op, 1))) {
		kura_secret_free(pw);
		return e;
	}
	int r = kura_self_password(&op.a, NULL, 0, pw, n, 0, &reason);
	kura_secret_free(pw);
	if (r)
		e = cli_password_error(c, r, reason);
	else if (!c->json)
		printf("%s\n", L(c, "password changed; log in again ('kura login')",
				 "パスワードを変更しました。ログインし直してください（'kura login'）"));
	op.oneshot = 0; /* the change ended the session already */
	cli_op_close(&op);
	return e;
}
