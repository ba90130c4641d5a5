/* time.h - wall-clock time in microseconds since the Unix epoch, UTC. */
#ifndef KURA_UTIL_TIME_H
#define KURA_UTIL_TIME_H

#include <stddef.h>
#include <stdint.h>

int64_t kura_time_now_us(void);

/* RFC 3339 UTC with microseconds, "2026-11-25T05:23:39.123456Z";
 * out must hold KURA_TIME_STR bytes. */
#define KURA_TIME_STR 40
void kura_time_format(int64_t us, char out[KURA_TIME_STR]);

#endif
