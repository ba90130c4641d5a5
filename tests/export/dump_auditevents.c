/*
 * dump_auditevents.c - write one FHIR AuditEvent per action of the export
 * table, and some edge cases, into the directory argv[1], one JSON file
 * each, for validate_fhir.py to check against the FHIR R4 JSON schema.
 */
#include <stdio.h>
#include <string.h>

#include "audit/export.h"
#include "util/err.h"

#define COPY(dst, src) snprintf((dst), sizeof(dst), "%s", (src))

static const struct kura_export_site site = {"kura01.example.jp", "hosp-tokyo-01",
					     "9f86d081884c7d659a2feaa0c55ad015"};

/* A typical event of this action: the fields kura fills in for it. */
static void sample(struct kura_event_row *row, const struct kura_export_map *m, size_t i)
{
	struct kura_event *ev = &row->ev;
	memset(row, 0, sizeof(*row));
	row->leaf_index = 1000 + i;
	ev->time_us = 1795844455329737LL + (int64_t)i * 1000000;
	ev->utc_offset_min = 540;
	ev->clock = KURA_CLOCK_SYNCED;
	ev->severity = KURA_SEV_INFO;
	COPY(ev->action, m->action);
	COPY(ev->actor, "yamada");
	COPY(ev->role, "doctor");
	COPY(ev->terminal, "ws-12 pts/3");
	COPY(ev->client_ip, "192.0.2.10");
	if (m->rest && strcmp(m->rest, "search-type") == 0)
		COPY(ev->query, "patient=p-0001&type=note");
	else if (m->rest || strcmp(m->event_id, "110106") == 0)
		COPY(ev->record_id, "r-42");
	if (m->rest || strcmp(m->event_id, "110106") == 0)
		COPY(ev->patient_id, "p-0001");
	if (strcmp(m->action, "audit-search") == 0)
		COPY(ev->query, "actor=yamada from=2026-11-01");
	ev->version = *ev->record_id ? 3 : 0;
}

static int dump(const char *dir, const char *name, const struct kura_event_row *row)
{
	char path[4096];
	json_t *j = kura_export_fhir(row, &site);
	if (!j) {
		fprintf(stderr, "dump_auditevents: '%s' did not convert\n", name);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/%s.json", dir, name);
	int r = json_dump_file(j, path, JSON_INDENT(1));
	json_decref(j);
	if (r)
		fprintf(stderr, "dump_auditevents: cannot write '%s'\n", path);
	return r ? 1 : 0;
}

/* Edge cases: what a SIEM sees when fields are missing or unusual. */
static int dump_edges(const char *dir)
{
	struct kura_event_row row;
	int bad = 0;
	sample(&row, kura_export_map_find("read"), 900);
	row.ev.patient_id[0] = '\0';
	bad += dump(dir, "edge-no-patient", &row);
	sample(&row, kura_export_map_find("breakglass"), 901);
	COPY(row.ev.patient_id, "p-0002");
	COPY(row.ev.reason, "救急搬送、意識なし（山田太郎）");
	row.ev.severity = KURA_SEV_ALERT;
	bad += dump(dir, "edge-breakglass", &row);
	sample(&row, kura_export_map_find("read"), 902);
	row.ev.outcome = KURA_OUTCOME_MINOR;
	COPY(row.ev.detail, "denied: not in care team");
	bad += dump(dir, "edge-denied", &row);
	sample(&row, kura_export_map_find("retract"), 903);
	COPY(row.ev.reason, "患者取り違えのため取消 <\"'&>");
	bad += dump(dir, "edge-japanese-reason", &row);
	sample(&row, kura_export_map_find("login-failed"), 904);
	row.ev.actor[0] = row.ev.role[0] = row.ev.terminal[0] = '\0';
	row.ev.outcome = KURA_OUTCOME_MINOR;
	row.ev.utc_offset_min = -300;
	COPY(row.ev.detail, "unknown account 'x\x0b\x01y'");
	bad += dump(dir, "edge-unknown-user", &row);
	sample(&row, kura_export_map_find("verify"), 905);
	row.ev.outcome = KURA_OUTCOME_MAJOR;
	row.ev.terminal[0] = row.ev.client_ip[0] = '\0';
	COPY(row.ev.cert_fp, "5f2b6c3a9e0d4b1c8a7f6e5d4c3b2a1908f7e6d5c4b3a2918f7e6d5c4b3a2910");
	bad += dump(dir, "edge-integrity-failure", &row);
	sample(&row, kura_export_map_find("write"), 906);
	row.ev.version = 1;
	bad += dump(dir, "edge-write-first-version", &row);
	sample(&row, kura_export_map_find("read"), 907);
	COPY(row.ev.action, "future-action");
	bad += dump(dir, "edge-unknown-action", &row);
	return bad;
}

int main(int argc, char **argv)
{
	char name[64];
	int bad = 0;
	if (argc != 2) {
		fprintf(stderr, "usage: dump_auditevents DIR\n");
		return 2;
	}
	for (size_t i = 0; i < kura_export_map_count(); i++) {
		struct kura_event_row row;
		const struct kura_export_map *m = kura_export_map_at(i);
		sample(&row, m, i);
		snprintf(name, sizeof(name), "%02zu-%s", i, m->action);
		bad += dump(argv[1], name, &row);
	}
	bad += dump_edges(argv[1]);
	return bad ? 1 : 0;
}
