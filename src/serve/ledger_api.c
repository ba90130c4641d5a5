/*
 * ledger_api.c - the ledger over HTTP (serve.h kura_api_ledger; issue 5
 * item 6; docs/formats/http-api.md): the signed tree head, the public key,
 * inclusion and consistency proofs, so a peer or an auditor verifies
 * without database access.  The same rules as the CLI's `kura proof`
 * (cli/cmd_ledger.c): an inclusion proof carries its leaf (patient,
 * authors, time), so handing it out is an audited export of that version.
 */
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "ledger/proof.h"
#include "serve/api_int.h"
#include "util/err.h"
#include "util/limits.h"
#include "util/banned.h"

#define MAX_QUERY_VALUE 128 /* longer query values: 400 */

static int doc_reply(struct kura_http_resp *resp, json_t *doc)
{
	return api_reply_json(resp, 200, doc);
}

static int sth(struct kura_http_auth *au, struct kura_http_resp *resp)
{
	struct kura_sth s;
	int r = kura_vault_sth(au->a.v, &s);
	return r ? r : doc_reply(resp, kura_sth_to_json(&s));
}

static int pubkey(struct kura_http_auth *au, struct kura_http_resp *resp)
{
	uint8_t pub[KURA_PUBKEY_LEN];
	struct kura_buf pem;
	kura_vault_pubkey(au->a.v, pub);
	kura_buf_init(&pem, 4096);
	int r = kura_ed25519_public_pem(pub, &pem);
	if (!r)
		r = kura_http_reply(resp, 200, "application/x-pem-file", pem.data, pem.len);
	kura_buf_release(&pem);
	return r;
}

/* GET /api/ledger/proof?record=ID[&version=N] */
static int inclusion(const struct kura_http_req *req, struct kura_http_auth *au,
		     struct kura_http_resp *resp)
{
	char id[KURA_MAX_ID + 1], vs[MAX_QUERY_VALUE];
	uint64_t ver = 0;
	struct kura_version_row row;
	struct kura_sth s;
	struct kura_buf leaf;
	json_t *doc = NULL;
	int r = api_query_get(req->query, "version", vs, sizeof(vs));
	if ((r && r != KURA_ENOTFOUND) || (!r && api_parse_pos(vs, UINT32_MAX, &ver)) ||
	    api_query_get(req->query, "record", id, sizeof(id)) || !kura_valid_id(id))
		return api_reply_error(resp, 0, NULL, 400,
				       "expected ?record=ID and optionally &version=N (N >= 1)");
	kura_buf_init(&leaf, KURA_MAX_PROOF_FILE);
	r = kura_vault_locate(au->a.v, id, (uint32_t)ver, &row, &leaf);
	/* Like `kura proof`: the leaf names the patient, so this is an export
	 * of that version, checked and audited (a denial too). */
	if (!r)
		r = kura_access_about(&au->a, KURA_ACT_EXPORT, "export", &row.leaf, "inclusion proof");
	if (!r)
		r = kura_vault_sth(au->a.v, &s);
	if (!r)
		r = kura_proof_inclusion(kura_vault_store(au->a.v), &s, row.leaf_index, leaf.data,
					 leaf.len, &doc);
	kura_buf_release(&leaf);
	if (r == KURA_ENOTFOUND)
		return api_reply_error(resp, 0, NULL, 404, "no such record or version");
	if (r == KURA_EDENIED)
		return api_reply_json(resp, 403, json_pack("{s:s, s:s}", "error",
				      "access denied (recorded in the audit trail)", "reason",
				      au->a.why ? au->a.why : "not permitted"));
	return r ? r : doc_reply(resp, doc);
}

static int consistency_args(const char *q, uint64_t *old, uint64_t *nsize)
{
	char os[MAX_QUERY_VALUE], ns[MAX_QUERY_VALUE];
	int r = api_query_get(q, "new", ns, sizeof(ns));
	*nsize = 0;
	if (r == 0)
		r = api_parse_pos(ns, UINT64_MAX, nsize);
	else if (r == KURA_ENOTFOUND)
		r = 0;
	if (!r)
		r = api_query_get(q, "old", os, sizeof(os));
	return r ? KURA_EINVAL : api_parse_pos(os, UINT64_MAX, old);
}

/* GET /api/ledger/consistency?old=N[&new=M] */
static int consistency(const struct kura_http_req *req, struct kura_http_auth *au,
		       struct kura_http_resp *resp)
{
	uint64_t old, nsize;
	struct kura_sth s;
	struct kura_store *st = kura_vault_store(au->a.v);
	struct kura_event e;
	json_t *doc = NULL;
	if (consistency_args(req->query, &old, &nsize))
		return api_reply_error(resp, 0, NULL, 400,
				       "expected ?old=N and optionally &new=M (positive sizes)");
	int r = nsize ? st->ops->sth_get(st, nsize, &s) : kura_vault_sth(au->a.v, &s);
	if (r == KURA_ENOTFOUND)
		return api_reply_error(resp, 0, NULL, 404, "no signed tree head at that size");
	if (!r && old > s.tree_size)
		return api_reply_error(resp, 0, NULL, 400, "old size is larger than the tree");
	if (!r)
		r = kura_proof_consistency(st, old, &s, &doc);
	/* Only hashes: any account may have one; recorded like the CLI's. */
	if (!r) {
		kura_audit_event(&e, &au->id.actor, "export");
		KURA_AUDIT_SET(e.detail, "consistency proof");
		r = kura_access_record(&au->a, &e);
	}
	if (r) {
		json_decref(doc);
		return r;
	}
	return doc_reply(resp, doc);
}

int kura_api_ledger(const struct kura_http_req *req, struct kura_http_resp *resp)
{
	struct kura_http_auth au;
	const char *p = req->path ? req->path : "";
	int r = api_only(req, resp, KURA_HTTP_GET, "GET, HEAD");
	if (r)
		return r < 0 ? r : 0;
	if ((r = kura_serve_authenticate(req, 0, &au, resp)))
		return api_answered(r);
	if (strcmp(p, "/api/ledger/sth") == 0)
		return sth(&au, resp);
	if (strcmp(p, "/api/ledger/pubkey") == 0)
		return pubkey(&au, resp);
	if (strcmp(p, "/api/ledger/proof") == 0)
		return inclusion(req, &au, resp);
	if (strcmp(p, "/api/ledger/consistency") == 0)
		return consistency(req, &au, resp);
	return api_reply_error(resp, 0, NULL, 404, "no such ledger resource");
}
