/*
 * repo_dir.c - a backup repository in a directory (repo.h): every file is
 * written once (temporary file, fsync, rename without replacing, fsync of
 * the directory), then made read-only and, when the process may, immutable.
 *
 * All file access is relative to directory descriptors opened once, so a
 * symlink swapped in for the repository path later changes nothing.  Each
 * open holds a shared flock on tmp/; tmp/ is cleaned and objects are
 * collected only by a holder that can get it exclusively.
 */
#include "backup/repo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup/manifest.h"
#include "crypto/crypto.h"
#include "util/err.h"
#include "util/fs.h"
#include "util/time.h"
#include "util/banned.h"

#define MARKER "kura-backup"
#define MARKER_MAX 4096

struct dir_repo {
	struct kura_repo base;
	int dfd, objfd, manfd, tmpfd;
	int try_immutable; /* 0 when KURA_BACKUP_IMMUTABLE=0 */
	int immutable;     /* at least one file was marked immutable */
	unsigned long seq; /* temporary file names */
};

static const struct kura_repo_ops dir_ops;

static struct dir_repo *as_dir(struct kura_repo *r)
{
	return r && r->ops == &dir_ops ? (struct dir_repo *)r : NULL;
}

static int seterr(struct kura_repo *r, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int seterr(struct kura_repo *r, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	return err;
}

/* errno after a failed write: a full disk or quota is KURA_ETOOBIG. */
static int oserr(struct kura_repo *r, const char *what, const char *name)
{
	int e = errno;
	if (e == ENOSPC || e == EDQUOT)
		return seterr(r, KURA_ETOOBIG, "no space left writing %s '%s': free space or "
			      "use another target", what, name);
	if (e == ENOENT)
		return seterr(r, KURA_ENOTFOUND, "%s '%s' not found", what, name);
	return seterr(r, KURA_EIO, "%s '%s': %s", what, name, strerror(e));
}

static void obj_names(const uint8_t id[KURA_OBJ_ID_LEN], char sub[3], char hex[KURA_OBJ_ID_HEX + 1])
{
	kura_hex_encode(id, KURA_OBJ_ID_LEN, hex);
	sub[0] = hex[0];
	sub[1] = hex[1];
	sub[2] = '\0';
}

static void gen_name(uint64_t gen, char out[KURA_REPO_GEN_DIGITS + 1])
{
	snprintf(out, KURA_REPO_GEN_DIGITS + 1, "%020llu", (unsigned long long)gen);
}

/* Read the whole file name in dirfd, at most max bytes, into out (reset). */
static int read_at(struct kura_repo *r, int dirfd, const char *name, size_t max,
		   struct kura_buf *out)
{
	struct stat st;
	int ret = KURA_EIO;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return oserr(r, "file", name);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		ret = seterr(r, KURA_ECORRUPT, "'%s' is not a regular file", name);
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		ret = seterr(r, KURA_ECORRUPT, "'%s' is larger than any valid file (%zu bytes)",
			     name, max);
		goto out;
	}
	kura_buf_reset(out);
	ret = kura_buf_reserve(out, (size_t)st.st_size + 1);
	if (ret)
		goto out;
	for (;;) {
		ssize_t k = read(fd, out->data + out->len, out->cap - out->len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			ret = oserr(r, "file", name);
			goto out;
		}
		if (k == 0)
			break;
		out->len += (size_t)k;
		if (out->len == out->cap) {
			ret = seterr(r, KURA_ECORRUPT, "'%s' grew while it was read", name);
			goto out;
		}
	}
	out->data[out->len] = '\0';
	ret = 0;
out:
	close(fd);
	return ret;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Mark a file immutable if allowed; failure is no error (see repo.h). */
static void make_immutable(struct dir_repo *d, int dirfd, const char *name)
{
	if (!d->try_immutable)
		return;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	int flags = 0;
	if (fd < 0)
		return;
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) {
		flags |= FS_IMMUTABLE_FL;
		if (ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0)
			d->immutable = 1;
	}
	close(fd);
}

