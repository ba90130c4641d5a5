/*
 * conf.h - values of the INI configuration files (inih) of `kura receiver`
 * and `kura serve`: sizes with K/M/G/T suffixes, bounded strings and
 * numbers, and one message for the first bad value (the caller adds the
 * file and line).  Handlers return 1 to go on, 0 to stop (inih's rule).
 */
#ifndef KURA_UTIL_CONF_H
#define KURA_UTIL_CONF_H

#include <stddef.h>
#include <stdint.h>

#define KURA_CONF_MSG 200

/* "123", "10K", "5M", "2G", "1T" (powers of 1024).  KURA_EINVAL. */
int kura_parse_size(const char *s, uint64_t *ret);

/* Format the first error into msg (fmt takes two strings); returns 0. */
int kura_conf_fail(char msg[KURA_CONF_MSG], const char *fmt, const char *a, const char *b);
/* Copy a non-empty value shorter than cap; 1, or 0 with msg set. */
int kura_conf_str(char msg[KURA_CONF_MSG], char *dst, size_t cap, const char *name, const char *v);
/* A number in [min, max], with size suffixes when units; 1, or 0 with msg. */
int kura_conf_uint(char msg[KURA_CONF_MSG], unsigned *dst, uint64_t min, uint64_t max, int units,
		   const char *name, const char *v);

#endif
