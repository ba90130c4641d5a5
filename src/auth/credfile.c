/*
 * credfile.c - the credentials file (credfile.h): inih does the INI syntax,
 * this file the rules, the line numbers and the file-mode check.
 */
#include "auth/credfile.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "fhir/import.h"
#include "util/err.h"
#include "util/utf8.h"
#include "util/banned.h"

#define SHOW_MAX 64 /* bytes of user input quoted in a message */

enum cred_key { KEY_USER, KEY_PASSWORD, KEY_CERTIFICATE, KEY_KEY, KEY_COUNT };

static const char *const key_names[KEY_COUNT] = {"user", "password", "certificate", "key"};

struct parse {
	const uint8_t *data;
	size_t len, off;
	size_t line;     /* 1-based number of the line inih is parsing */
	const char *raw; /* that line as it is in the file, and its length */
	size_t rawlen;
	int err;
	size_t err_line;
	struct kura_buf msg;
	unsigned seen; /* bit per enum cred_key */
	struct kura_credentials *c;
};

/* User input in quotes, control and non-ASCII bytes as \xNN, cut. */
static void append_quoted(struct kura_buf *b, const char *s, size_t n)
{
	kura_buf_append_byte(b, '\'');
	for (size_t i = 0; i < n && i < SHOW_MAX; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch < 0x20 || ch >= 0x7f || ch == '\'' || ch == '\\')
			kura_buf_printf(b, "\\x%02x", ch);
		else
			kura_buf_append_byte(b, ch);
	}
	kura_buf_append_str(b, n > SHOW_MAX ? "...'" : "'");
}

/* Record the first problem: "line N: what" + an optional quoted word. */
static int fail(struct parse *p, int err, const char *what, const char *word)
{
	if (p->err)
		return 0;
	p->err = err;
	p->err_line = p->line;
	kura_buf_reset(&p->msg);
	kura_buf_printf(&p->msg, "line %zu: %s", p->line, what);
	if (word) {
		kura_buf_append_byte(&p->msg, ' ');
		append_quoted(&p->msg, word, strlen(word));
	}
	return 0;
}

/* fgets for inih over (data, len), one whole line per call. */
static char *reader(char *str, int num, void *stream)
{
	struct parse *p = stream;
	if (p->err || p->off >= p->len || num < 2)
		return NULL;
	const uint8_t *start = p->data + p->off;
	const uint8_t *nl = memchr(start, '\n', p->len - p->off);
	size_t n = nl ? (size_t)(nl - start) + 1 : p->len - p->off;
	p->line++;
	if (n > (size_t)num - 1) {
		fail(p, KURA_ETOOBIG, "line too long, the limit is", NULL);
		kura_buf_printf(&p->msg, " %d bytes", num - 3);
		return NULL;
	}
	if (memchr(start, '\0', n)) {
		fail(p, KURA_EINVAL, "NUL byte in the file", NULL);
		return NULL;
	}
	memcpy(str, start, n);
	str[n] = '\0';
	p->raw = (const char *)start;
	p->rawlen = n;
	p->off += n;
	return str;
}

static int has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/* inih strips inline ';' comments and takes indented lines as
 * continuations; both would silently change a value, so refuse them. */
static int raw_line_ok(struct parse *p)
{
	if (p->rawlen && (p->raw[0] == ' ' || p->raw[0] == '\t'))
		return fail(p, KURA_EINVAL, "a line must not start with white space", NULL);
	for (size_t i = 1; i < p->rawlen; i++) {
		int space = p->raw[i - 1] == ' ' || p->raw[i - 1] == '\t';
		if (space && (p->raw[i] == ';' || p->raw[i] == '#'))
			return fail(p, KURA_EINVAL,
				    "a comment must stand on its own line (' #' or ' ;' in a value)",
				    NULL);
	}
	return 1;
}

static int set_path(struct parse *p, char *out, const char *value)
{
	size_t n = strlen(value);
	if (n == 0)
		return fail(p, KURA_EINVAL, "empty path", NULL);
	if (n >= KURA_CRED_PATH_MAX)
		return fail(p, KURA_ETOOBIG, "path too long", NULL);
	if (has_ctl(value))
		return fail(p, KURA_EINVAL, "control character in path", NULL);
	memcpy(out, value, n + 1);
	return 1;
}

