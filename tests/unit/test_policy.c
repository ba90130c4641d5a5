/* test_policy.c - retention over hand-made timelines, in Asia/Tokyo so
 * local days, ISO weeks and months differ from UTC ones. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "backup/policy.h"

#define HOUR_US (3600 * (int64_t)1000000)
#define DAY_US (24 * HOUR_US)

/* Microseconds of y-m-d h:00 in Japan (UTC+9, no daylight saving). */
static int64_t jst(int y, int m, int d, int h, int min)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	int64_t days = era * 146097 + doe - 719468;
	return days * DAY_US + (h - 9) * HOUR_US + min * 60 * (int64_t)1000000;
}

static void policy(struct kura_policy *p, unsigned keep_min, unsigned d, unsigned w, unsigned m)
{
	kura_policy_default(p);
	p->keep_min = keep_min;
	p->daily = d;
	p->weekly = w;
	p->monthly = m;
}

static size_t kept(const struct kura_policy_gen *g, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += g[i].keep;
	return k;
}

/* 23:30 and 00:30 in Tokyo are two days, though one UTC day. */
static void test_daily_local_days(void **state)
{
	(void)state;
	struct kura_policy p;
	struct kura_policy_gen g[] = {
		{1, jst(2024, 3, 1, 10, 0), 0, NULL}, {2, jst(2024, 3, 1, 23, 30), 0, NULL},
		{3, jst(2024, 3, 2, 0, 30), 0, NULL}, {4, jst(2024, 3, 2, 12, 0), 0, NULL},
		{5, jst(2024, 3, 3, 8, 0), 0, NULL},  {6, jst(2024, 3, 3, 9, 0), 0, NULL},
		{7, jst(2024, 3, 4, 8, 0), 0, NULL},
	};
	policy(&p, 3, 4, 0, 0);
	kura_policy_apply(&p, jst(2024, 3, 5, 0, 0), g, 7);
	int want[] = {0, 1, 0, 1, 1, 1, 1};
	for (int i = 0; i < 7; i++)
		assert_int_equal(g[i].keep, want[i]);
	assert_string_equal(g[6].why, "newest");
	assert_string_equal(g[3].why, "daily");
	assert_string_equal(g[1].why, "daily");
	assert_null(g[0].why);
}

/* 2020-12-31 and 2021-01-03 are both in ISO week 2020-W53. */
static void test_weekly_iso(void **state)
{
	(void)state;
	struct kura_policy p;
	int days[][3] = {{2020, 12, 24}, {2020, 12, 31}, {2021, 1, 3}, {2021, 1, 4}, {2021, 1, 10},
			 {2021, 1, 11}, {2021, 1, 12}, {2021, 1, 13}, {2021, 1, 14}};
	struct kura_policy_gen g[9];
	for (int i = 0; i < 9; i++)
		g[i] = (struct kura_policy_gen){(uint64_t)i + 1, jst(days[i][0], days[i][1], days[i][2], 12, 0), 0, NULL};
	policy(&p, 3, 0, 4, 0);
	kura_policy_apply(&p, jst(2021, 1, 15, 0, 0), g, 9);
	int want[] = {1, 0, 1, 0, 1, 0, 1, 1, 1};
	for (int i = 0; i < 9; i++)
		assert_int_equal(g[i].keep, want[i]);
	assert_string_equal(g[4].why, "weekly");
	assert_string_equal(g[0].why, "weekly");
}

static void test_monthly_floor_and_lock(void **state)
{
	(void)state;
	struct kura_policy p;
	struct kura_policy_gen g[10];
	/* Every 10 days from 2024-01-05: Jan 5 15 25, Feb 4 14 24, Mar 5 15 25, Apr 4. */
	for (int i = 0; i < 10; i++)
		g[i] = (struct kura_policy_gen){(uint64_t)i + 1, jst(2024, 1, 5, 1, 0) + i * 10 * DAY_US, 0, NULL};
	policy(&p, 0, 0, 0, 3); /* keep_min is raised to 3 */
	kura_policy_apply(&p, g[9].created_us, g, 10);
	int want[] = {0, 0, 0, 0, 0, 1, 0, 1, 1, 1};
	for (int i = 0; i < 10; i++)
		assert_int_equal(g[i].keep, want[i]);
	assert_string_equal(g[5].why, "monthly");
	/* A lock of 35 days keeps everything younger, whatever else says. */
	p.lock_us = 35 * DAY_US;
	kura_policy_apply(&p, g[9].created_us + DAY_US, g, 10);
	int want2[] = {0, 0, 0, 0, 0, 1, 1, 1, 1, 1};
	for (int i = 0; i < 10; i++)
		assert_int_equal(g[i].keep, want2[i]);
	assert_string_equal(g[6].why, "locked");
	kura_policy_apply(&p, 0, g, 0); /* nothing to do */
}

/* A year of nightly backups under the defaults: bounded, the oldest goes,
 * and the input order does not matter. */
static void test_defaults_year(void **state)
{
	(void)state;
	struct kura_policy p;
	struct kura_policy_gen g[400], h[400];
	kura_policy_default(&p);
	assert_int_equal(p.keep_min, 3);
	for (int i = 0; i < 400; i++)
		g[i] = (struct kura_policy_gen){(uint64_t)i + 1, jst(2023, 1, 1, 2, 0) + i * DAY_US, 0, NULL};
	for (int i = 0; i < 400; i++)
		h[i] = g[(i * 7) % 400]; /* 7 is prime to 400: a permutation */
	kura_policy_apply(&p, g[399].created_us + HOUR_US, g, 400);
	kura_policy_apply(&p, g[399].created_us + HOUR_US, h, 400);
	size_t k = kept(g, 400);
	assert_true(k >= 12 && k <= 3 + 7 + 4 + 12);
	assert_int_equal(kept(h, 400), k);
	for (int i = 0; i < 400; i++)
		assert_int_equal(h[i].keep, g[h[i].generation - 1].keep);
	assert_int_equal(g[0].keep, 0);
	for (int i = 393; i < 400; i++)
		assert_int_equal(g[i].keep, 1); /* the last 7 days */
}

int main(void)
{
	setenv("TZ", "Asia/Tokyo", 1);
	tzset();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_daily_local_days),
		cmocka_unit_test(test_weekly_iso),
		cmocka_unit_test(test_monthly_floor_and_lock),
		cmocka_unit_test(test_defaults_year),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
