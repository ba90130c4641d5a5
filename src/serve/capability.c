/*
 * capability.c - GET /fhir/metadata: a CapabilityStatement that lists
 * exactly what fhir.c and fhir_search.c implement (types, interactions,
 * search parameters), built from the same type table.
 */
#include <stdlib.h>
#include <string.h>

#include "serve/fhir_int.h"
#include "util/err.h"
#include "util/banned.h"

static const char *const interactions[] = {"read", "vread", "history-instance", "history-type",
					   "create", "update", "search-type", NULL};

static int add_param(json_t *params, const char *name, const char *type)
{
	return json_array_append_new(params, json_pack("{s:s, s:s}", "name", name, "type", type));
}

static json_t *search_params(const struct kura_fhir_type *t)
{
	json_t *p = json_array();
	int r = p ? 0 : -1;
	r |= add_param(p, "_id", "token");
	r |= add_param(p, "_lastUpdated", "date");
	if (t->patient_ref && strcmp(t->patient_ref, "subject") == 0)
		r |= add_param(p, "subject", "reference");
	if (t->patient_ref && (strcmp(t->patient_ref, "subject") == 0 ||
			       strcmp(t->patient_ref, "patient") == 0))
		r |= add_param(p, "patient", "reference");
	if (strcmp(t->name, "Binary") != 0)
		r |= add_param(p, "identifier", "token");
	if (t->code)
		r |= add_param(p, "code", "token");
	if (t->dates)
		r |= add_param(p, "date", "date");
	if (t->has_status)
		r |= add_param(p, "status", "token");
	if (r) {
		json_decref(p);
		return NULL;
	}
	return p;
}

static json_t *resource(const struct kura_fhir_type *t)
{
	json_t *in = json_array();
	for (size_t i = 0; in && interactions[i]; i++)
		json_array_append_new(in, json_pack("{s:s}", "code", interactions[i]));
	return json_pack("{s:s, s:o, s:s, s:b, s:b, s:b, s:b, s:s, s:o}", "type", t->name,
			 "interaction", in, "versioning", "versioned-update", "readHistory", 1,
			 "updateCreate", 0, "conditionalCreate", 0, "conditionalUpdate", 0,
			 "conditionalDelete", "not-supported", "searchParam", search_params(t));
}

/* AuditEvent: read and search for auditors, from the audit trail. */
static json_t *audit_resource(void)
{
	return json_pack("{s:s, s:s, s:[{s:s}, {s:s}], s:[{s:s, s:s}, {s:s, s:s, s:s}, "
			 "{s:s, s:s}, {s:s, s:s}]}", "type", "AuditEvent", "documentation",
			 "the audit trail, for roles with the audit permission; every reading "
			 "is recorded; id is the event's ledger leaf index",
			 "interaction", "code", "read", "code", "search-type", "searchParam",
			 "name", "patient", "type", "reference", "name", "agent", "type", "token",
			 "documentation", "the account id", "name", "date", "type", "date",
			 "name", "_count", "type", "number");
}

static json_t *statement(const char *base)
{
	json_t *res = json_array();
	for (const struct kura_fhir_type *t = kura_fhir_types; res && t->name; t++)
		json_array_append_new(res, resource(t));
	if (res)
		json_array_append_new(res, audit_resource());
	return json_pack(
		"{s:s, s:s, s:s, s:s, s:s, s:{s:s}, s:{s:s, s:s}, s:s, s:[s, s], s:[{s:s, s:s, "
		"s:{s:[{s:[{s:s, s:s}]}], s:s}, s:o}]}",
		"resourceType", "CapabilityStatement", "status", "active", "date", "2026-12-02",
		"kind", "instance", "publisher", "kura", "software", "name", "kura",
		"implementation", "description",
		"kura medical-records vault; not implemented: delete, patch, conditional "
		"interactions, _include, sorting",
		"url", base, "fhirVersion", "4.0.1", "format", "application/fhir+json", "json",
		"rest", "mode", "server", "documentation",
		"every request is authenticated, authorized and audited; writes also create a Provenance",
		"security", "service", "coding", "system",
		"http://terminology.hl7.org/CodeSystem/restful-security-service", "code", "Certificates",
		"description", "mutual TLS, session cookies or bearer tokens", "resource", res);
}

int kura_fhir_capability(struct kura_http_resp *resp, const char *base)
{
	char url[512];
	snprintf(url, sizeof(url), "%s/fhir", base);
	json_t *cs = statement(url);
	json_t *rest = json_array_get(json_object_get(cs, "rest"), 0);
	if (rest && json_object_set_new(rest, "interaction",
					json_pack("[{s:s, s:s}, {s:s, s:s}]", "code", "transaction",
						  "documentation", "atomic: one vault transaction",
						  "code", "batch", "documentation",
						  "each entry on its own")))
		rest = NULL;
	if (!rest) {
		json_decref(cs);
		cs = NULL;
	}
	char *text = cs ? json_dumps(cs, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(cs);
	if (!text)
		return KURA_ENOMEM;
	int r = kura_http_reply(resp, 200, KURA_FHIR_CT, text, strlen(text));
	free(text);
	return r;
}
