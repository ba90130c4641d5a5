/*
 * replay.c - runs a libFuzzer target over its seed corpus as an ordinary
 * test, so every corpus is replayed by `make test` (also under ASan/UBSan)
 * without needing clang's libFuzzer.  Arguments are files or directories.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/buf.h"
#include "util/fs.h"
#include "util/banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	struct kura_buf b;
	kura_buf_init(&b, 64u * 1024 * 1024);
	int r = kura_fs_read(path, b.max, &b);
	if (r) {
		fprintf(stderr, "replay: cannot read '%s'\n", path);
		kura_buf_release(&b);
		return 1;
	}
	/* A private copy of exactly size bytes, so ASan sees overreads. */
	uint8_t *copy = malloc(b.len ? b.len : 1);
	if (!copy)
		return 1;
	if (b.len)
		memcpy(copy, b.data, b.len);
	LLVMFuzzerTestOneInput(copy, b.len);
	free(copy);
	kura_buf_release(&b);
	return 0;
}

static int run_path(const char *path, unsigned *count)
{
	struct stat st;
	if (stat(path, &st)) {
		fprintf(stderr, "replay: no such path '%s'\n", path);
		return 1;
	}
	if (!S_ISDIR(st.st_mode)) {
		(*count)++;
		return run_file(path);
	}
	DIR *d = opendir(path);
	if (!d)
		return 1;
	int bad = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		struct kura_buf p;
		kura_buf_init(&p, 8192);
		if (kura_buf_printf(&p, "%s/%s", path, e->d_name) == 0)
			bad |= run_path((char *)p.data, count);
		kura_buf_release(&p);
	}
	closedir(d);
	return bad;
}

int main(int argc, char **argv)
{
	unsigned count = 0;
	int bad = 0;
	for (int i = 1; i < argc; i++)
		bad |= run_path(argv[i], &count);
	if (count == 0) {
		fprintf(stderr, "replay: empty corpus\n");
		return 1;
	}
	printf("replayed %u inputs\n", count);
	return bad;
}
