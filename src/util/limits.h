/*
 * limits.h - every limit on user-controlled input, in one place
 * (STYLE.md rule 11, ARCHITECTURE.md "every external input has a limit").
 */
#ifndef KURA_UTIL_LIMITS_H
#define KURA_UTIL_LIMITS_H

/* Content of one record version (plaintext). */
#define KURA_MAX_CONTENT (64u * 1024 * 1024)
/* A file given to `kura import` (NDJSON or a Bundle). */
#define KURA_MAX_IMPORT_FILE (1024u * 1024 * 1024)
/* One NDJSON line: room for KURA_MAX_CONTENT as base64. */
#define KURA_MAX_NDJSON_LINE (KURA_MAX_CONTENT / 3 * 4 + 8192u)
/* Records in one import file (NDJSON lines or Bundle entries). */
#define KURA_MAX_IMPORT_RECORDS 1000000u
/* A FHIR Bundle file given to import. */
#define KURA_MAX_BUNDLE_FILE (256u * 1024 * 1024)
/* Entries in one Bundle. */
#define KURA_MAX_BUNDLE_ENTRIES 100000u
/* Nesting depth of JSON documents we parse. */
#define KURA_MAX_JSON_DEPTH 64u
/* Identifiers: patient id, record id, user name (FHIR id rule: 1..64). */
#define KURA_MAX_ID 64u
/* Record type and content type strings. */
#define KURA_MAX_TYPE 127u
/* The reason text of a version. */
#define KURA_MAX_REASON 4096u
/* An encoded ledger leaf (a version's or an event's) is never longer. */
#define KURA_MAX_LEAF 16384u
/* A passphrase. */
#define KURA_MAX_PASSPHRASE 1024u
/* Proof and tree-head files read by verify-proof and verify --against. */
#define KURA_MAX_PROOF_FILE (1024u * 1024)
/* Records committed per transaction (one fsync, one signed tree head) by
 * `kura import`; a FHIR transaction Bundle is always one transaction. */
#define KURA_IMPORT_BATCH 1000u
/* ... and at most this much content per transaction (bounds the memory a
 * batch of large documents takes while it is sealed). */
#define KURA_IMPORT_BATCH_BYTES (64u * 1024 * 1024)
/* How long a writer waits for another writer before KURA_EBUSY (ms). */
#define KURA_BUSY_TIMEOUT_MS 30000

/* Identity and audit (issue 3). */
/* A credentials file or a client certificate / key PEM file. */
#define KURA_MAX_CREDFILE 65536u
#define KURA_MAX_CERTFILE 65536u
/* A password (bytes); shorter than the passphrase limit on purpose. */
#define KURA_MAX_PASSWORD 256u
/* A display name and a department name. */
#define KURA_MAX_NAME 128u
#define KURA_MAX_DEPT 64u
/* Departments one account or patient belongs to. */
#define KURA_MAX_DEPTS 16u
/* One audit query string (kura audit search terms). */
#define KURA_MAX_AUDIT_QUERY 4096u
/* Events one audit search or report returns (more: narrow the window). */
#define KURA_MAX_AUDIT_RESULTS 1000000u
/* One syslog message (RFC 5425 says receivers must take 2048, should 8192). */
#define KURA_MAX_SYSLOG_MSG 65536u
/* A key of a mutable-state row ("user/patient" pairs fit). */
#define KURA_MAX_STATE_KEY 160u
/* A permission rule list of one role. */
#define KURA_MAX_ROLE_RULES 4096u

#endif
