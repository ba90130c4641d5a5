/*
 * test_import.c - the import parser (src/fhir/import.h): NDJSON, Bundles,
 * exact bytes, every refusal and its message, and speed.
 *
 * Data files are read from $KURA_TEST_DATA/import/, else from
 * KURA_TEST_DATA_DIR/import/ when that is defined at compile time, else
 * from data/import/ next to the directory of this source file as the
 * compiler saw it (__FILE__), which meson gives relative to the build
 * directory where `meson test` runs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fhir/import.h"
#include "util/fs.h"
#include "util/limits.h"

#if defined(__SANITIZE_ADDRESS__)
#define KURA_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define KURA_TEST_SANITIZED 1
#endif
#endif


#define LINE(p, t, c) "{\"patient\":\"" p "\",\"type\":\"" t "\",\"content\":" c "}\n"
#define OBS "{\"resourceType\":\"Observation\",\"status\":\"final\"}"

static void data_dir(struct kura_buf *path)
{
	const char *env = getenv("KURA_TEST_DATA");
#ifdef KURA_TEST_DATA_DIR
	if (!env)
		env = KURA_TEST_DATA_DIR;
#endif
	if (env) {
		assert_int_equal(kura_buf_append_str(path, env), 0);
		return;
	}
	const char *unit = strstr(__FILE__, "unit/test_import.c");
	assert_non_null(unit);
	assert_int_equal(kura_buf_append(path, __FILE__, (size_t)(unit - __FILE__)), 0);
	assert_int_equal(kura_buf_append_str(path, "data"), 0);
}

static void read_data(const char *name, struct kura_buf *b)
{
	struct kura_buf path;
	kura_buf_init(&path, 4096);
	kura_buf_init(b, 64u * 1024 * 1024);
	data_dir(&path);
	assert_int_equal(kura_buf_printf(&path, "/import/%s", name), 0);
	if (kura_fs_read((const char *)path.data, b->max, b) != 0)
		fail_msg("cannot read test data '%s'; set KURA_TEST_DATA", path.data);
	kura_buf_release(&path);
}

static struct kura_import *parse_len(const void *p, size_t n, const char *defp)
{
	struct kura_import *imp = (void *)1;
	struct kura_buf err;
	kura_buf_init(&err, 4096);
	int r = kura_import_parse(p, n, defp, &imp, &err);
	if (r)
		fail_msg("unexpected error %d: %s", r, err.data ? (char *)err.data : "");
	assert_non_null(imp);
	assert_null(err.data);
	kura_buf_release(&err);
	return imp;
}

static struct kura_import *parse(const char *text, const char *defp)
{
	return parse_len(text, strlen(text), defp);
}

static void bad_len(const void *p, size_t n, const char *defp, int code, const char *msg)
{
	struct kura_import *imp = (void *)1;
	struct kura_buf err;
	kura_buf_init(&err, 4096);
	int r = kura_import_parse(p, n, defp, &imp, &err);
	assert_null(imp);
	assert_non_null(err.data);
	if (r != code || !strstr((char *)err.data, msg))
		fail_msg("want %d '%s', got %d '%s'", code, msg, r, (char *)err.data);
	/* One line, no trailing period (STYLE.md rule 17). */
	assert_null(strchr((char *)err.data, '\n'));
	assert_int_not_equal(err.data[err.len - 1], '.');
	kura_buf_release(&err);
}

static void bad(const char *text, int code, const char *msg)
{
	bad_len(text, strlen(text), NULL, code, msg);
}

static void assert_content(const struct kura_import_item *it, const char *want)
{
	assert_int_equal(it->content.len, strlen(want));
	assert_memory_equal(it->content.ptr, want, it->content.len);
}

static void test_ndjson_basic(void **state)
{
	(void)state;
	const char *text = LINE("P123", "Observation", OBS)
		"\r\n   \n"
		"{\"patient\":\"P-2.x_y\",\"type\":\"text/plain\",\"content\":\"hello\"}\r\n"
		"{\"patient\":\"P123\",\"type\":\"application/pdf\",\"content_base64\":\"JVBERg==\"}\n"
		"{\"type\":\"hl7v2\",\"content\":\"MSH|^~\\\\&|\",\"patient\":\"P9\"}";
	struct kura_import *imp = parse(text, NULL);
	assert_int_equal(imp->count, 4);
	assert_int_equal(imp->format, KURA_IMPORT_NDJSON);
	assert_int_equal(imp->atomic, 0);
	assert_string_equal(imp->items[0].patient, "P123");
	assert_string_equal(imp->items[0].type, "Observation");
	assert_string_equal(imp->items[0].content_type, "application/fhir+json");
	assert_content(&imp->items[0], OBS);
	assert_int_equal(imp->items[0].origin, 1);
	assert_string_equal(imp->items[1].patient, "P-2.x_y");
	assert_string_equal(imp->items[1].content_type, "text/plain; charset=utf-8");
	assert_content(&imp->items[1], "hello");
	assert_int_equal(imp->items[1].origin, 4);
	assert_string_equal(imp->items[2].content_type, "application/pdf");
	assert_content(&imp->items[2], "%PDF");
	assert_int_equal(imp->items[3].origin, 6);
	assert_content(&imp->items[3], "MSH|^~\\&|");
	kura_import_free(imp);
	kura_import_free(NULL);
}

