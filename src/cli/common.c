/* common.c - errors, passphrase, output and option helpers for commands. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <fcntl.h>

#include "cli/cli.h"
#include "crypto/crypto.h"
#include "util/fs.h"
#include "util/limits.h"
#include "util/time.h"
#include "util/banned.h"

int cli_exit_code(int err)
{
	switch (err) {
	case KURA_OK: return EXIT_OK;
	case KURA_EVERIFY: return EXIT_VERIFY;
	case KURA_EUSAGE: return EXIT_USAGE;
	case KURA_EDENIED: return EXIT_DENIED;
	case KURA_ENOTFOUND: return EXIT_NOTFOUND;
	case KURA_EINVAL: return EXIT_INVALID;
	case KURA_ETOOBIG: return EXIT_TOOBIG;
	case KURA_ESTATE: return EXIT_STATE;
	case KURA_EBUSY: return EXIT_BUSY;
	case KURA_ENOVAULT: return EXIT_NOVAULT;
	case KURA_EFOREIGN: return EXIT_FOREIGN;
	case KURA_ECORRUPT: case KURA_ECRYPTO: return EXIT_CORRUPT;
	case KURA_EEXIST: return EXIT_EXISTS;
	case KURA_EIO: return EXIT_IO;
	case KURA_EAUTH: return EXIT_AUTH;
	case KURA_ELOCKED: return EXIT_LOCKED;
	case KURA_EEXPIRED: return EXIT_EXPIRED;
	case KURA_EPOLICY: return EXIT_POLICY;
	default: return EXIT_INTERNAL;
	}
}

int cli_fail(const struct cli *c, int err, const char *en, const char *ja, ...)
{
	struct kura_buf msg;
	va_list ap;
	kura_buf_init(&msg, 8192);
	va_start(ap, ja);
	int n = vsnprintf(NULL, 0, L(c, en, ja), ap);
	va_end(ap);
	if (n >= 0 && kura_buf_reserve(&msg, (size_t)n) == 0) {
		va_start(ap, ja);
		vsnprintf((char *)msg.data, (size_t)n + 1, L(c, en, ja), ap);
		va_end(ap);
		msg.len = (size_t)n;
	}
	/* User input is echoed in messages: keep them one line, no escapes. */
	for (size_t i = 0; msg.data && i < msg.len; i++)
		if (msg.data[i] < 0x20 || msg.data[i] == 0x7f)
			msg.data[i] = '?';
	const char *text = msg.data ? (const char *)msg.data : kura_strerror(err);
	if (c->json)
		cli_print_json(json_pack("{s:{s:s, s:s, s:i}}", "error", "code", kura_errname(err),
					 "message", text, "exit", cli_exit_code(err)));
	else
		fprintf(stderr, "%s: %s%s\n", c->prog, L(c, "error: ", "エラー: "), text);
	kura_buf_release(&msg);
	return cli_exit_code(err);
}

/* Default messages per error code, with what to do next. */
int cli_fail_code(const struct cli *c, int err, const char *what)
{
	const char *w = what ? what : "";
	switch (err) {
	case KURA_EDENIED:
		return cli_fail(c, err, "wrong passphrase for vault '%s'; check KURA_PASSPHRASE_FILE",
				"保管庫 '%s' のパスフレーズが違います。KURA_PASSPHRASE_FILE を確認してください",
				c->vault_dir);
	case KURA_ENOVAULT:
		return cli_fail(c, err, "no vault at '%s'; create one with 'kura init' or pass --vault DIR",
				"'%s' に保管庫がありません。'kura init' で作成するか --vault DIR を指定してください",
				c->vault_dir);
	case KURA_EFOREIGN:
		return cli_fail(c, err, "'%s' is not a kura vault (or a newer format); check --vault",
				"'%s' は kura の保管庫ではありません（または新しい形式です）。--vault を確認してください",
				c->vault_dir);
	case KURA_ECORRUPT:
		return cli_fail(c, err, "the vault is damaged%s%s; run 'kura verify' and restore from a backup",
				"保管庫が破損しています%s%s。'kura verify' を実行し、バックアップから復元してください",
				*w ? ": " : "", w);
	case KURA_EBUSY:
		return cli_fail(c, err, "the vault is busy with another writer; try again",
				"他の書き込みが保管庫を使用中です。もう一度実行してください");
	case KURA_ENOTFOUND:
		return cli_fail(c, err, "'%s' not found; check the id with 'kura list'",
				"'%s' が見つかりません。'kura list' で ID を確認してください", w);
	case KURA_ETOOBIG:
		return cli_fail(c, err, "%s is over the size limit (%u MiB per version)",
				"%s がサイズ上限（1版あたり %u MiB）を超えています", *w ? w : "input",
				KURA_MAX_CONTENT >> 20);
	case KURA_EEXIST:
		return cli_fail(c, err, "'%s' already exists", "'%s' は既に存在します", w);
	default:
		return cli_fail(c, err, "%s%s%s", "%s%s%s", w, *w ? ": " : "", kura_strerror(err));
	}
}

