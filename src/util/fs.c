/* fs.c - reading with limits and durable atomic writes. */
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/banned.h"

/* Read through a fixed chunk so that a file of exactly max bytes fits and
 * one byte more is refused (b->max must be at least max). */
static int read_fd(int fd, size_t max, struct kura_buf *b)
{
	enum { CHUNK = 65536 };
	uint8_t *chunk = malloc(CHUNK);
	size_t start = b->len;
	int r = chunk ? 0 : KURA_ENOMEM;
	while (!r) {
		ssize_t n = read(fd, chunk, CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			r = KURA_EIO;
		else if (n == 0)
			break;
		else if ((size_t)n > max - (b->len - start))
			r = KURA_ETOOBIG;
		else
			r = kura_buf_append(b, chunk, (size_t)n);
	}
	if (chunk)
		explicit_bzero(chunk, CHUNK); /* it may have held a passphrase */
	free(chunk);
	return r;
}

int kura_fs_read(const char *path, size_t max, struct kura_buf *b)
{
	if (strcmp(path, "-") == 0)
		return read_fd(STDIN_FILENO, max, b);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? KURA_ENOTFOUND : KURA_EIO;
	struct stat st;
	int r = KURA_EIO;
	if (fstat(fd, &st) == 0) {
		if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max)
			r = KURA_ETOOBIG;
		else
			r = read_fd(fd, max, b);
	}
	close(fd);
	return r;
}

int kura_fs_sync_dir(const char *path)
{
	char *dup = strdup(path);
	if (!dup)
		return KURA_ENOMEM;
	char *slash = strrchr(dup, '/');
	const char *dir = ".";
	if (slash == dup)
		dir = "/";
	else if (slash) {
		*slash = 0;
		dir = dup;
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = fd < 0 || fsync(fd) ? KURA_EIO : 0;
	if (fd >= 0)
		close(fd);
	free(dup);
	return r;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return KURA_EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int kura_fs_write_atomic(const char *path, const void *data, size_t len, int mode)
{
	struct kura_buf tmp;
	int r = KURA_EIO, fd = -1;
	kura_buf_init(&tmp, 4096 + strlen(path));
	if (kura_buf_printf(&tmp, "%s.tmp.%ld", path, (long)getpid())) {
		r = KURA_ENOMEM;
		goto out;
	}
	fd = open((char *)tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		goto out;
	r = write_all(fd, data, len);
	if (!r && fsync(fd))
		r = KURA_EIO;
	if (close(fd) && !r)
		r = KURA_EIO;
	fd = -1;
	if (!r && rename((char *)tmp.data, path))
		r = KURA_EIO;
	if (!r)
		r = kura_fs_sync_dir(path);
	if (r)
		unlink((char *)tmp.data);
out:
	kura_buf_release(&tmp);
	return r;
}

int kura_fs_is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}
