/* fuzz_auditquery.c - the audit query language, time expressions and the
 * review window on any input; a parsed query must give a consistent filter;
 * and any stored string, formatted, must not reach the output raw. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/query.h"
#include "audit/report.h"
#include "util/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_query(const char *s)
{
	struct kura_audit_query q;
	struct kura_event_filter f;
	struct kura_event_row row;
	int r = kura_audit_query_parse_at(s, 540, INT64_C(1796083200000000), &q);
	if (r) {
		if (!memchr(q.errmsg, '\0', sizeof(q.errmsg)) || q.errmsg[0] == '\0')
			abort();
		return;
	}
	kura_audit_query_filter(&q, &f);
	if (q.n_actions > KURA_AUDIT_MAX_ACTIONS || (q.n_actions == 1) != (f.action != NULL))
		abort();
	if (q.has_from && q.has_to && q.from_us >= q.to_us)
		abort();
	memset(&row, 0, sizeof(row));
	(void)kura_audit_query_match(&q, &row);
}

/* No control byte but the line ends of the format, no DEL. */
static void check_output(const struct kura_buf *b, int crlf)
{
	for (size_t i = 0; i < b->len; i++) {
		uint8_t c = b->data[i];
		int eol = c == '\n' && (!crlf || (i > 0 && b->data[i - 1] == '\r'));
		int cr = crlf && c == '\r' && i + 1 < b->len && b->data[i + 1] == '\n';
		if ((c < 0x20 && !eol && !cr) || c == 0x7f)
			abort();
	}
}

static void check_format(const char *s)
{
	struct kura_event_row row;
	struct kura_buf b;
	unsigned fl = KURA_FLAG_ALL;
	memset(&row, 0, sizeof(row));
	size_t n = strnlen(s, KURA_MAX_REASON);
	memcpy(row.ev.reason, s, n);
	memcpy(row.ev.terminal, s, n < KURA_MAX_TERMINAL ? n : KURA_MAX_TERMINAL);
	memcpy(row.ev.actor, s, n < KURA_MAX_ID ? n : KURA_MAX_ID);
	kura_buf_init(&b, 1u << 20);
	for (int fmt = KURA_AUDIT_TEXT; fmt <= KURA_AUDIT_CSV; fmt++) {
		kura_buf_reset(&b);
		if (kura_audit_format((enum kura_audit_fmt)fmt, &row, 1, &fl, fmt == 0, &b))
			abort();
		check_output(&b, fmt == KURA_AUDIT_CSV);
		kura_buf_reset(&b);
		if (kura_audit_report_user(row.ev.actor, &row, 1, NULL, (enum kura_audit_fmt)fmt, 1,
					   &b))
			abort();
		check_output(&b, fmt == KURA_AUDIT_CSV);
	}
	kura_buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int64_t t, from, to;
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	check_query(s);
	check_format(s);
	for (int eod = 0; eod < 2; eod++)
		(void)kura_time_parse_at(s, eod ? -300 : 540, eod, INT64_C(1796083200000000), &t);
	if (kura_review_window_parse(s, &from, &to) == 0 && from >= to)
		abort();
	free(s);
	return 0;
}
