/* fuzz_recvproto.c - the receiver's request path parser
 * (kura_receiver_parse_path) and size parser on arbitrary bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backup/receiver.h"
#include "util/conf.h"
#include "util/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kura_recv_path p;
	char *s = malloc(size + 1);
	uint64_t v;
	if (!s)
		return 0;
	if (size)
		memcpy(s, data, size);
	s[size] = '\0';
	if (kura_receiver_parse_path(s, size, &p) == 0) {
		/* what is accepted is one of the three routes, whole */
		if (p.route < KURA_RECV_OBJECT || p.route > KURA_RECV_MANIFESTS ||
		    memcmp(s, "/v1/", 4) != 0 || strlen(s) != size)
			abort();
		if (p.route == KURA_RECV_MANIFEST && p.generation == 0)
			abort();
	}
	(void)kura_parse_size(s, &v);
	free(s);
	return 0;
}