int cli_fail_file(const struct cli *c, int err, const char *path)
{
	if (err == KURA_ENOTFOUND)
		return cli_fail(c, err, "cannot read '%s': no such file", "'%s' を読めません: ファイルがありません",
				path);
	if (err == KURA_ETOOBIG)
		return cli_fail(c, err, "'%s' is too large", "'%s' が大きすぎます", path);
	return cli_fail(c, err, "cannot read or write '%s': %s", "'%s' を読み書きできません: %s", path,
			kura_strerror(err));
}

int cli_tty_line(const char *prompt, int echo, char *buf, size_t cap, size_t *ret_len)
{
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
	struct termios old, quiet;
	size_t n = 0;
	char ch;
	if (fd < 0)
		return KURA_ENOTFOUND;
	if (write(fd, prompt, strlen(prompt)) < 0 || tcgetattr(fd, &old)) {
		close(fd);
		return KURA_EIO;
	}
	quiet = old;
	if (!echo)
		quiet.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(fd, TCSAFLUSH, &quiet);
	while (read(fd, &ch, 1) == 1 && ch != '\n' && ch != '\r')
		if (n + 1 < cap)
			buf[n++] = ch;
	buf[n] = 0;
	tcsetattr(fd, TCSAFLUSH, &old);
	/* the newline the user typed was not echoed */
	if (!echo && write(fd, "\n", 1) < 0)
		n += 0;
	close(fd);
	if (ret_len)
		*ret_len = n;
	return 0;
}

