/*
 * cdc.h - FastCDC content-defined chunking (Xia et al., USENIX ATC 2016,
 * "normalized chunking" with two masks), so that the same document stored
 * twice, or a document with a few bytes changed, yields mostly the same
 * chunks and a backup keeps them once (BK-01, docs/formats/backup.md §3).
 *
 * The gear table is fixed by the format (derived from SHA-256, see
 * cdc.c): chunk boundaries depend on content only, never on keys, and a
 * future kura must cut the same boundaries to deduplicate against old
 * generations.  Pure function: no allocation, no I/O.
 */
#ifndef KURA_BACKUP_CDC_H
#define KURA_BACKUP_CDC_H

#include <stddef.h>
#include <stdint.h>

#define KURA_CDC_MIN (256u * 1024)      /* no chunk is shorter, but the last */
#define KURA_CDC_AVG (1024u * 1024)     /* the normalised target size */
#define KURA_CDC_MAX (4u * 1024 * 1024) /* no chunk is longer */

/* The length of the first chunk of p[0..n): n itself when n <= KURA_CDC_MIN,
 * otherwise a cut point in [KURA_CDC_MIN, min(n, KURA_CDC_MAX)].  Call again
 * on the rest to cut the next chunk. */
size_t kura_cdc_cut(const uint8_t *p, size_t n);

/* The gear table (part of the format): kura_cdc_gear[i] is the first 8
 * bytes, big-endian, of SHA-256("kura.backup.gear.v1" || u8 i). */
extern const uint64_t kura_cdc_gear[256];

#endif
