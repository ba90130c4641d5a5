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

#endif
