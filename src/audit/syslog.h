/*
 * syslog.h - the audit trail to a SIEM: IHE ATNA messages as syslog
 * (RFC 5424) over TLS (RFC 5425), resumable from a per-receiver cursor.
 *
 * The queue is the ledger: every event is already durable there.  For each
 * receiver the caller keeps a cursor (the next leaf index to look at, the
 * next sequence number to give); kura_forward_run() sends from the cursor,
 * and saves it through the source's save() only after the receiver's TCP
 * stack has acknowledged a whole batch.  A failure resends from the saved
 * cursor with the same sequence numbers, so a receiver sees every event, in
 * order, and can drop the duplicate a crash between send and save may cause.
 * The layout and the argument are in docs/formats/syslog.md.
 */
#ifndef KURA_AUDIT_SYSLOG_H
#define KURA_AUDIT_SYSLOG_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/tls.h"
#include "ledger/event.h"
#include "util/buf.h"

/* RFC 5424 §6.2.1: security/authorization, as DICOM PS3.15 A.6 and IHE ITI
 * TF-2 §3.20.4.1.2 require for ATNA. */
#define KURA_SYSLOG_FACILITY 10
/* IHE ITI TF-2 §3.20.4.1.2 (Record Audit Event [ITI-20]). */
#define KURA_SYSLOG_MSGID_ATNA "IHE+RFC-3881"
/* RFC 5612: the enterprise number set aside for documentation. */
#define KURA_SYSLOG_SDID "kura@32473"
/* RFC 5424 §7.3.1: sequenceId runs 1..2147483647, then starts at 1 again. */
#define KURA_SYSLOG_SEQ_MAX 2147483647u
/* Events per batch: the default and the most kura_forward_run() accepts. */
#define KURA_FORWARD_BATCH 100u
#define KURA_MAX_FORWARD_BATCH 10000u

/* One message.  Header strings NULL or "" are written as "-" (NILVALUE). */
struct kura_syslog_msg {
	int64_t time_us;	/* UTC, microseconds since the epoch */
	int16_t utc_offset_min; /* written as the TIMESTAMP's offset */
	uint8_t severity;	/* 0..7 (RFC 5424 §6.2.1) */
	const char *hostname;	/* <= 255 printable US-ASCII, no space */
	const char *app_name;	/* <= 48 */
	const char *procid;	/* <= 128 */
	const char *msgid;	/* <= 32; NULL: KURA_SYSLOG_MSGID_ATNA */
	uint64_t sequence;	/* 0: no [meta]; else wrapped into 1..SEQ_MAX */
	uint64_t leaf_index;	/* [kura@32473 leaf=] */
	const char *log_id;	/* [kura@32473 log=]; NULL/"": left out */
	const uint8_t *body;	/* MSG, UTF-8; written after a BOM */
	size_t body_len;
};

/*
 * Append one SYSLOG-MSG to out:
 *   <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID
 *     [meta sequenceId="N"][kura@32473 leaf="L" log="..."] BOM MSG
 * PRI = 10 * 8 + severity; TIMESTAMP in the event's offset with
 * microseconds.  KURA_EINVAL for a header field that breaks RFC 5424
 * (too long, a space or a non-ASCII byte), a severity over 7, a time outside
 * years 0001..9999, or a body that is not UTF-8; KURA_ETOOBIG if the message
 * would exceed KURA_MAX_SYSLOG_MSG or out's maximum.  out is unchanged on
 * error.
 */
int kura_syslog_format(const struct kura_syslog_msg *m, struct kura_buf *out);

/* Append "MSG-LEN SP SYSLOG-MSG" (RFC 5425 §4.3, octet counting) to out.
 * KURA_ETOOBIG past out's maximum (out unchanged). */
int kura_syslog_frame(const uint8_t *msg, size_t len, struct kura_buf *out);

/* Append `escaped` as an SD-PARAM value: '"', '\' and ']' get a backslash
 * (RFC 5424 §6.3.3).  KURA_EINVAL if s is not UTF-8. */
int kura_syslog_sd_escape(const char *s, struct kura_buf *out);

