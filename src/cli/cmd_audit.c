/*
 * cmd_audit.c - kura audit: search, report, review, export and forward the
 * audit trail (LG-01..06, BG-02).  Reading the trail needs the audit
 * permission and is itself audited: the audit-* event is durable before any
 * result is printed.
 */
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/export.h"
#include "audit/query.h"
#include "audit/report.h"
#include "audit/syslog.h"
#include "audit/trail.h"
#include "cli/cli.h"
#include "crypto/crypto.h"
#include "util/time.h"
#include "util/banned.h"

#define OUT_MAX ((size_t)1 << 30) /* the largest result printed at once */

/* Set by SIGINT/SIGTERM during 'kura audit forward' (the CLI's only global). */
static volatile sig_atomic_t forward_stop;

/* ---- rows of the trail (audit/trail.h) ---- */

static int rows_query(struct kura_vault *v, const struct kura_event_filter *f,
		      struct kura_audit_rows *r)
{
	struct kura_store *s = kura_vault_store(v);
	return s->ops->event_query(s, f, kura_audit_rows_add, r);
}

/* ---- shared pieces of the subcommands ---- */

static int parse_format(struct cli *c, const char *s, enum kura_audit_fmt *ret)
{
	if (c->json || (s && strcmp(s, "json") == 0))
		*ret = KURA_AUDIT_JSON;
	else if (!s || strcmp(s, "text") == 0)
		*ret = KURA_AUDIT_TEXT;
	else if (strcmp(s, "csv") == 0)
		*ret = KURA_AUDIT_CSV;
	else
		return cli_fail(c, KURA_EUSAGE, "unknown format '%s': use text, json or csv",
				"不明な形式 '%s' です。text・json・csv のいずれかを指定してください", s);
	return 0;
}

/* Append " key=value" to the query text; values holding a space are refused
 * by the parser later (they cannot be one term). */
static int add_term(struct kura_buf *q, const char *key, const char *value)
{
	if (!value)
		return 0;
	if (!key) /* a raw query given as an argument */
		return kura_buf_printf(q, "%s%s", q->len ? " " : "", value);
	return kura_buf_printf(q, "%s%s=%s", q->len ? " " : "", key, value);
}

static int parse_query(struct cli *c, const char *text, struct kura_audit_query *q)
{
	int r = kura_audit_query_parse(text, kura_audit_utc_offset(kura_time_now_us()), q);
	if (r == KURA_ETOOBIG)
		return cli_fail(c, r, "the query is too long (at most %u bytes)",
				"検索条件が長すぎます（最大 %u バイト）", KURA_MAX_AUDIT_QUERY);
	if (r)
		return cli_fail(c, r, "bad query: %s", "検索条件が正しくありません: %s", q->errmsg);
	return 0;
}

/* Open the operation and check the audit permission (a denial is recorded
 * as an event of action). */
static int open_auditor(struct cli *c, struct cli_op *op, enum kura_action act, const char *action)
{
	int e = cli_op_open(c, op, 0);
	if (e)
		return e;
	int r = kura_access_require(&op->a, act, action);
	if (r) {
		e = cli_access_fail(c, op, r, action);
		cli_op_close(op);
	}
	return e;
}

/* Record the reading of the trail; nothing is printed unless this worked. */
static int record_read(struct cli *c, struct cli_op *op, const char *action, const char *query,
		       size_t n)
{
	struct kura_event ev;
	char detail[64];
	kura_audit_event(&ev, &op->id.actor, action);
	KURA_AUDIT_SET(ev.query, query);
	snprintf(detail, sizeof(detail), "%zu events", n);
	KURA_AUDIT_SET(ev.detail, detail);
	int r = kura_access_record(&op->a, &ev);
	return r ? cli_fail(c, r, "cannot record the audit event: %s; nothing shown",
			    "監査イベントを記録できません: %s。結果は表示しません", kura_strerror(r))
		 : 0;
}

static int print_buf(struct cli *c, const struct kura_buf *out)
{
	return cli_write_out(c, NULL, out->data, out->len);
}

/* What a reading of the trail shows: search results, or a report about
 * one patient or one user. */
enum trail_kind { TRAIL_SEARCH, TRAIL_PATIENT, TRAIL_USER };

