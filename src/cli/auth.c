/*
 * auth.c - how the CLI authenticates its operator (cli.h cli_op_open):
 * credentials file, session file or terminal prompts, never a password on
 * the command line (K2 item 5).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/credfile.h"
#include "cli/cli.h"
#include "crypto/crypto.h"
#include "crypto/x509.h"
#include "util/fs.h"
#include "util/banned.h"

void cli_where(struct kura_actor *w)
{
	char host[256] = "localhost";
	struct kura_buf term;
	const char *tty = isatty(STDIN_FILENO) ? ttyname(STDIN_FILENO) : NULL;
	const char *ssh = getenv("SSH_CONNECTION");
	memset(w, 0, sizeof(*w));
	gethostname(host, sizeof(host) - 1);
	kura_buf_init(&term, 1024);
	if (kura_buf_printf(&term, "%s %s", host, tty ? tty : "no-tty") == 0)
		KURA_AUDIT_SET(w->terminal, (char *)term.data);
	kura_buf_release(&term);
	if (ssh) { /* "client_ip client_port server_ip server_port" */
		char ip[KURA_MAX_ADDR + 1];
		size_t n = strcspn(ssh, " ");
		if (n < sizeof(ip)) {
			memcpy(ip, ssh, n);
			ip[n] = 0;
			KURA_AUDIT_SET(w->client_ip, ip);
		}
	}
}

int cli_session_path(const struct cli *c, struct kura_buf *out)
{
	const char *env = getenv("KURA_SESSION_FILE"), *home = getenv("HOME");
	char real[PATH_MAX], hex[2 * KURA_HASH_LEN + 1];
	uint8_t h[KURA_HASH_LEN];
	if (env && *env)
		return kura_buf_append_str(out, env);
	const char *dir = realpath(c->vault_dir, real) ? real : c->vault_dir;
	kura_sha256(dir, strlen(dir), h);
	kura_hex_encode(h, 8, hex);
	return kura_buf_printf(out, "%s/.cache/kura/session-%s", home && *home ? home : "/tmp", hex);
}

static int read_token(const char *path, char token[KURA_TOKEN_HEX + 1])
{
	struct kura_buf b;
	struct stat st;
	kura_buf_init(&b, 256);
	int r = stat(path, &st) ? KURA_ENOTFOUND : 0;
	/* Like ssh with its keys: a session file others can read is refused. */
	if (!r && (st.st_mode & 077))
		r = KURA_EPOLICY;
	if (!r)
		r = kura_fs_read(path, 200, &b);
	while (!r && b.len && (b.data[b.len - 1] == '\n'))
		b.len--;
	if (!r && b.len != KURA_TOKEN_HEX)
		r = KURA_EAUTH;
	if (!r) {
		memcpy(token, b.data, KURA_TOKEN_HEX);
		token[KURA_TOKEN_HEX] = 0;
	}
	kura_buf_release_secret(&b);
	return r;
}

/* A one-time code is a TOTP code (6 digits) or else a recovery code. */
static const char *totp_of(const char *code)
{
	return code && strspn(code, "0123456789") == strlen(code) ? code : NULL;
}

static const char *recovery_of(const char *code)
{
	return code && !totp_of(code) ? code : NULL;
}

/* A certificate and key from a credentials file: proven, fingerprinted. */
static int prove_cert(const struct kura_credentials *cr, char fp[KURA_CERT_FP_HEX + 1],
		      struct kura_actor *where)
{
	struct kura_buf cert, key;
	struct kura_cert_info info;
	kura_buf_init(&cert, KURA_MAX_CERTFILE);
	kura_buf_init(&key, KURA_MAX_CERTFILE);
	int r = kura_fs_read(cr->certificate, KURA_MAX_CERTFILE, &cert);
	if (!r)
		r = kura_fs_read(cr->key, KURA_MAX_CERTFILE, &key);
	if (!r)
		r = kura_x509_prove_key(cert.data, cert.len, key.data, key.len, NULL);
	if (!r)
		r = kura_x509_info(cert.data, cert.len, &info);
	if (!r) {
		memcpy(fp, info.fingerprint, sizeof(info.fingerprint));
		KURA_AUDIT_SET(where->cert_fp, info.fingerprint);
	}
	kura_buf_release(&cert);
	kura_buf_release_secret(&key);
	return r;
}

