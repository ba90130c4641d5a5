/*
 * gen_records.c - deterministic FHIR-like NDJSON for bench/run.
 *
 *   gen_records N OUT.ndjson
 *
 * Writes N lines {"patient":"P000123","type":"Observation","content":{...}},
 * about 2 KB each: Observation (60%), Encounter (20%) and Condition (20%)
 * resources with codings (LOINC, JLAC10, ICD-10, SNOMED CT), quantities,
 * dates, a generated XHTML narrative and notes; about 40% of the patients
 * have Japanese names and the notes mix Japanese and English, in UTF-8.
 * The text is drawn from fixed phrase tables, so it compresses like real
 * clinical JSON (one record alone shrinks about 1.7x with zstd -3; the whole
 * file, with its repeated keys and codings, about 13x), while ids, values
 * and dates differ on every line.  Patients are spread over N/20 ids.
 *
 * A fixed-seed xorshift64* generator makes the output byte-for-byte the same
 * on every machine and run: kura and the raw SQLite reference see the same
 * bytes, and results from different runs are comparable.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/banned.h"

#define LINE_CAP 8192
#define MAX_N 100000000ul

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

/* xorshift64* (Vigna); never 0 from a non-zero seed. */
static uint64_t rnd(void)
{
	uint64_t x = rng_state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545f4914f6cdd1dull;
}

static unsigned below(unsigned n)
{
	return (unsigned)((rnd() >> 33) % n);
}

#define PICK(a) ((a)[below((unsigned)(sizeof(a) / sizeof((a)[0])))])
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

struct sb {
	char p[LINE_CAP];
	size_t len;
	int overflow;
};

static void put(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	size_t room = sizeof(b->p) - b->len;
	va_start(ap, fmt);
	int n = vsnprintf(b->p + b->len, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room) {
		b->overflow = 1;
		return;
	}
	b->len += (size_t)n;
}

/* ---- phrase tables (no character that needs a JSON escape) ---- */

struct name {
	const char *family, *given, *kana;
};

static const struct name ja_names[] = {
	{"山田", "太郎", "ヤマダ タロウ"},     {"佐藤", "花子", "サトウ ハナコ"},
	{"鈴木", "一郎", "スズキ イチロウ"},   {"高橋", "美咲", "タカハシ ミサキ"},
	{"田中", "健太", "タナカ ケンタ"},     {"伊藤", "さくら", "イトウ サクラ"},
	{"渡辺", "大輔", "ワタナベ ダイスケ"}, {"中村", "陽子", "ナカムラ ヨウコ"},
	{"小林", "翔", "コバヤシ ショウ"},     {"加藤", "恵美", "カトウ エミ"},
	{"吉田", "誠", "ヨシダ マコト"},       {"山本", "由美子", "ヤマモト ユミコ"},
	{"松本", "拓也", "マツモト タクヤ"},   {"井上", "真由美", "イノウエ マユミ"},
	{"木村", "浩二", "キムラ コウジ"},     {"林", "明美", "ハヤシ アケミ"},
};

static const char *const en_family[] = {
	"Smith", "Johnson", "Williams", "Brown", "Garcia", "Miller", "Davis", "Wilson",
	"Anderson", "Taylor", "Thomas", "Moore", "Martin", "Lee", "Clark", "Lewis",
};

static const char *const en_given[] = {
	"James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda",
	"David", "Elizabeth", "William", "Susan", "Richard", "Jessica", "Joseph", "Sarah",
};

static const char *const practitioners[] = {
	"斎藤 修 医師", "Dr. Emily Carter", "岡田 直樹 医師", "Dr. Kenji Mori",
	"石井 綾 医師", "Dr. Hannah Weiss", "前田 悟 医師", "Dr. Luis Romero",
};

struct lab {
	const char *loinc, *display, *jlac, *ja, *unit;
	double low, high;
	int decimals;
};

