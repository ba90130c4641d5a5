/*
 * credfile.h - the credentials file: how scripts, tests and machine
 * accounts log in without a prompt and without a password on the command
 * line (docs/internals/credentials.md).
 *
 *   # kura credentials - keep this file mode 0600
 *   [kura]
 *   user = dr.sato
 *   password = ...
 *   certificate = /path/cert.pem
 *   key = /path/key.pem
 *
 * Parsed with inih.  Strict: only the section [kura]; only these four keys,
 * each at most once; user a valid id (kura_valid_id); password 1..
 * KURA_MAX_PASSWORD bytes of UTF-8 without control characters; key given
 * if and only if certificate is; at least a password or a certificate.
 * Comments ('#' or ';') stand on their own lines, lines do not start with
 * white space (no continuation lines).
 */
#ifndef KURA_AUTH_CREDFILE_H
#define KURA_AUTH_CREDFILE_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/limits.h"

#define KURA_CRED_PATH_MAX 4096 /* with the terminator */

struct kura_credentials {
	char user[KURA_MAX_ID + 1];
	/* kura_secret_alloc'd, NUL-terminated, or NULL when the file has none. */
	char *password;
	size_t password_len;
	/* Paths as written in the file (relative ones are relative to the
	 * caller's working directory), or "" when absent. */
	char certificate[KURA_CRED_PATH_MAX];
	char key[KURA_CRED_PATH_MAX];
};

/*
 * Parse the bytes of a credentials file.  *ret is cleared on entry; on
 * success it owns a password for kura_credentials_release().  errmsg may
 * be NULL; otherwise on failure it is reset to one lowercase English line
 * saying what is wrong and where ("line 3: unknown key 'pasword'"); it
 * never contains the password.  Errors: KURA_EINVAL (any rule above),
 * KURA_ETOOBIG (a line longer than inih takes, a value over its limit, or
 * len > KURA_MAX_CREDFILE), KURA_ENOMEM.
 */
int kura_credfile_parse(const uint8_t *data, size_t len, struct kura_credentials *ret,
			struct kura_buf *errmsg);

/*
 * Read and parse the credentials file at path, like ssh reads a private
 * key: it must be a regular file (not a symbolic link) owned by the
 * effective user with no permission bits for group or others, else
 * KURA_EPOLICY (the message says to run chmod 600).  KURA_ENOTFOUND if it
 * does not exist, KURA_ETOOBIG past KURA_MAX_CREDFILE, KURA_EIO, and the
 * errors of kura_credfile_parse().  The bytes read are wiped.
 */
int kura_credfile_load(const char *path, struct kura_credentials *ret,
		       struct kura_buf *errmsg);

/* Wipe and free the password and clear the struct; accepts NULL. */
void kura_credentials_release(struct kura_credentials *c);

#endif