static int login_credfile(struct cli *c, struct cli_op *op, struct kura_actor *where)
{
	struct kura_credentials cr;
	struct kura_buf msg;
	char fp[KURA_CERT_FP_HEX + 1];
	memset(&cr, 0, sizeof(cr));
	kura_buf_init(&msg, 1024);
	int r = kura_credfile_load(c->credentials, &cr, &msg);
	if (r) {
		int e = cli_fail(c, r == KURA_EPOLICY ? KURA_EPOLICY : KURA_EINVAL,
				 "credentials file '%s': %s", "資格情報ファイル '%s': %s", c->credentials,
				 msg.data ? (char *)msg.data : kura_strerror(r));
		kura_buf_release(&msg);
		return e;
	}
	kura_buf_release(&msg);
	if (cr.certificate[0] && (r = prove_cert(&cr, fp, where))) {
		kura_credentials_release(&cr);
		return cli_fail(c, KURA_EAUTH, "the key in '%s' does not belong to certificate '%s'",
				"'%s' の鍵は証明書 '%s' のものではありません", cr.key, cr.certificate);
	}
	struct kura_login in = {cr.user, cr.password, cr.password_len, totp_of(c->otp),
				recovery_of(c->otp), cr.certificate[0] ? fp : NULL};
	r = kura_auth_login(op->v, &in, where, &op->id, op->token);
	kura_credentials_release(&cr);
	op->oneshot = 1;
	return r ? cli_access_fail(c, op, r, NULL) : 0;
}

static int login_tty(struct cli *c, struct cli_op *op, struct kura_actor *where)
{
	char user[KURA_MAX_ID + 2], otp[32];
	char *pw = kura_secret_alloc(KURA_MAX_PASSWORD + 2);
	if (!pw)
		return cli_fail_code(c, KURA_ENOMEM, NULL);
	int r = cli_tty_line(L(c, "kura user: ", "kura 利用者 ID: "), 1, user, sizeof(user), NULL);
	if (!r)
		r = cli_tty_line(L(c, "password: ", "パスワード: "), 0, pw, KURA_MAX_PASSWORD + 1, NULL);
	if (!r && !c->otp)
		r = cli_tty_line(L(c, "one-time code (empty if none): ", "ワンタイムコード（なければ空）: "),
				 1, otp, sizeof(otp), NULL);
	if (r) {
		kura_secret_free(pw);
		return cli_fail(c, KURA_EAUTH,
				"not logged in: run 'kura login' on a terminal or pass --credentials FILE",
				"ログインしていません。端末で 'kura login' を実行するか --credentials FILE を指定してください");
	}
	const char *code = c->otp ? c->otp : otp[0] ? otp : NULL;
	struct kura_login in = {user, pw, strlen(pw), totp_of(code), recovery_of(code), NULL};
	r = kura_auth_login(op->v, &in, where, &op->id, op->token);
	kura_secret_free(pw);
	op->oneshot = 1;
	return r ? cli_access_fail(c, op, r, NULL) : 0;
}

/* fresh: 1 for 'kura login', which always logs in anew. */
static int authenticate(struct cli *c, struct cli_op *op, int fresh)
{
	struct kura_actor where;
	struct kura_buf path;
	char token[KURA_TOKEN_HEX + 1];
	cli_where(&where);
	if (c->credentials)
		return login_credfile(c, op, &where);
	kura_buf_init(&path, 8192);
	int r = fresh ? KURA_ENOTFOUND : cli_session_path(c, &path);
	if (!r)
		r = read_token((char *)path.data, token);
	kura_buf_release(&path);
	if (r == 0) {
		r = kura_auth_resume(op->v, token, &where, &op->id);
		kura_wipe(token, sizeof(token));
		return r ? cli_access_fail(c, op, r, NULL) : 0;
	}
	if (r == KURA_EPOLICY)
		return cli_fail(c, r, "the session file is readable by others; run 'kura login' again",
				"セッションファイルが他者から読めます。'kura login' をやり直してください");
	if (!isatty(STDIN_FILENO))
		return cli_fail(c, KURA_EAUTH,
				"not logged in: run 'kura login' or pass --credentials FILE (a password is never taken on the command line)",
				"ログインしていません。'kura login' を実行するか --credentials FILE を指定してください（パスワードはコマンドラインでは受け付けません）");
	return login_tty(c, op, &where);
}

