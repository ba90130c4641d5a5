/* placeholder until the issue-4 work lands here */
#include "cli/cli.h"
int cmd_receiver(struct cli *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_fail(c, KURA_EUSAGE, "not built yet", "未実装");
}