/* Where the events come from and where the cursor is kept.  Every callback
 * returns 0 or a negative KURA_E* code. */
struct kura_forward_source {
	/* The first event with leaf_index >= from_leaf, or KURA_ENOTFOUND. */
	int (*next)(void *ctx, uint64_t from_leaf, struct kura_event_row *ret);
	/* Append the MSG body (the ATNA XML) of row to body. */
	int (*format)(void *ctx, const struct kura_event_row *row, struct kura_buf *body);
	/* Persist the cursor durably (fsync'ed) before returning 0. */
	int (*save)(void *ctx, uint64_t next_leaf, uint64_t next_seq);
	void *ctx;
};

struct kura_forward_opts {
	const char *hostname;	     /* HOSTNAME of the messages; NULL: "-" */
	const char *app_name;	     /* NULL: "kura" */
	const char *procid;	     /* NULL: "-" */
	const char *msgid;	     /* NULL: KURA_SYSLOG_MSGID_ATNA */
	const char *log_id;	     /* which ledger ([kura@32473 log=]); NULL: none */
	unsigned batch;		     /* events per batch; 0: KURA_FORWARD_BATCH */
	int follow;		     /* 0: once, return when the source has no more;
				 * 1: poll for new events until *stop */
	int poll_ms;		     /* follow: between polls; <= 0: 1000 */
	int64_t max_run_ms;	     /* return after this long; <= 0: no limit */
	int backoff_min_ms;	     /* first wait after a failure; <= 0: 100 */
	int backoff_max_ms;	     /* doubling up to this; <= 0: 5000 */
	int settle_ms;		     /* after each handshake, wait this long for the
				 * receiver to refuse us (rsyslog checks the
				 * peer's name after the handshake); 0: 200,
				 * < 0: not at all */
	volatile sig_atomic_t *stop; /* return soon once nonzero; may be NULL */
};

struct kura_forward_stats {
	uint64_t sent;	     /* events acknowledged and saved in this run */
	uint64_t batches;    /* batches acknowledged and saved */
	uint64_t reconnects; /* connections made after the first */
	uint64_t failures;   /* failed deliveries (each followed by a backoff) */
	int last_error;	     /* the last delivery failure, 0 if none */
	int drained;	     /* 1 if the source had nothing more when we returned */
	uint64_t next_leaf;  /* the cursor as last saved (or as given) */
	uint64_t next_seq;
};

/*
 * Forward events from the cursor (next_leaf, next_seq; a new receiver
 * starts at 0, 1) to the receiver cfg describes, a batch at a time: check
 * the connection (reconnect if the peer closed it), send the batch, wait
 * until the receiver's TCP stack has acknowledged all of it
 * (kura_tls_drain), and only then save the cursor past the batch.  On any
 * delivery failure: close, back off (doubling from backoff_min_ms to
 * backoff_max_ms), reconnect and resend from the saved cursor, with the same
 * sequence numbers.
 *
 * Returns 0 when the source is drained (once), when *stop is set, or when
 * max_run_ms ends without an outstanding failure.  Returns the last delivery
 * error when max_run_ms ends while delivery was failing: KURA_EIO (receiver
 * down, reset, timeout), KURA_ECRYPTO (server certificate or handshake),
 * KURA_EDENIED (the receiver dropped us right after the handshake: our
 * certificate's name is not permitted).  Returns at once, without retrying:
 * KURA_EINVAL for bad arguments or an unusable cfg (missing or mismatched
 * certificate/key files), KURA_ENOMEM, any error from the source's
 * callbacks other than next()'s KURA_ENOTFOUND, and the error of a message
 * kura_syslog_format() refuses -- the forwarder never skips an event.  *ret
 * is filled in every case; ret->next_leaf/next_seq is the saved cursor.
 */
int kura_forward_run(const struct kura_tls_config *cfg,
		     const struct kura_forward_source *src, uint64_t next_leaf,
		     uint64_t next_seq, const struct kura_forward_opts *o,
		     struct kura_forward_stats *ret);

#endif
