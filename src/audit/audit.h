/*
 * audit.h - making audit events (ledger/event.h) for what an actor does
 * (LG-01, LG-03, LG-04).
 *
 * An event says when (UTC, the host's local offset, and whether the clock
 * was synchronised: LG-04), who (account and role), where (terminal,
 * client address, certificate), what (patient, record, version, query),
 * the action, its outcome and a reason.  Events are appended with
 * kura_txn_event() in the transaction of the operation they record.
 */
#ifndef KURA_AUDIT_AUDIT_H
#define KURA_AUDIT_AUDIT_H

#include "ledger/event.h"

/* Who is acting and from where: filled by whoever authenticated them. */
struct kura_actor {
	char user[KURA_MAX_ID + 1];           /* "" before authentication */
	char role[KURA_MAX_ROLE + 1];
	char terminal[KURA_MAX_TERMINAL + 1]; /* "host tty" or a user agent */
	char client_ip[KURA_MAX_ADDR + 1];
	char cert_fp[KURA_MAX_CERTFP + 1];
};

/* The clock's synchronisation state now (adjtimex(2)): enum kura_clock. */
int kura_audit_clock_state(void);

/* The host's offset from UTC at time us, in minutes (JST: 540). */
int kura_audit_utc_offset(int64_t us);

/* Start an event: the time, offset and clock now, the actor's who and
 * where, action, and severity info / outcome success; the caller adds what
 * the event is about.  Strings are cut to their fields' sizes at a UTF-8
 * boundary; control characters become '?'. */
void kura_audit_event(struct kura_event *e, const struct kura_actor *a, const char *action);

/* Set a text field of an event the same way (dst is one of e's arrays). */
void kura_audit_set(char *dst, size_t cap, const char *src);

#define KURA_AUDIT_SET(field, src) kura_audit_set((field), sizeof(field), (src))

#endif
