/* fuzz_rbac.c - role rule text: parse any input; what parses must format
 * to text that parses back to the same rules, and format must be stable. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/rbac.h"
#include "util/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_round_trip(const struct kura_role *a, struct kura_role *b)
{
	struct kura_buf t1, t2;
	kura_buf_init(&t1, KURA_MAX_ROLE_RULES + 1);
	kura_buf_init(&t2, KURA_MAX_ROLE_RULES + 1);
	if (kura_rbac_format(a, &t1) != 0 || t1.len > KURA_MAX_ROLE_RULES)
		abort();
	if (kura_rbac_parse((const char *)t1.data, b, NULL) != 0 ||
	    !kura_rbac_rules_equal(a, b) || kura_rbac_format(b, &t2) != 0)
		abort();
	if (t1.len != t2.len || memcmp(t1.data, t2.data, t1.len) != 0)
		abort();
	kura_buf_release(&t1);
	kura_buf_release(&t2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A role is about 12 KiB: keep both off the stack. */
	struct kura_role *a = calloc(2, sizeof(*a));
	char *text = malloc(size + 1);
	struct kura_buf err;
	kura_buf_init(&err, 1024);
	if (!a || !text)
		abort();
	if (size)
		memcpy(text, data, size);
	text[size] = 0;
	a->scope = KURA_SCOPE_CARE;
	if (kura_rbac_parse(text, a, &err) == 0) {
		check_round_trip(a, a + 1);
		(void)kura_rbac_allows(a, KURA_ACT_READ, "Observation");
		(void)kura_rbac_allows(a, KURA_ACT_ADMINISTER, NULL);
	} else if (a->nrules != 0 || err.len == 0) {
		abort(); /* a failed parse leaves no rules and says why */
	}
	kura_buf_release(&err);
	free(text);
	free(a);
	return 0;
}
