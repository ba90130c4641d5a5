/*
 * static.c - the web UI's page and assets (issue 6; docs/UI.md): GET/HEAD
 * "/" answers index.html and "/ui/NAME..." a file under the [ui] dir's ui/,
 * opened one path component at a time relative to a directory descriptor
 * with O_NOFOLLOW (no symbolic link is ever followed, not even one planted
 * inside the directory), regular files only, content types from a fixed
 * table (an unknown extension is a 404), a strong ETag answered with 304,
 * and the strict Content-Security-Policy on every answer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "serve/api_int.h"
#include "util/banned.h"

/* A file of the UI is small; larger is refused (404) rather than read. */
#define UI_MAX_FILE (4u * 1024 * 1024)
#define UI_MAX_DEPTH 4   /* path components below the directory */
#define UI_MAX_NAME 128  /* bytes in one component */

/* docs/UI.md "Content-Security-Policy": no inline script or style anywhere;
 * frame-src and object-src admit blob: for the PDF viewer (a record's bytes
 * are fetched by the page and shown from a blob: URL, never framed from
 * /api, whose answers forbid framing). */
#define UI_CSP                                                                              \
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " \
	"connect-src 'self'; font-src 'self'; frame-src 'self' blob:; "                         \
	"object-src 'self' blob:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

static const struct {
	const char *ext;
	const char *type;
} types[] = {
	{".html", "text/html; charset=utf-8"},     {".js", "text/javascript; charset=utf-8"},
	{".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
	{".json", "application/json"},            {".svg", "image/svg+xml"},
	{".png", "image/png"},                    {".ico", "image/x-icon"},
	{".woff2", "font/woff2"},                 {".txt", "text/plain; charset=utf-8"},
};

static const char *type_of(const char *name)
{
	const char *dot = strrchr(name, '.');
	for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(dot, types[i].ext) == 0)
			return types[i].type;
	return NULL;
}

/* A component we serve: [A-Za-z0-9._-], not starting with '.', not empty. */
static int name_ok(const char *p, size_t n)
{
	if (n == 0 || n >= UI_MAX_NAME || p[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* Open rel ("index.html", "ui/app.js") below dir without following any
 * link; a descriptor of a regular file in *ret_fd, or -1 with a 404 due. */
static int open_beneath(const char *dir, const char *rel, int *ret_fd)
{
	*ret_fd = -1;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (int depth = 0; dfd >= 0 && depth < UI_MAX_DEPTH; depth++) {
		const char *slash = strchr(rel, '/');
		size_t n = slash ? (size_t)(slash - rel) : strlen(rel);
		char name[UI_MAX_NAME];
		if (!name_ok(rel, n))
			break;
		memcpy(name, rel, n);
		name[n] = '\0';
		int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | (slash ? O_DIRECTORY : 0);
		int fd = openat(dfd, name, flags);
		close(dfd);
		dfd = -1;
		if (fd < 0 || !slash) {
			*ret_fd = fd;
			return fd >= 0 ? 0 : KURA_ENOTFOUND;
		}
		dfd = fd;
		rel = slash + 1;
	}
	if (dfd >= 0)
		close(dfd);
	return KURA_ENOTFOUND;
}

static int not_found(struct kura_http_resp *resp)
{
	int r = api_reply_error(resp, 0, "not-found", 404, "no such file");
	return r ? r : kura_http_set_header(resp, "Content-Security-Policy", UI_CSP);
}

/* The headers of every UI answer (the server adds nosniff, Referrer-Policy,
 * HSTS and X-Frame-Options to all answers). */
static int ui_headers(struct kura_http_resp *resp, const char *etag)
{
	int r = kura_http_set_header(resp, "Content-Security-Policy", UI_CSP);
	if (!r)
		r = kura_http_set_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
	if (!r)
		r = kura_http_set_header(resp, "Cross-Origin-Resource-Policy", "same-origin");
	/* revalidate every time: a 304 costs a round trip but no body, and a
	 * page never mixes modules of two versions after an upgrade */
	if (!r)
		r = kura_http_set_header(resp, "Cache-Control", "no-cache");
	if (!r && etag)
		r = kura_http_set_header(resp, "ETag", etag);
	return r;
}

/* Does If-None-Match (a list, or "*") name etag? */
static int etag_matches(const char *inm, const char *etag)
{
	size_t n = strlen(etag);
	if (!inm)
		return 0;
	if (strcmp(inm, "*") == 0)
		return 1;
	for (const char *p = strstr(inm, etag); p; p = strstr(p + 1, etag)) {
		char after = p[n];
		if (after == '\0' || after == ',' || after == ' ')
			return 1;
	}
	return 0;
}

static int read_all(int fd, size_t size, struct kura_buf *out)
{
	int r = kura_buf_reserve(out, size);
	while (!r && out->len < size) {
		ssize_t got = read(fd, out->data + out->len, size - out->len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return KURA_EIO;
		out->len += (size_t)got;
	}
	return r;
}

static int serve_file(const struct kura_http_req *req, struct kura_http_resp *resp, int fd,
		      const char *type)
{
	struct stat st;
	char etag[96];
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > UI_MAX_FILE)
		return not_found(resp);
	snprintf(etag, sizeof(etag), "\"%llx-%llx-%llx.%lx\"", (unsigned long long)st.st_ino,
		 (unsigned long long)st.st_size, (unsigned long long)st.st_mtim.tv_sec,
		 (unsigned long)st.st_mtim.tv_nsec);
	int r = ui_headers(resp, etag);
	if (r)
		return r;
	if (etag_matches(kura_http_header(req, "If-None-Match"), etag)) {
		resp->status = 304;
		return 0;
	}
	resp->body.len = 0; /* (for HEAD too: the server sends the length, not the body) */
	if ((r = read_all(fd, (size_t)st.st_size, &resp->body)))
		return r == KURA_EIO ? not_found(resp) : r;
	resp->status = 200;
	snprintf(resp->content_type, sizeof(resp->content_type), "%s", type);
	return 0;
}

int kura_ui_static(const struct kura_http_req *req, struct kura_http_resp *resp)
{
	const struct kura_serve_config *cfg = req->thread ? req->thread->cfg : NULL;
	const char *dir = cfg && cfg->ui_enabled ? cfg->ui_dir : NULL;
	const char *rel = NULL;
	int r = api_only(req, resp, KURA_HTTP_GET, "GET, HEAD");
	if (r)
		return r < 0 ? r : 0;
	if (strcmp(req->path, "/") == 0)
		rel = "index.html";
	else if (strncmp(req->path, "/ui/", 4) == 0)
		rel = req->path + 1;
	const char *type = rel ? type_of(rel) : NULL;
	int fd = -1;
	if (!dir || !type || open_beneath(dir, rel, &fd))
		return not_found(resp);
	r = serve_file(req, resp, fd, type);
	close(fd);
	return r;
}
