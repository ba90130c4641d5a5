/*
 * check.c - does content fit its record type?  A record typed as a FHIR
 * resource must hold a JSON object of that resourceType; other types
 * (hl7v2, MIME types) are opaque here.
 */
#include <jansson.h>
#include <string.h>

#include "fhir/import.h"
#include "util/limits.h"
#include "util/banned.h"

int kura_fhir_check_content(const char *type, const uint8_t *content, size_t len)
{
	if (!kura_valid_record_type(type))
		return KURA_EINVAL;
	if (!kura_is_fhir_type(type))
		return 0;
	json_t *j = json_loadb((const char *)content, len, JSON_REJECT_DUPLICATES, NULL);
	const char *rt = json_string_value(json_object_get(j, "resourceType"));
	int ok = json_is_object(j) && rt && strcmp(rt, type) == 0;
	json_decref(j);
	return ok ? 0 : KURA_EINVAL;
}
