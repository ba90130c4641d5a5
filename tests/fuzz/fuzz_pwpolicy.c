/* fuzz_pwpolicy.c - policy settings and password checks on any input.
 *
 * Input "key=value" goes to kura_pw_policy_set (and back through _get);
 * anything else, and the value part, goes to kura_pw_check without the
 * dictionary (cracklib is a C library of its own; this targets our scan,
 * normalisation and personal-data matching).
 */
#include <stdint.h>
#include <string.h>

#include "auth/password.h"
#include "util/limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct kura_pw_policy *p, const uint8_t *data, size_t size)
{
	static const struct kura_pw_person who = {"tanaka01", "Taro Yamada-Sato", "1980-05-12"};
	enum kura_pw_reason reason;
	unsigned age;
	int r = kura_pw_check(p, (const char *)data, size, &who, size & 1, &reason, &age);
	if (r != 0 && r != KURA_EPOLICY)
		__builtin_trap();
	(void)kura_pw_reason_text(reason, (int)(size & 2));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char key[128], value[128];
	struct kura_pw_policy p;
	struct kura_buf b;
	const uint8_t *eq = memchr(data, '=', size);
	kura_pw_policy_default(&p);
	p.dictionary = 0;
	if (eq && (size_t)(eq - data) < sizeof(key) && size - (size_t)(eq - data) <= sizeof(value)) {
		size_t kn = (size_t)(eq - data), vn = size - kn - 1;
		memcpy(key, data, kn);
		key[kn] = '\0';
		memcpy(value, eq + 1, vn);
		value[vn] = '\0';
		kura_buf_init(&b, 64);
		if (kura_pw_policy_set(&p, key, value) == 0 &&
		    kura_pw_policy_get(&p, key, &b) != 0)
			__builtin_trap();
		kura_buf_release(&b);
		p.dictionary = 0;
		check(&p, eq + 1, vn);
	}
	check(&p, data, size);
	return 0;
}
