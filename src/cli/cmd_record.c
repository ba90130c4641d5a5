/* cmd_record.c - put, amend, confirm, retract, get, history, list, import. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "fhir/import.h"
#include "util/fs.h"
#include "util/limits.h"
#include "util/banned.h"

/* Options common to the writing commands. */
struct write_args {
	const char *patient, *type, *content_type, *reason, *on_behalf, *file;
	int confirm;
};

static const struct option write_opts[] = {
	{"patient", required_argument, NULL, 'p'},
	{"type", required_argument, NULL, 't'},
	{"content-type", required_argument, NULL, 'c'},
	{"reason", required_argument, NULL, 'r'},
	{"on-behalf-of", required_argument, NULL, 'b'},
	{"confirm", no_argument, NULL, 'C'},
	{NULL, 0, NULL, 0},
};

static int parse_write(struct cli *c, int argc, char **argv, const char *usage,
		       struct write_args *w, int nargs, char **ret_args)
{
	int o;
	memset(w, 0, sizeof(*w));
	while ((o = cli_getopt(c, argc, argv, "", write_opts, usage)) != -1) {
		switch (o) {
		case 'p': w->patient = optarg; break;
		case 't': w->type = optarg; break;
		case 'c': w->content_type = optarg; break;
		case 'r': w->reason = optarg; break;
		case 'b': w->on_behalf = optarg; break;
		case 'C': w->confirm = 1; break;
		default: return EXIT_USAGE;
		}
	}
	int left = argc - optind;
	if (left < nargs || left > nargs + 1)
		return cli_fail(c, KURA_EUSAGE, "usage: %s", "使い方: %s", usage);
	for (int i = 0; i < nargs; i++)
		ret_args[i] = argv[optind + i];
	w->file = left > nargs ? argv[optind + nargs] : "-";
	if (w->on_behalf && !kura_valid_id(w->on_behalf))
		return cli_fail(c, KURA_EINVAL, "invalid user id '%s' for --on-behalf-of",
				"--on-behalf-of の利用者 ID '%s' が不正です", w->on_behalf);
	if (w->reason && strlen(w->reason) > KURA_MAX_REASON)
		return cli_fail(c, KURA_ETOOBIG, "the reason is over %u bytes",
				"理由が %u バイトを超えています", KURA_MAX_REASON);
	return 0;
}

static int read_content(struct cli *c, const char *file, struct kura_buf *b)
{
	int r = kura_fs_read(file, KURA_MAX_CONTENT, b);
	if (r == KURA_ETOOBIG)
		return cli_fail(c, r, "'%s' is over the limit of %u MiB per version",
				"'%s' が1版あたりの上限 %u MiB を超えています", file,
				KURA_MAX_CONTENT >> 20);
	if (r == KURA_ENOTFOUND)
		return cli_fail(c, r, "cannot read '%s': no such file", "'%s' を読めません: ファイルがありません", file);
	if (r)
		return cli_fail_code(c, r, file);
	if (b->len == 0)
		return cli_fail(c, KURA_EINVAL, "'%s' is empty; a record needs content (use 'kura retract' to withdraw one)",
				"'%s' が空です。記録には内容が必要です（取り消しは 'kura retract'）", file);
	return 0;
}

static int print_written(struct cli *c, const struct kura_written *w)
{
	if (c->json)
		return cli_print_json(json_pack("{s:s, s:i, s:I, s:o}", "record", w->record_id,
						"version", (int)w->version, "leaf_index",
						(json_int_t)w->leaf_index, "sth",
						kura_sth_to_json(&w->sth)));
	printf("%s@%u\n", w->record_id, w->version);
	return EXIT_OK;
}

static int write_error(struct cli *c, const struct cli_op *op, int r, const char *record)
{
	if (r == KURA_EDENIED && op->a.why)
		return cli_access_fail(c, op, r, record);
	if (r == KURA_ESTATE)
		return cli_fail(c, r, "record '%s' does not allow this: it is retracted, or (for confirm) its latest version is not a draft",
				"記録 '%s' にはこの操作ができません（取消済み、または最新版が仮保存ではありません）",
				record);
	if (r == KURA_EINVAL)
		return cli_fail(c, r, "invalid input for '%s': check ids, reason, and that the content fits the record's type",
				"'%s' への入力が不正です。ID・理由、内容が記録の種別に合うかを確認してください", record);
	if (r == KURA_EDENIED)
		return cli_fail(c, r, "proxy input for '%s' must be confirmed by the person it was entered for (AUTH-06)",
				"'%s' の代行入力は、代行元の本人が確定してください（AUTH-06）", record);
	if (r == KURA_ETOOBIG)
		return cli_fail(c, r, "the content is over the limit of %u MiB per version",
				"内容が1版あたりの上限 %u MiB を超えています", KURA_MAX_CONTENT >> 20);
	return cli_fail_code(c, r, record);
}