/* Clear the immutable flag before a removal.  EPERM without the capability. */
static int make_mutable(struct dir_repo *d, int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	int flags = 0, ret = 0;
	if (fd < 0)
		return oserr(&d->base, "file", name);
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 && (flags & FS_IMMUTABLE_FL)) {
		flags &= ~FS_IMMUTABLE_FL;
		if (ioctl(fd, FS_IOC_SETFLAGS, &flags) < 0)
			ret = seterr(&d->base, KURA_EDENIED,
				     "'%s' is immutable and this process may not change that: "
				     "run with CAP_LINUX_IMMUTABLE", name);
	}
	close(fd);
	return ret;
}

/*
 * Write p[0..n) as name in dirfd, once: a temporary file in tmp/ (O_EXCL,
 * 0600), fsync, 0444, rename without replacing, fsync of the directory.
 * 1 if name already existed (nothing written), 0 if written.
 */
static int write_once(struct dir_repo *d, int dirfd, const char *name, const uint8_t *p, size_t n)
{
	struct kura_repo *r = &d->base;
	char tmp[128];
	int ret;
	snprintf(tmp, sizeof(tmp), "%.64s.%ld.%lu", name, (long)getpid(),
		 __atomic_add_fetch(&d->seq, 1, __ATOMIC_RELAXED)); /* puts may run on several threads */
	int fd = openat(d->tmpfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return oserr(r, "temporary file", tmp);
	if (write_all(fd, p, n) < 0 || fsync(fd) < 0 || fchmod(fd, 0444) < 0) {
		ret = oserr(r, "file", name);
		close(fd);
		goto fail;
	}
	if (close(fd) < 0) {
		ret = oserr(r, "file", name);
		goto fail;
	}
	if (renameat2(d->tmpfd, tmp, dirfd, name, RENAME_NOREPLACE) < 0) {
		/* Some file systems (older NFS) lack RENAME_NOREPLACE; link(2)
		 * never replaces either. */
		if (errno == EINVAL || errno == ENOSYS) {
			if (linkat(d->tmpfd, tmp, dirfd, name, 0) == 0) {
				unlinkat(d->tmpfd, tmp, 0);
				goto written;
			}
		}
		if (errno == EEXIST) {
			unlinkat(d->tmpfd, tmp, 0);
			return 1;
		}
		ret = oserr(r, "file", name);
		goto fail;
	}
written:
	if (fsync(dirfd) < 0)
		return oserr(r, "directory of", name);
	make_immutable(d, dirfd, name);
	return 0;
fail:
	unlinkat(d->tmpfd, tmp, 0);
	return ret;
}

/* The directory objects/<sub>, made (and made durable) when missing. */
static int obj_subdir(struct dir_repo *d, const char *sub, int create, int *ret_fd)
{
	*ret_fd = -1;
	int fd = openat(d->objfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT && create) {
		if (mkdirat(d->objfd, sub, 0700) < 0 && errno != EEXIST)
			return oserr(&d->base, "directory", sub);
		if (fsync(d->objfd) < 0)
			return oserr(&d->base, "directory", "objects");
		fd = openat(d->objfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	}
	if (fd < 0)
		return errno == ENOENT ? KURA_ENOTFOUND : oserr(&d->base, "directory", sub);
	*ret_fd = fd;
	return 0;
}

static int check_id(struct kura_repo *r, const uint8_t id[KURA_OBJ_ID_LEN], const uint8_t *p,
		    size_t n, const char *hex)
{
	uint8_t h[KURA_OBJ_ID_LEN];
	kura_sha256(p, n, h);
	if (memcmp(h, id, KURA_OBJ_ID_LEN) != 0)
		return seterr(r, KURA_ECORRUPT, "object %s does not match its name: it was "
			      "altered or damaged", hex);
	return 0;
}

static int dir_has(struct kura_repo *r, const uint8_t id[KURA_OBJ_ID_LEN])
{
	struct dir_repo *d = as_dir(r);
	char sub[3], hex[KURA_OBJ_ID_HEX + 1], path[3 + KURA_OBJ_ID_HEX + 1];
	struct stat st;
	obj_names(id, sub, hex);
	snprintf(path, sizeof(path), "%s/%s", sub, hex);
	if (fstatat(d->objfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	return errno == ENOENT ? 0 : oserr(r, "object", hex);
}

static int get_in(struct dir_repo *d, int subfd, const uint8_t id[KURA_OBJ_ID_LEN],
		  const char *hex, struct kura_buf *out)
{
	int ret = read_at(&d->base, subfd, hex, KURA_OBJ_MAX, out);
	if (ret == KURA_ENOTFOUND)
		return seterr(&d->base, ret, "object %s is not in the repository", hex);
	return ret ? ret : check_id(&d->base, id, out->data, out->len, hex);
}

static int dir_get(struct kura_repo *r, const uint8_t id[KURA_OBJ_ID_LEN], struct kura_buf *out)
{
	struct dir_repo *d = as_dir(r);
	char sub[3], hex[KURA_OBJ_ID_HEX + 1];
	int subfd, ret;
	obj_names(id, sub, hex);
	ret = obj_subdir(d, sub, 0, &subfd);
	if (ret == KURA_ENOTFOUND)
		return seterr(r, ret, "object %s is not in the repository", hex);
	if (ret)
		return ret;
	ret = get_in(d, subfd, id, hex, out);
	close(subfd);
	return ret;
}

/* An object that is already there must still be what its name says:
 * otherwise someone changed it, and a backup relying on it is lost. */
static int recheck(struct dir_repo *d, int subfd, const uint8_t id[KURA_OBJ_ID_LEN],
		   const char *hex)
{
	struct kura_buf b;
	kura_buf_init(&b, KURA_OBJ_MAX + 1);
	int ret = get_in(d, subfd, id, hex, &b);
	kura_buf_release(&b);
	return ret;
}

static int dir_put(struct kura_repo *r, const uint8_t id[KURA_OBJ_ID_LEN], const uint8_t *p,
		   size_t n)
{
	struct dir_repo *d = as_dir(r);
	char sub[3], hex[KURA_OBJ_ID_HEX + 1];
	struct stat st;
	int subfd = -1, ret;
	obj_names(id, sub, hex);
	if (n > KURA_OBJ_MAX)
		return seterr(r, KURA_ETOOBIG, "object %s is larger than %u bytes", hex,
			      (unsigned)KURA_OBJ_MAX);
	ret = check_id(r, id, p, n, hex);
	if (ret)
		return seterr(r, KURA_EINVAL, "object %s: its bytes do not hash to its name", hex);
	ret = obj_subdir(d, sub, 1, &subfd);
	if (ret)
		return ret;
	if (fstatat(subfd, hex, &st, AT_SYMLINK_NOFOLLOW) == 0)
		ret = 1;
	else
		ret = write_once(d, subfd, hex, p, n);
	if (ret == 1)
		ret = recheck(d, subfd, id, hex);
	close(subfd);
	return ret;
}

static int dir_manifest_put(struct kura_repo *r, uint64_t gen, const uint8_t *p, size_t n)
{
	struct dir_repo *d = as_dir(r);
	char name[KURA_REPO_GEN_DIGITS + 1];
	if (gen == 0)
		return seterr(r, KURA_EINVAL, "generation 0 does not exist");
	if (n > KURA_MANIFEST_MAX)
		return seterr(r, KURA_ETOOBIG, "manifest larger than %u bytes",
			      (unsigned)KURA_MANIFEST_MAX);
	gen_name(gen, name);
	int ret = write_once(d, d->manfd, name, p, n);
	if (ret != 1)
		return ret;
	struct kura_buf b;
	kura_buf_init(&b, KURA_MANIFEST_MAX + 1);
	ret = read_at(r, d->manfd, name, KURA_MANIFEST_MAX, &b);
	if (!ret && (b.len != n || memcmp(b.data, p, n) != 0))
		ret = seterr(r, KURA_EEXIST, "generation %llu is already stored with other "
			     "content", (unsigned long long)gen);
	kura_buf_release(&b);
	return ret;
}

static int dir_manifest_get(struct kura_repo *r, uint64_t gen, struct kura_buf *out)
{
	struct dir_repo *d = as_dir(r);
	char name[KURA_REPO_GEN_DIGITS + 1];
	gen_name(gen, name);
	int ret = read_at(r, d->manfd, name, KURA_MANIFEST_MAX, out);
	if (ret == KURA_ENOTFOUND)
		return seterr(r, ret, "generation %llu is not in the repository",
			      (unsigned long long)gen);
	return ret;
}

/* A manifest file name: exactly 20 digits, not all zero. */
static int parse_gen_name(const char *s, uint64_t *ret)
{
	uint64_t v = 0;
	size_t i;
	for (i = 0; s[i]; i++) {
		if (i >= KURA_REPO_GEN_DIGITS || s[i] < '0' || s[i] > '9')
			return KURA_EINVAL;
		unsigned dgt = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - dgt) / 10)
			return KURA_EINVAL;
		v = v * 10 + dgt;
	}
	if (i != KURA_REPO_GEN_DIGITS || v == 0)
		return KURA_EINVAL;
	*ret = v;
	return 0;
}

/* Generation numbers present in manifests/, unsorted; *ret malloc'd. */
static int list_gens(struct dir_repo *d, uint64_t **ret, size_t *ret_n)
{
	uint64_t *v = NULL;
	size_t n = 0, cap = 0;
	*ret = NULL;
	*ret_n = 0;
	int fd = dup(d->manfd);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	if (!dir) {
		if (fd >= 0)
			close(fd);
		return oserr(&d->base, "directory", "manifests");
	}
	rewinddir(dir);
	struct dirent *e;
	while ((e = readdir(dir))) {
		uint64_t g;
		if (parse_gen_name(e->d_name, &g))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			void *p = realloc(v, cap * sizeof(*v));
			if (!p) {
				free(v);
				closedir(dir);
				return KURA_ENOMEM;
			}
			v = p;
		}
		v[n++] = g;
	}
	closedir(dir);
	*ret = v;
	*ret_n = n;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Parse stored manifest gen (bytes in b) into m. */
static int load_manifest(struct dir_repo *d, uint64_t gen, struct kura_buf *b,
			 struct kura_manifest *m)
{
	char name[KURA_REPO_GEN_DIGITS + 1];
	gen_name(gen, name);
	int ret = read_at(&d->base, d->manfd, name, KURA_MANIFEST_MAX, b);
	if (ret)
		return ret;
	ret = kura_manifest_parse(b->data, b->len, m);
	if (ret || m->generation != gen) {
		if (!ret)
			kura_manifest_release(m);
		return seterr(&d->base, KURA_ECORRUPT, "manifests/%s is not a valid manifest of "
			      "generation %llu", name, (unsigned long long)gen);
	}
	return 0;
}

/* Bytes of the manifest plus every object it names (what a restore reads). */
static uint64_t gen_bytes(struct dir_repo *d, const struct kura_manifest *m, size_t manifest_len)
{
	uint8_t (*ids)[KURA_OBJ_ID_LEN] = NULL;
	size_t n = 0;
	uint64_t total = manifest_len;
	if (kura_manifest_objects(m, &ids, &n))
		return 0;
	for (size_t i = 0; i < n; i++) {
		char sub[3], hex[KURA_OBJ_ID_HEX + 1], path[3 + KURA_OBJ_ID_HEX + 1];
		struct stat st;
		obj_names(ids[i], sub, hex);
		snprintf(path, sizeof(path), "%s/%s", sub, hex);
		if (fstatat(d->objfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0)
			total += (uint64_t)st.st_size;
	}
	free(ids);
	return total;
}

static int dir_manifest_list(struct kura_repo *r, struct kura_repo_gen **ret, size_t *ret_n)
{
	struct dir_repo *d = as_dir(r);
	struct kura_repo_gen *out = NULL;
	uint64_t *gens = NULL;
	size_t n = 0;
	struct kura_buf b;
	*ret = NULL;
	*ret_n = 0;
	int rc = list_gens(d, &gens, &n);
	if (rc)
		return rc;
	if (n)
		qsort(gens, n, sizeof(*gens), cmp_u64);
	out = calloc(n ? n : 1, sizeof(*out));
	if (!out) {
		free(gens);
		return KURA_ENOMEM;
	}
	kura_buf_init(&b, KURA_MANIFEST_MAX + 1);
	for (size_t i = 0; i < n && !rc; i++) {
		struct kura_manifest m;
		rc = load_manifest(d, gens[i], &b, &m);
		if (rc == KURA_ECORRUPT) {
			/* A damaged manifest is listed (tree size and time 0): the
			 * readers of that generation refuse it, and every other
			 * generation stays checkable and restorable. */
			out[i] = (struct kura_repo_gen){.generation = gens[i]};
			rc = 0;
			continue;
		}
		if (rc)
			break;
		out[i] = (struct kura_repo_gen){.generation = gens[i],
						.tree_size = m.sth.tree_size,
						.created_us = m.created_us,
						.bytes = gen_bytes(d, &m, b.len)};
		kura_manifest_release(&m);
	}
	kura_buf_release(&b);
	free(gens);
	if (rc) {
		free(out);
		return rc;
	}
	*ret = out;
	*ret_n = n;
	return 0;
}

/* Call fn for each file objects/<2 hex>/<64 hex>, with its stat. */
typedef int (*obj_fn)(struct dir_repo *d, int subfd, const char *name, const struct stat *st,
		      void *ctx);

static int walk_sub(struct dir_repo *d, const char *sub, obj_fn fn, void *ctx)
{
	int subfd;
	int ret = obj_subdir(d, sub, 0, &subfd);
	if (ret)
		return ret == KURA_ENOTFOUND ? 0 : ret;
	int fd = dup(subfd);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	if (!dir) {
		if (fd >= 0)
			close(fd);
		close(subfd);
		return oserr(&d->base, "directory", sub);
	}
	struct dirent *e;
	while (!ret && (e = readdir(dir))) {
		struct stat st;
		if (strlen(e->d_name) != KURA_OBJ_ID_HEX ||
		    fstatat(subfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		ret = fn(d, subfd, e->d_name, &st, ctx);
	}
	closedir(dir);
	close(subfd);
	return ret;
}

static int walk_objects(struct dir_repo *d, obj_fn fn, void *ctx)
{
	int ret = 0;
	for (unsigned i = 0; i < 256 && !ret; i++) {
		char sub[3];
		snprintf(sub, sizeof(sub), "%02x", i);
		ret = walk_sub(d, sub, fn, ctx);
	}
	return ret;
}

static int add_size(struct dir_repo *d, int subfd, const char *name, const struct stat *st,
		    void *ctx)
{
	(void)d;
	(void)subfd;
	(void)name;
	*(uint64_t *)ctx += (uint64_t)st->st_size;
	return 0;
}

static int manifests_size(struct dir_repo *d, uint64_t *total)
{
	uint64_t *gens = NULL;
	size_t n = 0;
	int ret = list_gens(d, &gens, &n);
	for (size_t i = 0; !ret && i < n; i++) {
		char name[KURA_REPO_GEN_DIGITS + 1];
		struct stat st;
		gen_name(gens[i], name);
		if (fstatat(d->manfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			*total += (uint64_t)st.st_size;
	}
	free(gens);
	return ret;
}

int kura_repo_dir_usage(struct kura_repo *r, uint64_t *ret_bytes)
{
	struct dir_repo *d = as_dir(r);
	uint64_t total = 0;
	*ret_bytes = 0;
	if (!d)
		return KURA_EINVAL;
	int ret = walk_objects(d, add_size, &total);
	if (!ret)
		ret = manifests_size(d, &total);
	if (!ret)
		*ret_bytes = total;
	return ret;
}

static int dir_info(struct kura_repo *r, struct kura_repo_info *ret)
{
	struct dir_repo *d = as_dir(r);
	memset(ret, 0, sizeof(*ret));
	ret->kind = KURA_REPO_DIR;
	ret->immutable = d->immutable;
	ret->keep_min = 0;
	return kura_repo_dir_usage(r, &ret->used_bytes);
}

int kura_repo_dir_remove_generation(struct kura_repo *r, uint64_t gen)
{
	struct dir_repo *d = as_dir(r);
	char name[KURA_REPO_GEN_DIGITS + 1];
	if (!d)
		return KURA_EINVAL;
	gen_name(gen, name);
	int ret = make_mutable(d, d->manfd, name);
	if (ret)
		return ret == KURA_ENOTFOUND
			       ? seterr(r, ret, "generation %llu is not in the repository",
					(unsigned long long)gen)
			       : ret;
	if (unlinkat(d->manfd, name, 0) < 0)
		return oserr(r, "manifest", name);
	if (fsync(d->manfd) < 0)
		return oserr(r, "directory", "manifests");
	return 0;
}

int kura_repo_dir_stored_us(struct kura_repo *r, uint64_t gen, int64_t *ret_us)
{
	struct dir_repo *d = as_dir(r);
	char name[KURA_REPO_GEN_DIGITS + 1];
	struct stat st;
	*ret_us = 0;
	if (!d)
		return KURA_EINVAL;
	gen_name(gen, name);
	if (fstatat(d->manfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return oserr(r, "manifest", name);
	*ret_us = (int64_t)st.st_mtim.tv_sec * 1000000 + st.st_mtim.tv_nsec / 1000;
	return 0;
}

/* ---- garbage collection ---- */

struct gc {
	uint8_t (*keep)[KURA_OBJ_ID_LEN]; /* sorted */
	size_t nkeep, cap;
	int64_t keep_after_us;
	uint64_t removed, freed;
};

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, KURA_OBJ_ID_LEN);
}

static int gc_add(struct gc *g, uint8_t (*ids)[KURA_OBJ_ID_LEN], size_t n)
{
	if (g->nkeep + n > g->cap) {
		size_t cap = g->cap ? g->cap : 1024;
		while (cap < g->nkeep + n)
			cap *= 2;
		void *p = realloc(g->keep, cap * KURA_OBJ_ID_LEN);
		if (!p)
			return KURA_ENOMEM;
		g->keep = p;
		g->cap = cap;
	}
	memcpy(g->keep[g->nkeep], ids, n * KURA_OBJ_ID_LEN);
	g->nkeep += n;
	return 0;
}

/* Every object id any remaining manifest names, sorted. */
static int gc_mark(struct dir_repo *d, struct gc *g)
{
	uint64_t *gens = NULL;
	size_t n = 0;
	struct kura_buf b;
	int ret = list_gens(d, &gens, &n);
	kura_buf_init(&b, KURA_MANIFEST_MAX + 1);
	for (size_t i = 0; !ret && i < n; i++) {
		struct kura_manifest m;
		uint8_t (*ids)[KURA_OBJ_ID_LEN] = NULL;
		size_t nids = 0;
		ret = load_manifest(d, gens[i], &b, &m);
		if (ret)
			break;
		ret = kura_manifest_objects(&m, &ids, &nids);
		if (!ret)
			ret = gc_add(g, ids, nids);
		free(ids);
		kura_manifest_release(&m);
	}
	kura_buf_release(&b);
	free(gens);
	if (!ret && g->nkeep)
		qsort(g->keep, g->nkeep, KURA_OBJ_ID_LEN, cmp_id);
	return ret;
}

static int gc_sweep_one(struct dir_repo *d, int subfd, const char *name, const struct stat *st,
			void *ctx)
{
	struct gc *g = ctx;
	uint8_t id[KURA_OBJ_ID_LEN];
	int64_t mtime_us = (int64_t)st->st_mtim.tv_sec * 1000000 + st->st_mtim.tv_nsec / 1000;
	if (kura_hex_decode(name, id, sizeof(id)))
		return 0; /* not ours: left alone */
	if (g->nkeep && bsearch(id, g->keep, g->nkeep, KURA_OBJ_ID_LEN, cmp_id))
		return 0;
	if (g->keep_after_us && mtime_us >= g->keep_after_us)
		return 0;
	int ret = make_mutable(d, subfd, name);
	if (ret)
		return ret;
	if (unlinkat(subfd, name, 0) < 0)
		return oserr(&d->base, "object", name);
	g->removed++;
	g->freed += (uint64_t)st->st_size;
	return 0;
}

int kura_repo_dir_gc(struct kura_repo *r, int64_t keep_after_us, uint64_t *ret_removed_objects,
		     uint64_t *ret_freed)
{
	struct dir_repo *d = as_dir(r);
	struct gc g = {.keep_after_us = keep_after_us};
	if (ret_removed_objects)
		*ret_removed_objects = 0;
	if (ret_freed)
		*ret_freed = 0;
	if (!d)
		return KURA_EINVAL;
	if (flock(d->tmpfd, LOCK_EX | LOCK_NB) < 0)
		return seterr(r, KURA_EBUSY, "another process has the repository open: wait "
			      "until it is done");
	int ret = gc_mark(d, &g);
	if (!ret)
		ret = walk_objects(d, gc_sweep_one, &g);
	flock(d->tmpfd, LOCK_SH);
	free(g.keep);
	if (ret_removed_objects)
		*ret_removed_objects = g.removed;
	if (ret_freed)
		*ret_freed = g.freed;
	return ret;
}

/* ---- open, create, close ---- */

static void dir_close(struct kura_repo *r)
{
	struct dir_repo *d = as_dir(r);
	if (!d)
		return;
	int fds[] = {d->tmpfd, d->manfd, d->objfd, d->dfd};
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(d);
}

static const struct kura_repo_ops dir_ops = {
	.close = dir_close,
	.has = dir_has,
	.put = dir_put,
	.get = dir_get,
	.manifest_put = dir_manifest_put,
	.manifest_get = dir_manifest_get,
	.manifest_list = dir_manifest_list,
	.info = dir_info,
};

/* Remove what interrupted writes left in tmp/ (only when nobody else has
 * the repository open), then hold a shared lock for as long as it is. */
static void clean_tmp(struct dir_repo *d)
{
	if (flock(d->tmpfd, LOCK_EX | LOCK_NB) == 0) {
		int fd = dup(d->tmpfd);
		DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
		struct dirent *e;
		if (!dir && fd >= 0)
			close(fd);
		while (dir && (e = readdir(dir)))
			if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
				unlinkat(d->tmpfd, e->d_name, 0);
		if (dir)
			closedir(dir);
	}
	flock(d->tmpfd, LOCK_SH);
}

static int marker_write(struct dir_repo *d, const char *dir,
			const uint8_t vault_id[KURA_BACKUP_VAULT_ID_LEN])
{
	char hex[2 * KURA_BACKUP_VAULT_ID_LEN + 1];
	json_t *j = json_object();
	int ret = KURA_ENOMEM;
	if (!j)
		return ret;
	json_object_set_new(j, "format", json_string(KURA_BACKUP_FORMAT));
	if (vault_id) {
		kura_hex_encode(vault_id, KURA_BACKUP_VAULT_ID_LEN, hex);
		json_object_set_new(j, "vault_id", json_string(hex));
	}
	json_object_set_new(j, "created_us", json_integer(kura_time_now_us()));
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	if (!s)
		return ret;
	struct kura_buf path;
	kura_buf_init(&path, 8192);
	ret = kura_buf_printf(&path, "%s/%s", dir, MARKER);
	if (!ret) {
		size_t len = strlen(s);
		s[len] = '\n'; /* json_dumps's NUL becomes the newline; length known */
		ret = kura_fs_write_atomic((char *)path.data, s, len + 1, 0444);
		if (ret)
			seterr(&d->base, ret, "cannot write '%s'", (char *)path.data);
		else /* without it nothing restores: as protected as the manifests */
			make_immutable(d, d->dfd, MARKER);
	}
	free(s);
	kura_buf_release(&path);
	return ret;
}

static int marker_check(struct dir_repo *d, const char *dir,
			const uint8_t vault_id[KURA_BACKUP_VAULT_ID_LEN])
{
	struct kura_buf b;
	json_error_t je;
	uint8_t have[KURA_BACKUP_VAULT_ID_LEN];
	kura_buf_init(&b, MARKER_MAX + 1);
	int ret = read_at(&d->base, d->dfd, MARKER, MARKER_MAX, &b);
	if (ret) {
		kura_buf_release(&b);
		return ret == KURA_ENOTFOUND ? ret
					     : seterr(&d->base, KURA_EFOREIGN, "'%s' is not a "
						      "backup repository", dir);
	}
	json_t *j = json_loadb((const char *)b.data, b.len, JSON_REJECT_DUPLICATES, &je);
	kura_buf_release(&b);
	const char *fmt = json_string_value(json_object_get(j, "format"));
	const char *vid = json_string_value(json_object_get(j, "vault_id"));
	ret = 0;
	if (!fmt || strcmp(fmt, KURA_BACKUP_FORMAT) != 0)
		ret = seterr(&d->base, KURA_EFOREIGN, "'%s' is a backup repository of an unknown "
			     "format: use a newer kura or another directory", dir);
	else if (vault_id && (!vid || kura_hex_decode(vid, have, sizeof(have)) ||
			      memcmp(have, vault_id, sizeof(have)) != 0))
		ret = seterr(&d->base, KURA_EFOREIGN, "'%s' holds the backups of another vault: "
			     "use another directory", dir);
	json_decref(j);
	return ret;
}

static int open_sub(struct dir_repo *d, const char *name, int create, int *ret_fd)
{
	if (create && mkdirat(d->dfd, name, 0700) < 0 && errno != EEXIST)
		return oserr(&d->base, "directory", name);
	*ret_fd = openat(d->dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (*ret_fd < 0)
		return errno == ENOENT ? seterr(&d->base, KURA_ECORRUPT, "the repository lacks "
						"its directory '%s'", name)
				       : oserr(&d->base, "directory", name);
	return 0;
}

/* An empty directory (or none: made) becomes a repository. */
static int dir_create(struct dir_repo *d, const char *dir,
		      const uint8_t vault_id[KURA_BACKUP_VAULT_ID_LEN])
{
	int ret;
	for (const char *const *s = (const char *const[]){"objects", "manifests", "tmp", NULL}; *s;
	     s++) {
		int fd = -1;
		ret = open_sub(d, *s, 1, &fd);
		if (ret)
			return ret;
		close(fd);
	}
	if (fsync(d->dfd) < 0)
		return oserr(&d->base, "directory", dir);
	return marker_write(d, dir, vault_id);
}

static int is_empty(int dfd)
{
	int fd = dup(dfd), empty = 1;
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	if (!dir) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while (empty && (e = readdir(dir)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			empty = 0;
	closedir(dir);
	return empty;
}

/* Empty, or holding only what an interrupted dir_create made: some of
 * objects/, manifests/ and tmp/, all empty (the marker is written last). */
static int is_unfinished(int dfd)
{
	int fd = dup(dfd), ok = 1;
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	if (!dir) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	rewinddir(dir);
	while (ok && (e = readdir(dir))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (strcmp(e->d_name, "objects") != 0 && strcmp(e->d_name, "manifests") != 0 &&
		    strcmp(e->d_name, "tmp") != 0) {
			ok = 0;
			break;
		}
		int sub = openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		ok = sub >= 0 && is_empty(sub);
		if (sub >= 0)
			close(sub);
	}
	closedir(dir);
	return ok;
}

static int dir_setup(struct dir_repo *d, const char *dir, int create,
		     const uint8_t vault_id[KURA_BACKUP_VAULT_ID_LEN])
{
	if (create && mkdir(dir, 0700) < 0 && errno != EEXIST)
		return oserr(&d->base, "directory", dir);
	d->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->dfd < 0)
		return errno == ENOENT ? seterr(&d->base, KURA_ENOTFOUND, "no backup repository "
						"at '%s'", dir)
				       : oserr(&d->base, "directory", dir);
	int ret = marker_check(d, dir, vault_id);
	if (ret == KURA_ENOTFOUND) {
		if (!create)
			return seterr(&d->base, KURA_ENOTFOUND, "no backup repository at '%s'", dir);
		if (!is_unfinished(d->dfd))
			return seterr(&d->base, KURA_EFOREIGN, "'%s' is not empty and not a backup "
				      "repository: use an empty or new directory", dir);
		ret = dir_create(d, dir, vault_id);
	}
	if (!ret)
		ret = open_sub(d, "objects", 0, &d->objfd);
	if (!ret)
		ret = open_sub(d, "manifests", 0, &d->manfd);
	/* tmp/ holds nothing a generation needs and cannot be made immutable
	 * (writes go through it): made again if someone removed it, so that
	 * deleting one empty directory does not stop backups and restores. */
	if (!ret && mkdirat(d->dfd, "tmp", 0700) == 0)
		fsync(d->dfd);
	if (!ret)
		ret = open_sub(d, "tmp", 0, &d->tmpfd);
	return ret;
}

int kura_repo_dir_open(const char *dir, int create,
		       const uint8_t vault_id[KURA_BACKUP_VAULT_ID_LEN], struct kura_repo **ret)
{
	*ret = NULL;
	struct dir_repo *d = calloc(1, sizeof(*d));
	if (!d)
		return KURA_ENOMEM;
	d->base.ops = &dir_ops;
	d->dfd = d->objfd = d->manfd = d->tmpfd = -1;
	const char *env = getenv("KURA_BACKUP_IMMUTABLE");
	d->try_immutable = !(env && strcmp(env, "0") == 0);
	int r = dir_setup(d, dir, create, vault_id);
	if (r) {
		dir_close(&d->base);
		return r;
	}
	clean_tmp(d);
	*ret = &d->base;
	return 0;
}
