/*
 * err.h - the one error enum of kura.
 *
 * Every function that can fail returns int: 0 on success or a negative
 * KURA_E* code below.  kura_strerror() gives the English text, the CLI maps
 * codes to exit statuses and to Japanese text (see cli/exitcode.c).
 */
#ifndef KURA_UTIL_ERR_H
#define KURA_UTIL_ERR_H

enum kura_err {
	KURA_OK = 0,
	KURA_EINTERNAL = -1, /* a bug or an impossible state */
	KURA_ENOMEM = -2,    /* allocation failed */
	KURA_EINVAL = -3,    /* bad input from the caller or user */
	KURA_ENOTFOUND = -4, /* no such record, version, patient, key */
	KURA_EEXIST = -5,    /* already exists (vault, id) */
	KURA_EDENIED = -6,   /* wrong passphrase or not allowed */
	KURA_ECORRUPT = -7,  /* stored bytes are damaged or inconsistent */
	KURA_ETOOBIG = -8,   /* input over a named limit (util/limits.h) */
	KURA_EBUSY = -9,     /* another writer holds the vault too long */
	KURA_EIO = -10,      /* the operating system refused a read or write */
	KURA_ESTATE = -11,   /* not allowed in the record's state (retracted) */
	KURA_ECRYPTO = -12,  /* authentication tag or signature mismatch */
	KURA_EVERIFY = -13,  /* an integrity check failed */
	KURA_ENOVAULT = -14, /* no vault at the given place */
	KURA_EFOREIGN = -15, /* not a kura vault, or a newer format */
	KURA_EUSAGE = -16,   /* wrong command line */
	KURA_EAUTH = -17,    /* not authenticated: no or wrong credentials, second factor */
	KURA_ELOCKED = -18,  /* the account is locked or disabled */
	KURA_EEXPIRED = -19, /* session or password expired: log in again or change it */
	KURA_EPOLICY = -20,  /* a password or setting breaks the configured policy */
};

/* Static English text for an error code; never NULL. */
const char *kura_strerror(int err);

/* Short stable name ("ECORRUPT") for machine output; never NULL. */
const char *kura_errname(int err);

#endif