static void test_ndjson_exact_bytes(void **state)
{
	(void)state;
	/* jansson would print 7.20 as 7.2000000000000002 and 1e3 as 1000.0. */
	const char *obs = "{ \"resourceType\" : \"Observation\",\t\"valueQuantity\":"
		"{\"value\":7.20,\"unit\":\"mmol/L\"}, \"x\": 1e3, \"y\": -0.0E-0,"
		" \"big\": 12345678901234567890, \"esc\": \"\\u5c71\\u7530\\ud83d\\ude00\","
		" \"name\": \"山田太郎\", \"arr\": [ 1 , [ ] , { } ] }";
	struct kura_buf text;
	kura_buf_init(&text, 1 << 20);
	assert_int_equal(kura_buf_printf(&text, "{\"patient\":\"P1\",\"type\":\"Observation\","
		"\"content\":  %s  ,\"content_type\":\"application/fhir+json; fhirVersion=4.0\"}\n"
		"{\"patient\":\"P2\",\"type\":\"application/json\",\"content\":[7.20, \"山田\"]}\n",
		obs), 0);
	struct kura_import *imp = parse((char *)text.data, NULL);
	assert_int_equal(imp->count, 2);
	assert_content(&imp->items[0], obs);
	/* Raw content points into the caller's input, not at a copy. */
	assert_true(imp->items[0].content.ptr > text.data &&
		    imp->items[0].content.ptr < text.data + text.len);
	assert_string_equal(imp->items[0].content_type, "application/fhir+json; fhirVersion=4.0");
	assert_content(&imp->items[1], "[7.20, \"山田\"]");
	assert_string_equal(imp->items[1].content_type, "application/json");
	kura_import_free(imp);
	kura_buf_release(&text);
}

static void test_ndjson_strings(void **state)
{
	(void)state;
	const char *text =
		LINE("P1", "text/plain", "\"山田太郎\\n\\u00e9\\t\\\"q\\\" \\ud83d\\ude00\"")
		/* keys spelled with escapes are the same keys */
		"{\"p\\u0061tient\":\"P1\",\"type\":\"Patient\",\"\\u0063ontent\":"
		"{\"resourceType\":\"Patient\",\"name\":[{\"text\":\"山田太郎\"}]}}\n";
	struct kura_import *imp = parse(text, NULL);
	assert_content(&imp->items[0], "山田太郎\n\xc3\xa9\t\"q\" \xf0\x9f\x98\x80");
	assert_content(&imp->items[1],
		       "{\"resourceType\":\"Patient\",\"name\":[{\"text\":\"山田太郎\"}]}");
	kura_import_free(imp);
}

static void test_ndjson_base64(void **state)
{
	(void)state;
	const char *text =
		"{\"patient\":\"P1\",\"type\":\"application/dicom\",\"content_base64\":\"AAEC/w==\"}\n"
		"{\"patient\":\"P1\",\"type\":\"DocumentReference\",\"content\":"
		"{\"resourceType\":\"DocumentReference\"}}\n"
		"{\"patient\":\"P1\",\"type\":\"hl7v2\",\"content_base64\":\"TVNI\"}\n"
		"{\"patient\":\"P1\",\"type\":\"hl7v2\",\"content_base64\":\"YWI=\","
		"\"content_type\":\"x-application/hl7-v2+er7\"}\n";
	struct kura_import *imp = parse(text, NULL);
	assert_int_equal(imp->count, 4);
	assert_int_equal(imp->items[0].content.len, 4);
	assert_memory_equal(imp->items[0].content.ptr, "\x00\x01\x02\xff", 4);
	assert_string_equal(imp->items[0].content_type, "application/dicom");
	assert_content(&imp->items[2], "MSH");
	assert_string_equal(imp->items[2].content_type, "application/octet-stream");
	assert_content(&imp->items[3], "ab");
	assert_string_equal(imp->items[3].content_type, "x-application/hl7-v2+er7");
	kura_import_free(imp);
}