static const struct lab lab_tests[] = {
	{"2339-0", "Glucose [Mass/volume] in Blood", "3D010000002227101", "血糖", "mg/dL", 70, 109, 0},
	{"4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "3D046000001920402", "HbA1c(NGSP)", "%", 4.6, 6.2, 1},
	{"2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "3C015000002327101", "クレアチニン", "mg/dL", 0.46, 1.07, 2},
	{"1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "3B035000002327201", "ALT(GPT)", "U/L", 7, 42, 0},
	{"1920-8", "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "3B030000002327201", "AST(GOT)", "U/L", 13, 30, 0},
	{"2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "3F050000002327101", "総コレステロール", "mg/dL", 142, 219, 0},
	{"718-7", "Hemoglobin [Mass/volume] in Blood", "2A030000001930101", "ヘモグロビン", "g/dL", 11.6, 16.8, 1},
	{"6690-2", "Leukocytes [#/volume] in Blood by Automated count", "2A990000001930952", "白血球数", "10*3/uL", 3.3, 8.6, 1},
	{"2823-3", "Potassium [Moles/volume] in Serum or Plasma", "3H015000002327101", "カリウム", "mmol/L", 3.6, 4.8, 1},
	{"8480-6", "Systolic blood pressure", "9A751000000000001", "収縮期血圧", "mm[Hg]", 90, 139, 0},
};

struct cond {
	const char *icd, *snomed, *en, *ja, *site;
};

static const struct cond conds[] = {
	{"E11.9", "44054006", "Type 2 diabetes mellitus", "2型糖尿病", "Pancreas"},
	{"I10", "38341003", "Essential hypertension", "本態性高血圧症", "Cardiovascular system"},
	{"J45.9", "195967001", "Asthma", "気管支喘息", "Bronchial structure"},
	{"E78.5", "55822004", "Hyperlipidemia", "脂質異常症", "Blood"},
	{"K21.9", "235595009", "Gastro-esophageal reflux disease", "逆流性食道炎", "Esophageal structure"},
	{"M54.5", "279039007", "Low back pain", "腰痛症", "Lumbar region"},
	{"N18.3", "433144002", "Chronic kidney disease stage 3", "慢性腎臓病 ステージ3", "Kidney structure"},
	{"F32.9", "35489007", "Depressive disorder", "うつ病", "Mental state"},
};

struct enc {
	const char *code, *display, *ja, *snomed, *type;
};

static const struct enc encs[] = {
	{"AMB", "ambulatory", "外来", "185349003", "Encounter for check up"},
	{"IMP", "inpatient encounter", "入院", "32485007", "Hospital admission"},
	{"EMER", "emergency", "救急", "50849002", "Emergency room admission"},
	{"HH", "home health", "在宅", "439708006", "Home visit"},
};

static const char *const departments[] = {
	"内科", "循環器内科", "糖尿病・内分泌内科", "腎臓内科", "呼吸器内科", "整形外科",
	"Internal Medicine", "Cardiology",
};

static const char *const sentences[] = {
	"Patient reports no new symptoms since the last visit.",
	"Medication adherence confirmed; no adverse effects reported.",
	"Advised to continue current diet and exercise plan.",
	"Follow-up laboratory tests ordered in three months.",
	"Vital signs within normal limits at the time of examination.",
	"Discussed results with the patient and family; questions answered.",
	"No known drug allergies. Non-smoker. Occasional alcohol use.",
	"Blood pressure measured twice in the seated position after rest.",
	"前回受診時から新たな自覚症状なし。",
	"服薬アドヒアランス良好、副作用の訴えなし。",
	"食事療法および運動療法の継続を指導した。",
	"3か月後に再検査予定。次回外来で結果を説明する。",
	"本人および家族へ検査結果を説明し、同意を得た。",
	"空腹時採血。検体は溶血なし。",
	"夜間の咳嗽は改善傾向。吸入手技を再確認した。",
	"腰部の疼痛は軽減、日常生活動作に支障なし。",
};

static const char *const statuses[] = {"final", "final", "final", "amended", "preliminary"};

/* ---- helpers ---- */

static void put_date(struct sb *b, int with_time)
{
	unsigned y = 2015 + below(10), mo = 1 + below(12), d = 1 + below(28);
	if (!with_time) {
		put(b, "%04u-%02u-%02u", y, mo, d);
		return;
	}
	put(b, "%04u-%02u-%02uT%02u:%02u:%02u+09:00", y, mo, d, 8 + below(11), below(60),
	    below(60));
}

static void put_uuid(struct sb *b)
{
	uint64_t a = rnd(), c = rnd();
	put(b, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(a >> 32), (unsigned)(a >> 16) & 0xffff,
	    (unsigned)a & 0xfff, 0x8000u | ((unsigned)(c >> 48) & 0x3fff),
	    (unsigned long long)(c & 0xffffffffffffull));
}

/* The patient's name is a function of the id, so it is the same on every
 * record of that patient. */
static void put_subject(struct sb *b, unsigned pat)
{
	uint64_t h = (uint64_t)pat * 0x9e3779b97f4a7c15ull;
	h ^= h >> 29;
	put(b, "\"subject\":{\"reference\":\"Patient/P%06u\",\"display\":\"", pat);
	if (h % 10 < 4) {
		const struct name *n = &ja_names[(h >> 8) % COUNT(ja_names)];
		put(b, "%s %s (%s)\"}", n->family, n->given, n->kana);
	} else {
		put(b, "%s %s\"}", en_given[(h >> 8) % COUNT(en_given)],
		    en_family[(h >> 16) % COUNT(en_family)]);
	}
}

static void put_meta(struct sb *b, const char *profile)
{
	put(b, "\"meta\":{\"versionId\":\"1\",\"lastUpdated\":\"");
	put_date(b, 1);
	put(b, "\",\"profile\":[\"http://jpfhir.jp/fhir/core/StructureDefinition/JP_%s\"]}",
	    profile);
}

static void put_performer(struct sb *b, const char *key)
{
	unsigned i = below(COUNT(practitioners));
	put(b, "\"%s\":[{\"reference\":\"Practitioner/pr-%04u\",\"display\":\"%s\"}]", key,
	    100 + i, practitioners[i]);
}

/* Notes until the content is about target bytes long: the generated text,
 * like real notes, is what makes record sizes differ. */
static void put_note(struct sb *b, size_t start, size_t target)
{
	put(b, ",\"note\":[{\"authorString\":\"%s\",\"time\":\"", PICK(practitioners));
	put_date(b, 1);
	put(b, "\",\"text\":\"");
	int first = 1;
	while ((first || b->len - start + 8 < target) && !b->overflow) {
		put(b, "%s%s", first ? "" : " ", PICK(sentences));
		first = 0;
	}
	put(b, "\"}]");
}

static void put_div(struct sb *b, const char *title, const char *detail)
{
	put(b, "\"text\":{\"status\":\"generated\",\"div\":\"<div xmlns=\\\"http://www.w3.org/1999/"
	       "xhtml\\\"><p><b>%s</b></p><p>%s</p><p>%s</p></div>\"}",
	    title, detail, PICK(sentences));
}

/* ---- resources ---- */

static void observation(struct sb *b, unsigned pat, size_t start, size_t target)
{
	const struct lab *l = &lab_tests[below(COUNT(lab_tests))];
	double span = l->high - l->low;
	double v = l->low - span * 0.3 + span * 1.6 * (double)below(10000) / 10000.0;
	const char *flag = v < l->low ? "L" : v > l->high ? "H" : "N";
	const char *flagd = v < l->low ? "Low" : v > l->high ? "High" : "Normal";
	char detail[256];
	snprintf(detail, sizeof detail, "%s (%s): %.*f %s [%s]", l->ja, l->display, l->decimals, v,
		 l->unit, flagd);
	put(b, "\"id\":\"obs-");
	put_uuid(b);
	put(b, "\",");
	put_meta(b, "Observation_LabResult");
	put(b, ",");
	put_div(b, l->ja, detail);
	put(b, ",\"identifier\":[{\"system\":\"urn:oid:1.2.392.100495.20.3.%u\",\"value\":\"%010u\"}]",
	    below(9) + 1, below(2000000000));
	put(b, ",\"status\":\"%s\",\"category\":[{\"coding\":[{\"system\":\"http://terminology."
	       "hl7.org/CodeSystem/observation-category\",\"code\":\"laboratory\",\"display\":"
	       "\"Laboratory\"}]}]", PICK(statuses));
	put(b, ",\"code\":{\"coding\":[{\"system\":\"http://loinc.org\",\"code\":\"%s\",\"display\":"
	       "\"%s\"},{\"system\":\"urn:oid:1.2.392.200119.4.504\",\"code\":\"%s\",\"display\":"
	       "\"%s\"}],\"text\":\"%s\"},",
	    l->loinc, l->display, l->jlac, l->ja, l->ja);
	put_subject(b, pat);
	put(b, ",\"encounter\":{\"reference\":\"Encounter/enc-%08u\"},\"effectiveDateTime\":\"",
	    below(100000000));
	put_date(b, 1);
	put(b, "\",\"issued\":\"");
	put_date(b, 1);
	put(b, "\",");
	put_performer(b, "performer");
	put(b, ",\"valueQuantity\":{\"value\":%.*f,\"unit\":\"%s\",\"system\":\"http://unitsofmeasure"
	       ".org\",\"code\":\"%s\"}", l->decimals, v, l->unit, l->unit);
	put(b, ",\"interpretation\":[{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/"
	       "v3-ObservationInterpretation\",\"code\":\"%s\",\"display\":\"%s\"}]}]", flag, flagd);
	put(b, ",\"referenceRange\":[{\"low\":{\"value\":%.*f,\"unit\":\"%s\"},\"high\":{\"value\":"
	       "%.*f,\"unit\":\"%s\"},\"text\":\"%.*f-%.*f %s\"}]",
	    l->decimals, l->low, l->unit, l->decimals, l->high, l->unit, l->decimals, l->low,
	    l->decimals, l->high, l->unit);
	put_note(b, start, target);
}

static void encounter(struct sb *b, unsigned pat, size_t start, size_t target)
{
	const struct enc *e = &encs[below(COUNT(encs))];
	const struct cond *c = &conds[below(COUNT(conds))];
	const char *dept = PICK(departments);
	char detail[256];
	snprintf(detail, sizeof detail, "%s / %s: %s (%s)", e->ja, dept, c->ja, c->en);
	put(b, "\"id\":\"enc-");
	put_uuid(b);
	put(b, "\",");
	put_meta(b, "Encounter");
	put(b, ",");
	put_div(b, e->type, detail);
	put(b, ",\"identifier\":[{\"system\":\"urn:oid:1.2.392.100495.20.3.81.1\",\"value\":\"E%09u\"}]",
	    below(1000000000));
	put(b, ",\"status\":\"finished\",\"class\":{\"system\":\"http://terminology.hl7.org/CodeSystem/"
	       "v3-ActCode\",\"code\":\"%s\",\"display\":\"%s\"}", e->code, e->display);
	put(b, ",\"type\":[{\"coding\":[{\"system\":\"http://snomed.info/sct\",\"code\":\"%s\","
	       "\"display\":\"%s\"}],\"text\":\"%s\"}],",
	    e->snomed, e->type, e->ja);
	put_subject(b, pat);
	put(b, ",\"participant\":[{\"type\":[{\"coding\":[{\"system\":\"http://terminology.hl7.org/"
	       "CodeSystem/v3-ParticipationType\",\"code\":\"ATND\",\"display\":\"attender\"}]}],");
	unsigned i = below(COUNT(practitioners));
	put(b, "\"individual\":{\"reference\":\"Practitioner/pr-%04u\",\"display\":\"%s\"}}]", 100 + i,
	    practitioners[i]);
	put(b, ",\"period\":{\"start\":\"");
	put_date(b, 1);
	put(b, "\",\"end\":\"");
	put_date(b, 1);
	put(b, "\"},\"reasonCode\":[{\"coding\":[{\"system\":\"http://hl7.org/fhir/sid/icd-10\","
	       "\"code\":\"%s\",\"display\":\"%s\"}],\"text\":\"%s\"}]",
	    c->icd, c->en, c->ja);
	put(b, ",\"location\":[{\"location\":{\"reference\":\"Location/loc-%03u\",\"display\":\"%s "
	       "%u階\"}}],\"serviceProvider\":{\"reference\":\"Organization/org-1310000%03u\","
	       "\"display\":\"%s\"}",
	    below(400), dept, 1 + below(9), below(50), dept);
	put_note(b, start, target);
}

static void condition(struct sb *b, unsigned pat, size_t start, size_t target)
{
	const struct cond *c = &conds[below(COUNT(conds))];
	char detail[256];
	snprintf(detail, sizeof detail, "%s (%s) ICD-10 %s", c->ja, c->en, c->icd);
	put(b, "\"id\":\"cond-");
	put_uuid(b);
	put(b, "\",");
	put_meta(b, "Condition");
	put(b, ",");
	put_div(b, c->ja, detail);
	put(b, ",\"clinicalStatus\":{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/"
	       "condition-clinical\",\"code\":\"%s\"}]}", below(4) ? "active" : "resolved");
	put(b, ",\"verificationStatus\":{\"coding\":[{\"system\":\"http://terminology.hl7.org/"
	       "CodeSystem/condition-ver-status\",\"code\":\"confirmed\"}]}");
	put(b, ",\"category\":[{\"coding\":[{\"system\":\"http://terminology.hl7.org/CodeSystem/"
	       "condition-category\",\"code\":\"problem-list-item\",\"display\":\"Problem List "
	       "Item\"}]}]");
	put(b, ",\"severity\":{\"coding\":[{\"system\":\"http://snomed.info/sct\",\"code\":\"%s\"}]}",
	    below(2) ? "6736007" : "255604002");
	put(b, ",\"code\":{\"coding\":[{\"system\":\"http://hl7.org/fhir/sid/icd-10\",\"code\":\"%s\","
	       "\"display\":\"%s\"},{\"system\":\"http://snomed.info/sct\",\"code\":\"%s\",\"display\""
	       ":\"%s\"}],\"text\":\"%s\"}",
	    c->icd, c->en, c->snomed, c->en, c->ja);
	put(b, ",\"bodySite\":[{\"text\":\"%s\"}],", c->site);
	put_subject(b, pat);
	put(b, ",\"onsetDateTime\":\"");
	put_date(b, 0);
	put(b, "\",\"recordedDate\":\"");
	put_date(b, 1);
	put(b, "\",");
	put_performer(b, "recorder");
	put_note(b, start, target);
}

static int write_line(FILE *f, unsigned long npat)
{
	static struct sb b;
	unsigned pat = (unsigned)(rnd() % npat);
	unsigned kind = below(10);
	const char *type = kind < 6 ? "Observation" : kind < 8 ? "Encounter" : "Condition";
	/* Content length: 1700 to 2300 bytes, 2000 on average. */
	size_t target = 1700 + below(601);
	b.len = 0;
	b.overflow = 0;
	put(&b, "{\"patient\":\"P%06u\",\"type\":\"%s\",\"content\":", pat, type);
	size_t start = b.len;
	put(&b, "{\"resourceType\":\"%s\",", type);
	if (kind < 6)
		observation(&b, pat, start, target);
	else if (kind < 8)
		encounter(&b, pat, start, target);
	else
		condition(&b, pat, start, target);
	put(&b, "}}\n");
	if (b.overflow) {
		fprintf(stderr, "gen_records: a record outgrew %d bytes\n", LINE_CAP);
		return -1;
	}
	return fwrite(b.p, 1, b.len, f) == b.len ? 0 : -1;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: gen_records N OUT.ndjson\n");
		return 2;
	}
	char *end;
	errno = 0;
	unsigned long n = strtoul(argv[1], &end, 10);
	if (errno || end == argv[1] || *end || n == 0 || n > MAX_N || argv[1][0] == '-') {
		fprintf(stderr, "gen_records: N must be 1 to %lu, not '%s'\n", MAX_N, argv[1]);
		return 2;
	}
	unsigned long npat = n / 20 ? n / 20 : 1;
	FILE *f = fopen(argv[2], "wb");
	if (!f) {
		fprintf(stderr, "gen_records: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	static char iobuf[1 << 20];
	setvbuf(f, iobuf, _IOFBF, sizeof iobuf);
	int r = 0;
	for (unsigned long i = 0; i < n && !r; i++)
		r = write_line(f, npat);
	if (fclose(f) != 0 || r) {
		fprintf(stderr, "gen_records: %s: write failed\n", argv[2]);
		return 1;
	}
	return 0;
}
