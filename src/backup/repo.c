/*
 * repo.c - which backend a backup target names (repo.h).
 */
#include "backup/repo.h"

#include <string.h>

#include "util/err.h"
#include "util/banned.h"

int kura_repo_open(const char *target, const struct kura_repo_tls *tls, int create,
		   const uint8_t vault_id[KURA_BACKUP_VAULT_ID_LEN], struct kura_repo **ret)
{
	*ret = NULL;
	if (!target || !*target)
		return KURA_EINVAL;
	if (strncmp(target, "https://", 8) == 0)
		return kura_repo_http_open(target, tls, ret);
	if (strncmp(target, "http://", 7) == 0)
		return KURA_EINVAL; /* never in clear text */
	return kura_repo_dir_open(target, create, vault_id, ret);
}
