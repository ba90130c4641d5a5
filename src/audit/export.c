/* export.c - audit events as FHIR R4 AuditEvent (IHE BALP) and as DICOM
 * PS3.15 A.5 AuditMessage XML (IHE ATNA), from one mapping table. */
#include "audit/export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/err.h"
#include "util/utf8.h"
#include "util/banned.h"

#define DCM_SYS "http://dicom.nema.org/resources/ontology/DCM"
#define AET_SYS "http://terminology.hl7.org/CodeSystem/audit-event-type"
#define REST_SYS "http://hl7.org/fhir/restful-interaction"
#define ENT_TYPE_SYS "http://terminology.hl7.org/CodeSystem/audit-entity-type"
#define OBJ_ROLE_SYS "http://terminology.hl7.org/CodeSystem/object-role"
#define PART_SYS "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
#define SRC_SYS "http://terminology.hl7.org/CodeSystem/security-source-type"
#define REASON_SYS "http://terminology.hl7.org/CodeSystem/v3-ActReason"
#define REASON_OID "2.16.840.1.113883.5.8" /* v3 ActReason, for DICOM */
#define ROLE_SYS "urn:kura:role"
#define BALP_BASE "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit."

/*
 * Every action of ledger/event.h.  DICOM EventIDs are CID 400, EventTypeCodes
 * CID 401..403 (PS3.16).  Account and policy changes are Security Alerts
 * (110113) whose type says what changed, as PS3.15 A.5.3.11 has it; record
 * operations carry the FHIR RESTful interaction BALP profiles key on.
 */
static const struct kura_export_map export_map[] = {
	/* sessions */
	{"login", 'E', "110114", "110122", NULL, NULL},
	{"login-failed", 'E', "110114", "110122", NULL, NULL},
	{"logout", 'E', "110114", "110123", NULL, NULL},
	{"lockout", 'E', "110113", "110137", NULL, NULL},
	{"unlock", 'E', "110113", "110137", NULL, NULL},
	{"session-expired", 'E', "110114", "110123", NULL, NULL},
	/* records; "write" of a version after the first is an update */
	{"read", 'R', "110110", NULL, "read", "Read"},
	{"search", 'E', "110112", NULL, "search-type", "Query"},
	{"list", 'E', "110112", NULL, "search-type", "Query"},
	{"write", 'C', "110110", NULL, "create", "Create"},
	{"confirm", 'U', "110110", NULL, "update", "Update"},
	{"retract", 'D', "110110", NULL, "delete", "Delete"},
	{"import", 'C', "110107", NULL, "create", "Create"},
	{"export", 'R', "110106", NULL, NULL, NULL},
	{"print", 'R', "110106", NULL, NULL, NULL},
	{"sign", 'U', "110110", NULL, "update", "Update"},
	/* emergency */
	{"breakglass", 'E', "110113", "110127", NULL, NULL},
	/* accounts */
	{"account-add", 'E', "110113", "110137", NULL, NULL},
	{"account-change", 'E', "110113", "110137", NULL, NULL},
	{"account-disable", 'E', "110113", "110137", NULL, NULL},
	{"account-enable", 'E', "110113", "110137", NULL, NULL},
	{"password-change", 'E', "110113", "110137", NULL, NULL},
	{"password-reset", 'E', "110113", "110137", NULL, NULL},
	{"factor-enroll", 'E', "110113", "110137", NULL, NULL},
	{"factor-remove", 'E', "110113", "110137", NULL, NULL},
	/* policy */
	{"role-change", 'E', "110113", "110136", NULL, NULL},
	{"config-change", 'E', "110113", "110129", NULL, NULL},
	{"care-assign", 'E', "110113", "110135", NULL, NULL},
	{"care-end", 'E', "110113", "110135", NULL, NULL},
	{"patient-change", 'E', "110113", "110135", NULL, NULL},
	{"grant", 'E', "110113", "110136", NULL, NULL},
	{"revoke", 'E', "110113", "110136", NULL, NULL},
	/* keys */
	{"key-operation", 'E', "110113", "110129", NULL, NULL},
	/* integrity */
	{"init", 'E', "110100", "110120", NULL, NULL},
	{"verify", 'E', "110100", NULL, NULL, NULL},
	/* the trail itself */
	{"audit-search", 'R', "110101", NULL, NULL, NULL},
	{"audit-report", 'R', "110101", NULL, NULL, NULL},
	{"audit-review", 'R', "110101", NULL, NULL, NULL},
	{"audit-export", 'R', "110106", NULL, NULL, NULL},
	{"audit-forward", 'R', "110106", NULL, NULL, NULL},
};