static int pass_from_env(char *buf, size_t cap, size_t *ret_len)
{
	const char *file = getenv("KURA_PASSPHRASE_FILE"), *env = getenv("KURA_PASSPHRASE");
	if (file && *file) {
		struct kura_buf b;
		kura_buf_init(&b, KURA_MAX_PASSPHRASE + 2);
		int r = kura_fs_read(file, KURA_MAX_PASSPHRASE + 1, &b);
		while (!r && b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
			b.len--;
		if (!r && b.len >= cap)
			r = KURA_ETOOBIG;
		if (!r) {
			memcpy(buf, b.data, b.len);
			buf[b.len] = 0;
			*ret_len = b.len;
		}
		kura_buf_release_secret(&b);
		return r == KURA_ENOTFOUND ? KURA_EINVAL : r;
	}
	if (env) {
		size_t n = strlen(env);
		if (n >= cap)
			return KURA_ETOOBIG;
		memcpy(buf, env, n + 1);
		*ret_len = n;
		return 0;
	}
	return KURA_ENOTFOUND;
}

static int pass_from_tty(const struct cli *c, int confirm, char *buf, size_t cap,
			 size_t *ret_len)
{
	if (!isatty(STDIN_FILENO) && !isatty(STDERR_FILENO))
		return KURA_ENOTFOUND;
	int r = cli_tty_line(L(c, "vault passphrase: ", "保管庫のパスフレーズ: "), 0, buf, cap, ret_len);
	if (r || !confirm)
		return r;
	char *again = kura_secret_alloc(cap);
	size_t n2 = 0;
	if (!again)
		return KURA_ENOMEM;
	r = cli_tty_line(L(c, "again: ", "もう一度: "), 0, again, cap, &n2);
	if (!r && (n2 != *ret_len || !kura_ct_equal(again, buf, n2)))
		r = KURA_EINVAL;
	kura_secret_free(again);
	return r;
}

int cli_passphrase(const struct cli *c, int confirm, char **ret, size_t *ret_len)
{
	size_t cap = KURA_MAX_PASSPHRASE + 1, n = 0;
	char *p = kura_secret_alloc(cap);
	*ret = NULL;
	if (!p)
		return cli_fail_code(c, KURA_ENOMEM, NULL);
	int r = pass_from_env(p, cap, &n);
	if (r == KURA_ENOTFOUND)
		r = pass_from_tty(c, confirm, p, cap, &n);
	if (r == 0 && n == 0)
		r = KURA_EINVAL;
	if (r) {
		kura_secret_free(p);
		if (r == KURA_ENOTFOUND)
			return cli_fail(c, KURA_EUSAGE,
					"no passphrase: set KURA_PASSPHRASE_FILE or run on a terminal",
					"パスフレーズがありません。KURA_PASSPHRASE_FILE を設定するか端末で実行してください");
		return cli_fail(c, r, "the passphrase is empty, too long, unreadable or the two entries differ",
				"パスフレーズが空、長すぎる、読めない、または2回の入力が一致しません");
	}
	*ret = p;
	*ret_len = n;
	return 0;
}

int cli_open_vault(const struct cli *c, int flags, struct kura_vault **ret)
{
	char *pass = NULL;
	size_t n = 0;
	*ret = NULL;
	if (!kura_fs_is_dir(c->vault_dir))
		return cli_fail_code(c, KURA_ENOVAULT, NULL);
	int e = cli_passphrase(c, 0, &pass, &n);
	if (e)
		return e;
	int r = kura_vault_open(c->vault_dir, pass, n, flags, ret);
	kura_secret_free(pass);
	return r ? cli_fail_code(c, r, NULL) : 0;
}

int cli_print_json(json_t *j)
{
	if (!j)
		return EXIT_INTERNAL;
	json_dumpf(j, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
	json_decref(j);
	return EXIT_OK;
}

void cli_progress(void *ctx, uint64_t done, uint64_t total)
{
	const struct cli *c = ctx;
	if (!c->progress || total == 0)
		return;
	unsigned pct = (unsigned)(done * 100 / total), bars = pct / 4;
	char bar[26];
	for (unsigned i = 0; i < 25; i++)
		bar[i] = i < bars ? '#' : '.';
	bar[25] = 0;
	fprintf(stderr, "\r[%s] %3u%% %llu/%llu", bar, pct, (unsigned long long)done,
		(unsigned long long)total);
}

void cli_progress_end(const struct cli *c)
{
	if (c->progress)
		fputc('\n', stderr);
}

int cli_parse_u64(const char *s, uint64_t *ret)
{
	char *end;
	if (!s || !*s || *s < '0' || *s > '9')
		return KURA_EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return KURA_EINVAL;
	*ret = v;
	return 0;
}

int cli_parse_ref(const char *s, char *id, size_t idcap, uint32_t *ret_version)
{
	const char *at = strchr(s, '@');
	size_t n = at ? (size_t)(at - s) : strlen(s);
	uint64_t v = 0;
	if (n == 0 || n >= idcap)
		return KURA_EINVAL;
	if (at && (cli_parse_u64(at + 1, &v) || v == 0 || v > UINT32_MAX))
		return KURA_EINVAL;
	memcpy(id, s, n);
	id[n] = 0;
	*ret_version = (uint32_t)v;
	return 0;
}

int cli_write_out(const struct cli *c, const char *path, const void *data, size_t len)
{
	if (!path || strcmp(path, "-") == 0) {
		if (len && fwrite(data, 1, len, stdout) != len)
			return cli_fail_code(c, KURA_EIO, "stdout");
		return fflush(stdout) ? cli_fail_code(c, KURA_EIO, "stdout") : 0;
	}
	int r = kura_fs_write_atomic(path, data, len, 0600);
	return r ? cli_fail_code(c, r, path) : 0;
}

json_t *cli_leaf_json(const struct kura_leaf *l, uint64_t leaf_index)
{
	char ts[KURA_TIME_STR];
	kura_time_format(l->time_us, ts);
	json_t *j = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:s?, s:s?, s:s, s:s, s:I, s:I}",
			 "record", l->record_id, "version", (int)l->version, "patient",
			 l->patient_id, "type", l->type, "content_type", l->content_type,
			 "status", kura_status_name(l->status), "inputter", l->inputter,
			 "confirmer", *l->confirmer ? l->confirmer : NULL, "on_behalf_of",
			 *l->on_behalf_of ? l->on_behalf_of : NULL, "time", ts, "reason",
			 l->reason, "size", (json_int_t)l->content_length, "leaf_index",
			 (json_int_t)leaf_index);
	/* Exact time for printing later (cli_leaf_from_json). */
	if (j)
		json_object_set_new(j, "time_us", json_integer(l->time_us));
	return j;
}

