/*
 * policy.c - retention: which generations to keep (BK-02, BK-03: at least
 * three generations always, older ones thinned to daily/weekly/monthly;
 * docs/formats/backup.md §8).  Days, ISO weeks and months are those of
 * the local time zone, as an operator reads the schedule.
 */
#include "backup/policy.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/banned.h"

#define BUCKET_LEN 16

void kura_policy_default(struct kura_policy *p)
{
	p->keep_min = KURA_POLICY_MIN_KEEP;
	p->daily = 7;
	p->weekly = 4;
	p->monthly = 12;
	p->lock_us = 0;
}

/* Newest first; the larger generation first on equal times. */
static int newest_first(const void *a, const void *b)
{
	const struct kura_policy_gen *x = *(struct kura_policy_gen *const *)a;
	const struct kura_policy_gen *y = *(struct kura_policy_gen *const *)b;
	if (x->created_us != y->created_us)
		return x->created_us > y->created_us ? -1 : 1;
	if (x->generation != y->generation)
		return x->generation > y->generation ? -1 : 1;
	return 0;
}

/* The local day, ISO week or month of a time as text ("" if unknown). */
static void bucket(int64_t us, const char *fmt, char out[BUCKET_LEN])
{
	int64_t s = us / 1000000 - (us % 1000000 < 0);
	time_t t = (time_t)s;
	struct tm tm;
	out[0] = 0;
	if (!localtime_r(&t, &tm) || !strftime(out, BUCKET_LEN, fmt, &tm))
		out[0] = 0;
}

static void mark(struct kura_policy_gen *g, const char *why)
{
	if (!g->keep) {
		g->keep = 1;
		g->why = why;
	}
}

/* Keep the newest generation of each of the newest `want` buckets. */
static void keep_buckets(struct kura_policy_gen **s, size_t n, unsigned want, const char *fmt,
			 const char *why)
{
	char last[BUCKET_LEN] = "", cur[BUCKET_LEN];
	unsigned seen = 0;
	for (size_t i = 0; i < n && seen < want; i++) {
		bucket(s[i]->created_us, fmt, cur);
		if (i && cur[0] && !strcmp(cur, last))
			continue;
		mark(s[i], why);
		seen++;
		memcpy(last, cur, BUCKET_LEN);
	}
}

void kura_policy_apply(const struct kura_policy *p, int64_t now_us, struct kura_policy_gen *gens,
		       size_t n)
{
	unsigned keep_min = p->keep_min < KURA_POLICY_MIN_KEEP ? KURA_POLICY_MIN_KEEP : p->keep_min;
	struct kura_policy_gen **s = n ? calloc(n, sizeof(*s)) : NULL;
	for (size_t i = 0; i < n; i++) {
		gens[i].keep = !s; /* out of memory: remove nothing */
		gens[i].why = s ? NULL : "newest";
	}
	if (!s)
		return;
	for (size_t i = 0; i < n; i++)
		s[i] = &gens[i];
	qsort(s, n, sizeof(*s), newest_first);
	for (size_t i = 0; i < n && i < keep_min; i++)
		mark(s[i], "newest");
	for (size_t i = 0; i < n; i++)
		if (p->lock_us > 0 && now_us - s[i]->created_us < p->lock_us)
			mark(s[i], "locked");
	tzset();
	keep_buckets(s, n, p->daily, "%Y-%m-%d", "daily");
	keep_buckets(s, n, p->weekly, "%G-W%V", "weekly");
	keep_buckets(s, n, p->monthly, "%Y-%m", "monthly");
	free(s);
}
