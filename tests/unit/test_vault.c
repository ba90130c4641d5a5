/*
 * test_vault.c - the vault through its public API: keys, versions and their
 * rules (AUTH-03..06), ledger proofs, verify, and the store underneath.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fhir/import.h"
#include "ledger/ledger.h"
#include "ledger/proof.h"
#include "vault/vault.h"
#include "vault/verify.h"

#define PASS "correct horse battery staple"

struct fx {
	char dir[64];
	struct kura_vault *v;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct kura_kdf_params kdf = {1, 8 * 1024};
	struct kura_sth sth;
	snprintf(f->dir, sizeof(f->dir), "/tmp/kura-unit-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	if (kura_vault_init(f->dir, PASS, strlen(PASS), &kdf, &sth) ||
	    kura_vault_open(f->dir, PASS, strlen(PASS), 0, &f->v))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];
	kura_vault_close(f->v);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static const struct kura_write as_doc = {"dr.sato", NULL, "", 0, NULL};

static void put(struct fx *f, const char *patient, const char *content, struct kura_written *w)
{
	assert_int_equal(kura_vault_put(f->v, patient, "Observation", "application/fhir+json",
					(const uint8_t *)content, strlen(content), &as_doc, w), 0);
}

static void test_open_rules(void **state)
{
	struct fx *f = *state;
	struct kura_vault *v = NULL;
	struct kura_kdf_params kdf = {1, 8 * 1024};
	struct kura_sth sth;
	assert_int_equal(kura_vault_open(f->dir, "wrong", 5, 0, &v), KURA_EDENIED);
	assert_null(v);
	assert_int_equal(kura_vault_open("/nonexistent-kura", PASS, strlen(PASS), 0, &v),
			 KURA_ENOVAULT);
	assert_int_equal(kura_vault_init(f->dir, PASS, strlen(PASS), &kdf, &sth), KURA_EEXIST);
}

static void test_versions(void **state)
{
	struct fx *f = *state;
	struct kura_written w1, w2, w3, w4;
	struct kura_leaf l;
	struct kura_buf out;
	kura_buf_init(&out, 1 << 20);
	put(f, "P1", "{\"resourceType\":\"Observation\",\"v\":1}", &w1);
	assert_int_equal(w1.version, 1);
	static const char v2[] = "{\"resourceType\":\"Observation\",\"v\":2}";
	struct kura_write amend = {"dr.sato", "dr.kato", "unit fixed", 0, NULL};
	assert_int_equal(kura_vault_amend(f->v, w1.record_id, (const uint8_t *)"{\"v\":2}", 7,
					  &amend, &w2), KURA_EINVAL); /* not an Observation */
	assert_int_equal(kura_vault_amend(f->v, w1.record_id, (const uint8_t *)v2, strlen(v2),
					  &amend, &w2), 0);
	assert_int_equal(w2.version, 2);
	/* AUTH-06: the proxy draft is confirmed by the person it was entered for */
	struct kura_write other = {"dr.tanaka", NULL, NULL, 0, NULL};
	assert_int_equal(kura_vault_confirm(f->v, w1.record_id, &other, &w3), KURA_EDENIED);
	struct kura_write conf = {"dr.kato", NULL, NULL, 0, NULL};
	assert_int_equal(kura_vault_confirm(f->v, w1.record_id, &conf, &w3), 0);
	assert_int_equal(kura_vault_get(f->v, w1.record_id, 3, &l, &out), 0);
	assert_string_equal((char *)out.data, v2);
	assert_string_equal(l.inputter, "dr.sato");
	assert_string_equal(l.confirmer, "dr.kato");
	assert_string_equal(l.on_behalf_of, "dr.kato");
	assert_int_equal(l.status, KURA_STATUS_CONFIRMED);
	/* confirming again: the latest is not a draft */
	assert_int_equal(kura_vault_confirm(f->v, w1.record_id, &conf, &w4), KURA_ESTATE);
	/* version 1 is unchanged */
	kura_buf_reset(&out);
	assert_int_equal(kura_vault_get(f->v, w1.record_id, 1, &l, &out), 0);
	assert_string_equal((char *)out.data, "{\"resourceType\":\"Observation\",\"v\":1}");
	/* amend needs a reason; retract; nothing after a retraction */
	struct kura_write noreason = {"dr.sato", NULL, "", 0, NULL};
	assert_int_equal(kura_vault_amend(f->v, w1.record_id, (const uint8_t *)v2, strlen(v2), &noreason,
					  &w4), KURA_EINVAL);
	struct kura_write ret = {"dr.sato", NULL, "wrong patient", 0, NULL};
	assert_int_equal(kura_vault_retract(f->v, w1.record_id, &ret, &w4), 0);
	assert_int_equal(kura_vault_get(f->v, w1.record_id, 0, &l, &out), KURA_ESTATE);
	assert_int_equal(kura_vault_amend(f->v, w1.record_id, (const uint8_t *)v2, strlen(v2), &amend,
					  &w4), KURA_ESTATE);
	assert_int_equal(kura_vault_get(f->v, "no-such-record", 0, &l, &out), KURA_ENOTFOUND);
	kura_buf_release(&out);
}

