/*
 * scan.h - malware scanning with libclamav (MW-01, BK-05): documents are
 * scanned after decryption and decompression, before they are restored.
 *
 * libclamav fails open: an engine with no signatures loaded passes
 * everything, EICAR included.  kura_scan_open therefore refuses
 * (KURA_EINVAL) a database directory that yields zero signatures.
 */
#ifndef KURA_BACKUP_SCAN_H
#define KURA_BACKUP_SCAN_H

#include <stddef.h>
#include <stdint.h>

#define KURA_SCAN_DEFAULT_DB "/var/lib/clamav"
#define KURA_SCAN_MAX_NAME 128
/* The most bytes one scan looks at (libclamav's max file and scan size):
 * anything larger is reported as a match (Heuristics.Limits.Exceeded), and
 * callers that take uploads refuse it before scanning. */
#define KURA_SCAN_MAX_BYTES (256ULL * 1024 * 1024)

struct kura_scanner;

/* Load every signature database in dir (.cvd, .cld, .hdb, .ndb, ...) and
 * compile the engine.  ret_sigs gets the number of signatures.
 * KURA_ENOTFOUND if dir does not exist, KURA_EINVAL if it holds no
 * signature, KURA_EIO if libclamav fails (message in err). */
int kura_scan_open(const char *dir, struct kura_scanner **ret, unsigned *ret_sigs,
		   char err[256]);
void kura_scan_close(struct kura_scanner *s);

/* Scan a buffer (archives inside it are unpacked by libclamav).
 * 0 if clean, 1 if a signature matched (its name in virus), or an error
 * (KURA_EIO) with the message in virus.  Thread-safe for one scanner. */
int kura_scan_buf(struct kura_scanner *s, const uint8_t *p, size_t n,
		  char virus[KURA_SCAN_MAX_NAME]);

/*
 * A scanning queue: documents are copied in and scanned by worker threads
 * while the caller goes on (a restore keeps writing; it is undone if
 * anything is found).  At most max_bytes wait; kura_scanq_add blocks
 * beyond that and returns KURA_ESTATE as soon as a scan has found malware.
 */
struct kura_scanq;
int kura_scanq_start(struct kura_scanner *s, unsigned threads, size_t max_bytes,
		     struct kura_scanq **ret);
int kura_scanq_add(struct kura_scanq *q, const uint8_t *p, size_t n);
struct kura_scanq_result {
	uint64_t docs, bytes;
	double seconds;                  /* time spent scanning, summed over threads */
	char virus[KURA_SCAN_MAX_NAME];  /* the first signature found, or the error */
};
/* Wait for every queued scan and free q: 0 clean, KURA_ESTATE malware
 * found, KURA_EIO a scan failed (q NULL: 0). */
int kura_scanq_finish(struct kura_scanq *q, struct kura_scanq_result *ret);

#endif