static int format_trail(enum trail_kind kind, const char *id, const struct kura_audit_rows *all, size_t n,
			const unsigned *flags, enum kura_audit_fmt fmt, int ja, struct kura_buf *out)
{
	switch (kind) {
	case TRAIL_PATIENT:
		return kura_audit_report_patient(id, all->v, n, flags, fmt, ja, out);
	case TRAIL_USER:
		return kura_audit_report_user(id, all->v, n, flags, fmt, ja, out);
	default:
		return kura_audit_format(fmt, all->v, n, flags, ja, out);
	}
}

/* Query, flag, select, format; then record the reading and print. */
static int run_trail(struct cli *c, enum trail_kind kind, const char *id, const char *text,
		     enum kura_audit_fmt fmt)
{
	const char *action = kind == TRAIL_SEARCH ? "audit-search" : "audit-report";
	struct kura_audit_query q;
	struct kura_event_filter f;
	struct cli_op op;
	struct kura_audit_rows all = {0};
	struct kura_buf out;
	unsigned *flags = NULL;
	int e = parse_query(c, text, &q);
	if (e || (e = open_auditor(c, &op, KURA_ACT_AUDIT, action)))
		return e;
	kura_audit_query_filter(&q, &f);
	kura_buf_init(&out, OUT_MAX);
	int r = kura_audit_collect(op.v, f.from_us, f.to_us, 0, &all, &flags);
	size_t n = r ? 0 : kura_audit_select(&q, kind == TRAIL_SEARCH, &all, flags);
	if (!r)
		r = format_trail(kind, id, &all, n, flags, fmt, c->lang == LANG_JA, &out);
	e = r ? cli_fail_code(c, r, action) : record_read(c, &op, action, text, n);
	if (!e)
		e = print_buf(c, &out);
	kura_buf_release(&out);
	free(flags);
	kura_audit_rows_free(&all);
	cli_op_close(&op);
	return e;
}

/* ---- kura audit search ---- */

static int cmd_search(struct cli *c, int argc, char **argv)
{
	static const char usage[] =
		"kura audit search [--patient ID] [--user ID] [--action A[,A]] [--from T] [--to T]\n"
		"                  [--outcome success|denied|failed|integrity] [--flag F[,F]]\n"
		"                  [--limit N] [--format text|json|csv] ['QUERY']\n"
		"  search the audit trail (auditors); QUERY is 'key=value ...' as in\n"
		"  docs/internals/audit-query.md, e.g. 'patient=P-001 action=read from=-7d'";
	static const struct option opts[] = {
		{"patient", required_argument, NULL, 'p'}, {"user", required_argument, NULL, 'u'},
		{"action", required_argument, NULL, 'a'},  {"from", required_argument, NULL, 'f'},
		{"to", required_argument, NULL, 't'},      {"outcome", required_argument, NULL, 'o'},
		{"flag", required_argument, NULL, 'g'},    {"limit", required_argument, NULL, 'l'},
		{"format", required_argument, NULL, 'F'},  {NULL, 0, NULL, 0}};
	static const char *const keys[] = {"patient", "user", "action", "from",
					   "to",      "outcome", "flag",  "limit"};
	const char *val[8] = {0}, *format = NULL;
	struct kura_buf q;
	enum kura_audit_fmt fmt = KURA_AUDIT_TEXT;
	int o, e;
	while ((o = cli_getopt(c, argc, argv, "", opts, usage)) != -1) {
		const char *k = strchr("puaftogl", o);
		if (o == 'F')
			format = optarg;
		else if (k && o)
			val[k - "puaftogl"] = optarg;
		else
			return EXIT_USAGE;
	}
	if ((e = parse_format(c, format, &fmt)))
		return e;
	kura_buf_init(&q, KURA_MAX_AUDIT_QUERY + 1);
	int r = 0;
	for (size_t i = 0; !r && i < 8; i++)
		r = add_term(&q, keys[i], val[i]);
	for (int i = optind; !r && i < argc; i++)
		r = add_term(&q, NULL, argv[i]);
	if (r)
		e = cli_fail(c, KURA_ETOOBIG, "the query is too long (at most %u bytes)",
			     "検索条件が長すぎます（最大 %u バイト）", KURA_MAX_AUDIT_QUERY);
	else
		e = run_trail(c, TRAIL_SEARCH, NULL, q.data ? (char *)q.data : "", fmt);
	kura_buf_release(&q);
	return e;
}

/* ---- kura audit report patient|user ID ---- */