int cli_op_open(struct cli *c, struct cli_op *op, int allow_must_change)
{
	memset(op, 0, sizeof(*op));
	int e = cli_open_vault(c, 0, &op->v);
	if (e)
		return e;
	if ((e = authenticate(c, op, allow_must_change == 2))) {
		kura_vault_close(op->v);
		op->v = NULL;
		return e;
	}
	/* LG-04: each event records the clock's state; a person at a
	 * terminal is also told (scripts read it from the trail). */
	if (kura_audit_clock_state() == KURA_CLOCK_UNSYNCED && !c->json && isatty(STDERR_FILENO))
		fprintf(stderr, "%s\n", L(c, "kura: warning: the system clock is not synchronised (LG-04); audit times may drift",
					  "kura: 警告: システム時刻が同期されていません（LG-04）。監査記録の時刻がずれる可能性があります"));
	op->a.v = op->v;
	op->a.id = &op->id;
	if (op->id.must_change && !allow_must_change) {
		int r = cli_fail(c, KURA_EEXPIRED, "the password of '%s' must be changed first: run 'kura passwd'",
				 "'%s' のパスワードを先に変更してください: 'kura passwd' を実行してください",
				 op->id.actor.user);
		cli_op_close(op);
		return r;
	}
	if (op->id.must_enroll && !op->id.must_change && !allow_must_change) {
		int r = cli_fail(c, KURA_EEXPIRED, "'%s' must enrol a second factor first (AU-12): run 'kura factor enroll totp'",
				 "'%s' は先に二要素目を登録してください（AU-12）: 'kura factor enroll totp' を実行してください",
				 op->id.actor.user);
		cli_op_close(op);
		return r;
	}
	return 0;
}

void cli_op_close(struct cli_op *op)
{
	if (op->v && op->oneshot && op->id.session[0])
		kura_auth_logout(op->v, &op->id);
	kura_wipe(op->token, sizeof(op->token));
	kura_vault_close(op->v);
	op->v = NULL;
}

int cli_audit(struct cli_op *op, const char *action, const char *detail)
{
	struct kura_event e;
	kura_audit_event(&e, &op->id.actor, action);
	KURA_AUDIT_SET(e.detail, detail ? detail : "");
	return kura_access_record(&op->a, &e);
}

int cli_access_fail(const struct cli *c, const struct cli_op *op, int err, const char *what)
{
	const char *w = what ? what : "";
	switch (err) {
	case KURA_EDENIED:
		/* Each language puts the target where its grammar wants it. */
		return cli_fail(c, err, "access denied%s%s: %s (recorded in the audit trail)",
				"%s%sアクセスが拒否されました: %s（監査証跡に記録しました）",
				c->lang == LANG_JA ? w : *w ? " to " : "",
				c->lang == LANG_JA ? (*w ? " への" : "") : w,
				op && op->a.why ? op->a.why : "not permitted");
	case KURA_EAUTH:
		return cli_fail(c, err, "authentication failed: wrong user, password, certificate or one-time code (recorded)",
				"認証に失敗しました: 利用者・パスワード・証明書・ワンタイムコードのいずれかが違います（記録しました）");
	case KURA_ELOCKED:
		return cli_fail(c, err, "the account is locked or disabled; ask the security administrator ('kura user unlock')",
				"アカウントがロックまたは無効化されています。セキュリティ管理者に連絡してください（'kura user unlock'）");
	case KURA_EEXPIRED:
		return cli_fail(c, err, "the session has expired or ended; run 'kura login' again",
				"セッションの有効期限が切れたか終了しました。'kura login' をやり直してください");
	default:
		return cli_fail_code(c, err, what);
	}
}
