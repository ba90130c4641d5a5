/*
 * export.h - audit events in the two formats a hospital SIEM takes: a FHIR R4
 * AuditEvent following IHE BALP (Basic Audit Log Patterns), and an IHE ATNA
 * message (DICOM PS3.15 Annex A.5 AuditMessage XML) for syslog (RFC 5424).
 *
 * Both are built from one struct kura_event_row (ledger/event.h) and one
 * mapping table, action -> DICOM EventID / EventTypeCode / EventActionCode
 * and FHIR type / subtype / BALP profile, so the two formats never disagree.
 * The table is public (kura_export_map_at) so that docs and tests can walk
 * it.  The transport (syslog over TLS) is not here; docs/formats/
 * audit-export.md describes both formats and what they leave out.
 */
#ifndef KURA_AUDIT_EXPORT_H
#define KURA_AUDIT_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ledger/event.h"
#include "util/buf.h"

/* Where the events come from.  Strings are borrowed; host must be non-empty. */
struct kura_export_site {
	const char *host;   /* the kura host name: AuditSourceID / source.observer */
	const char *site;   /* enterprise site id, may be "" */
	const char *log_id; /* hex ledger log id, may be "" */
};

/* One row of the mapping table.  Codes without a system are DICOM (DCM). */
struct kura_export_map {
	const char *action;   /* as in ledger/event.h: "read", "login", ... */
	char action_code;     /* EventActionCode / AuditEvent.action: C R U D E */
	const char *event_id; /* DCM EventID, e.g. "110110" (Patient Record) */
	const char *type_code; /* DCM EventTypeCode ("110122" Login) or NULL */
	const char *rest;     /* FHIR restful-interaction code or NULL */
	const char *balp;     /* BALP profile stem ("Read": IHE.BasicAudit.Read
	                       * or .PatientRead) or NULL */
};

/* The code system of kura's own action codes, carried next to the standard
 * codes in both formats so that the SIEM sees the exact action. */
#define KURA_EXPORT_ACTION_SYSTEM "urn:kura:audit-action"

/* Rows of the table, and row i (NULL past the end). */
size_t kura_export_map_count(void);
const struct kura_export_map *kura_export_map_at(size_t i);

/* The row of an action, or NULL if the action is not in the table.  The
 * exporters do not refuse unknown actions (an audit event must not be lost
 * because a new action has no row yet): they use kura_export_map_fallback(),
 * DCM 110100 Application Activity, action E. */
const struct kura_export_map *kura_export_map_find(const char *action);
const struct kura_export_map *kura_export_map_fallback(void);

/* The DCM EventID of an action ("110100" for unknown actions); never NULL. */
const char *kura_export_event_id(const char *action);

/* The display text of a DCM code of the table ("Patient Record"), or NULL. */
const char *kura_export_dcm_display(const char *code);

/* FHIR instant / xs:dateTime in the event's local time with its offset,
 * "2026-11-25T14:23:39.123456+09:00".  KURA_EINVAL if the year is outside
 * 1..9999 or the offset outside what FHIR allows (-13:59..+14:00). */
#define KURA_EXPORT_INSTANT 40
int kura_export_instant(int64_t time_us, int offset_min,
			char ret_out[KURA_EXPORT_INSTANT]);

/* Append s to out escaped for XML text and attribute values: & < > " ' as
 * entities, C0 control characters and DEL dropped.  KURA_EINVAL if s is not
 * valid UTF-8; KURA_ETOOBIG, KURA_ENOMEM from the buffer.  On error out
 * holds what it held before. */
int kura_export_xml_escape(struct kura_buf *out, const char *s);

/* The event as a FHIR R4 AuditEvent (a new reference for the caller to
 * json_decref), or NULL on out-of-memory or invalid input: NULL arguments,
 * an empty host or action, an outcome that is not 0/4/8/12, a time or offset
 * kura_export_instant() refuses, or a string that is not valid UTF-8. */
json_t *kura_export_fhir(const struct kura_event_row *row,
			 const struct kura_export_site *site);

/* Append the event as one line of DICOM PS3.15 A.5 AuditMessage XML (UTF-8,
 * no XML declaration, no newline) to out.  KURA_EINVAL for the invalid input
 * kura_export_fhir() refuses; KURA_ETOOBIG, KURA_ENOMEM from the buffer.  On
 * error out holds what it held before. */
int kura_export_atna(const struct kura_event_row *row,
		     const struct kura_export_site *site, struct kura_buf *out);

#endif