static int cmd_report(struct cli *c, int argc, char **argv)
{
	static const char usage[] =
		"kura audit report patient|user ID [--from T] [--to T] [--format text|json|csv]\n"
		"  who accessed a patient's records, or what one user did (auditors)";
	static const struct option opts[] = {{"from", required_argument, NULL, 'f'},
					     {"to", required_argument, NULL, 't'},
					     {"format", required_argument, NULL, 'F'},
					     {NULL, 0, NULL, 0}};
	const char *from = NULL, *to = NULL, *format = NULL;
	enum kura_audit_fmt fmt = KURA_AUDIT_TEXT;
	struct kura_buf q;
	int o, e;
	while ((o = cli_getopt(c, argc, argv, "", opts, usage)) != -1) {
		if (o == 'f')
			from = optarg;
		else if (o == 't')
			to = optarg;
		else if (o == 'F')
			format = optarg;
		else
			return EXIT_USAGE;
	}
	int patient = optind < argc && strcmp(argv[optind], "patient") == 0;
	if (optind + 2 != argc || (!patient && strcmp(argv[optind], "user") != 0))
		return cli_fail(c, KURA_EUSAGE, "usage: %s", "使い方: %s", usage);
	if ((e = parse_format(c, format, &fmt)))
		return e;
	kura_buf_init(&q, KURA_MAX_AUDIT_QUERY + 1);
	int r = add_term(&q, patient ? "patient" : "user", argv[optind + 1]);
	if (!r)
		r = add_term(&q, "from", from);
	if (!r)
		r = add_term(&q, "to", to);
	e = r ? cli_fail_code(c, r, NULL) : run_trail(c, patient ? TRAIL_PATIENT : TRAIL_USER,
							   argv[optind + 1], (char *)q.data, fmt);
	kura_buf_release(&q);
	return e;
}

/* ---- kura audit review --from T --to T [--note TEXT] (LG-05) ---- */

/* The window [from, to) in UTC microseconds; to= is end-of-day for a date. */
static int parse_window(struct cli *c, const char *from, const char *to, int64_t *ret_from,
			int64_t *ret_to)
{
	int64_t now = kura_time_now_us();
	int off = kura_audit_utc_offset(now);
	if (kura_time_parse_at(from, off, 0, now, ret_from) || kura_time_parse_at(to, off, 1, now, ret_to))
		return cli_fail(c, KURA_EINVAL, "bad --from or --to: use e.g. 2026-12-01, 2026-12-01T09:00, -7d or now",
				"--from または --to が正しくありません。例: 2026-12-01、2026-12-01T09:00、-7d、now");
	if (*ret_from >= *ret_to)
		return cli_fail(c, KURA_EINVAL, "--from must be before --to",
				"--from は --to より前にしてください");
	return 0;
}

static int cmd_review(struct cli *c, int argc, char **argv)
{
	static const char usage[] =
		"kura audit review --from T --to T [--note TEXT]\n"
		"  record that the trail of [from, to) was reviewed (LG-05; auditors);\n"
		"  break-glass events in the window are no longer flagged unreviewed";
	static const struct option opts[] = {{"from", required_argument, NULL, 'f'},
					     {"to", required_argument, NULL, 't'},
					     {"note", required_argument, NULL, 'n'},
					     {NULL, 0, NULL, 0}};
	const char *from = NULL, *to = NULL, *note = NULL;
	int64_t f, t;
	struct kura_audit_review_result rv;
	struct cli_op op;
	int o, e;
	while ((o = cli_getopt(c, argc, argv, "", opts, usage)) != -1) {
		if (o == 'f' || o == 't' || o == 'n')
			*(o == 'f' ? &from : o == 't' ? &to : &note) = optarg;
		else
			return EXIT_USAGE;
	}
	if (!from || !to || optind != argc)
		return cli_fail(c, KURA_EUSAGE, "usage: %s", "使い方: %s", usage);
	if ((e = parse_window(c, from, to, &f, &t)) ||
	    (e = open_auditor(c, &op, KURA_ACT_AUDIT, "audit-review")))
		return e;
	/* Its own transaction: a signed leaf (audit/trail.h). */
	int r = kura_audit_review(op.v, &op.id.actor, f, t, note, &rv);
	if (r)
		e = cli_fail_code(c, r, "audit review");
	else if (c->json)
		cli_print_json(json_pack("{s:I, s:I}", "leaf_index", (json_int_t)rv.leaf_index,
					 "tree_size", (json_int_t)rv.sth.tree_size));
	else
		printf(L(c, "review recorded: leaf %llu, tree size %llu\n",
			 "レビューを記録しました: リーフ %llu、ツリーサイズ %llu\n"),
		       (unsigned long long)rv.leaf_index, (unsigned long long)rv.sth.tree_size);
	cli_op_close(&op);
	return e;
}

