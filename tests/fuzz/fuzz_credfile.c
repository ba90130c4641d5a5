/* fuzz_credfile.c - credentials file parsing on any input. */
#include <stdint.h>
#include <string.h>

#include "auth/credfile.h"
#include "crypto/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kura_credentials c;
	struct kura_buf msg;
	kura_crypto_init(); /* the password goes to locked memory (libsodium) */
	kura_buf_init(&msg, 4096);
	if (kura_credfile_parse(data, size, &c, &msg) == 0 && c.password &&
	    strlen(c.password) != c.password_len)
		__builtin_trap();
	kura_credentials_release(&c);
	kura_buf_release(&msg);
	return 0;
}
