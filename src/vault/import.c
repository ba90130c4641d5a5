/*
 * import.c - `kura import`: store a parsed import (fhir/import.h) in
 * durable batches: each batch of KURA_IMPORT_BATCH versions is one store
 * transaction with one signed tree head and one fsync (group commit).  An
 * atomic import (a FHIR transaction Bundle) is a single batch.
 */
#include <string.h>

#include "fhir/import.h"
#include "util/limits.h"
#include "vault/vault_int.h"
#include "util/banned.h"

static int add_item(struct vault_batch *b, const struct kura_import_item *it,
		    const struct kura_write *w)
{
	struct kura_leaf l;
	struct kura_written out;
	memset(&l, 0, sizeof(l));
	size_t pn = strlen(it->patient), tn = strlen(it->type), cn = strlen(it->content_type);
	if (pn >= sizeof(l.patient_id) || tn >= sizeof(l.type) || cn >= sizeof(l.content_type))
		return KURA_EINVAL;
	memcpy(l.patient_id, it->patient, pn + 1);
	memcpy(l.type, it->type, tn + 1);
	memcpy(l.content_type, it->content_type, cn + 1);
	memcpy(l.inputter, w->actor, strlen(w->actor) + 1);
	if (w->on_behalf_of)
		memcpy(l.on_behalf_of, w->on_behalf_of, strlen(w->on_behalf_of) + 1);
	if (w->reason)
		memcpy(l.reason, w->reason, strlen(w->reason) + 1);
	l.status = w->confirm ? KURA_STATUS_CONFIRMED : KURA_STATUS_DRAFT;
	if (w->confirm)
		memcpy(l.confirmer, l.inputter, sizeof(l.confirmer));
	vault_new_record_id(l.record_id);
	l.version = 1;
	return vault_batch_add(b, &l, it->content.ptr, it->content.len, &out);
}

static int import_range(struct kura_vault *v, const struct kura_import *imp, size_t from,
			size_t to, const struct kura_write *w, struct kura_sth *ret_sth)
{
	struct vault_batch b;
	int r = vault_batch_begin(&b, v);
	if (r) {
		vault_batch_abort(&b);
		return r;
	}
	for (size_t i = from; i < to && !r; i++)
		r = add_item(&b, &imp->items[i], w);
	if (r) {
		vault_batch_abort(&b);
		return r;
	}
	return vault_batch_commit(&b, ret_sth);
}

static int check_write(const struct kura_write *w)
{
	if (!w->actor || !*w->actor || strlen(w->actor) > KURA_MAX_ID)
		return KURA_EINVAL;
	if (w->on_behalf_of && strlen(w->on_behalf_of) > KURA_MAX_ID)
		return KURA_EINVAL;
	if (w->reason && strlen(w->reason) > KURA_MAX_REASON)
		return KURA_EINVAL;
	return 0;
}

int kura_vault_import(struct kura_vault *v, const struct kura_import *imp,
		      const struct kura_write *w, kura_progress_fn progress, void *pctx,
		      uint64_t *ret_count, struct kura_sth *ret_sth)
{
	size_t batch = imp->atomic ? imp->count : KURA_IMPORT_BATCH;
	int r = check_write(w);
	*ret_count = 0;
	for (size_t i = 0; !r && i < imp->count; i += batch) {
		size_t to = imp->count - i < batch ? imp->count : i + batch;
		r = import_range(v, imp, i, to, w, ret_sth);
		if (!r)
			*ret_count = to;
		if (!r && progress)
			progress(pctx, to, imp->count);
	}
	return r;
}