/* ---- kura audit export ---- */

/* The site of exported events: this host and the ledger's log id. */
static void export_site(struct kura_vault *v, char *host, size_t hostcap,
			char log_id[2 * KURA_HASH_LEN + 1], struct kura_export_site *ret)
{
	uint8_t pub[KURA_PUBKEY_LEN], h[KURA_HASH_LEN];
	if (gethostname(host, hostcap - 1) != 0 || !host[0])
		snprintf(host, hostcap, "localhost");
	host[hostcap - 1] = 0;
	kura_vault_pubkey(v, pub);
	kura_sha256(pub, sizeof(pub), h);
	kura_hex_encode(h, sizeof(h), log_id);
	ret->host = host;
	ret->site = "";
	ret->log_id = log_id;
}

static int export_row(const struct kura_event_row *row, const struct kura_export_site *site,
		      int atna, struct kura_buf *out)
{
	int r;
	if (atna) {
		r = kura_export_atna(row, site, out);
	} else {
		json_t *j = kura_export_fhir(row, site);
		char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
		r = s ? kura_buf_append_str(out, s) : KURA_EINVAL;
		free(s);
		json_decref(j);
	}
	return r ? r : kura_buf_append_byte(out, '\n');
}

static int run_export(struct cli *c, struct cli_op *op, const struct kura_event_filter *f,
		      int atna, const char *path)
{
	char host[256], log_id[2 * KURA_HASH_LEN + 1];
	struct kura_export_site site;
	struct kura_audit_rows all = {0};
	struct kura_buf out, q;
	export_site(op->v, host, sizeof(host), log_id, &site);
	kura_buf_init(&out, OUT_MAX);
	kura_buf_init(&q, 256);
	int r = rows_query(op->v, f, &all);
	for (size_t i = 0; !r && i < all.n; i++)
		r = export_row(&all.v[i], &site, atna, &out);
	if (!r)
		r = kura_buf_printf(&q, "from=%lld to=%lld format=%s", (long long)f->from_us,
				    (long long)f->to_us, atna ? "atna" : "fhir");
	int e = r ? cli_fail_code(c, r, "audit export")
		  : record_read(c, op, "audit-export", (char *)q.data, all.n);
	if (!e)
		e = cli_write_out(c, path, out.data, out.len);
	kura_buf_release(&q);
	kura_buf_release(&out);
	kura_audit_rows_free(&all);
	return e;
}

/* --from/--to of an export, each optional (0: unbounded). */
static int export_window(struct cli *c, const char *from, const char *to,
			 struct kura_event_filter *f)
{
	int e = parse_window(c, from ? from : "0001-01-01", to ? to : "now", &f->from_us, &f->to_us);
	f->from_us = from ? f->from_us : 0;
	f->to_us = to ? f->to_us : 0;
	return e;
}

static int cmd_export(struct cli *c, int argc, char **argv)
{
	static const char usage[] =
		"kura audit export [--from T] [--to T] [--format fhir|atna] [-o FILE]\n"
		"  the trail as NDJSON FHIR AuditEvents (default) or ATNA XML lines (auditors)";
	static const struct option opts[] = {{"from", required_argument, NULL, 'f'},
					     {"to", required_argument, NULL, 't'},
					     {"format", required_argument, NULL, 'F'},
					     {"output", required_argument, NULL, 'o'},
					     {NULL, 0, NULL, 0}};
	const char *from = NULL, *to = NULL, *format = "fhir", *path = NULL;
	struct kura_event_filter f = {.outcome = -1};
	struct cli_op op;
	int o, e;
	while ((o = cli_getopt(c, argc, argv, "o:", opts, usage)) != -1) {
		if (o == 'f' || o == 't' || o == 'F' || o == 'o')
			*(o == 'f' ? &from : o == 't' ? &to : o == 'F' ? &format : &path) = optarg;
		else
			return EXIT_USAGE;
	}
	int atna = strcmp(format, "atna") == 0;
	if (optind != argc || (!atna && strcmp(format, "fhir") != 0))
		return cli_fail(c, KURA_EUSAGE, "usage: %s", "使い方: %s", usage);
	if ((e = export_window(c, from, to, &f)))
		return e;
	if ((e = open_auditor(c, &op, KURA_ACT_AUDIT, "audit-export")))
		return e;
	e = run_export(c, &op, &f, atna, path);
	cli_op_close(&op);
	return e;
}