static int set_password(struct parse *p, const char *value)
{
	size_t n = strlen(value);
	if (n == 0)
		return fail(p, KURA_EINVAL, "empty password", NULL);
	if (n > KURA_MAX_PASSWORD)
		return fail(p, KURA_ETOOBIG, "password too long", NULL);
	if (!kura_utf8_text_valid(value))
		return fail(p, KURA_EINVAL,
			    "password is not UTF-8 text without control characters", NULL);
	p->c->password = kura_secret_alloc(n + 1);
	if (!p->c->password)
		return fail(p, KURA_ENOMEM, "out of memory", NULL);
	memcpy(p->c->password, value, n + 1);
	p->c->password_len = n;
	return 1;
}

static int set_value(struct parse *p, enum cred_key k, const char *value)
{
	switch (k) {
	case KEY_USER:
		if (!kura_valid_id(value))
			return fail(p, KURA_EINVAL, "user must be 1..64 of [A-Za-z0-9._-], not",
				    value);
		memcpy(p->c->user, value, strlen(value) + 1);
		return 1;
	case KEY_PASSWORD:
		return set_password(p, value);
	case KEY_CERTIFICATE:
		return set_path(p, p->c->certificate, value);
	case KEY_KEY:
		return set_path(p, p->c->key, value);
	default:
		return fail(p, KURA_EINTERNAL, "internal error", NULL);
	}
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse *p = user;
	if (p->err || !raw_line_ok(p))
		return 0;
	if (strcmp(section, "kura") != 0)
		return fail(p, KURA_EINVAL, *section ? "only section [kura] is allowed, not"
						     : "key outside section [kura]:",
			    *section ? section : name);
	enum cred_key k = KEY_USER;
	while (k < KEY_COUNT && strcmp(name, key_names[k]) != 0)
		k++;
	if (k == KEY_COUNT)
		return fail(p, KURA_EINVAL, "unknown key", name);
	if (p->seen & (1u << k))
		return fail(p, KURA_EINVAL, "duplicate key", name);
	p->seen |= 1u << k;
	return value ? set_value(p, k, value) : fail(p, KURA_EINVAL, "missing '='", NULL);
}

/* The rules about the file as a whole. */
static int check_whole(const struct parse *p, const char **ret_what)
{
	unsigned s = p->seen;
	*ret_what = NULL;
	if (!(s & (1u << KEY_USER)))
		*ret_what = "no 'user' in section [kura]";
	else if ((s & (1u << KEY_CERTIFICATE)) && !(s & (1u << KEY_KEY)))
		*ret_what = "'certificate' needs 'key' (the certificate's private key file)";
	else if (!(s & (1u << KEY_CERTIFICATE)) && (s & (1u << KEY_KEY)))
		*ret_what = "'key' without 'certificate'";
	else if (!(s & ((1u << KEY_PASSWORD) | (1u << KEY_CERTIFICATE))))
		*ret_what = "give 'password' or 'certificate' and 'key'";
	return *ret_what ? KURA_EINVAL : 0;
}

/* Wipe inih's line buffer, which lived on the stack below us and may have
 * held the password line (best effort: inih offers no hook for it). */
static void __attribute__((noinline)) scrub_stack(void)
{
	char pad[1024];
	kura_wipe(pad, sizeof(pad));
}

/* The first problem: inih's syntax error line, or ours, whichever is
 * earlier; a rule of the whole file last. */
static int finish(struct parse *p, int rc, struct kura_buf *errmsg)
{
	const char *what = NULL;
	int r = p->err;
	if (rc > 0 && (!r || (size_t)rc < p->err_line)) {
		r = KURA_EINVAL;
		kura_buf_reset(&p->msg);
		kura_buf_printf(&p->msg, "line %d: expected 'key = value' or '[kura]'", rc);
	} else if (rc < 0 && !r) {
		r = KURA_ENOMEM;
		kura_buf_append_str(&p->msg, "out of memory");
	} else if (!r) {
		r = check_whole(p, &what);
		if (r)
			kura_buf_append_str(&p->msg, what);
	}
	if (r && errmsg) {
		kura_buf_reset(errmsg);
		kura_buf_append(errmsg, p->msg.data, p->msg.len);
	}
	return r;
}