/* A FHIR resource's content must be JSON of the same resourceType.  The
 * library checks this again (it is the rule); checking here first means bad
 * input is refused before the passphrase is asked for and Argon2id runs. */
static int check_type(struct cli *c, const char *type, const struct kura_buf *content)
{
	if (!kura_valid_record_type(type))
		return cli_fail(c, KURA_EINVAL, "invalid type '%s': use a FHIR resource type, 'hl7v2' or a MIME type",
				"不正な種別 '%s': FHIR リソース型、'hl7v2' または MIME 型を指定してください", type);
	if (kura_fhir_check_content(type, content->data, content->len))
		return cli_fail(c, KURA_EINVAL, "content is not a FHIR %s resource (JSON with \"resourceType\": \"%s\")",
				"内容が FHIR %s リソース（\"resourceType\": \"%s\" の JSON）ではありません", type, type);
	return 0;
}

static const char put_usage[] =
	"kura put --patient ID --type TYPE [--content-type MIME] [--confirm]\n"
	"         [--reason TEXT] [--on-behalf-of USER] [FILE|-]";

int cmd_put(struct cli *c, int argc, char **argv)
{
	struct write_args a;
	struct cli_op op = {0};
	struct kura_buf content;
	struct kura_written out;
	int e = parse_write(c, argc, argv, put_usage, &a, 0, NULL);
	if (e)
		return e;
	if (!a.patient || !a.type)
		return cli_fail(c, KURA_EUSAGE, "--patient and --type are required", "--patient と --type が必要です");
	if (!kura_valid_id(a.patient))
		return cli_fail(c, KURA_EINVAL, "invalid patient id '%s': use [A-Za-z0-9._-]{1,64}",
				"不正な患者 ID '%s': [A-Za-z0-9._-]{1,64} を使ってください", a.patient);
	const char *ct = a.content_type ? a.content_type
			 : kura_is_fhir_type(a.type) ? "application/fhir+json"
			 : strcmp(a.type, "hl7v2") == 0 ? "x-application/hl7-v2+er7"
			 : a.type;
	if (!kura_valid_content_type(ct))
		return cli_fail(c, KURA_EINVAL, "invalid content type '%s'", "不正な Content-Type '%s'", ct);
	kura_buf_init(&content, KURA_MAX_CONTENT);
	if (!(e = read_content(c, a.file, &content)) && !(e = check_type(c, a.type, &content)) &&
	    !(e = cli_op_open(c, &op, 0))) {
		struct kura_write w = {op.id.actor.user, a.on_behalf, a.reason ? a.reason : "",
				       a.confirm, NULL};
		op.a.reason = a.reason;
		int r = kura_access_put(&op.a, a.patient, a.type, ct, content.data, content.len, &w, &out);
		e = r ? write_error(c, &op, r, a.patient) : print_written(c, &out);
	}
	cli_op_close(&op);
	kura_buf_release_secret(&content);
	return e;
}

static const char amend_usage[] =
	"kura amend RECORD --reason TEXT [--confirm] [--on-behalf-of USER] [FILE|-]";

int cmd_amend(struct cli *c, int argc, char **argv)
{
	struct write_args a;
	struct cli_op op = {0};
	struct kura_buf content;
	struct kura_written out;
	char *rec;
	int e = parse_write(c, argc, argv, amend_usage, &a, 1, &rec);
	if (e)
		return e;
	if (!a.reason || !*a.reason)
		return cli_fail(c, KURA_EUSAGE, "--reason is required to amend a record",
				"記録の修正には --reason が必要です");
	kura_buf_init(&content, KURA_MAX_CONTENT);
	if (!(e = read_content(c, a.file, &content)) && !(e = cli_op_open(c, &op, 0))) {
		struct kura_write w = {op.id.actor.user, a.on_behalf, a.reason, a.confirm, NULL};
		op.a.reason = a.reason;
		int r = kura_access_amend(&op.a, rec, content.data, content.len, &w, &out);
		e = r ? write_error(c, &op, r, rec) : print_written(c, &out);
	}
	cli_op_close(&op);
	kura_buf_release_secret(&content);
	return e;
}

