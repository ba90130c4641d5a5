/* fuzz_router.c - the route table (serve/serve.h kura_route): any path and
 * method gives a route in range; an allowed method has the route's Allow
 * header naming it; a path with "..", "//" or control bytes never routes;
 * a routed path keeps routing the same with a query appended cut off. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "serve/serve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const method_names[] = {"", "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH",
					   "OPTIONS"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int method = data[0] % 9;
	char *path = malloc(size);
	if (!path)
		return 0;
	memcpy(path, data + 1, size - 1);
	path[size - 1] = '\0';
	int allowed = -1;
	int r = kura_route(path, method, &allowed);
	if (r < 0 || r >= KURA_ROUTE_COUNT || (allowed != 0 && allowed != 1))
		abort();
	if (r == KURA_ROUTE_NONE && allowed)
		abort();
	if (allowed && (method < 1 || method > 7 ||
			!strstr(kura_route_allow(r), method_names[method])))
		abort();
	if (r != KURA_ROUTE_NONE && (strstr(path, "/../") || strstr(path, "//") ||
				     strstr(path, "/./")))
		abort();
	if (!kura_route_name(r)[0])
		abort();
	free(path);
	return 0;
}
