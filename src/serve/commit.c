/*
 * commit.c - the group committer of `kura serve` (commit.h).
 */
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "serve/commit.h"
#include "util/err.h"
#include "vault/vault.h"
#include "util/banned.h"

struct item {
	struct item *next;
	struct kura_event e;
	char session[KURA_TOKEN_HEX + 1];
	kura_commit_done done;
	void *ctx;
};

struct kura_committer {
	struct kura_vault *v;
	pthread_t th;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct item *head, **tail;
	int stop;
};

/* Touch each distinct session of the batch once. */
static int touch_all(struct kura_txn *t, struct item *batch)
{
	struct kura_identity id;
	int r = 0;
	memset(&id, 0, sizeof(id));
	for (struct item *it = batch; !r && it; it = it->next) {
		int seen = !it->session[0];
		for (struct item *p = batch; !seen && p != it; p = p->next)
			seen = strcmp(p->session, it->session) == 0;
		if (seen)
			continue;
		memcpy(id.session, it->session, sizeof(id.session));
		r = kura_auth_touch(t, &id);
		if (r == KURA_ENOTFOUND)
			r = 0; /* ended since (logout): its read was allowed, the others' stand */
	}
	return r;
}

static void commit_batch(struct kura_committer *c, struct item *batch)
{
	struct kura_txn *t = NULL;
	int r = kura_txn_begin(c->v, &t);
	if (!r) {
		for (struct item *it = batch; !r && it; it = it->next)
			r = kura_txn_event(t, &it->e, NULL);
		if (!r)
			r = touch_all(t, batch);
		r = kura_txn_finish(t, r, NULL);
	}
	while (batch) {
		struct item *next = batch->next;
		batch->done(batch->ctx, r);
		free(batch);
		batch = next;
	}
}

/* Up to KURA_COMMIT_BATCH items off the queue (c->mu held). */
static struct item *take(struct kura_committer *c)
{
	struct item *batch = c->head, **end = &c->head;
	for (unsigned n = 0; *end && n < KURA_COMMIT_BATCH; n++)
		end = &(*end)->next;
	c->head = *end;
	if (!c->head)
		c->tail = &c->head;
	*end = NULL;
	return batch;
}

static void *committer_main(void *arg)
{
	struct kura_committer *c = arg;
	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->head && !c->stop)
			pthread_cond_wait(&c->cv, &c->mu);
		if (!c->head)
			break; /* stopping, and everything is done */
		struct item *batch = take(c);
		pthread_mutex_unlock(&c->mu);
		commit_batch(c, batch);
		pthread_mutex_lock(&c->mu);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

int kura_committer_new(const char *dir, const char *pass, size_t passlen,
		       struct kura_committer **ret)
{
	struct kura_committer *c = calloc(1, sizeof(*c));
	*ret = NULL;
	if (!c)
		return KURA_ENOMEM;
	c->tail = &c->head;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	int r = kura_vault_open(dir, pass, passlen, 0, &c->v);
	if (!r)
		r = pthread_create(&c->th, NULL, committer_main, c) ? KURA_EINTERNAL : 0;
	c->started = !r;
	if (r) {
		kura_committer_free(c);
		return r;
	}
	*ret = c;
	return 0;
}

int kura_committer_submit(struct kura_committer *c, const struct kura_event *e,
			  const char *session, kura_commit_done done, void *ctx)
{
	struct item *it = malloc(sizeof(*it));
	if (!it)
		return KURA_ENOMEM;
	it->next = NULL;
	it->e = *e;
	snprintf(it->session, sizeof(it->session), "%s", session ? session : "");
	it->done = done;
	it->ctx = ctx;
	pthread_mutex_lock(&c->mu);
	*c->tail = it;
	c->tail = &it->next;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	return 0;
}

void kura_committer_free(struct kura_committer *c)
{
	if (!c)
		return;
	if (c->started) {
		pthread_mutex_lock(&c->mu);
		c->stop = 1;
		pthread_cond_signal(&c->cv);
		pthread_mutex_unlock(&c->mu);
		pthread_join(c->th, NULL);
	}
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	kura_vault_close(c->v);
	free(c);
}
