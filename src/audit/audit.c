/* audit.c - building audit events: time, clock state, who and where. */
#include "audit/audit.h"

#include <string.h>
#include <sys/timex.h>
#include <time.h>

#include "util/time.h"
#include "util/utf8.h"
#include "util/banned.h"

int kura_audit_clock_state(void)
{
	struct timex tx;
	memset(&tx, 0, sizeof(tx));
	int st = adjtimex(&tx);
	if (st < 0)
		return KURA_CLOCK_UNKNOWN;
	/* The kernel's view: synchronised unless STA_UNSYNC is set or it says
	 * TIME_ERROR (no NTP/PTP daemon disciplining the clock). */
	return st == TIME_ERROR || (tx.status & STA_UNSYNC) ? KURA_CLOCK_UNSYNCED
							    : KURA_CLOCK_SYNCED;
}

int kura_audit_utc_offset(int64_t us)
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;
	if (!localtime_r(&t, &tm))
		return 0;
	long off = tm.tm_gmtoff / 60;
	return off < -1440 || off > 1440 ? 0 : (int)off;
}

void kura_audit_set(char *dst, size_t cap, const char *src)
{
	size_t n = 0;
	const uint8_t *p = (const uint8_t *)(src ? src : "");
	while (p[n] && n + 1 < cap) {
		size_t k = p[n] < 0x80 ? 1 : kura_utf8_seq_len(p + n, strlen((const char *)p + n));
		if (k == 0 || n + k + 1 > cap)
			break;
		for (size_t i = 0; i < k; i++)
			dst[n + i] = (char)(k == 1 && (p[n] < 0x20 || p[n] == 0x7f) ? '?' : p[n + i]);
		n += k;
	}
	dst[n] = 0;
}

void kura_audit_event(struct kura_event *e, const struct kura_actor *a, const char *action)
{
	memset(e, 0, sizeof(*e));
	e->time_us = kura_time_now_us();
	e->utc_offset_min = (int16_t)kura_audit_utc_offset(e->time_us);
	e->clock = (uint8_t)kura_audit_clock_state();
	e->severity = KURA_SEV_INFO;
	e->outcome = KURA_OUTCOME_SUCCESS;
	KURA_AUDIT_SET(e->action, action);
	if (!a)
		return;
	KURA_AUDIT_SET(e->actor, a->user);
	KURA_AUDIT_SET(e->role, a->role);
	KURA_AUDIT_SET(e->terminal, a->terminal);
	KURA_AUDIT_SET(e->client_ip, a->client_ip);
	KURA_AUDIT_SET(e->cert_fp, a->cert_fp);
}