/* ---- kura audit forward (syslog/TLS to a SIEM) ---- */

/*
 * Receivers: the settings syslog.<NAME>.host, .port, .ca, .cert, .key and
 * .server_name say where; the state row ("forward", NAME) holds the cursor
 * {"next_leaf":..,"next_seq":..} and is what makes NAME a receiver: the
 * setting names are dynamic and cannot be listed, so 'kura audit forward
 * --add NAME' creates the row (cursor 0, 1) and cli_forward_now() forwards
 * to every row.
 */
#define FWD_MAX_NAME 32
#define FWD_MAX_RECEIVERS 16
#define FWD_NOW_MS 2000

enum { TLS_HOST, TLS_PORT, TLS_CA, TLS_CERT, TLS_KEY, TLS_NAME, TLS_FIELDS };

struct fwd_ctx {
	struct kura_vault *v;
	const char *name;
	struct kura_export_site site;
};

static int valid_receiver(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > FWD_MAX_NAME)
		return 0;
	return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

static int first_row(void *ctx, const struct kura_event_row *row)
{
	*(struct kura_event_row *)ctx = *row;
	return 1; /* one is enough: stop the scan */
}

static int fwd_next(void *ctx, uint64_t from_leaf, struct kura_event_row *ret)
{
	struct fwd_ctx *f = ctx;
	struct kura_store *s = kura_vault_store(f->v);
	int r = s->ops->event_scan(s, from_leaf, first_row, ret);
	return r == 1 ? 0 : r ? r : KURA_ENOTFOUND;
}

static int fwd_format(void *ctx, const struct kura_event_row *row, struct kura_buf *body)
{
	struct fwd_ctx *f = ctx;
	return kura_export_atna(row, &f->site, body);
}

static int save_cursor(struct kura_vault *v, const char *name, uint64_t leaf, uint64_t seq)
{
	struct kura_txn *t = NULL;
	json_t *j = json_pack("{s:I, s:I}", "next_leaf", (json_int_t)leaf, "next_seq", (json_int_t)seq);
	int r = j ? kura_txn_begin(v, &t) : KURA_ENOMEM;
	if (!r)
		r = kura_state_put(t, "forward", name, j);
	if (t)
		r = kura_txn_finish(t, r, NULL);
	json_decref(j);
	return r;
}

static int fwd_save(void *ctx, uint64_t next_leaf, uint64_t next_seq)
{
	struct fwd_ctx *f = ctx;
	return save_cursor(f->v, f->name, next_leaf, next_seq);
}

/* KURA_ENOTFOUND if NAME is not a receiver (no state row). */
static int load_cursor(struct kura_vault *v, const char *name, uint64_t *ret_leaf,
		       uint64_t *ret_seq)
{
	json_t *j = NULL;
	int r = kura_state_get(v, "forward", name, &j);
	if (r)
		return r;
	json_int_t leaf = json_integer_value(json_object_get(j, "next_leaf"));
	json_int_t seq = json_integer_value(json_object_get(j, "next_seq"));
	json_decref(j);
	*ret_leaf = leaf > 0 ? (uint64_t)leaf : 0;
	*ret_seq = seq > 0 ? (uint64_t)seq : 1;
	return 0;
}

/* The settings syslog.NAME.*; host, port and ca are required. */
static int load_tls(struct kura_vault *v, const char *name, struct kura_buf b[TLS_FIELDS],
		    struct kura_tls_config *cfg)
{
	static const char *const field[TLS_FIELDS] = {"host", "port", "ca", "cert", "key", "server_name"};
	char key[FWD_MAX_NAME + 32];
	int r = 0;
	memset(cfg, 0, sizeof(*cfg));
	for (int i = 0; i < TLS_FIELDS; i++) {
		kura_buf_init(&b[i], 4096);
		snprintf(key, sizeof(key), "syslog.%s.%s", name, field[i]);
		int g = kura_setting_get(v, key, &b[i]);
		if (g && (g != KURA_ENOTFOUND || i <= TLS_CA) && !r)
			r = g;
	}
	if (r)
		return r;
	const char **dst[TLS_FIELDS] = {&cfg->host, &cfg->port, &cfg->ca_file, &cfg->cert_file,
					&cfg->key_file, &cfg->server_name};
	for (int i = 0; i < TLS_FIELDS; i++)
		*dst[i] = b[i].len ? (const char *)b[i].data : NULL;
	return 0;
}