static const struct kura_export_map fallback_map = {"", 'E', "110100", NULL, NULL, NULL};

static const struct {
	const char *code, *display;
} dcm_names[] = {
	{"110100", "Application Activity"}, {"110101", "Audit Log Used"},
	{"110106", "Export"}, {"110107", "Import"},
	{"110110", "Patient Record"}, {"110112", "Query"},
	{"110113", "Security Alert"}, {"110114", "User Authentication"},
	{"110120", "Application Start"}, {"110122", "Login"},
	{"110123", "Logout"}, {"110127", "Emergency Override Started"},
	{"110129", "Security Configuration"},
	{"110135", "Object Security Attributes Changed"},
	{"110136", "Security Roles Changed"},
	{"110137", "User Security Attributes Changed"},
	{"110152", "Destination Role ID"}, {"110153", "Source Role ID"},
};

size_t kura_export_map_count(void)
{
	return sizeof(export_map) / sizeof(export_map[0]);
}

const struct kura_export_map *kura_export_map_at(size_t i)
{
	return i < kura_export_map_count() ? &export_map[i] : NULL;
}

const struct kura_export_map *kura_export_map_find(const char *action)
{
	for (size_t i = 0; action && i < kura_export_map_count(); i++)
		if (strcmp(export_map[i].action, action) == 0)
			return &export_map[i];
	return NULL;
}

const struct kura_export_map *kura_export_map_fallback(void)
{
	return &fallback_map;
}

const char *kura_export_event_id(const char *action)
{
	const struct kura_export_map *m = kura_export_map_find(action);
	return m ? m->event_id : fallback_map.event_id;
}

const char *kura_export_dcm_display(const char *code)
{
	for (size_t i = 0; code && i < sizeof(dcm_names) / sizeof(dcm_names[0]); i++)
		if (strcmp(dcm_names[i].code, code) == 0)
			return dcm_names[i].display;
	return NULL;
}

/* Years 1..9999 in microseconds, so shifting by the offset cannot overflow. */
#define MIN_US (-62135596800LL * 1000000)
#define MAX_US (253402300799LL * 1000000 + 999999)