static const char *status_text(const struct cli *c, int status)
{
	switch (status) {
	case KURA_STATUS_DRAFT: return L(c, "draft", "仮保存");
	case KURA_STATUS_CONFIRMED: return L(c, "confirmed", "確定");
	default: return L(c, "entered-in-error", "取消（誤入力）");
	}
}

/* Stored text goes to a terminal: control characters (which a tampered
 * database could hold) are shown as '?', never interpreted. */
static const char *safe(const char *s, char *buf, size_t cap)
{
	size_t i = 0;
	for (; s[i] && i + 1 < cap; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	buf[i] = 0;
	return buf;
}

void cli_print_leaf(const struct cli *c, const struct kura_leaf *l, uint64_t leaf_index)
{
	struct kura_leaf t;
	safe(l->record_id, t.record_id, sizeof(t.record_id));
	safe(l->patient_id, t.patient_id, sizeof(t.patient_id));
	safe(l->type, t.type, sizeof(t.type));
	safe(l->inputter, t.inputter, sizeof(t.inputter));
	safe(l->confirmer, t.confirmer, sizeof(t.confirmer));
	safe(l->on_behalf_of, t.on_behalf_of, sizeof(t.on_behalf_of));
	safe(l->reason, t.reason, sizeof(t.reason));
	t.version = l->version;
	t.status = l->status;
	t.time_us = l->time_us;
	l = &t;
	char ts[KURA_TIME_STR];
	kura_time_format(l->time_us, ts);
	printf("%s@%u  %s  %s  %s=%s %s=%s", l->record_id, l->version, ts,
	       status_text(c, l->status), L(c, "patient", "患者"), l->patient_id,
	       L(c, "type", "種別"), l->type);
	printf("  %s=%s", L(c, "inputter", "入力者"), l->inputter);
	if (*l->confirmer)
		printf("  %s=%s", L(c, "confirmer", "確定者"), l->confirmer);
	if (*l->on_behalf_of)
		printf("  %s=%s", L(c, "on-behalf-of", "代行元"), l->on_behalf_of);
	printf("  %s=%llu", L(c, "leaf", "リーフ"), (unsigned long long)leaf_index);
	if (*l->reason)
		printf("  %s=\"%s\"", L(c, "reason", "理由"), l->reason);
	putchar('\n');
}

enum { OPT_VAULT = 1000, OPT_JSON, OPT_LANG, OPT_HELP, OPT_CREDENTIALS, OPT_OTP };

static void set_lang(struct cli *c, const char *v)
{
	c->lang = v && strncmp(v, "ja", 2) == 0 ? LANG_JA : LANG_EN;
}

int cli_getopt(struct cli *c, int argc, char **argv, const char *shortopts,
	       const struct option *longopts, const char *usage)
{
	struct option all[42];
	size_t n = 0;
	for (; longopts && longopts[n].name && n < 35; n++)
		all[n] = longopts[n];
	all[n++] = (struct option){"vault", required_argument, NULL, OPT_VAULT};
	all[n++] = (struct option){"json", no_argument, NULL, OPT_JSON};
	all[n++] = (struct option){"lang", required_argument, NULL, OPT_LANG};
	all[n++] = (struct option){"help", no_argument, NULL, OPT_HELP};
	all[n++] = (struct option){"credentials", required_argument, NULL, OPT_CREDENTIALS};
	all[n++] = (struct option){"otp", required_argument, NULL, OPT_OTP};
	all[n] = (struct option){NULL, 0, NULL, 0};
	for (;;) {
		int o = getopt_long(argc, argv, shortopts, all, NULL);
		if (o == OPT_VAULT)
			c->vault_dir = optarg;
		else if (o == OPT_JSON)
			c->json = 1;
		else if (o == OPT_LANG)
			set_lang(c, optarg);
		else if (o == OPT_CREDENTIALS)
			c->credentials = optarg;
		else if (o == OPT_OTP)
			c->otp = optarg;
		else if (o == OPT_HELP) {
			printf("%s\n", usage);
			exit(EXIT_OK);
		} else {
			if (o == '?')
				fprintf(stderr, "usage: %s\n", usage);
			c->progress = c->progress && !c->json;
			return o;
		}
	}
}

static void copy_json_str(const json_t *o, const char *k, char *dst, size_t cap)
{
	const char *s = json_string_value(json_object_get(o, k));
	size_t n = s ? strlen(s) : 0;
	if (n >= cap)
		n = cap - 1;
	if (n)
		memcpy(dst, s, n);
	dst[n] = 0;
}

void cli_leaf_from_json(const json_t *o, struct kura_leaf *l)
{
	const char *st = json_string_value(json_object_get(o, "status"));
	memset(l, 0, sizeof(*l));
	copy_json_str(o, "record", l->record_id, sizeof(l->record_id));
	copy_json_str(o, "patient", l->patient_id, sizeof(l->patient_id));
	copy_json_str(o, "type", l->type, sizeof(l->type));
	copy_json_str(o, "content_type", l->content_type, sizeof(l->content_type));
	copy_json_str(o, "inputter", l->inputter, sizeof(l->inputter));
	copy_json_str(o, "confirmer", l->confirmer, sizeof(l->confirmer));
	copy_json_str(o, "on_behalf_of", l->on_behalf_of, sizeof(l->on_behalf_of));
	copy_json_str(o, "reason", l->reason, sizeof(l->reason));
	l->version = (uint32_t)json_integer_value(json_object_get(o, "version"));
	l->time_us = (int64_t)json_integer_value(json_object_get(o, "time_us"));
	l->status = st && strcmp(st, "draft") == 0       ? KURA_STATUS_DRAFT
		    : st && strcmp(st, "confirmed") == 0 ? KURA_STATUS_CONFIRMED
							 : KURA_STATUS_ENTERED_IN_ERROR;
}

int cli_read_password_file(const char *path, char *buf, size_t cap, size_t *ret_len)
{
	struct kura_buf b;
	kura_buf_init(&b, KURA_MAX_PASSWORD + 2);
	int r = kura_fs_read(path, KURA_MAX_PASSWORD + 1, &b);
	while (!r && b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
		b.len--;
	if (!r && (b.len == 0 || b.len >= cap))
		r = KURA_EINVAL;
	if (!r) {
		memcpy(buf, b.data, b.len);
		buf[b.len] = 0;
		*ret_len = b.len;
	}
	kura_buf_release_secret(&b);
	return r;
}

void cli_random_password(char out[17])
{
	/* 16 characters of base64url (6 random bits each) with a '-' in the
	 * middle: letters, digits and a symbol; used once, then changed
	 * (AU-11). */
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint8_t raw[16];
	kura_random(raw, sizeof(raw));
	for (size_t i = 0; i < 16; i++)
		out[i] = a[raw[i] & 63];
	out[8] = '-';
	out[16] = 0;
	kura_wipe(raw, sizeof(raw));
}

int cli_claim_new_file(const struct cli *c, const char *path, const char *option)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0)
		return close(fd) ? cli_fail_file(c, KURA_EIO, path) : 0;
	if (errno == EEXIST)
		return cli_fail(c, KURA_EEXIST, "'%s' already exists; choose another %s",
				"'%s' は既に存在します。別の %s を指定してください", path, option);
	return cli_fail(c, KURA_EIO,
			"cannot create '%s'; check that its directory exists and is writable",
			"'%s' を作成できません。ディレクトリが存在し書き込めるか確認してください", path);
}

int cli_write_secret_line(const char *path, const char *text)
{
	size_t n = strlen(text);
	char *line = kura_secret_alloc(n + 1);
	if (!line)
		return KURA_ENOMEM;
	memcpy(line, text, n);
	line[n] = '\n';
	int r = kura_fs_write_atomic(path, line, n + 1, 0600);
	kura_secret_free(line); /* wiped */
	return r;
}
