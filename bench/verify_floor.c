/*
 * verify_floor.c - the per-byte floor under `kura verify`, measured on the
 * same records: open each sealed content box exactly as verify does
 * (AES-256-GCM, zstd decompression, SHA-256 of the content), on one core,
 * with nothing else (no SQLite, no leaves, no Merkle tree).  bench/run
 * prints kura verify's MB/s beside it.
 *
 *   verify_floor FILE.ndjson   ->  {"records":N,"bytes":B,"seconds":S,"mb_per_s":X}
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/crypto.h"
#include "fhir/import.h"
#include "util/fs.h"
#include "util/limits.h"
#include "vault/envelope.h"
#include "util/banned.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct kura_buf file, msg, boxes, out;
	struct kura_import *imp = NULL;
	uint8_t key[KURA_KEY_LEN], sha[KURA_HASH_LEN];
	if (argc != 2 || kura_crypto_init()) {
		fprintf(stderr, "usage: verify_floor FILE.ndjson\n");
		return 2;
	}
	kura_buf_init(&file, KURA_MAX_IMPORT_FILE);
	kura_buf_init(&msg, 1024);
	kura_buf_init(&boxes, (size_t)KURA_MAX_IMPORT_FILE * 2);
	kura_buf_init(&out, KURA_MAX_CONTENT + 1);
	if (kura_fs_read(argv[1], file.max, &file) ||
	    kura_import_parse(file.data, file.len, NULL, &imp, &msg)) {
		fprintf(stderr, "verify_floor: cannot read '%s': %s\n", argv[1],
			msg.data ? (char *)msg.data : "read error");
		return 1;
	}
	size_t *off = calloc(imp->count + 1, sizeof(*off));
	struct kura_envelope_ctx *z = kura_envelope_ctx_new();
	kura_random(key, sizeof(key));
	struct kura_slice aad = kura_slice_str("kura.bench.floor");
	for (size_t i = 0; off && z && i < imp->count; i++) {
		off[i] = boxes.len;
		if (kura_envelope_seal(z, key, aad, imp->items[i].content.ptr, imp->items[i].content.len,
				       &boxes, sha))
			return 1;
	}
	off[imp->count] = boxes.len;
	uint64_t bytes = 0;
	double t0 = now();
	for (size_t i = 0; i < imp->count; i++) {
		kura_buf_reset(&out);
		struct kura_slice box = kura_slice_make(boxes.data + off[i], off[i + 1] - off[i]);
		if (kura_envelope_open(z, key, aad, box, KURA_MAX_CONTENT, &out, sha))
			return 1;
		bytes += out.len;
	}
	double secs = now() - t0;
	printf("{\"records\":%zu,\"bytes\":%llu,\"seconds\":%.4f,\"mb_per_s\":%.1f}\n", imp->count,
	       (unsigned long long)bytes, secs, (double)bytes / 1e6 / secs);
	kura_envelope_ctx_free(z);
	free(off);
	kura_import_free(imp);
	kura_buf_release(&file);
	kura_buf_release(&msg);
	kura_buf_release(&boxes);
	kura_buf_release_secret(&out);
	return 0;
}
