/*
 * scanq.c - documents scanned with libclamav on worker threads while a
 * restore goes on writing (scan.h; MW-01, BK-05).  The restore is undone
 * when anything is found, so scanning beside the writes changes nothing
 * about what ends up restored, only how long it takes.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backup/scan.h"
#include "util/err.h"
#include "util/banned.h"

#define SCANQ_MAX_THREADS 8

struct scan_job {
	uint8_t *p;
	size_t n;
	struct scan_job *next;
};

struct kura_scanq {
	struct kura_scanner *s;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct scan_job *head, *tail;
	size_t bytes, max_bytes;
	int closing;
	int verdict; /* 0, KURA_ESTATE or KURA_EIO: the first one found */
	struct kura_scanq_result res;
	unsigned nthreads;
	pthread_t th[SCANQ_MAX_THREADS];
};

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void *scan_main(void *arg)
{
	struct kura_scanq *q = arg;
	char virus[KURA_SCAN_MAX_NAME];
	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (!q->head && !q->closing)
			pthread_cond_wait(&q->cv, &q->mu);
		struct scan_job *j = q->head;
		if (!j)
			break;
		q->head = j->next;
		if (!q->head)
			q->tail = NULL;
		int skip = q->verdict != 0;
		pthread_mutex_unlock(&q->mu);
		double t0 = now_s();
		int r = skip ? 0 : kura_scan_buf(q->s, j->p, j->n, virus);
		double dt = now_s() - t0;
		pthread_mutex_lock(&q->mu);
		if (!skip) {
			q->res.docs++;
			q->res.bytes += j->n;
			q->res.seconds += dt;
		}
		if (r && !q->verdict) {
			q->verdict = r == 1 ? KURA_ESTATE : KURA_EIO;
			memcpy(q->res.virus, virus, sizeof(virus));
		}
		q->bytes -= j->n;
		pthread_cond_broadcast(&q->cv);
		free(j->p);
		free(j);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

int kura_scanq_start(struct kura_scanner *s, unsigned threads, size_t max_bytes,
		     struct kura_scanq **ret)
{
	struct kura_scanq *q = calloc(1, sizeof(*q));
	*ret = NULL;
	if (!q)
		return KURA_ENOMEM;
	q->s = s;
	q->max_bytes = max_bytes;
	if (pthread_mutex_init(&q->mu, NULL)) {
		free(q);
		return KURA_ENOMEM;
	}
	if (pthread_cond_init(&q->cv, NULL)) {
		pthread_mutex_destroy(&q->mu);
		free(q);
		return KURA_ENOMEM;
	}
	if (threads < 1)
		threads = 1;
	if (threads > SCANQ_MAX_THREADS)
		threads = SCANQ_MAX_THREADS;
	while (q->nthreads < threads && !pthread_create(&q->th[q->nthreads], NULL, scan_main, q))
		q->nthreads++;
	if (!q->nthreads) {
		pthread_cond_destroy(&q->cv);
		pthread_mutex_destroy(&q->mu);
		free(q);
		return KURA_ENOMEM;
	}
	*ret = q;
	return 0;
}

int kura_scanq_add(struct kura_scanq *q, const uint8_t *p, size_t n)
{
	struct scan_job *j = malloc(sizeof(*j));
	uint8_t *copy = malloc(n ? n : 1);
	if (!j || !copy) {
		free(j);
		free(copy);
		return KURA_ENOMEM;
	}
	if (n)
		memcpy(copy, p, n);
	j->p = copy;
	j->n = n;
	j->next = NULL;
	pthread_mutex_lock(&q->mu);
	while (!q->verdict && q->bytes > 0 && q->bytes + n > q->max_bytes)
		pthread_cond_wait(&q->cv, &q->mu);
	int r = q->verdict;
	if (!r) {
		if (q->tail)
			q->tail->next = j;
		else
			q->head = j;
		q->tail = j;
		q->bytes += n;
		pthread_cond_broadcast(&q->cv);
	}
	pthread_mutex_unlock(&q->mu);
	if (r) {
		free(copy);
		free(j);
	}
	return r;
}

int kura_scanq_finish(struct kura_scanq *q, struct kura_scanq_result *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (!q)
		return 0;
	pthread_mutex_lock(&q->mu);
	q->closing = 1;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	for (unsigned i = 0; i < q->nthreads; i++)
		pthread_join(q->th[i], NULL);
	*ret = q->res;
	int r = q->verdict;
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
	free(q);
	return r;
}
