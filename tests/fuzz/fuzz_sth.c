/* fuzz_sth.c - tree-head JSON parsing and signature checking on any input. */
#include <stdint.h>
#include <string.h>

#include "ledger/sth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t pub[32] = {1};
	struct kura_sth sth;
	json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (j && kura_sth_from_json(j, &sth) == 0)
		(void)kura_sth_verify(&sth, pub);
	json_decref(j);
	return 0;
}