static void test_proofs_and_verify(void **state)
{
	struct fx *f = *state;
	struct kura_written w;
	struct kura_version_row row;
	struct kura_buf leaf, msg;
	struct kura_proof_summary sum;
	uint8_t pub[32];
	kura_buf_init(&leaf, 1 << 16);
	kura_buf_init(&msg, 1024);
	for (int i = 0; i < 20; i++)
		put(f, i % 2 ? "P1" : "P2", "{\"resourceType\":\"Observation\"}", &w);
	assert_int_equal(w.sth.tree_size, 20);
	assert_int_equal(kura_vault_locate(f->v, w.record_id, 1, &row, &leaf), 0);
	assert_int_equal(row.leaf_index, 19);
	json_t *doc;
	assert_int_equal(kura_proof_inclusion(kura_vault_store(f->v), &w.sth, row.leaf_index,
					      leaf.data, leaf.len, &doc), 0);
	char *text = json_dumps(doc, 0);
	kura_vault_pubkey(f->v, pub);
	assert_int_equal(kura_proof_verify((uint8_t *)text, strlen(text), pub, &sum, &msg), 0);
	assert_string_equal(sum.leaf.record_id, w.record_id);
	pub[0] ^= 1;
	assert_int_equal(kura_proof_verify((uint8_t *)text, strlen(text), pub, &sum, &msg),
			 KURA_EVERIFY);
	free(text);
	json_decref(doc);
	assert_int_equal(kura_proof_consistency(kura_vault_store(f->v), 7, &w.sth, &doc), 0);
	text = json_dumps(doc, 0);
	pub[0] ^= 1;
	assert_int_equal(kura_proof_verify((uint8_t *)text, strlen(text), pub, &sum, &msg), 0);
	assert_int_equal(sum.old_signed, 1);
	free(text);
	json_decref(doc);
	struct kura_verify_opts vo = {0};
	struct kura_verify_report rep;
	assert_int_equal(kura_vault_verify(f->v, &vo, &rep), 0);
	assert_int_equal(rep.versions, 20);
	assert_int_equal(rep.problems, 0);
	/* a saved tree head from another vault is refused */
	struct kura_sth foreign = w.sth;
	foreign.signature[0] ^= 1;
	vo.against = &foreign;
	assert_int_equal(kura_vault_verify(f->v, &vo, &rep), KURA_EVERIFY);
	kura_buf_release(&leaf);
	kura_buf_release(&msg);
}

static void test_import_batches(void **state)
{
	struct fx *f = *state;
	struct kura_buf nd, msg;
	struct kura_import *imp = NULL;
	struct kura_sth sth;
	uint64_t n = 0;
	kura_buf_init(&nd, 1 << 22);
	kura_buf_init(&msg, 1024);
	for (int i = 0; i < 2500; i++)
		kura_buf_printf(&nd, "{\"patient\":\"P%d\",\"type\":\"Observation\",\"content\":"
				     "{\"resourceType\":\"Observation\",\"valueQuantity\":{\"value\":7.20}}}\n",
				i % 37);
	assert_int_equal(kura_import_parse(nd.data, nd.len, NULL, &imp, &msg), 0);
	struct kura_write w = {"importer", NULL, "", 1, NULL};
	assert_int_equal(kura_vault_import(f->v, imp, &w, NULL, NULL, &n, &sth), 0);
	assert_int_equal(n, 2500);
	assert_int_equal(sth.tree_size, 2500);
	/* one tree head per batch of KURA_IMPORT_BATCH, plus init's */
	struct kura_sth mid;
	assert_int_equal(kura_vault_store(f->v)->ops->sth_get(kura_vault_store(f->v), 1000, &mid), 0);
	assert_int_equal(kura_vault_store(f->v)->ops->sth_get(kura_vault_store(f->v), 999, &mid),
			 KURA_ENOTFOUND);
	kura_import_free(imp);
	struct kura_verify_opts vo = {0};
	struct kura_verify_report rep;
	assert_int_equal(kura_vault_verify(f->v, &vo, &rep), 0);
	assert_int_equal(rep.tree_heads, 4);
	kura_buf_release(&nd);
	kura_buf_release(&msg);
}

int main(void)
{
	kura_crypto_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_versions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_proofs_and_verify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_batches, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