/* confirm and retract: a record id, no content. */
static int simple_change(struct cli *c, int argc, char **argv, const char *usage, int retract)
{
	struct write_args a;
	struct cli_op op;
	struct kura_written out;
	char *rec;
	int e = parse_write(c, argc, argv, usage, &a, 1, &rec);
	if (e)
		return e;
	if (argc - optind != 1 || a.on_behalf || a.patient || a.type || a.content_type ||
	    a.confirm)
		return cli_fail(c, KURA_EUSAGE, "usage: %s", "使い方: %s", usage);
	if (retract && (!a.reason || !*a.reason))
		return cli_fail(c, KURA_EUSAGE, "--reason is required to retract a record",
				"記録の取り消しには --reason が必要です");
	if ((e = cli_op_open(c, &op, 0)))
		return e;
	struct kura_write w = {op.id.actor.user, NULL, a.reason, 0, NULL};
	op.a.reason = a.reason;
	int r = retract ? kura_access_retract(&op.a, rec, &w, &out)
			: kura_access_confirm(&op.a, rec, &w, &out);
	e = r ? write_error(c, &op, r, rec) : print_written(c, &out);
	cli_op_close(&op);
	return e;
}

int cmd_confirm(struct cli *c, int argc, char **argv)
{
	return simple_change(c, argc, argv, "kura confirm RECORD [--reason TEXT]", 0);
}

int cmd_retract(struct cli *c, int argc, char **argv)
{
	return simple_change(c, argc, argv, "kura retract RECORD --reason TEXT", 1);
}

static const char get_usage[] =
	"kura get RECORD[@VERSION] [-o FILE] [--print] [--reason TEXT]\n"
	"  --print records the read as a print (the content goes to a printer)";

int cmd_get(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
					     {"print", no_argument, NULL, 'P'},
					     {"reason", required_argument, NULL, 'r'},
					     {NULL, 0, NULL, 0}};
	const char *out = NULL, *reason = NULL;
	char id[KURA_MAX_ID + 1];
	uint32_t ver;
	int o, print = 0;
	while ((o = cli_getopt(c, argc, argv, "o:", opts, get_usage)) != -1) {
		if (o == '?')
			return EXIT_USAGE;
		if (o == 'P')
			print = 1;
		else if (o == 'r')
			reason = optarg;
		else
			out = optarg;
	}
	if (argc - optind != 1 || cli_parse_ref(argv[optind], id, sizeof(id), &ver))
		return cli_fail(c, KURA_EUSAGE, "usage: %s", "使い方: %s", get_usage);
	struct cli_op op;
	int e = cli_op_open(c, &op, 0);
	if (e)
		return e;
	struct kura_leaf leaf;
	struct kura_buf content;
	kura_buf_init(&content, KURA_MAX_CONTENT);
	op.a.reason = reason;
	int r = kura_access_get(&op.a, id, ver, print ? KURA_ACT_PRINT : KURA_ACT_READ, &leaf, &content);
	if (r == KURA_ESTATE)
		e = cli_fail(c, r, "'%s' version %u is a retraction (entered-in-error): see 'kura history %s' and get an earlier version",
			     "'%s' の版 %u は取消（誤入力）です。'kura history %s' で以前の版を確認してください",
			     id, leaf.version, id);
	else if (r)
		e = cli_access_fail(c, &op, r, argv[optind]);
	else
		e = cli_write_out(c, out, content.data, content.len);
	kura_buf_release_secret(&content);
	cli_op_close(&op);
	return e;
}

struct show_ctx {
	struct cli *c;
	json_t *list;
};

static int show_row(void *ctx, const struct kura_version_row *row)
{
	struct show_ctx *s = ctx;
	return json_array_append_new(s->list, cli_leaf_json(&row->leaf, row->leaf_index))
		       ? KURA_ENOMEM : 0;
}

static int show_rows(struct cli *c, const char *record, const char *patient, int history)
{
	struct cli_op op;
	int e = cli_op_open(c, &op, 0);
	if (e)
		return e;
	/* Rows are gathered and shown only once the call has committed its
	 * audit event (auth/access.h). */
	struct show_ctx s = {c, json_array()};
	int r = history ? kura_access_history(&op.a, record, show_row, &s)
			: kura_access_list(&op.a, patient, show_row, &s);
	if (r) {
		json_decref(s.list);
		e = cli_access_fail(c, &op, r, record ? record : patient);
		cli_op_close(&op);
		return e;
	}
	cli_op_close(&op);
	if (c->json)
		return cli_print_json(s.list);
	size_t i;
	json_t *x;
	json_array_foreach(s.list, i, x) {
		struct kura_leaf l;
		cli_leaf_from_json(x, &l);
		cli_print_leaf(c, &l, (uint64_t)json_integer_value(json_object_get(x, "leaf_index")));
	}
	json_decref(s.list);
	return EXIT_OK;
}