int kura_export_instant(int64_t time_us, int offset_min, char ret_out[KURA_EXPORT_INSTANT])
{
	ret_out[0] = '\0';
	if (offset_min < -(13 * 60 + 59) || offset_min > 14 * 60 || time_us < MIN_US ||
	    time_us > MAX_US)
		return KURA_EINVAL;
	int64_t local = time_us + (int64_t)offset_min * 60 * 1000000;
	int64_t frac = local % 1000000;
	if (frac < 0)
		frac += 1000000;
	time_t sec = (time_t)((local - frac) / 1000000);
	struct tm tm;
	if (!gmtime_r(&sec, &tm) || tm.tm_year + 1900 < 1 || tm.tm_year + 1900 > 9999)
		return KURA_EINVAL;
	int a = offset_min < 0 ? -offset_min : offset_min;
	/* The modulos are no-ops that tell the compiler the text fits. */
	snprintf(ret_out, KURA_EXPORT_INSTANT, "%04u-%02u-%02uT%02u:%02u:%02u.%06u%c%02u:%02u",
		 (unsigned)(tm.tm_year + 1900) % 10000u, (unsigned)(tm.tm_mon + 1) % 100u,
		 (unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u,
		 (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u,
		 (unsigned)frac % 1000000u, offset_min < 0 ? '-' : '+', (unsigned)a / 60 % 100u,
		 (unsigned)a % 60u);
	return 0;
}

/* ---- input checks, shared by both formats ---- */

static int utf8_ok(const char *s)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t n = strlen(s);
	for (size_t i = 0; i < n;) {
		size_t k = p[i] < 0x80 ? 1 : kura_utf8_seq_len(p + i, n - i);
		if (k == 0)
			return 0;
		i += k;
	}
	return 1;
}

/* A FHIR code: non-empty, no whitespace or control characters. */
static int code_ok(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

static int hex_ok(const char *s)
{
	for (; *s; s++)
		if (kura_hex_digit((unsigned char)*s) < 0)
			return 0;
	return 1;
}

/* Drop control characters but tab and line breaks (FHIR strings may hold
 * those; the XML writer drops them too, keeping a message on one line). */
static void strip_controls(char *s)
{
	char *w = s;
	for (; *s; s++)
		if ((unsigned char)*s >= 0x20 ? *s != 0x7f : (*s == '\t' || *s == '\n' || *s == '\r'))
			*w++ = *s;
	*w = '\0';
}

static int clean_field(char *s, size_t size)
{
	s[size - 1] = '\0';
	if (!utf8_ok(s))
		return KURA_EINVAL;
	strip_controls(s);
	return 0;
}

static int clean_event(struct kura_event *ev)
{
	struct {
		char *p;
		size_t n;
	} f[] = {
		{ev->action, sizeof(ev->action)}, {ev->actor, sizeof(ev->actor)},
		{ev->role, sizeof(ev->role)}, {ev->terminal, sizeof(ev->terminal)},
		{ev->client_ip, sizeof(ev->client_ip)}, {ev->cert_fp, sizeof(ev->cert_fp)},
		{ev->patient_id, sizeof(ev->patient_id)}, {ev->record_id, sizeof(ev->record_id)},
		{ev->query, sizeof(ev->query)}, {ev->reason, sizeof(ev->reason)},
		{ev->detail, sizeof(ev->detail)},
	};
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (clean_field(f[i].p, f[i].n) < 0)
			return KURA_EINVAL;
	return 0;
}

static int outcome_ok(unsigned o)
{
	return o == KURA_OUTCOME_SUCCESS || o == KURA_OUTCOME_MINOR ||
	       o == KURA_OUTCOME_SERIOUS || o == KURA_OUTCOME_MAJOR;
}

static int site_ok(const struct kura_export_site *site)
{
	return site && site->host && utf8_ok(site->host) && code_ok(site->host) &&
	       (!site->site || kura_utf8_text_valid(site->site)) &&
	       (!site->log_id || hex_ok(site->log_id));
}

static void resolve_map(const struct kura_event *ev, struct kura_export_map *ret)
{
	const struct kura_export_map *m = kura_export_map_find(ev->action);
	*ret = m ? *m : fallback_map;
	ret->action = ev->action;
	if (strcmp(ev->action, "write") == 0 && ev->version > 1) {
		ret->action_code = 'U';
		ret->rest = "update";
		ret->balp = "Update";
	}
}

/* What both formats need: a cleaned copy of the event, its table row, and
 * its time as text. */
struct prepared {
	struct kura_event ev;
	struct kura_export_map map;
	char when[KURA_EXPORT_INSTANT];
	const char *site;
	const char *log_id;
};

static int prepare(const struct kura_event_row *row, const struct kura_export_site *site,
		   struct prepared *ret)
{
	if (!row || !site_ok(site))
		return KURA_EINVAL;
	ret->ev = row->ev;
	if (clean_event(&ret->ev) < 0 || !code_ok(ret->ev.action) ||
	    !outcome_ok(ret->ev.outcome))
		return KURA_EINVAL;
	if (kura_export_instant(ret->ev.time_us, ret->ev.utc_offset_min, ret->when) < 0)
		return KURA_EINVAL;
	resolve_map(&ret->ev, &ret->map);
	ret->site = site->site ? site->site : "";
	ret->log_id = site->log_id ? site->log_id : "";
	return 0;
}

/* ---- the objects (entities) an event is about ---- */

enum obj_kind { OBJ_PATIENT, OBJ_RECORD, OBJ_QUERY };

struct obj {
	enum obj_kind kind;
	const char *id;
	const char *type, *type_text;     /* audit-entity-type / ParticipantObjectTypeCode */
	const char *role, *role_text;     /* object-role / ParticipantObjectTypeCodeRole */
	const char *idtype, *idtype_text; /* RFC 3881 ParticipantObjectIDTypeCode */
	const char *query;                /* "" if none */
	uint32_t version;                 /* 0 if none */
	const char *reason;               /* "" if none; XML only (FHIR has
					   * purposeOfEvent) */
};

static size_t collect_objects(const struct kura_event *ev, struct obj out[3])
{
	size_t n = 0;
	if (*ev->patient_id)
		out[n++] = (struct obj){OBJ_PATIENT, ev->patient_id, "1", "Person", "1",
					"Patient", "2", "Patient Number", "", 0, ""};
	if (*ev->record_id)
		out[n++] = (struct obj){OBJ_RECORD, ev->record_id, "2", "System Object", "4",
					"Domain Resource", "9", "Report Number", "",
					ev->version, ""};
	if (*ev->query)
		out[n++] = (struct obj){OBJ_QUERY, ev->action, "2", "System Object", "24",
					"Query", "10", "Search Criteria", ev->query, 0, ""};
	/* The reason goes with the most specific object: the record if any. */
	if (n > 0)
		out[n > 1 && out[1].kind == OBJ_RECORD ? 1 : 0].reason = ev->reason;
	return n;
}

static int b64_append(struct kura_buf *b, const char *s)
{
	static const char a[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const uint8_t *p = (const uint8_t *)s;
	size_t n = strlen(s);
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
			     (i + 2 < n ? p[i + 2] : 0);
		char q[4] = {a[v >> 18], a[v >> 12 & 63], i + 1 < n ? a[v >> 6 & 63] : '=',
			     i + 2 < n ? a[v & 63] : '='};
		r = kura_buf_append(b, q, 4);
	}
	return r;
}

/* The client agent / participant: the terminal, its address, its certificate. */
static const char *client_name(const struct kura_event *ev)
{
	return *ev->terminal ? ev->terminal : *ev->client_ip ? ev->client_ip : ev->cert_fp;
}

static int is_breakglass(const struct kura_event *ev)
{
	return strcmp(ev->action, "breakglass") == 0;
}

/* ================= FHIR R4 AuditEvent ================= */

static json_t *coding(const char *system, const char *code, const char *display)
{
	return json_pack("{s:s, s:s, s:s*}", "system", system, "code", code, "display",
			 display);
}

static json_t *dcm_coding(const char *code)
{
	return coding(DCM_SYS, code, kura_export_dcm_display(code));
}

/* Steal v into o[k] or a[]; a NULL v (failed allocation) is an error. */
static int put(json_t *o, const char *k, json_t *v)
{
	return json_object_set_new(o, k, v) == 0 ? 0 : KURA_ENOMEM;
}

static int push(json_t *a, json_t *v)
{
	return json_array_append_new(a, v) == 0 ? 0 : KURA_ENOMEM;
}

static json_t *one(json_t *v)
{
	json_t *a = json_array();
	if (a && push(a, v) < 0) {
		json_decref(a);
		return NULL;
	}
	if (!a)
		json_decref(v);
	return a;
}

static json_t *fhir_subtype(const struct prepared *p)
{
	json_t *a = json_array();
	int r = a ? 0 : KURA_ENOMEM;
	if (r == 0 && p->map.rest)
		r = push(a, coding(REST_SYS, p->map.rest, NULL));
	if (r == 0 && p->map.type_code)
		r = push(a, dcm_coding(p->map.type_code));
	if (r == 0)
		r = push(a, coding(KURA_EXPORT_ACTION_SYSTEM, p->ev.action, NULL));
	if (r < 0) {
		json_decref(a);
		return NULL;
	}
	return a;
}

/* BALP's basic profiles describe a successful RESTful operation on data, with
 * the client known; the query profiles need the query itself. */
static int balp_fits(const struct prepared *p)
{
	const struct kura_event *ev = &p->ev;
	if (!p->map.balp || ev->outcome != KURA_OUTCOME_SUCCESS || !*client_name(ev))
		return 0;
	if (strcmp(p->map.balp, "Query") == 0)
		return *ev->query != '\0';
	return *ev->record_id != '\0';
}

static json_t *fhir_meta(const struct prepared *p)
{
	char profile[128] = "", source[160] = "";
	if (balp_fits(p))
		snprintf(profile, sizeof(profile), BALP_BASE "%s%s",
			 *p->ev.patient_id ? "Patient" : "", p->map.balp);
	if (*p->log_id)
		snprintf(source, sizeof(source), "urn:kura:ledger:%.64s", p->log_id);
	if (!*profile && !*source)
		return json_object();
	return json_pack("{s:s*, s:o*}", "source", *source ? source : NULL, "profile",
			 *profile ? json_pack("[s]", profile) : NULL);
}

static json_t *purpose(const struct kura_event *ev)
{
	json_t *c = json_pack("{s:s*}", "text", *ev->reason ? ev->reason : NULL);
	if (c && is_breakglass(ev) &&
	    put(c, "coding", one(coding(REASON_SYS, "BTG", "break the glass"))) < 0) {
		json_decref(c);
		return NULL;
	}
	return c;
}

static json_t *fhir_network(const struct kura_event *ev)
{
	return json_pack("{s:s, s:s}", "address", ev->client_ip, "type", "2");
}

static json_t *fhir_user(const struct prepared *p)
{
	const struct kura_event *ev = &p->ev;
	int reads = p->map.action_code == 'R' || p->map.action_code == 'E';
	json_t *who = *ev->actor ? json_pack("{s:{s:s}}", "identifier", "value", ev->actor)
				 : json_pack("{s:s}", "display", "unknown user");
	json_t *a = json_pack("{s:{s:[o]}, s:o, s:b}", "type", "coding",
			      coding(PART_SYS, reads ? "IRCP" : "AUT",
				     reads ? "information recipient" : "author"),
			      "who", who, "requestor", 1);
	int r = a ? 0 : KURA_ENOMEM;
	if (r == 0 && *ev->role)
		r = put(a, "role", one(code_ok(ev->role) ? json_pack("{s:[o], s:s}", "coding",
				coding(ROLE_SYS, ev->role, NULL), "text", ev->role)
				: json_pack("{s:s}", "text", ev->role)));
	if (r == 0 && *ev->client_ip)
		r = put(a, "network", fhir_network(ev));
	if (r == 0 && is_breakglass(ev))
		r = put(a, "purposeOfUse", one(purpose(ev)));
	if (r < 0) {
		json_decref(a);
		return NULL;
	}
	return a;
}

static json_t *fhir_client(const struct kura_event *ev)
{
	json_t *a = json_pack("{s:{s:[o]}, s:{s:s}, s:b}", "type", "coding",
			      dcm_coding("110153"), "who", "display", client_name(ev),
			      "requestor", 0);
	int r = a ? 0 : KURA_ENOMEM;
	if (r == 0 && *ev->cert_fp)
		r = put(a, "altId", json_string(ev->cert_fp));
	if (r == 0 && *ev->client_ip)
		r = put(a, "network", fhir_network(ev));
	if (r < 0) {
		json_decref(a);
		return NULL;
	}
	return a;
}

static json_t *fhir_agents(const struct prepared *p, const char *host)
{
	json_t *a = json_array();
	int r = a ? push(a, fhir_user(p)) : KURA_ENOMEM;
	if (r == 0 && *client_name(&p->ev))
		r = push(a, fhir_client(&p->ev));
	if (r == 0)
		r = push(a, json_pack("{s:{s:[o]}, s:{s:s}, s:b}", "type", "coding",
				      dcm_coding("110152"), "who", "display", host,
				      "requestor", 0));
	if (r < 0) {
		json_decref(a);
		return NULL;
	}
	return a;
}

static json_t *fhir_source(const struct prepared *p, const char *host)
{
	return json_pack("{s:s*, s:{s:s}, s:[o]}", "site", *p->site ? p->site : NULL,
			 "observer", "display", host, "type",
			 coding(SRC_SYS, "4", "Application Server"));
}

static json_t *fhir_what(const struct obj *o)
{
	if (o->kind == OBJ_PATIENT) {
		char ref[KURA_MAX_ID + 16];
		snprintf(ref, sizeof(ref), "Patient/%s", o->id);
		return json_pack("{s:s}", "reference", ref);
	}
	return json_pack("{s:{s:s}}", "identifier", "value", o->id);
}

static json_t *fhir_details(const struct obj *o)
{
	char v[16];
	json_t *a = json_array();
	int r = a ? 0 : KURA_ENOMEM;
	snprintf(v, sizeof(v), "%lu", (unsigned long)o->version);
	if (r == 0 && o->version)
		r = push(a, json_pack("{s:s, s:s}", "type", "version", "valueString", v));
	if (r < 0) {
		json_decref(a);
		return NULL;
	}
	return a;
}

static int fhir_entity_extras(json_t *e, const struct obj *o)
{
	struct kura_buf b;
	int r = 0;
	if (o->kind == OBJ_QUERY) {
		kura_buf_init(&b, 4 * KURA_MAX_QUERY);
		r = b64_append(&b, o->query);
		if (r == 0)
			r = put(e, "query", json_string((const char *)b.data));
		kura_buf_release(&b);
	} else {
		r = put(e, "what", fhir_what(o));
	}
	json_t *d = r == 0 ? fhir_details(o) : NULL;
	if (r == 0 && !d)
		r = KURA_ENOMEM;
	if (r == 0 && json_array_size(d) > 0)
		return put(e, "detail", d);
	json_decref(d);
	return r;
}

static json_t *fhir_entities(const struct kura_event *ev)
{
	struct obj objs[3];
	size_t n = collect_objects(ev, objs);
	json_t *a = json_array();
	int r = a ? 0 : KURA_ENOMEM;
	for (size_t i = 0; i < n && r == 0; i++) {
		json_t *e = json_pack("{s:o, s:o}", "type",
				      coding(ENT_TYPE_SYS, objs[i].type, objs[i].type_text),
				      "role",
				      coding(OBJ_ROLE_SYS, objs[i].role, objs[i].role_text));
		r = e ? fhir_entity_extras(e, &objs[i]) : KURA_ENOMEM;
		r = r == 0 ? push(a, e) : (json_decref(e), r);
	}
	if (r < 0) {
		json_decref(a);
		return NULL;
	}
	return a;
}

static int fhir_optional(json_t *j, const struct prepared *p)
{
	const struct kura_event *ev = &p->ev;
	int r = 0;
	json_t *ent = fhir_entities(ev);
	if (!ent)
		return KURA_ENOMEM;
	if (json_array_size(ent) > 0)
		r = put(j, "entity", ent);
	else
		json_decref(ent);
	if (r == 0 && *ev->detail)
		r = put(j, "outcomeDesc", json_string(ev->detail));
	if (r == 0 && (*ev->reason || is_breakglass(ev)))
		r = put(j, "purposeOfEvent", one(purpose(ev)));
	return r;
}

json_t *kura_export_fhir(const struct kura_event_row *row,
			 const struct kura_export_site *site)
{
	struct prepared *p = malloc(sizeof(*p));
	json_t *j = NULL;
	char id[32], outcome[4], action[2];
	if (!p || prepare(row, site, p) < 0)
		goto out;
	snprintf(id, sizeof(id), "kura-%llu", (unsigned long long)row->leaf_index);
	snprintf(outcome, sizeof(outcome), "%u", (unsigned)p->ev.outcome);
	action[0] = p->map.action_code;
	action[1] = '\0';
	j = json_pack("{s:s, s:s, s:o, s:o, s:o, s:s, s:s, s:s}", "resourceType",
		      "AuditEvent", "id", id, "meta", fhir_meta(p), "type",
		      p->map.rest ? coding(AET_SYS, "rest", "Restful Operation")
				  : dcm_coding(p->map.event_id),
		      "subtype", fhir_subtype(p), "action", action, "recorded", p->when,
		      "outcome", outcome);
	if (j && (put(j, "agent", fhir_agents(p, site->host)) < 0 ||
		  put(j, "source", fhir_source(p, site->host)) < 0 || fhir_optional(j, p) < 0)) {
		json_decref(j);
		j = NULL;
	}
	if (j && json_object_size(json_object_get(j, "meta")) == 0)
		json_object_del(j, "meta");
out:
	free(p);
	return j;
}

/* ================= DICOM PS3.15 A.5 AuditMessage ================= */

/* U+FFFE and U+FFFF are not XML characters. */
static int xml_nonchar(const uint8_t *p, size_t k)
{
	return k == 3 && p[0] == 0xef && p[1] == 0xbf && (p[2] == 0xbe || p[2] == 0xbf);
}

static int escape_byte(struct kura_buf *out, uint8_t c)
{
	switch (c) {
	case '&': return kura_buf_append_str(out, "&amp;");
	case '<': return kura_buf_append_str(out, "&lt;");
	case '>': return kura_buf_append_str(out, "&gt;");
	case '"': return kura_buf_append_str(out, "&quot;");
	case '\'': return kura_buf_append_str(out, "&apos;");
	default: return c < 0x20 || c == 0x7f ? 0 : kura_buf_append_byte(out, c);
	}
}

static void buf_truncate(struct kura_buf *b, size_t len)
{
	b->len = len;
	if (b->data)
		b->data[len] = '\0';
}

int kura_export_xml_escape(struct kura_buf *out, const char *s)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t n = strlen(s), start = out->len;
	int r = 0;
	for (size_t i = 0; i < n && r == 0;) {
		size_t k = p[i] < 0x80 ? 1 : kura_utf8_seq_len(p + i, n - i);
		if (k == 0)
			r = KURA_EINVAL;
		else if (k == 1)
			r = escape_byte(out, p[i]);
		else if (!xml_nonchar(p + i, k))
			r = kura_buf_append(out, p + i, k);
		i += k ? k : 1;
	}
	if (r < 0)
		buf_truncate(out, start);
	return r;
}

static int xml_attr(struct kura_buf *b, const char *name, const char *value)
{
	int r = kura_buf_printf(b, " %s=\"", name);
	if (r == 0)
		r = kura_export_xml_escape(b, value);
	return r ? r : kura_buf_append_byte(b, '"');
}

/* <elem csd-code=".." codeSystemName=".." originalText=".."/> (A.5.1's
 * CodedValueType); originalText is required there, so it falls back to the
 * code. */
static int xml_coded(struct kura_buf *b, const char *elem, const char *code,
		     const char *system, const char *text)
{
	int r = kura_buf_printf(b, "<%s", elem);
	if (r == 0)
		r = xml_attr(b, "csd-code", code);
	if (r == 0)
		r = xml_attr(b, "codeSystemName", system);
	if (r == 0)
		r = xml_attr(b, "originalText", text ? text : code);
	return r ? r : kura_buf_append_str(b, "/>");
}

static int xml_dcm(struct kura_buf *b, const char *elem, const char *code)
{
	return xml_coded(b, elem, code, "DCM", kura_export_dcm_display(code));
}

static int atna_outcome_desc(struct kura_buf *b, const char *detail)
{
	int r = kura_buf_append_str(b, "<EventOutcomeDescription>");
	if (r == 0)
		r = kura_export_xml_escape(b, detail);
	return r ? r : kura_buf_append_str(b, "</EventOutcomeDescription>");
}

static int atna_event(struct kura_buf *b, const struct prepared *p)
{
	const struct kura_event *ev = &p->ev;
	int r = kura_buf_printf(b, "<EventIdentification EventActionCode=\"%c\"",
				p->map.action_code);
	if (r == 0)
		r = xml_attr(b, "EventDateTime", p->when);
	if (r == 0)
		r = kura_buf_printf(b, " EventOutcomeIndicator=\"%u\">", (unsigned)ev->outcome);
	if (r == 0)
		r = xml_dcm(b, "EventID", p->map.event_id);
	if (r == 0 && p->map.type_code)
		r = xml_dcm(b, "EventTypeCode", p->map.type_code);
	if (r == 0)
		r = xml_coded(b, "EventTypeCode", ev->action, KURA_EXPORT_ACTION_SYSTEM, NULL);
	if (r == 0 && *ev->detail)
		r = atna_outcome_desc(b, ev->detail);
	if (r == 0 && is_breakglass(ev))
		r = xml_coded(b, "PurposeOfUse", "BTG", REASON_OID, "break the glass");
	return r ? r : kura_buf_append_str(b, "</EventIdentification>");
}

static int atna_network(struct kura_buf *b, const struct kura_event *ev)
{
	if (!*ev->client_ip)
		return 0;
	int r = xml_attr(b, "NetworkAccessPointID", ev->client_ip);
	return r ? r : kura_buf_append_str(b, " NetworkAccessPointTypeCode=\"2\"");
}

static int atna_user(struct kura_buf *b, const struct kura_event *ev)
{
	int r = kura_buf_append_str(b, "<ActiveParticipant");
	if (r == 0)
		r = xml_attr(b, "UserID", ev->actor);
	if (r == 0)
		r = kura_buf_append_str(b, " UserIsRequestor=\"true\"");
	if (r == 0)
		r = atna_network(b, ev);
	if (r == 0)
		r = kura_buf_append_byte(b, '>');
	if (r == 0 && *ev->role)
		r = xml_coded(b, "RoleIDCode", ev->role, ROLE_SYS, NULL);
	return r ? r : kura_buf_append_str(b, "</ActiveParticipant>");
}

static int atna_client(struct kura_buf *b, const struct kura_event *ev)
{
	if (!*client_name(ev))
		return 0;
	int r = kura_buf_append_str(b, "<ActiveParticipant");
	if (r == 0)
		r = xml_attr(b, "UserID", client_name(ev));
	if (r == 0 && *ev->cert_fp)
		r = xml_attr(b, "AlternativeUserID", ev->cert_fp);
	if (r == 0)
		r = kura_buf_append_str(b, " UserIsRequestor=\"false\"");
	if (r == 0)
		r = atna_network(b, ev);
	if (r == 0)
		r = kura_buf_append_byte(b, '>');
	if (r == 0)
		r = xml_dcm(b, "RoleIDCode", "110153");
	return r ? r : kura_buf_append_str(b, "</ActiveParticipant>");
}

static int atna_server(struct kura_buf *b, const char *host)
{
	int r = kura_buf_append_str(b, "<ActiveParticipant");
	if (r == 0)
		r = xml_attr(b, "UserID", host);
	if (r == 0)
		r = kura_buf_append_str(b, " UserIsRequestor=\"false\">");
	if (r == 0)
		r = xml_dcm(b, "RoleIDCode", "110152");
	return r ? r : kura_buf_append_str(b, "</ActiveParticipant>");
}

static int atna_source(struct kura_buf *b, const struct prepared *p, const char *host)
{
	int r = kura_buf_append_str(b, "<AuditSourceIdentification");
	if (r == 0 && *p->site)
		r = xml_attr(b, "AuditEnterpriseSiteID", p->site);
	if (r == 0)
		r = xml_attr(b, "AuditSourceID", host);
	if (r == 0)
		r = kura_buf_append_byte(b, '>');
	if (r == 0)
		r = xml_coded(b, "AuditSourceTypeCode", "4", "DCM", "Application Server");
	return r ? r : kura_buf_append_str(b, "</AuditSourceIdentification>");
}

/* <ParticipantObjectDetail type=".." value="base64"/> */
static int atna_detail(struct kura_buf *b, const char *type, const char *value)
{
	int r = kura_buf_printf(b, "<ParticipantObjectDetail type=\"%s\" value=\"", type);
	if (r == 0)
		r = b64_append(b, value);
	return r ? r : kura_buf_append_str(b, "\"/>");
}

static int atna_object_body(struct kura_buf *b, const struct obj *o)
{
	char v[16];
	int r = xml_coded(b, "ParticipantObjectIDTypeCode", o->idtype, "RFC-3881",
			  o->idtype_text);
	if (r == 0 && *o->query)
		r = kura_buf_append_str(b, "<ParticipantObjectQuery>");
	if (r == 0 && *o->query)
		r = b64_append(b, o->query);
	if (r == 0 && *o->query)
		r = kura_buf_append_str(b, "</ParticipantObjectQuery>");
	snprintf(v, sizeof(v), "%lu", (unsigned long)o->version);
	if (r == 0 && o->version)
		r = atna_detail(b, "version", v);
	if (r == 0 && *o->reason)
		r = atna_detail(b, "reason", o->reason);
	return r;
}

static int atna_objects(struct kura_buf *b, const struct kura_event *ev)
{
	struct obj objs[3];
	size_t n = collect_objects(ev, objs);
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		r = kura_buf_append_str(b, "<ParticipantObjectIdentification");
		if (r == 0)
			r = xml_attr(b, "ParticipantObjectID", objs[i].id);
		if (r == 0)
			r = kura_buf_printf(b, " ParticipantObjectTypeCode=\"%s\""
					    " ParticipantObjectTypeCodeRole=\"%s\">",
					    objs[i].type, objs[i].role);
		if (r == 0)
			r = atna_object_body(b, &objs[i]);
		if (r == 0)
			r = kura_buf_append_str(b, "</ParticipantObjectIdentification>");
	}
	return r;
}

int kura_export_atna(const struct kura_event_row *row,
		     const struct kura_export_site *site, struct kura_buf *out)
{
	size_t start = out->len;
	struct prepared *p = malloc(sizeof(*p));
	int r = p ? prepare(row, site, p) : KURA_ENOMEM;
	if (r < 0)
		goto out;
	r = kura_buf_append_str(out, "<AuditMessage>");
	if (r == 0)
		r = atna_event(out, p);
	if (r == 0)
		r = atna_user(out, &p->ev);
	if (r == 0)
		r = atna_client(out, &p->ev);
	if (r == 0)
		r = atna_server(out, site->host);
	if (r == 0)
		r = atna_source(out, p, site->host);
	if (r == 0)
		r = atna_objects(out, &p->ev);
	if (r == 0)
		r = kura_buf_append_str(out, "</AuditMessage>");
out:
	if (r < 0)
		buf_truncate(out, start);
	free(p);
	return r;
}
