/*
 * report.h - audit search results and reports as text, JSON and CSV
 * (LG-01, LG-03; docs/internals/audit-query.md "Output").
 *
 * All functions append to out and never print.  Stored strings are never
 * copied raw: control characters (C0, DEL, C1), bidirectional overrides,
 * U+2028/2029 and invalid UTF-8 are escaped in every format, so a hostile
 * reason or terminal name cannot forge lines, move the cursor or reorder
 * text in a terminal or spreadsheet.  On error out may hold a partial result
 * (the caller discards it).  Errors: KURA_EINVAL (unknown fmt), KURA_ETOOBIG
 * (out's maximum), KURA_ENOMEM.
 */
#ifndef KURA_AUDIT_REPORT_H
#define KURA_AUDIT_REPORT_H

#include <stddef.h>

#include "ledger/event.h"
#include "util/buf.h"

enum kura_audit_fmt {
	KURA_AUDIT_TEXT = 0, /* one line per event for people; LF line ends */
	KURA_AUDIT_JSON = 1, /* an array of objects, every field; UTF-8 */
	KURA_AUDIT_CSV = 2,  /* RFC 4180 with a header row; CRLF line ends */
};

/*
 * Search results.  flags (from kura_anomaly_flags, n entries) may be NULL:
 * no flags shown.  japanese: Japanese column labels, outcome and flag names
 * in TEXT; JSON keys and the CSV header are the same in both languages so
 * that programs can read them.
 *   TEXT  a header line, then per event: local time (with its offset) and
 *         UTC, actor (role), action, outcome, patient, record@version,
 *         terminal/ip, reason, flags; "-" for an empty field.
 *   JSON  [{"leaf_index":..,"time_utc":..,"time_local":..,...,"flags":[..]}]
 *   CSV   header row, then one row per event; a cell beginning with
 *         = + - @ TAB or CR gets a leading ' (formula injection).
 */
int kura_audit_format(enum kura_audit_fmt fmt, const struct kura_event_row *rows, size_t n,
		      const unsigned *flags, int japanese, struct kura_buf *out);

/*
 * Who accessed this patient, when and why: rows whose patient_id is not
 * patient_id are skipped.  Per actor (sorted by actor): role, first and last
 * access, count per action, the distinct reasons given (up to 8), and
 * whether break-glass was used; then every event in time order.  flags as
 * in kura_audit_format(); NULL: computed with the default anomaly
 * configuration (no restricted-patient check).
 * CSV holds two tables, the summary and the events, separated by an empty
 * line; JSON is {"patient_id":..,"actors":[..],"events":[..]}.
 */
int kura_audit_report_patient(const char *patient_id, const struct kura_event_row *rows,
			      size_t n, const unsigned *flags, enum kura_audit_fmt fmt,
			      int japanese, struct kura_buf *out);

/*
 * What one user did: rows whose actor is not actor are skipped.  Count per
 * action, patients touched (count and sorted list), denied attempts
 * (outcome 4), off-hours and break-glass counts, then every event in time
 * order.  flags as for kura_audit_report_patient().
 * CSV: a key,value summary table, an empty line, the events table; JSON is
 * {"actor":..,"actions":{..},"patients":[..],...,"events":[..]}.
 */
int kura_audit_report_user(const char *actor, const struct kura_event_row *rows, size_t n,
			   const unsigned *flags, enum kura_audit_fmt fmt, int japanese,
			   struct kura_buf *out);

#endif
