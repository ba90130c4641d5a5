/* account_view.h - read-only judgements on an account's state row
 * (account_view.c). */
#ifndef KURA_AUTH_ACCOUNT_VIEW_H
#define KURA_AUTH_ACCOUNT_VIEW_H

#include <jansson.h>
#include <stdint.h>

/* AC-04: 1 if the account has not logged in for more than days days at now
 * (never used: counted from its creation), else 0. */
int kura_account_dormant(const json_t *account, int64_t now, int64_t days);

#endif
