/* auth_int.h - private to src/auth: helpers shared by its files. */
#ifndef KURA_AUTH_AUTH_INT_H
#define KURA_AUTH_AUTH_INT_H

#include "auth/auth.h"
#include "auth/password.h"

/* The password policy in force (defaults + stored settings). */
void auth_policy(struct kura_vault *v, struct kura_pw_policy *p);
/* A comma-separated department list of [a-z0-9_-] names ("" is valid). */
int auth_valid_departments(const char *list);
int auth_role_exists(struct kura_vault *v, const char *role);

#endif
