/* err.c - names and texts of the error codes in err.h. */
#include "util/err.h"

#include <stddef.h>

#include "util/banned.h"

struct err_entry {
	int code;
	const char *name;
	const char *text;
};

static const struct err_entry err_table[] = {
	{KURA_OK, "OK", "success"},
	{KURA_EINTERNAL, "EINTERNAL", "internal error"},
	{KURA_ENOMEM, "ENOMEM", "out of memory"},
	{KURA_EINVAL, "EINVAL", "invalid input"},
	{KURA_ENOTFOUND, "ENOTFOUND", "not found"},
	{KURA_EEXIST, "EEXIST", "already exists"},
	{KURA_EDENIED, "EDENIED", "access denied"},
	{KURA_ECORRUPT, "ECORRUPT", "stored data is corrupt"},
	{KURA_ETOOBIG, "ETOOBIG", "input exceeds a size limit"},
	{KURA_EBUSY, "EBUSY", "vault is busy"},
	{KURA_EIO, "EIO", "input/output error"},
	{KURA_ESTATE, "ESTATE", "not allowed in the current state"},
	{KURA_ECRYPTO, "ECRYPTO", "authentication failed"},
	{KURA_EVERIFY, "EVERIFY", "integrity check failed"},
	{KURA_ENOVAULT, "ENOVAULT", "no vault found"},
	{KURA_EFOREIGN, "EFOREIGN", "not a kura vault of a known format"},
	{KURA_EUSAGE, "EUSAGE", "wrong usage"},
	{KURA_EAUTH, "EAUTH", "authentication failed"},
	{KURA_ELOCKED, "ELOCKED", "account locked or disabled"},
	{KURA_EEXPIRED, "EEXPIRED", "session or password expired"},
	{KURA_EPOLICY, "EPOLICY", "rejected by policy"},
};

static const struct err_entry *err_find(int err)
{
	for (size_t i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++)
		if (err_table[i].code == err)
			return &err_table[i];
	return &err_table[1];
}

const char *kura_strerror(int err)
{
	return err_find(err)->text;
}

const char *kura_errname(int err)
{
	return err_find(err)->name;
}
