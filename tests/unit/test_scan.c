/*
 * test_scan.c - malware scanning with libclamav (backup/scan.h, MW-01,
 * BK-05): the offline signature database of tests/data/clamav/ (or
 * $KURA_TEST_CLAMAV_DB) catches EICAR, raw and embedded, and every file of
 * the clamav-testfiles package; clean documents pass; a directory without
 * signatures is refused, since libclamav would pass everything.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <sodium.h>

#include "backup/scan.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/fs.h"

#define TESTFILES "/usr/share/clamav-testfiles"
#define EICAR_LEN 68

struct fx {
	struct kura_scanner *s;
	uint8_t eicar[EICAR_LEN];
};

static void data_path(const char *name, char *out, size_t cap)
{
	const char *d = getenv("KURA_TEST_DATA");
	snprintf(out, cap, "%s/%s", d ? d : "tests/data", name);
}

static void db_dir(char *out, size_t cap)
{
	const char *db = getenv("KURA_TEST_CLAMAV_DB");
	if (db)
		snprintf(out, cap, "%s", db);
	else
		data_path("clamav", out, cap);
}

/* EICAR from its base64 form: the raw bytes never sit in the tree. */
static int load_eicar(const char *dir, uint8_t out[EICAR_LEN])
{
	char path[4096 + 32];
	struct kura_buf b;
	size_t n = 0;
	kura_buf_init(&b, 4096);
	snprintf(path, sizeof(path), "%s/eicar.com.b64", dir);
	int r = kura_fs_read(path, 4096, &b);
	if (!r)
		r = sodium_base642bin(out, EICAR_LEN, (const char *)b.data, b.len, "\r\n", &n, NULL,
				      sodium_base64_VARIANT_ORIGINAL) || n != EICAR_LEN;
	kura_buf_release(&b);
	return r;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char dir[4096], err[256];
	unsigned sigs = 0;
	db_dir(dir, sizeof(dir));
	if (!f || load_eicar(dir, f->eicar))
		return -1;
	if (kura_scan_open(dir, &f->s, &sigs, err)) {
		fprintf(stderr, "kura_scan_open: %s\n", err);
		return -1;
	}
	if (sigs < 3)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	kura_scan_close(f->s);
	free(f);
	return 0;
}

static void test_eicar(void **state)
{
	struct fx *f = *state;
	char virus[KURA_SCAN_MAX_NAME];
	assert_int_equal(kura_scan_buf(f->s, f->eicar, EICAR_LEN, virus), 1);
	assert_non_null(strstr(virus, "Eicar"));
}

static void test_eicar_embedded(void **state)
{
	struct fx *f = *state;
	char virus[KURA_SCAN_MAX_NAME];
	size_t pre = 4096;
	uint8_t *p = malloc(pre + EICAR_LEN + 100);
	assert_non_null(p);
	for (size_t i = 0; i < pre; i++)
		p[i] = (uint8_t)("{\"resourceType\":\"Observation\"} "[i % 32]);
	memcpy(p + pre, f->eicar, EICAR_LEN);
	memset(p + pre + EICAR_LEN, '\n', 100);
	assert_int_equal(kura_scan_buf(f->s, p, pre + EICAR_LEN + 100, virus), 1);
	assert_non_null(strstr(virus, "Eicar"));
	free(p);
}

static int scan_file(struct kura_scanner *s, const char *path, char virus[KURA_SCAN_MAX_NAME])
{
	struct kura_buf b;
	kura_buf_init(&b, 64u * 1024 * 1024);
	int r = kura_fs_read(path, b.max, &b);
	assert_int_equal(r, 0);
	r = kura_scan_buf(s, b.data, b.len, virus);
	kura_buf_release(&b);
	return r;
}

static void test_clamav_testfiles(void **state)
{
	struct fx *f = *state;
	char path[512], virus[KURA_SCAN_MAX_NAME];
	struct dirent *d;
	unsigned n = 0;
	DIR *dir = opendir(TESTFILES);
	if (!dir) {
		fprintf(stderr, "# skipped: %s is missing (apt-get install clamav-testfiles)\n",
			TESTFILES);
		skip();
	}
	while ((d = readdir(dir))) {
		if (strncmp(d->d_name, "clam", 4) != 0)
			continue; /* README.md, . and .. */
		snprintf(path, sizeof(path), "%s/%s", TESTFILES, d->d_name);
		int r = scan_file(f->s, path, virus);
		if (r != 1)
			fail_msg("%s not detected (%d: %s)", d->d_name, r, virus);
		n++;
	}
	closedir(dir);
	assert_true(n >= 40);
}

static void test_clean(void **state)
{
	struct fx *f = *state;
	char path[4096], virus[KURA_SCAN_MAX_NAME];
	static const char json[] =
		"{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"text\":"
		"\"体温\"},\"valueQuantity\":{\"value\":36.6,\"unit\":\"Cel\"}}";
	data_path("pdfjs-helloworld.pdf", path, sizeof(path));
	assert_int_equal(scan_file(f->s, path, virus), 0);
	assert_string_equal(virus, "");
	assert_int_equal(kura_scan_buf(f->s, (const uint8_t *)json, strlen(json), virus), 0);
	assert_int_equal(kura_scan_buf(f->s, NULL, 0, virus), 0);
	/* EICAR cut short is not EICAR. */
	assert_int_equal(kura_scan_buf(f->s, f->eicar, 20, virus), 0);
}

struct worker {
	struct fx *f;
	int bad;
};

static void *scan_worker(void *arg)
{
	struct worker *w = arg;
	char virus[KURA_SCAN_MAX_NAME];
	static const uint8_t clean[] = "MSH|^~\\&|LAB|HOSP|||20250101||ORU^R01|1|P|2.5\r";
	for (int i = 0; i < 40; i++) {
		if (kura_scan_buf(w->f->s, w->f->eicar, EICAR_LEN, virus) != 1)
			w->bad++;
		if (kura_scan_buf(w->f->s, clean, sizeof(clean) - 1, virus) != 0)
			w->bad++;
	}
	return NULL;
}

static void test_concurrent(void **state)
{
	struct fx *f = *state;
	pthread_t t[4];
	struct worker w[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){f, 0};
		assert_int_equal(pthread_create(&t[i], NULL, scan_worker, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(w[i].bad, 0);
	}
}

static void test_refuses_no_signatures(void **state)
{
	struct kura_scanner *s = (struct kura_scanner *)1;
	char dir[] = "/tmp/kura-scan-XXXXXX", path[64], err[256];
	unsigned sigs = 7;
	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(kura_scan_open(dir, &s, &sigs, err), KURA_EINVAL);
	assert_null(s);
	assert_int_equal(sigs, 0);
	assert_true(strlen(err) > 0);
	/* Files that are not signature databases are no better. */
	snprintf(path, sizeof(path), "%s/notes.txt", dir);
	assert_int_equal(kura_fs_write_atomic(path, "hello\n", 6, 0600), 0);
	assert_int_equal(kura_scan_open(dir, &s, &sigs, err), KURA_EINVAL);
	assert_null(s);
	unlink(path);
	rmdir(dir);
	assert_int_equal(kura_scan_open("/nonexistent-kura-clamav", &s, &sigs, err), KURA_ENOTFOUND);
	assert_null(s);
	kura_scan_close(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refuses_no_signatures),
		cmocka_unit_test_setup_teardown(test_eicar, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eicar_embedded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clamav_testfiles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clean, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
