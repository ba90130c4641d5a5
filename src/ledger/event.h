/*
 * event.h - the canonical bytes of an audit event: the ledger's second leaf
 * kind (leaf_type 0x02), next to record versions (leaf.h).
 *
 * Every access to the vault (login, read, search, write, account change,
 * verify, ...) becomes one such leaf, appended in the same store
 * transaction as the operation it records, so that an event cannot be
 * removed, altered or inserted without `kura verify` noticing (LG-02).  The
 * fields answer when, who, where, which information and what operation
 * (LG-01, LG-03); the clock's synchronisation state at the time is part of
 * the event (LG-04).  The encoding is specified in docs/formats/ledger.md §1b.
 */
#ifndef KURA_LEDGER_EVENT_H
#define KURA_LEDGER_EVENT_H

#include <stdint.h>

#include "util/buf.h"
#include "util/limits.h"

#define KURA_LEAF_AUDIT_EVENT 0x02 /* leaf_type */
#define KURA_EVENT_FORMAT 0x01

#define KURA_MAX_ACTION 32
#define KURA_MAX_ROLE 32
#define KURA_MAX_TERMINAL 255
#define KURA_MAX_ADDR 64  /* client IP address in text form */
#define KURA_MAX_CERTFP 64 /* SHA-256 fingerprint, lowercase hex */
#define KURA_MAX_QUERY 1024
#define KURA_MAX_DETAIL 1024

/* Outcome codes are FHIR AuditEvent.outcome's (so the export maps 1:1). */
enum kura_outcome {
	KURA_OUTCOME_SUCCESS = 0,
	KURA_OUTCOME_MINOR = 4,   /* refused: denied, invalid input, not found */
	KURA_OUTCOME_SERIOUS = 8, /* failed: an error on kura's side */
	KURA_OUTCOME_MAJOR = 12,  /* integrity failure (verify found damage) */
};

/* Severity is syslog's (RFC 5424 §6.2.1), used for forwarding and alerts. */
enum kura_severity {
	KURA_SEV_ALERT = 1, /* break-glass, emergency account, history rewrite */
	KURA_SEV_WARNING = 4, /* denied access, lockout, unsynchronised clock */
	KURA_SEV_NOTICE = 5,  /* account, role and configuration changes */
	KURA_SEV_INFO = 6,    /* ordinary accesses */
};

/* The clock as seen by adjtimex(2) when the event was made. */
enum kura_clock {
	KURA_CLOCK_UNKNOWN = 0,
	KURA_CLOCK_SYNCED = 1,
	KURA_CLOCK_UNSYNCED = 2,
};

/* A decoded audit event.  Strings are NUL-terminated; "" when not known. */
struct kura_event {
	int64_t time_us;          /* UTC, microseconds since the epoch */
	int16_t utc_offset_min;   /* the host's local offset then (JST: 540) */
	uint8_t clock;            /* enum kura_clock */
	uint8_t severity;         /* enum kura_severity */
	uint8_t outcome;          /* enum kura_outcome */
	char action[KURA_MAX_ACTION + 1];     /* "read", "login", ... (audit.h) */
	char actor[KURA_MAX_ID + 1];          /* account id; "" if unknown */
	char role[KURA_MAX_ROLE + 1];         /* the actor's role then */
	char terminal[KURA_MAX_TERMINAL + 1]; /* host and tty, or user agent */
	char client_ip[KURA_MAX_ADDR + 1];
	char cert_fp[KURA_MAX_CERTFP + 1];    /* client certificate, if any */
	char patient_id[KURA_MAX_ID + 1];
	char record_id[KURA_MAX_ID + 1];
	uint32_t version;                     /* 0 when not about a version */
	char query[KURA_MAX_QUERY + 1];       /* a search or list: its terms */
	char reason[KURA_MAX_REASON + 1];     /* why (break-glass, amend, ...) */
	char detail[KURA_MAX_DETAIL + 1];     /* what changed, or why it failed */
};

/*
 * Actions (the `action` field), one word each, lowercase:
 *   sessions:  login, login-failed, logout, lockout, unlock, session-expired
 *   records:   read, search, list, write, confirm, retract, import, export,
 *              print, sign
 *   emergency: breakglass
 *   accounts:  account-add, account-change, account-disable, account-enable,
 *              password-change, password-reset, factor-enroll, factor-remove
 *   policy:    role-change, config-change, care-assign, care-end,
 *              patient-change, grant, revoke
 *   keys:      key-operation
 *   integrity: init, verify
 *   the trail: audit-search, audit-report, audit-review, audit-export,
 *              audit-forward
 * Exporters map each to DICOM/IHE and FHIR codes (audit/export.h).
 */

/* An event as stored: its place in the ledger and its fields. */
struct kura_event_row {
	uint64_t leaf_index;
	struct kura_event ev;
};

/* What an audit search selects; every set field must match.  Strings NULL
 * (or "") match anything; times are [from_us, to_us) in UTC microseconds. */
struct kura_event_filter {
	const char *patient_id;
	const char *actor;
	const char *action;
	int64_t from_us;     /* 0: from the beginning */
	int64_t to_us;       /* 0: no upper bound */
	int outcome;         /* -1: any, else an enum kura_outcome value */
	uint64_t min_leaf;   /* only events at leaf_index >= min_leaf */
	uint64_t limit;      /* 0: KURA_MAX_AUDIT_RESULTS */
};

/* Append the canonical encoding of e to out.  KURA_EINVAL if a field is out
 * of range (empty action, unknown outcome/severity/clock, NUL in a string,
 * invalid UTF-8, a string too long). */
int kura_event_encode(const struct kura_event *e, struct kura_buf *out);

/* Decode exactly one event from (p, len): trailing bytes, a wrong type or
 * format, or a malformed field give KURA_ECORRUPT. */
int kura_event_decode(const uint8_t *p, size_t len, struct kura_event *ret);

/* The leaf kind of encoded leaf bytes: KURA_LEAF_RECORD_VERSION,
 * KURA_LEAF_AUDIT_EVENT, or 0 if empty/unknown. */
int kura_leaf_kind(const uint8_t *p, size_t len);

#endif
