/* time.c - the clock and its RFC 3339 rendering. */
#include "util/time.h"

#include <stdio.h>
#include <time.h>

#include "util/banned.h"

int64_t kura_time_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void kura_time_format(int64_t us, char out[KURA_TIME_STR])
{
	time_t sec = (time_t)(us / 1000000);
	long frac = (long)(us % 1000000);
	if (frac < 0) {
		frac += 1000000;
		sec -= 1;
	}
	struct tm tm;
	if (!gmtime_r(&sec, &tm)) {
		snprintf(out, KURA_TIME_STR, "invalid-time");
		return;
	}
	/* Years are clamped to four digits so the text always fits. */
	int year = tm.tm_year + 1900;
	year = year < 0 ? 0 : year > 9999 ? 9999 : year;
	snprintf(out, KURA_TIME_STR, "%04d-%02d-%02dT%02d:%02d:%02d.%06luZ", year,
		 (tm.tm_mon + 1) % 100, tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100,
		 tm.tm_sec % 100, (unsigned long)frac % 1000000u);
}