int cmd_history(struct cli *c, int argc, char **argv)
{
	int o;
	while ((o = cli_getopt(c, argc, argv, "", NULL, "kura history RECORD")) != -1)
		return EXIT_USAGE;
	if (argc - optind != 1)
		return cli_fail(c, KURA_EUSAGE, "usage: kura history RECORD", "使い方: kura history RECORD");
	return show_rows(c, argv[optind], NULL, 1);
}

int cmd_list(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {{"patient", required_argument, NULL, 'p'},
					     {NULL, 0, NULL, 0}};
	const char *patient = NULL;
	int o;
	while ((o = cli_getopt(c, argc, argv, "", opts, "kura list [--patient ID]")) != -1) {
		if (o == '?')
			return EXIT_USAGE;
		patient = optarg;
	}
	if (argc != optind)
		return cli_fail(c, KURA_EUSAGE, "usage: kura list [--patient ID]", "使い方: kura list [--patient ID]");
	if (patient && !kura_valid_id(patient))
		return cli_fail(c, KURA_EINVAL, "invalid patient id '%s'", "不正な患者 ID '%s'", patient);
	return show_rows(c, NULL, patient, 0);
}

static const char import_usage[] =
	"kura import FILE [--patient ID] [--confirm] [--reason TEXT]\n"
	"  FILE: NDJSON lines {\"patient\", \"type\", \"content\"} or a FHIR R4 Bundle\n"
	"  (batch, transaction or collection); everything is validated first.";

int cmd_import(struct cli *c, int argc, char **argv)
{
	struct write_args a;
	char *file;
	int e = parse_write(c, argc, argv, import_usage, &a, 1, &file);
	if (e)
		return e;
	if (argc - optind != 1 || a.type || a.content_type)
		return cli_fail(c, KURA_EUSAGE, "usage: %s", "使い方: %s", import_usage);
	struct kura_buf data, msg;
	struct kura_import *imp = NULL;
	struct cli_op op = {0};
	kura_buf_init(&data, KURA_MAX_IMPORT_FILE);
	kura_buf_init(&msg, 4096);
	int r = kura_fs_read(file, KURA_MAX_IMPORT_FILE, &data);
	if (r)
		e = r == KURA_ETOOBIG ? cli_fail(c, r, "'%s' is over the import limit of %u MiB; split it",
						 "'%s' が取り込み上限 %u MiB を超えています。分割してください",
						 file, KURA_MAX_IMPORT_FILE >> 20)
				      : cli_fail_file(c, r, file);
	else if ((r = kura_import_parse(data.data, data.len, a.patient, &imp, &msg)))
		e = cli_fail(c, r, "%s: %s; nothing was imported", "%s: %s。何も取り込んでいません",
			     file, msg.data ? (char *)msg.data : kura_strerror(r));
	else if (!(e = cli_op_open(c, &op, 0))) {
		struct kura_write w = {op.id.actor.user, a.on_behalf, a.reason ? a.reason : "",
				       a.confirm, NULL};
		uint64_t n = 0;
		struct kura_sth sth;
		op.a.reason = a.reason;
		r = kura_access_import(&op.a, imp, &w, cli_progress, c, &n, &sth);
		cli_progress_end(c);
		if (r == KURA_EDENIED)
			e = cli_access_fail(c, &op, r, file);
		else if (r)
			e = cli_fail(c, r, "import stopped after %llu of %zu records (those are stored, "
					   "so importing the whole file again would store them twice); "
					   "import again from %s %zu on: %s",
				     "%llu / %zu 件で取り込みが止まりました（それまでの分は保存済みのため、"
				     "同じファイル全体を再投入すると重複します）。%s %zu 以降を取り込み直してください: %s",
				     (unsigned long long)n, imp->count,
				     imp->format == KURA_IMPORT_NDJSON ? "line" : "bundle entry",
				     imp->items[n].origin, kura_strerror(r));
		else if (c->json)
			e = cli_print_json(json_pack("{s:I, s:o}", "imported", (json_int_t)n, "sth",
						     kura_sth_to_json(&sth)));
		else
			printf(L(c, "imported %llu records (tree size %llu)\n",
				 "%llu 件を取り込みました（ツリーサイズ %llu）\n"),
			       (unsigned long long)n, (unsigned long long)sth.tree_size);
	}
	kura_import_free(imp);
	cli_op_close(&op);
	kura_buf_release(&data);
	kura_buf_release(&msg);
	return e;
}
