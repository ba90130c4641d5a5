/*
 * login_cost.c - what one password login costs with kura's Argon2id
 * parameters (docs/internals/password.md): the median seconds of
 * kura_pw_hash and kura_pw_verify on one core, for the defaults and for the
 * other candidates weighed when they were chosen.  Target: 0.1-0.5 s.
 *
 *   login_cost          ->  {"argon2id": {...}, "hash_seconds_median": ..., ...,
 *                            "candidates": [...]}
 *   BENCH_REPS=N        repetitions of each measurement (default 7)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/password.h"
#include "crypto/crypto.h"
#include "util/banned.h"

struct cost {
	double hash, verify;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(v[0]), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int measure(const struct kura_pw_policy *p, size_t reps, struct cost *ret)
{
	static const char pw[] = "Kq7#xZ2m!pL4w";
	char h[KURA_PWHASH_STRLEN];
	double th[64], tv[64];
	for (size_t i = 0; i < reps; i++) {
		double t0 = now();
		if (kura_pw_hash(p, pw, sizeof(pw) - 1, h))
			return -1;
		double t1 = now();
		if (kura_pw_verify(h, pw, sizeof(pw) - 1))
			return -1;
		th[i] = t1 - t0;
		tv[i] = now() - t1;
	}
	ret->hash = median(th, reps);
	ret->verify = median(tv, reps);
	return 0;
}

static size_t reps_from_env(void)
{
	const char *s = getenv("BENCH_REPS");
	long n = s ? strtol(s, NULL, 10) : 7;
	return n < 1 ? 1 : n > 64 ? 64 : (size_t)n;
}

static int candidates(size_t reps)
{
	static const unsigned ops[] = {2, 3, 4}, mib[] = {19, 46, 64, 128};
	struct kura_pw_policy p;
	struct cost c;
	const char *sep = "";
	kura_pw_policy_default(&p);
	printf(", \"candidates\": [");
	for (size_t i = 0; i < 3; i++) {
		for (size_t j = 0; j < 4; j++) {
			p.ops = ops[i];
			p.mem_kib = (uint64_t)mib[j] * 1024;
			if (measure(&p, reps, &c))
				return -1;
			printf("%s\n  {\"ops\": %u, \"mem_mib\": %u, \"hash_seconds_median\": %.4f}",
			       sep, ops[i], mib[j], c.hash);
			sep = ",";
			fflush(stdout);
		}
	}
	printf("]");
	return 0;
}

int main(void)
{
	struct kura_pw_policy p;
	struct cost c;
	size_t reps = reps_from_env();
	if (kura_crypto_init())
		return 2;
	kura_pw_policy_default(&p);
	if (measure(&p, reps, &c)) {
		fprintf(stderr, "login_cost: hashing failed: check free memory\n");
		return 1;
	}
	printf("{\"argon2id\": {\"ops\": %llu, \"mem_mib\": %llu}, \"reps\": %zu, "
	       "\"hash_seconds_median\": %.4f, \"verify_seconds_median\": %.4f, "
	       "\"hashes_per_second_per_core\": %.2f",
	       (unsigned long long)p.ops, (unsigned long long)(p.mem_kib / 1024), reps, c.hash,
	       c.verify, 1.0 / c.hash);
	if (getenv("BENCH_CANDIDATES") == NULL || strcmp(getenv("BENCH_CANDIDATES"), "0") != 0)
		if (candidates(reps))
			return 1;
	printf("}\n");
	return 0;
}