static void test_ndjson_default_patient_and_forms(void **state)
{
	(void)state;
	/* No "patient": the caller's default.  One record, pretty-printed. */
	struct kura_import *imp = parse("\xef\xbb\xbf\n{\n \"type\": \"Observation\",\n"
		" \"content\": " OBS "\n}\n\n", "P77");
	assert_int_equal(imp->count, 1);
	assert_string_equal(imp->items[0].patient, "P77");
	assert_content(&imp->items[0], OBS);
	kura_import_free(imp);
	/* A one-line file without a final newline. */
	imp = parse(LINE("A", "text/csv", "\"a,b\""), NULL);
	assert_int_equal(imp->count, 1);
	assert_string_equal(imp->items[0].content_type, "text/plain; charset=utf-8");
	kura_import_free(imp);
	/* A JSON object with a MIME type and an object: plain JSON. */
	imp = parse(LINE("A", "application/json", "{\"a\":1}") LINE("B", "hl7v2", "\"MSH|\""),
		    NULL);
	assert_string_equal(imp->items[0].content_type, "application/json");
	kura_import_free(imp);
}

static void test_ndjson_bad_file(void **state)
{
	(void)state;
	bad_len("", 0, NULL, KURA_EINVAL, "the file is empty");
	bad_len(NULL, 0, NULL, KURA_EINVAL, "the file is empty");
	bad(" \r\n\n\t\n", KURA_EINVAL, "the file is empty");
	bad("\xef\xbb\xbf", KURA_EINVAL, "the file is empty");
	bad("[1,2]\n", KURA_EINVAL, "the file is a json array, not an object");
	bad("MSH|^~\\&|\n", KURA_EINVAL, "invalid json at line 1 column");
	bad("{\"resourceType\":\"Patient\",\"id\":\"x\"}", KURA_EINVAL,
	    "single fhir resource ('Patient')");
	bad(LINE("A", "text/plain", "\"x\"") "{\"patient\":\n", KURA_EINVAL,
	    "line 2: invalid json");
	bad(LINE("A", "text/plain", "\"x\"") "[1]\n", KURA_EINVAL, "line 2: not a json object");
	bad(LINE("A", "text/plain", "\"x\"") "{\"resourceType\":\"Patient\"}\n", KURA_EINVAL,
	    "line 2: a bare fhir resource");
	bad(LINE("A", "text/plain", "\"x\"") "\n" LINE("A", "text/plain", "\"x\"")
	    "{\"patient\":\"A\",\"type\":\"text/plain\",\"content\":\"x\",\"Content\":1}\n",
	    KURA_EINVAL, "line 4: unknown key 'Content'");
	bad("{\"patient\":\"A\",\"patient\":\"B\",\"type\":\"text/plain\",\"content\":\"x\"}\n"
	    LINE("A", "text/plain", "\"x\""), KURA_EINVAL, "line 1: invalid json");
	static const char nul[] = LINE("A", "text/plain", "\"x\"") "{\"patient\":\"A\0\"}\n";
	bad_len(nul, sizeof nul - 1, NULL, KURA_EINVAL, "line 2: invalid json");
	bad_len("x", 1, "not valid!", KURA_EINVAL, "--patient 'not valid!' is not a valid id");
}

