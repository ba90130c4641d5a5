/* ui_int.h - what ui_audit.c and ui_admin.c share (docs/formats/ui-api.md
 * §3-§4): an audit event as the web UI shows it, and the answers of a
 * refused or malformed request. */
#ifndef KURA_SERVE_UI_INT_H
#define KURA_SERVE_UI_INT_H

#include "serve/api_int.h"

/* The largest body POST /api/audit/review reads (413 above). */
#define KURA_UI_MAX_REVIEW_BODY 4096u
/* GET /api/audit/events: limit= (default, largest) and offset= (largest). */
#define KURA_UI_AUDIT_DEFAULT_LIMIT 100u
#define KURA_UI_AUDIT_MAX_LIMIT 1000u
#define KURA_UI_AUDIT_MAX_OFFSET 1000000u
/* Events of a period read (and flagged) for one answer: ~7 KB each in
 * memory, so a busy period is refused (400: narrow it) rather than read. */
#define KURA_UI_AUDIT_MAX_PERIOD 20000u
/* GET /api/admin/status: alerts shown, and how far back they are sought
 * (a day when those days hold more than KURA_MAX_AUDIT_RESULTS events). */
#define KURA_UI_MAX_ALERTS 50u
#define KURA_UI_ALERT_DAYS 30

/* E of ui-api.md §3: one event with its anomaly flags (KURA_FLAG_*);
 * NULL when out of memory. */
json_t *ui_event_json(const struct kura_event_row *row, unsigned flags);
/* 400 (or status) {"error": en, "error_ja": ja}. */
int ui_reply_bad(struct kura_http_resp *resp, int status, const char *en, const char *ja);
/* After kura_access_require refused (r): 403 {"error", "reason",
 * "breakglass": false} when r is KURA_EDENIED, else r. */
int ui_reply_refused(const struct kura_http_auth *au, struct kura_http_resp *resp, int r);

#endif
