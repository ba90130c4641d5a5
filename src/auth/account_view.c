/*
 * account_view.c - read-only judgements on an account's state row
 * (auth.h), shared by `kura user list` and the web UI's administrator
 * screen (serve/ui_admin.c).
 */
#include "auth/account_view.h"
#include "util/banned.h"

#define US_PER_DAY (86400LL * 1000000LL)

int kura_account_dormant(const json_t *account, int64_t now, int64_t days)
{
	int64_t last = (int64_t)json_integer_value(json_object_get(account, "last_login_us"));
	if (!last)
		last = (int64_t)json_integer_value(json_object_get(account, "created_us"));
	return now - last > days * US_PER_DAY;
}
