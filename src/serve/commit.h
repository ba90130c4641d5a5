/*
 * commit.h - group commit of audited reads for `kura serve`: one committer
 * thread with its own vault handle takes every read event that is waiting
 * (up to KURA_COMMIT_BATCH), appends them and touches their sessions (each
 * once) in one transaction - one signed tree head, one fsync - and then
 * tells each submitter the outcome.  Events submitted during a commit form
 * the next batch.  A read's content is sent only after its event's
 * completion said 0 (server.c).
 */
#ifndef KURA_SERVE_COMMIT_H
#define KURA_SERVE_COMMIT_H

#include <stddef.h>

#include "auth/auth.h"

#define KURA_COMMIT_BATCH 512

struct kura_committer;

/* Called on the committer thread once: result 0 when the event is durable,
 * else the error of the transaction (nothing of it was committed). */
typedef void (*kura_commit_done)(void *ctx, int result);

/* Open the vault in dir (its own handle) and start the thread. */
int kura_committer_new(const char *dir, const char *pass, size_t passlen,
		       struct kura_committer **ret);
/* Queue e (copied) and a touch of the session whose state key is session
 * ("" for none).  0, or an error (then done is never called). */
int kura_committer_submit(struct kura_committer *c, const struct kura_event *e,
			  const char *session, kura_commit_done done, void *ctx);
/* Commit and complete everything submitted, stop the thread, close the
 * vault; NULL is fine.  No submit may follow or run concurrently. */
void kura_committer_free(struct kura_committer *c);

#endif