static void test_ndjson_bad_fields(void **state)
{
	(void)state;
	bad(LINE("P 1", "text/plain", "\"x\""), KURA_EINVAL, "line 1: patient 'P 1' is not a valid id");
	bad(LINE("", "text/plain", "\"x\""), KURA_EINVAL, "patient '' is not a valid id");
	bad(LINE("山田", "text/plain", "\"x\""), KURA_EINVAL, "patient '山田' is not");
	bad(LINE("12345678901234567890123456789012345678901234567890123456789012345",
		 "text/plain", "\"x\""), KURA_EINVAL, "patient '1234567890123456789012345678901234567890…'");
	bad(LINE("a\\u0001b", "text/plain", "\"x\""), KURA_EINVAL, "patient 'a\\x01b'");
	bad("{\"patient\":7,\"type\":\"text/plain\",\"content\":\"x\"}", KURA_EINVAL,
	    "line 1: 'patient' must be a json string");
	bad("{\"type\":\"text/plain\",\"content\":\"x\"}", KURA_EINVAL,
	    "line 1: no 'patient'; add one or pass --patient ID");
	bad("{\"patient\":\"A\",\"content\":\"x\"}", KURA_EINVAL, "line 1: no 'type'");
	bad(LINE("A", "observation", "\"x\""), KURA_EINVAL, "type 'observation' is not a fhir");
	bad(LINE("A", "Text/Plain", "\"x\""), KURA_EINVAL, "type 'Text/Plain'");
	bad(LINE("A", "text/", "\"x\""), KURA_EINVAL, "type 'text/'");
	bad(LINE("A", "Observation", "{\"resourceType\":\"Patient\"}"), KURA_EINVAL,
	    "content.resourceType 'Patient' does not match type 'Observation'");
	bad(LINE("A", "Observation", "{\"status\":\"final\"}"), KURA_EINVAL,
	    "content has no string resourceType; it must be 'Observation'");
	bad(LINE("A", "Observation", "\"text\""), KURA_EINVAL,
	    "'content' must be the resource as a json object");
	bad(LINE("A", "Observation", "[" OBS "]"), KURA_EINVAL, "as a json object");
	bad(LINE("A", "hl7v2", "{\"a\":1}"), KURA_EINVAL, "type 'hl7v2' needs the message");
	bad(LINE("A", "text/plain", "\"\""), KURA_EINVAL, "line 1: 'content' is empty");
	bad(LINE("A", "text/plain", "12"), KURA_EINVAL,
	    "'content' must be a json object, array or string");
	bad(LINE("A", "text/plain", "null"), KURA_EINVAL, "must be a json object");
	bad("{\"patient\":\"A\",\"type\":\"text/plain\"}", KURA_EINVAL,
	    "no 'content' or 'content_base64'");
	bad("{\"patient\":\"A\",\"type\":\"text/plain\",\"content\":\"x\",\"content_base64\":\"eA==\"}",
	    KURA_EINVAL, "both 'content' and 'content_base64'");
	bad("{\"patient\":\"A\",\"type\":\"text/plain\",\"content\":\"x\",\"content_type\":\"text\"}",
	    KURA_EINVAL, "content_type 'text' is not a mime type");
	bad("{\"patient\":\"A\",\"type\":\"text/plain\",\"content\":\"x\",\"content_type\":5}",
	    KURA_EINVAL, "'content_type' must be a json string");
}

static void test_ndjson_bad_base64(void **state)
{
	(void)state;
	static const char *const bads[] = {
		"SGVsbG8", "SGVsbG9=", "SGVs\\nbG8=", "SGVs bG8=", "SGVsbG8-", "SGV=bG8=",
		"====", "A===", "SGVsbA=a", "SGVsbG8_",
	};
	for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
		char line[256];
		snprintf(line, sizeof line, "{\"patient\":\"A\",\"type\":\"application/pdf\","
			 "\"content_base64\":\"%s\"}", bads[i]);
		bad(line, KURA_EINVAL, "line 1: 'content_base64' is not strict base64");
	}
	bad("{\"patient\":\"A\",\"type\":\"application/pdf\",\"content_base64\":\"\"}",
	    KURA_EINVAL, "'content_base64' is empty");
	bad("{\"patient\":\"A\",\"type\":\"application/pdf\",\"content_base64\":{}}",
	    KURA_EINVAL, "'content_base64' must be a json string");
}