int kura_credfile_parse(const uint8_t *data, size_t len, struct kura_credentials *ret,
			struct kura_buf *errmsg)
{
	struct kura_credentials c;
	struct parse p;
	memset(ret, 0, sizeof(*ret));
	memset(&c, 0, sizeof(c));
	memset(&p, 0, sizeof(p));
	p.data = data;
	p.len = len;
	p.c = &c;
	kura_buf_init(&p.msg, 1024);
	int r;
	if (len > KURA_MAX_CREDFILE) {
		p.err = KURA_ETOOBIG;
		kura_buf_append_str(&p.msg, "credentials file too big");
		r = finish(&p, 0, errmsg);
		goto out;
	}
	int rc = ini_parse_stream(reader, &p, handler, &p);
	scrub_stack();
	r = finish(&p, rc, errmsg);
	if (!r)
		*ret = c, c.password = NULL;
out:
	kura_credentials_release(&c);
	kura_buf_release(&p.msg);
	return r;
}

static int load_fail(struct kura_buf *errmsg, int err, const char *path, const char *what)
{
	if (errmsg) {
		kura_buf_reset(errmsg);
		append_quoted(errmsg, path, strlen(path));
		kura_buf_printf(errmsg, ": %s", what);
	}
	return err;
}

static int open_err(struct kura_buf *errmsg, const char *path)
{
	if (errno == ELOOP)
		return load_fail(errmsg, KURA_EPOLICY, path,
				 "is a symbolic link; give the credentials file itself");
	if (errno == ENOENT || errno == ENOTDIR)
		return load_fail(errmsg, KURA_ENOTFOUND, path, "no such file");
	return load_fail(errmsg, KURA_EIO, path, strerror(errno));
}

/* The ssh rule: a file others can read or change is not a secret. */
static int check_mode(const struct stat *st, const char *path, struct kura_buf *errmsg)
{
	if (!S_ISREG(st->st_mode))
		return load_fail(errmsg, KURA_EPOLICY, path, "not a regular file");
	if (st->st_uid != geteuid())
		return load_fail(errmsg, KURA_EPOLICY, path,
				 "is owned by another user; use a file of your own");
	if (st->st_mode & 077) {
		int r = load_fail(errmsg, KURA_EPOLICY, path,
				  "is accessible by group or others; run chmod 600 ");
		if (errmsg)
			append_quoted(errmsg, path, strlen(path));
		return r;
	}
	if ((uint64_t)st->st_size > KURA_MAX_CREDFILE)
		return load_fail(errmsg, KURA_ETOOBIG, path, "credentials file too big");
	return 0;
}

/* Read up to max bytes; one more than max is an error (the file grew). */
static int read_all(int fd, uint8_t *buf, size_t max, size_t *ret_len)
{
	size_t n = 0;
	*ret_len = 0;
	while (n <= max) {
		ssize_t k = read(fd, buf + n, max + 1 - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return KURA_EIO;
		if (k == 0)
			break;
		n += (size_t)k;
	}
	if (n > max)
		return KURA_ETOOBIG;
	*ret_len = n;
	return 0;
}

int kura_credfile_load(const char *path, struct kura_credentials *ret,
		       struct kura_buf *errmsg)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t n = 0;
	memset(ret, 0, sizeof(*ret));
	int r, fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return open_err(errmsg, path);
	r = fstat(fd, &st) ? load_fail(errmsg, KURA_EIO, path, strerror(errno))
			   : check_mode(&st, path, errmsg);
	if (r)
		goto out;
	r = KURA_ENOMEM;
	buf = kura_secret_alloc(KURA_MAX_CREDFILE + 1);
	if (!buf)
		goto out;
	r = read_all(fd, buf, KURA_MAX_CREDFILE, &n);
	if (r)
		load_fail(errmsg, r, path, r == KURA_EIO ? "cannot read" : "credentials file too big");
	else
		r = kura_credfile_parse(buf, n, ret, errmsg);
out:
	if (buf)
		kura_wipe(buf, n);
	kura_secret_free(buf);
	close(fd);
	return r;
}

void kura_credentials_release(struct kura_credentials *c)
{
	if (!c)
		return;
	if (c->password)
		kura_wipe(c->password, c->password_len);
	kura_secret_free(c->password);
	kura_wipe(c, sizeof(*c));
}
