/* vault.c - creating, opening and closing a vault directory. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"
#include "vault/vault_int.h"
#include "util/banned.h"

static int db_path(const char *dir, struct kura_buf *out)
{
	return kura_buf_printf(out, "%s/%s", dir, KURA_VAULT_DB);
}

static int vault_alloc(struct kura_vault **ret)
{
	struct kura_vault *v = calloc(1, sizeof(*v));
	if (!v)
		return KURA_ENOMEM;
	v->sec = kura_secret_alloc(sizeof(*v->sec));
	if (!v->sec) {
		free(v);
		return KURA_ENOMEM;
	}
	*ret = v;
	return 0;
}

void kura_vault_close(struct kura_vault *v)
{
	if (!v)
		return;
	kura_store_close(v->store);
	kura_secret_free(v->sec); /* wipes */
	kura_envelope_ctx_free(v->zctx);
	free(v);
}

struct kura_envelope_ctx *vault_zctx(struct kura_vault *v)
{
	if (!v->zctx)
		v->zctx = kura_envelope_ctx_new();
	return v->zctx;
}

struct kura_store *kura_vault_store(struct kura_vault *v)
{
	return v->store;
}

void kura_vault_pubkey(const struct kura_vault *v, uint8_t out[KURA_PUBKEY_LEN])
{
	memcpy(out, v->pub, KURA_PUBKEY_LEN);
}

static int write_pubkey(struct kura_vault *v, const char *dir)
{
	struct kura_buf pem, path;
	kura_buf_init(&pem, 4096);
	kura_buf_init(&path, 4096 + strlen(dir));
	int r = kura_ed25519_public_pem(v->pub, &pem);
	if (!r)
		r = kura_buf_printf(&path, "%s/%s", dir, KURA_VAULT_PUBKEY);
	if (!r)
		r = kura_fs_write_atomic((char *)path.data, pem.data, pem.len, 0644);
	kura_buf_release(&pem);
	kura_buf_release(&path);
	return r;
}

static int init_in_store(struct kura_vault *v, const char *pass, size_t passlen,
			 const struct kura_kdf_params *kdf, struct kura_sth *ret_sth)
{
	struct kura_ledger lg;
	struct kura_store *s = v->store;
	int r = s->ops->txn_begin(s, 1);
	if (r)
		return r;
	r = vault_keys_create(v, pass, passlen, kdf);
	if (!r)
		r = kura_ledger_begin(&lg, s);
	if (!r)
		r = kura_ledger_seal(&lg, v->sec->sign_seed, v->pub, ret_sth);
	if (!r)
		r = s->ops->txn_commit(s);
	else
		s->ops->txn_abort(s);
	return r;
}

/* Undo a failed init: remove what this call created, so that a second
 * attempt starts clean instead of finding half a vault. */
static void init_cleanup(const char *db, const char *dir, int made_dir)
{
	static const char *const suffix[] = {"", "-wal", "-shm"};
	struct kura_buf p;
	kura_buf_init(&p, 4096 + strlen(db));
	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		kura_buf_reset(&p);
		if (kura_buf_printf(&p, "%s%s", db, suffix[i]) == 0)
			unlink((char *)p.data);
	}
	kura_buf_reset(&p);
	if (kura_buf_printf(&p, "%s/%s", dir, KURA_VAULT_PUBKEY) == 0)
		unlink((char *)p.data);
	if (made_dir)
		rmdir(dir);
	kura_buf_release(&p);
}

int kura_vault_init(const char *dir, const char *pass, size_t passlen,
		    const struct kura_kdf_params *kdf, struct kura_sth *ret_sth)
{
	struct kura_vault *v = NULL;
	struct kura_buf path;
	int made_dir = 0, created = 0;
	kura_buf_init(&path, 4096 + strlen(dir));
	int r = db_path(dir, &path);
	if (r)
		goto out;
	if (mkdir(dir, 0700) == 0)
		made_dir = 1;
	else if (errno != EEXIST) {
		r = KURA_EIO;
		goto out;
	}
	if ((made_dir && (r = kura_fs_sync_dir(dir))) || (r = vault_alloc(&v)))
		goto out;
	r = kura_store_sqlite_open((char *)path.data, KURA_STORE_CREATE, &v->store);
	created = r == 0;
	if (!r)
		r = init_in_store(v, pass, passlen, kdf, ret_sth);
	if (!r)
		r = write_pubkey(v, dir);
	if (!r)
		r = kura_fs_sync_dir((char *)path.data);
out:
	kura_vault_close(v);
	if (r && created)
		init_cleanup((char *)path.data, dir, made_dir);
	else if (r && made_dir)
		rmdir(dir);
	kura_buf_release(&path);
	return r;
}

static int check_format(struct kura_store *s)
{
	struct kura_buf b;
	kura_buf_init(&b, 256);
	int r = s->ops->meta_get(s, "format", &b);
	if (r == KURA_ENOTFOUND || (r == 0 && strcmp((char *)b.data, KURA_VAULT_FORMAT) != 0))
		r = KURA_EFOREIGN;
	kura_buf_release(&b);
	return r;
}

int kura_vault_open(const char *dir, const char *pass, size_t passlen, int flags,
		    struct kura_vault **ret)
{
	struct kura_vault *v = NULL;
	struct kura_buf path;
	*ret = NULL;
	kura_buf_init(&path, 4096 + strlen(dir));
	int r = db_path(dir, &path);
	if (!r && !kura_fs_is_dir(dir))
		r = KURA_ENOVAULT;
	if (!r)
		r = vault_alloc(&v);
	if (!r)
		r = kura_store_sqlite_open((char *)path.data,
					   flags & KURA_VAULT_READONLY ? KURA_STORE_READONLY : 0,
					   &v->store);
	if (!r)
		r = check_format(v->store);
	if (r == KURA_EIO)
		r = KURA_EFOREIGN;
	if (!r)
		r = vault_keys_unlock(v, pass, passlen);
	if (!r) {
		v->readonly = flags & KURA_VAULT_READONLY;
		*ret = v;
		v = NULL;
	}
	kura_vault_close(v);
	kura_buf_release(&path);
	return r;
}
