/* placeholder until issue 5 lands here */
#include "cli/cli.h"
#include "util/banned.h"
int cmd_serve(struct cli *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_fail(c, KURA_EUSAGE, "not built yet", "未実装");
}