/* n nested arrays around a 1, as a record's content. */
static void nested_line(struct kura_buf *b, size_t n)
{
	kura_buf_init(b, 1 << 20);
	assert_int_equal(kura_buf_append_str(b,
		"{\"patient\":\"A\",\"type\":\"application/json\",\"content\":"), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(kura_buf_append_byte(b, '['), 0);
	assert_int_equal(kura_buf_append_byte(b, '1'), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(kura_buf_append_byte(b, ']'), 0);
	assert_int_equal(kura_buf_append_str(b, "}"), 0);
}

static void test_ndjson_limits(void **state)
{
	(void)state;
	struct kura_buf b;
	/* The record object is level 1, so content may nest 63 deep. */
	nested_line(&b, KURA_MAX_JSON_DEPTH - 1);
	kura_import_free(parse((char *)b.data, NULL));
	kura_buf_release(&b);
	nested_line(&b, KURA_MAX_JSON_DEPTH);
	bad((char *)b.data, KURA_ETOOBIG, "json nested deeper than 64 levels at line 1 column 115");
	kura_buf_release(&b);
	/* The same as line 2 of an NDJSON file. */
	nested_line(&b, KURA_MAX_JSON_DEPTH);
	struct kura_buf two;
	kura_buf_init(&two, 1 << 20);
	assert_int_equal(kura_buf_printf(&two, LINE("A", "text/plain", "\"x\"") "%s\n",
					 (char *)b.data), 0);
	bad((char *)two.data, KURA_ETOOBIG, "line 2: json nested deeper than 64 levels");
	kura_buf_release(&two);
	kura_buf_release(&b);
	nested_line(&b, 100000);
	bad((char *)b.data, KURA_ETOOBIG, "json nested deeper than 64 levels at line 1 column 115");
	kura_buf_release(&b);
}

static void test_ndjson_size_limits(void **state)
{
	(void)state;
	struct kura_buf b;
	kura_buf_init(&b, KURA_MAX_NDJSON_LINE + 100);
	const char *head = "{\"patient\":\"A\",\"type\":\"text/plain\",\"content\":\"";
	assert_int_equal(kura_buf_append_str(&b, head), 0);
	assert_int_equal(kura_buf_reserve(&b, KURA_MAX_CONTENT + 1), 0);
	memset(b.data + b.len, 'a', KURA_MAX_CONTENT + 1);
	b.len += KURA_MAX_CONTENT + 1;
	assert_int_equal(kura_buf_append_str(&b, "\"}"), 0);
	bad_len(b.data, b.len, NULL, KURA_ETOOBIG, "line 1: content is 67108865 bytes; at most");
	/* The same line, padded past the line limit. */
	b.len -= 2;
	size_t pad = KURA_MAX_NDJSON_LINE - b.len + 1;
	assert_int_equal(kura_buf_reserve(&b, pad), 0);
	memset(b.data + b.len, 'a', pad);
	b.len += pad;
	assert_int_equal(kura_buf_append_str(&b, "\"}\n{}\n"), 0);
	bad_len(b.data, b.len, NULL, KURA_ETOOBIG, "line 1 is longer than");
	kura_buf_release(&b);
}

static void many_lines(struct kura_buf *b, size_t n, size_t pad)
{
	kura_buf_init(b, (size_t)1 << 31);
	assert_int_equal(kura_buf_reserve(b, n * (pad + 120)), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(kura_buf_printf(b, "{\"patient\":\"P%zu\",\"type\":\"Observation\","
			"\"content\":{\"resourceType\":\"Observation\",\"valueQuantity\":"
			"{\"value\":7.20},\"note\":\"%*s\"}}\n", i % 5000, (int)pad, "x"), 0);
}

static void test_ndjson_too_many(void **state)
{
	(void)state;
	struct kura_buf b;
	many_lines(&b, KURA_MAX_IMPORT_RECORDS + 1, 1);
	bad_len(b.data, b.len, NULL, KURA_ETOOBIG, "line 1000001: more than 1000000 records");
	kura_buf_release(&b);
}

/* 100,000 lines of about 2 KB parse completely (time printed for information). */
static void test_ndjson_many(void **state)
{
	(void)state;
	struct kura_buf b;
	struct timespec t0, t1;
	many_lines(&b, 100000, 1900);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct kura_import *imp = parse_len(b.data, b.len, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	print_message("# 100000 lines, %zu bytes: %.3f s\n", b.len, s);
	assert_int_equal(imp->count, 100000);
	assert_string_equal(imp->items[99999].patient, "P4999");
	/* Reported, never asserted: tests do not assert timings (bench/ measures). */
	kura_import_free(imp);
	kura_buf_release(&b);
}

static void check_raw_entries(const struct kura_import *imp, const struct kura_buf *file)
{
	json_t *root = json_loadb((const char *)file->data, file->len, 0, NULL);
	json_t *entries = json_object_get(root, "entry");
	assert_non_null(entries);
	for (size_t k = 0; k < imp->count; k++) {
		const struct kura_import_item *it = &imp->items[k];
		json_t *want = json_object_get(json_array_get(entries, it->origin), "resource");
		json_t *got = json_loadb((const char *)it->content.ptr, it->content.len, 0, NULL);
		assert_true(it->content.ptr > file->data &&
			    it->content.ptr + it->content.len < file->data + file->len);
		assert_true(json_equal(want, got));
		assert_string_equal(it->content_type, "application/fhir+json");
		json_decref(got);
	}
	json_decref(root);
}

static void test_bundle_transaction_japanese(void **state)
{
	(void)state;
	struct kura_buf f;
	read_data("patients-ts-gimei-transaction.json", &f);
	struct kura_import *imp = parse_len(f.data, f.len, NULL);
	assert_int_equal(imp->count, 10);
	assert_int_equal(imp->format, KURA_IMPORT_BUNDLE);
	assert_int_equal(imp->atomic, 1);
	assert_string_equal(imp->items[0].patient, "00000000-0000-4000-8000-000000000001");
	assert_string_equal(imp->items[9].patient, "00000000-0000-4000-8000-000000000010");
	assert_string_equal(imp->items[0].type, "Patient");
	assert_int_equal(imp->items[9].origin, 9);
	assert_non_null(memmem(imp->items[0].content.ptr, imp->items[0].content.len,
			       "\"text\": \"大平 澪保\"", strlen("\"text\": \"大平 澪保\"")));
	check_raw_entries(imp, &f);
	kura_import_free(imp);
	kura_buf_release(&f);
}

static void test_bundle_collection_lipids(void **state)
{
	(void)state;
	struct kura_buf f;
	read_data("Bundle-lipids.json", &f);
	struct kura_import *imp = parse_len(f.data, f.len, NULL);
	assert_int_equal(imp->count, 5);
	assert_int_equal(imp->atomic, 0);
	for (size_t k = 0; k < 5; k++)
		assert_string_equal(imp->items[k].patient, "pat2");
	assert_string_equal(imp->items[0].type, "DiagnosticReport");
	/* jansson would write 2.0 back as 2.0 but 6.3 as 6.2999999999999998. */
	assert_non_null(memmem(imp->items[1].content.ptr, imp->items[1].content.len,
			       "\"value\": 6.3,", 13));
	assert_non_null(memmem(imp->items[2].content.ptr, imp->items[2].content.len,
			       "\"value\": 2.0,", 13));
	check_raw_entries(imp, &f);
	kura_import_free(imp);
	kura_buf_release(&f);
}

static void test_bundle_references(void **state)
{
	(void)state;
	static const char *const want[] = {
		"23", "04121321-4af5-424c-a0e1-ed3aab1c349d", "23", "23",
		"04121321-4af5-424c-a0e1-ed3aab1c349d", "P0", "23", "45", "45", "45", "P0",
	};
	struct kura_buf f;
	read_data("Bundle-bundle-references.json", &f);
	/* Entry 5's subject is on another server: no patient without a default. */
	bad_len(f.data, f.len, NULL, KURA_EINVAL,
		"bundle entry 5 (Observation): no patient; give it subject or patient");
	struct kura_import *imp = parse_len(f.data, f.len, "P0");
	assert_int_equal(imp->count, 11);
	for (size_t k = 0; k < 11; k++)
		assert_string_equal(imp->items[k].patient, want[k]);
	check_raw_entries(imp, &f);
	kura_import_free(imp);
	kura_buf_release(&f);
}

static void test_bundle_refused_files(void **state)
{
	(void)state;
	struct kura_buf f;
	read_data("Bundle-bundle-transaction.json", &f);
	bad_len(f.data, f.len, "P0", KURA_EINVAL,
		"bundle entry 5 has no resource (request DELETE); import stores resources only");
	kura_buf_release(&f);
	read_data("Bundle-bundle-example.json", &f);
	bad_len(f.data, f.len, "P0", KURA_EINVAL, "bundle type 'searchset' cannot be imported; "
		"import takes batch, transaction and collection bundles");
	kura_buf_release(&f);
	read_data("Bundle-father.json", &f);
	bad_len(f.data, f.len, "P0", KURA_EINVAL, "bundle type 'document' cannot be imported");
	kura_buf_release(&f);
}

#define BUNDLE(type, entries) \
	"{\"resourceType\":\"Bundle\",\"type\":\"" type "\",\"entry\":[" entries "]}"

static void test_bundle_synthetic(void **state)
{
	(void)state;
	const char *text = BUNDLE("batch",
		"{\"fullUrl\":\"urn:uuid:1111\",\"resource\":{\"resourceType\":\"Patient\",\"id\":\"yamada\"}},"
		"{\"resource\":{\"resourceType\":\"Observation\",\"subject\":{\"reference\":\"urn:uuid:1111\"},"
		"\"valueQuantity\":{\"value\":7.20}}},"
		"{\"resource\":{\"resourceType\":\"Encounter\",\"subject\":{\"reference\":\"Group/9\"},"
		"\"patient\":{\"reference\":\"Patient/p-2\"}}},"
		"{\"resource\":{\"resourceType\":\"AllergyIntolerance\",\"patient\":{\"reference\":"
		"\"Patient/p3/_history/4\"}}},"
		"{\"resource\":{\"resourceType\":\"Device\"}}");
	struct kura_import *imp = parse(text, "dflt");
	assert_int_equal(imp->count, 5);
	assert_int_equal(imp->atomic, 0);
	assert_string_equal(imp->items[0].patient, "yamada");
	assert_string_equal(imp->items[1].patient, "yamada");
	assert_content(&imp->items[1], "{\"resourceType\":\"Observation\",\"subject\":{\"reference\":"
		       "\"urn:uuid:1111\"},\"valueQuantity\":{\"value\":7.20}}");
	assert_string_equal(imp->items[2].patient, "p-2");
	assert_string_equal(imp->items[3].patient, "p3");
	assert_string_equal(imp->items[4].patient, "dflt");
	kura_import_free(imp);
	bad(text, KURA_EINVAL, "bundle entry 4 (Device): no patient");
}

static void test_bundle_bad(void **state)
{
	(void)state;
	bad("{\"resourceType\":\"Bundle\",\"entry\":[]}", KURA_EINVAL, "the bundle has no type");
	bad(BUNDLE("history", "{}"), KURA_EINVAL, "bundle type 'history' cannot be imported");
	bad(BUNDLE("batch", ""), KURA_EINVAL, "the bundle has no entries");
	bad("{\"resourceType\":\"Bundle\",\"type\":\"batch\"}", KURA_EINVAL, "the bundle has no entries");
	bad("{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":{}}", KURA_EINVAL,
	    "entry is not a json array");
	bad(BUNDLE("batch", "{\"resource\":{\"resourceType\":\"Patient\",\"id\":\"a\"}},7"),
	    KURA_EINVAL, "bundle entry 1 is not a json object");
	bad(BUNDLE("batch", "{\"request\":{\"method\":\"GET\"}}"), KURA_EINVAL,
	    "bundle entry 0 has no resource (request GET)");
	bad(BUNDLE("batch", "{}"), KURA_EINVAL, "bundle entry 0 has no resource; remove the entry");
	bad(BUNDLE("batch", "{\"resource\":[]}"), KURA_EINVAL,
	    "bundle entry 0: resource is not a json object");
	bad(BUNDLE("batch", "{\"resource\":{\"id\":\"a\"}}"), KURA_EINVAL,
	    "bundle entry 0: resource has no string resourceType");
	bad(BUNDLE("batch", "{\"resource\":{\"resourceType\":\"patient\"}}"), KURA_EINVAL,
	    "bundle entry 0: resourceType 'patient' is not a fhir resource type");
	bad(BUNDLE("batch", "{\"resource\":{\"resourceType\":\"Patient\",\"id\":\"a b\"}}"),
	    KURA_EINVAL, "bundle entry 0: Patient id 'a b' is not a valid id");
	bad(BUNDLE("batch", "{\"resource\":{\"resourceType\":\"Patient\",\"id\":5}}"),
	    KURA_EINVAL, "bundle entry 0: Patient id is not a json string");
	bad(BUNDLE("batch", "{\"resource\":{\"resourceType\":\"Patient\"}}"),
	    KURA_EINVAL, "bundle entry 0 (Patient): no id and no urn:uuid fullUrl");
	bad(BUNDLE("batch", "{\"fullUrl\":\"urn:uuid:a/b\",\"resource\":{\"resourceType\":\"Patient\"}}"),
	    KURA_EINVAL, "bundle entry 0: Patient fullUrl uuid 'a/b' is not a valid id");
	bad(BUNDLE("batch", "{\"fullUrl\":\"u:1\",\"resource\":{\"resourceType\":\"Patient\",\"id\":\"a\"}},"
		   "{\"fullUrl\":\"u:1\",\"resource\":{\"resourceType\":\"Patient\",\"id\":\"b\"}}"),
	    KURA_EINVAL, "bundle entries 0 and 1 have the same fullUrl 'u:1' but are different patients");
	bad(BUNDLE("batch", "{\"resource\":{\"resourceType\":\"Observation\",\"subject\":"
		   "{\"reference\":\"Patient/a b\"}}}"),
	    KURA_EINVAL, "bundle entry 0: subject.reference 'Patient/a b' is not 'Patient/ID'");
	bad(BUNDLE("batch", "{\"resource\":{\"resourceType\":\"Observation\",\"patient\":"
		   "{\"reference\":\"Patient/a/_history/\"}}}"),
	    KURA_EINVAL, "bundle entry 0: patient.reference 'Patient/a/_history/'");
	bad(BUNDLE("batch", "{\"resource\":{\"resourceType\":\"Observation\",\"subject\":"
		   "{\"reference\":\"Patient/\"}}}"), KURA_EINVAL, "'Patient/' is not");
	bad(BUNDLE("collection", "{\"resource\":{\"resourceType\":\"Observation\",\"a\":1,\"a\":2}}"),
	    KURA_EINVAL, "invalid json at line 1 column");
}

static void test_bundle_limits(void **state)
{
	(void)state;
	struct kura_buf b;
	kura_buf_init(&b, 1 << 24);
	assert_int_equal(kura_buf_append_str(&b, "{\"resourceType\":\"Bundle\",\"type\":"
					     "\"transaction\",\"entry\":[{}"), 0);
	for (size_t i = 0; i < KURA_MAX_BUNDLE_ENTRIES; i++)
		assert_int_equal(kura_buf_append_str(&b, ",{}"), 0);
	assert_int_equal(kura_buf_append_str(&b, "]}"), 0);
	bad((char *)b.data, KURA_ETOOBIG, "the bundle has 100001 entries; at most 100000");
	kura_buf_reset(&b);
	assert_int_equal(kura_buf_append_str(&b, "{\"resourceType\":\"Bundle\",\"type\":"
		"\"batch\",\"entry\":[{\"resource\":{\"resourceType\":\"Observation\","
		"\"subject\":{\"reference\":\"Patient/x\"},\"v\":"), 0);
	for (size_t i = 0; i < KURA_MAX_JSON_DEPTH; i++)
		assert_int_equal(kura_buf_append_byte(&b, '['), 0);
	for (size_t i = 0; i < KURA_MAX_JSON_DEPTH; i++)
		assert_int_equal(kura_buf_append_byte(&b, ']'), 0);
	assert_int_equal(kura_buf_append_str(&b, "}}]}"), 0);
	bad((char *)b.data, KURA_ETOOBIG, "json nested deeper than 64 levels at line 1 column 192");
	kura_buf_release(&b);
}

static void test_errmsg_optional(void **state)
{
	(void)state;
	struct kura_import *imp = (void *)1;
	assert_int_equal(kura_import_parse((const uint8_t *)"{}", 2, NULL, &imp, NULL), KURA_EINVAL);
	assert_null(imp);
}

static void test_validators(void **state)
{
	(void)state;
	assert_true(kura_valid_id("P123"));
	assert_true(kura_valid_id("a.b-c_D9"));
	assert_true(kura_valid_id("1234567890123456789012345678901234567890123456789012345678901234"));
	assert_false(kura_valid_id("12345678901234567890123456789012345678901234567890123456789012345"));
	assert_false(kura_valid_id(""));
	assert_false(kura_valid_id(NULL));
	assert_false(kura_valid_id("a b"));
	assert_false(kura_valid_id("a/b"));
	assert_false(kura_valid_id("山田"));
	assert_true(kura_is_fhir_type("Observation"));
	assert_true(kura_is_fhir_type("A"));
	assert_false(kura_is_fhir_type("observation"));
	assert_false(kura_is_fhir_type("Obs1"));
	assert_false(kura_is_fhir_type(""));
	assert_false(kura_is_fhir_type(NULL));
	assert_true(kura_is_fhir_type("Abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcd"));
	assert_false(kura_is_fhir_type("Abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcde"));
	assert_true(kura_valid_record_type("hl7v2"));
	assert_true(kura_valid_record_type("Patient"));
	assert_true(kura_valid_record_type("application/fhir+json"));
	assert_true(kura_valid_record_type("application/vnd.ms-excel"));
	assert_false(kura_valid_record_type("HL7v2"));
	assert_false(kura_valid_record_type("text/Plain"));
	assert_false(kura_valid_record_type("text/plain; charset=utf-8"));
	assert_false(kura_valid_record_type("/plain"));
	assert_false(kura_valid_record_type("text/"));
	assert_false(kura_valid_record_type("text/pl/ain"));
	assert_false(kura_valid_record_type("-text/plain"));
	assert_false(kura_valid_record_type(NULL));
	assert_true(kura_valid_content_type("text/plain; charset=utf-8"));
	assert_true(kura_valid_content_type("Text/HTML"));
	assert_true(kura_valid_content_type("application/fhir+json;fhirVersion=4.0"));
	assert_false(kura_valid_content_type("text"));
	assert_false(kura_valid_content_type("text/plain "));
	assert_false(kura_valid_content_type("text/plain x"));
	assert_false(kura_valid_content_type("text/plain; a=\x01"));
	assert_false(kura_valid_content_type("text/plain; a=\xe5\xb1\xb1"));
	assert_false(kura_valid_content_type(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ndjson_basic),
		cmocka_unit_test(test_ndjson_exact_bytes),
		cmocka_unit_test(test_ndjson_strings),
		cmocka_unit_test(test_ndjson_base64),
		cmocka_unit_test(test_ndjson_default_patient_and_forms),
		cmocka_unit_test(test_ndjson_bad_file),
		cmocka_unit_test(test_ndjson_bad_fields),
		cmocka_unit_test(test_ndjson_bad_base64),
		cmocka_unit_test(test_ndjson_limits),
		cmocka_unit_test(test_ndjson_size_limits),
		cmocka_unit_test(test_ndjson_too_many),
		cmocka_unit_test(test_ndjson_many),
		cmocka_unit_test(test_bundle_transaction_japanese),
		cmocka_unit_test(test_bundle_collection_lipids),
		cmocka_unit_test(test_bundle_references),
		cmocka_unit_test(test_bundle_refused_files),
		cmocka_unit_test(test_bundle_synthetic),
		cmocka_unit_test(test_bundle_bad),
		cmocka_unit_test(test_bundle_limits),
		cmocka_unit_test(test_errmsg_optional),
		cmocka_unit_test(test_validators),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