static void release_tls(struct kura_buf b[TLS_FIELDS])
{
	for (int i = 0; i < TLS_FIELDS; i++)
		kura_buf_release(&b[i]);
}

/* Forward to one receiver from its saved cursor. */
static int forward_one(struct kura_vault *v, const char *name, int follow, int64_t max_ms,
		       struct kura_forward_stats *st)
{
	char host[256], log_id[2 * KURA_HASH_LEN + 1];
	struct fwd_ctx ctx = {.v = v, .name = name};
	struct kura_forward_source src = {fwd_next, fwd_format, fwd_save, &ctx};
	struct kura_forward_opts o = {0};
	struct kura_tls_config cfg;
	struct kura_buf b[TLS_FIELDS];
	uint64_t leaf = 0, seq = 1;
	memset(st, 0, sizeof(*st));
	int r = load_cursor(v, name, &leaf, &seq);
	int t = load_tls(v, name, b, &cfg);
	r = r ? r : t;
	if (!r) {
		export_site(v, host, sizeof(host), log_id, &ctx.site);
		o.hostname = host;
		o.log_id = log_id;
		o.follow = follow;
		o.max_run_ms = max_ms;
		o.stop = &forward_stop;
		r = kura_forward_run(&cfg, &src, leaf, seq, &o, st);
	}
	release_tls(b);
	return r;
}

struct receivers {
	char name[FWD_MAX_RECEIVERS][FWD_MAX_NAME + 1];
	size_t n;
};

static int add_receiver(void *ctx, const char *key, json_t *value)
{
	struct receivers *rs = ctx;
	(void)value;
	if (rs->n < FWD_MAX_RECEIVERS && valid_receiver(key))
		snprintf(rs->name[rs->n++], FWD_MAX_NAME + 1, "%s", key);
	return 0;
}

int cli_forward_now(struct cli_op *op)
{
	struct receivers rs = {0};
	struct kura_forward_stats st;
	int r = kura_state_scan(op->v, "forward", add_receiver, &rs);
	for (size_t i = 0; !r && i < rs.n; i++)
		(void)forward_one(op->v, rs.name[i], 0, FWD_NOW_MS, &st); /* best effort */
	return r;
}

static void on_stop(int sig)
{
	(void)sig;
	forward_stop = 1;
}

