/*
 * fs.h - file helpers with durability: read with a size cap, write
 * atomically (temp file, fsync, rename, fsync of the directory).
 */
#ifndef KURA_UTIL_FS_H
#define KURA_UTIL_FS_H

#include <stddef.h>

#include "util/buf.h"

/* Read a whole file, or standard input when path is "-", into b (appended).
 * KURA_ETOOBIG past max bytes, KURA_ENOTFOUND if missing, KURA_EIO. */
int kura_fs_read(const char *path, size_t max, struct kura_buf *b);

/* Write data to path atomically and durably; mode as for open(2). */
int kura_fs_write_atomic(const char *path, const void *data, size_t len, int mode);

/* fsync the directory that holds path (so a new name survives a crash). */
int kura_fs_sync_dir(const char *path);

/* 1 if path is an existing directory, 0 if not. */
int kura_fs_is_dir(const char *path);

#endif
