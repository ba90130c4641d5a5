/*
 * alert.h - run the site's alert command (setting alert.command) when
 * something the security administrator must hear of at once happens, such
 * as a break-glass (BG-02).  No shell: the command is executed directly,
 * with what happened in its environment and never a patient id:
 *   KURA_ALERT_ACTION  the event's action ("breakglass")
 *   KURA_ALERT_USER    the account that caused it
 *   KURA_ALERT_LEAF    the event's leaf index in the ledger
 *   PATH               /usr/local/bin:/usr/bin:/bin
 * Shared by the CLI (kura breakglass) and kura serve (POST /api/breakglass).
 */
#ifndef KURA_AUDIT_ALERT_H
#define KURA_AUDIT_ALERT_H

#include <stdint.h>

/* Longest a command may run before it is killed (seconds). */
#define KURA_ALERT_WAIT_S 10

/* Run cmd and wait for it (at most KURA_ALERT_WAIT_S): 0 if it exited 0,
 * else -1 (not started, failed, killed). */
int kura_alert_run(const char *cmd, const char *action, const char *user, uint64_t leaf);

/* The same on a detached thread, for a caller that may not wait (a server
 * loop): 0 once started, -1 if the thread could not be made.  The command's
 * outcome is written to stderr as one JSON line (no patient data). */
int kura_alert_spawn(const char *cmd, const char *action, const char *user, uint64_t leaf);

#endif
