/*
 * alert.c - the site's alert command (alert.h; BG-02).
 */
#include "audit/alert.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "util/limits.h"
#include "util/banned.h"

#define ALERT_MAX_CMD 4096

struct alert_job {
	char cmd[ALERT_MAX_CMD];
	char action[64];
	char user[KURA_MAX_ID + 1];
	uint64_t leaf;
};

static int job_set(struct alert_job *j, const char *cmd, const char *action, const char *user,
		   uint64_t leaf)
{
	if (!cmd || !*cmd || strlen(cmd) >= sizeof(j->cmd) || strlen(action) >= sizeof(j->action))
		return -1;
	snprintf(j->cmd, sizeof(j->cmd), "%s", cmd);
	snprintf(j->action, sizeof(j->action), "%s", action);
	snprintf(j->user, sizeof(j->user), "%s", user ? user : "");
	j->leaf = leaf;
	return 0;
}

static int job_run(const struct alert_job *j)
{
	char ea[96], eu[KURA_MAX_ID + 32], el[64];
	snprintf(ea, sizeof(ea), "KURA_ALERT_ACTION=%s", j->action);
	snprintf(eu, sizeof(eu), "KURA_ALERT_USER=%s", j->user);
	snprintf(el, sizeof(el), "KURA_ALERT_LEAF=%llu", (unsigned long long)j->leaf);
	char *const argv[] = {(char *)j->cmd, NULL};
	char *const envp[] = {ea, eu, el, "PATH=/usr/local/bin:/usr/bin:/bin", NULL};
	pid_t pid;
	fflush(stdout);
	/* posix_spawn, not fork: safe in a process with threads. */
	if (posix_spawn(&pid, j->cmd, NULL, NULL, argv, envp) != 0)
		return -1;
	int status = 0;
	for (int i = 0; i < KURA_ALERT_WAIT_S * 10; i++) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
		if (w < 0 && errno != EINTR)
			return -1;
		struct timespec ts = {0, 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

int kura_alert_run(const char *cmd, const char *action, const char *user, uint64_t leaf)
{
	struct alert_job j;
	return job_set(&j, cmd, action, user, leaf) ? -1 : job_run(&j);
}

static void *job_main(void *arg)
{
	struct alert_job *j = arg;
	int r = job_run(j);
	fprintf(stderr, "{\"event\":\"alert_command\",\"action\":\"%s\",\"leaf\":%llu,\"ok\":%s}\n",
		j->action, (unsigned long long)j->leaf, r ? "false" : "true");
	free(j);
	return NULL;
}

int kura_alert_spawn(const char *cmd, const char *action, const char *user, uint64_t leaf)
{
	struct alert_job *j = malloc(sizeof(*j));
	pthread_attr_t at;
	pthread_t th;
	if (!j || job_set(j, cmd, action, user, leaf)) {
		free(j);
		return -1;
	}
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	int r = pthread_create(&th, &at, job_main, j);
	pthread_attr_destroy(&at);
	if (r) {
		free(j);
		return -1;
	}
	return 0;
}