static void catch_stop(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* The cursor row and its audit event in one transaction (a transaction
 * must append a leaf: each commit signs a new tree head). */
static int create_receiver(struct cli_op *op, const char *name)
{
	struct kura_txn *t = NULL;
	struct kura_event ev;
	json_t *j = json_pack("{s:I, s:I}", "next_leaf", (json_int_t)0, "next_seq", (json_int_t)1);
	kura_audit_event(&ev, &op->id.actor, "audit-forward");
	KURA_AUDIT_SET(ev.query, name);
	KURA_AUDIT_SET(ev.detail, "receiver added");
	ev.severity = KURA_SEV_NOTICE;
	int r = j ? kura_txn_begin(op->v, &t) : KURA_ENOMEM;
	if (!r)
		r = kura_state_put(t, "forward", name, j);
	if (!r)
		r = kura_txn_event(t, &ev, NULL);
	if (t)
		r = kura_txn_finish(t, r, NULL);
	json_decref(j);
	return r;
}

/* --add NAME: make NAME a receiver, starting at the first event. */
static int forward_add(struct cli *c, struct cli_op *op, const char *name)
{
	uint64_t leaf, seq;
	int r = load_cursor(op->v, name, &leaf, &seq);
	if (r == 0)
		return cli_fail(c, KURA_EEXIST, "receiver '%s' exists already", "転送先 '%s' は既にあります", name);
	r = r == KURA_ENOTFOUND ? create_receiver(op, name) : r;
	if (r)
		return cli_fail_code(c, r, name);
	if (!c->json)
		printf(L(c, "receiver '%s' added; set syslog.%s.host, .port and .ca with 'kura config set'\n",
			 "転送先 '%s' を追加しました。'kura config set' で syslog.%s.host・.port・.ca を設定してください\n"),
		       name, name);
	return 0;
}

static int forward_fail(struct cli *c, int r, const char *name)
{
	if (r == KURA_ENOTFOUND)
		return cli_fail(c, r, "receiver '%s' is not configured: 'kura audit forward --add %s', then set syslog.%s.host, .port and .ca",
				"転送先 '%s' が設定されていません: 'kura audit forward --add %s' の後、syslog.%s.host・.port・.ca を設定してください",
				name, name, name);
	return cli_fail(c, r, "forwarding to '%s' failed: %s", "'%s' への転送に失敗しました: %s", name,
			kura_strerror(r));
}

static int forward_report(struct cli *c, const char *name, const struct kura_forward_stats *st)
{
	if (c->json)
		return cli_print_json(json_pack("{s:s, s:I, s:I, s:I, s:I}", "receiver", name, "sent",
						(json_int_t)st->sent, "reconnects", (json_int_t)st->reconnects,
						"failures", (json_int_t)st->failures, "next_leaf",
						(json_int_t)st->next_leaf));
	printf(L(c, "%s: %llu events sent, %llu reconnects, next leaf %llu\n",
		 "%s: %llu 件送信、再接続 %llu 回、次のリーフ %llu\n"),
	       name, (unsigned long long)st->sent, (unsigned long long)st->reconnects,
	       (unsigned long long)st->next_leaf);
	return 0;
}

static int forward_main(struct cli *c, struct cli_op *op, const char *name, int once,
			uint64_t max_s)
{
	struct kura_forward_stats st;
	catch_stop();
	int64_t ms = (int64_t)(max_s > 86400000 ? 86400000 : max_s) * 1000;
	int r = forward_one(op->v, name, !once, ms, &st);
	return r ? forward_fail(c, r, name) : forward_report(c, name, &st);
}

static int cmd_forward(struct cli *c, int argc, char **argv)
{
	static const char usage[] =
		"kura audit forward [--receiver NAME] [--once] [--max-seconds N] | --add NAME\n"
		"  send the trail as IHE ATNA syslog over TLS (administrators); receivers are\n"
		"  made with --add and configured by the settings syslog.NAME.host/.port/.ca/\n"
		"  .cert/.key/.server_name; without --once follows until interrupted";
	static const struct option opts[] = {{"receiver", required_argument, NULL, 'r'},
					     {"once", no_argument, NULL, '1'},
					     {"max-seconds", required_argument, NULL, 's'},
					     {"add", required_argument, NULL, 'a'},
					     {NULL, 0, NULL, 0}};
	const char *name = "default", *add = NULL, *secs = NULL;
	struct cli_op op;
	uint64_t max_s = 0;
	int o, once = 0, e;
	while ((o = cli_getopt(c, argc, argv, "", opts, usage)) != -1) {
		if (o == 'r' || o == 'a' || o == 's')
			*(o == 'r' ? &name : o == 'a' ? &add : &secs) = optarg;
		else if (o == '1')
			once = 1;
		else
			return EXIT_USAGE;
	}
	name = add ? add : name;
	if (optind != argc || !valid_receiver(name) || (secs && cli_parse_u64(secs, &max_s)))
		return cli_fail(c, KURA_EUSAGE, "usage: %s", "使い方: %s", usage);
	if ((e = open_auditor(c, &op, KURA_ACT_ADMINISTER, "audit-forward")))
		return e;
	e = add ? forward_add(c, &op, add) : forward_main(c, &op, name, once, max_s);
	cli_op_close(&op);
	return e;
}

/* ---- kura audit ---- */

int cmd_audit(struct cli *c, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(struct cli *, int, char **);
	} sub[] = {{"search", cmd_search}, {"report", cmd_report}, {"review", cmd_review},
		   {"export", cmd_export}, {"forward", cmd_forward}};
	static const char usage[] = "kura audit search|report|review|export|forward ... (--help for each)";
	for (size_t i = 0; argc > 1 && i < sizeof(sub) / sizeof(sub[0]); i++)
		if (strcmp(argv[1], sub[i].name) == 0)
			return sub[i].run(c, argc - 1, argv + 1);
	return cli_fail(c, KURA_EUSAGE, "usage: %s", "使い方: %s", usage);
}
