/*
 * rsyslog_roundtrip.c - the forwarder against a real rsyslog (gtls driver,
 * mutual TLS, x509/name): 120 events delivered, rsyslog stopped, 180 more
 * events written and a run that must fail without moving the cursor,
 * rsyslog restarted, the rest delivered; then every sequence number 1..300
 * must be in rsyslog's file exactly once, in order, with its leaf index.
 * Last, a client certificate with another CN must be refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "audit/syslog.h"
#include "util/err.h"

#define RSYSLOGD "/usr/sbin/rsyslogd"
#define N_FIRST 120
#define N_TOTAL 300
#define LEAF(i) (1000u + 3u * (uint64_t)(i)) /* gaps: the source skips them */

extern char **environ;

static char dir[PATH_MAX];
static char outfile[PATH_MAX + 32];
static int port;
static pid_t rsyslog_pid = -1;

static void stop_rsyslog(void)
{
	if (rsyslog_pid <= 0)
		return;
	kill(rsyslog_pid, SIGTERM);
	waitpid(rsyslog_pid, NULL, 0);
	rsyslog_pid = -1;
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "FAIL: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, " (files kept in %s)\n", dir);
	va_end(ap);
	stop_rsyslog();
	exit(1);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail("command failed: %s", cmd);
}

/* A CA, a server certificate for 127.0.0.1, and two client certificates:
 * CN kura-test (permitted) and CN intruder (same CA, not permitted). */
static void make_certs(void)
{
	const char *ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
	sh("cd '%s' && openssl req -x509 %s -keyout ca.key -out ca.pem -days 2 "
	   "-subj /CN=kura-test-ca -addext basicConstraints=critical,CA:TRUE "
	   "-addext keyUsage=critical,keyCertSign,cRLSign 2>openssl.log",
	   dir, ec);
	sh("cd '%s' && printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n"
	   "keyUsage=critical,digitalSignature\\n' >server.ext && "
	   "printf 'extendedKeyUsage=clientAuth\\nkeyUsage=critical,digitalSignature\\n' >client.ext",
	   dir);
	const char *certs[][3] = {{"server", "127.0.0.1", "server.ext"},
				  {"client", "kura-test", "client.ext"},
				  {"intruder", "intruder", "client.ext"}};
	for (size_t i = 0; i < 3; i++)
		sh("cd '%s' && openssl req %s -keyout %s.key -out %s.csr -subj /CN=%s 2>>openssl.log && "
		   "openssl x509 -req -in %s.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
		   "-extfile %s -out %s.pem 2>>openssl.log",
		   dir, ec, certs[i][0], certs[i][0], certs[i][1], certs[i][0],
		   certs[i][2], certs[i][0]);
}

static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		fail("cannot find a free port: %s", strerror(errno));
	close(fd);
	return ntohs(a.sin_port);
}

static void write_conf(void)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/rx.conf", dir);
	FILE *f = fopen(path, "w");
	if (!f)
		fail("cannot write %s", path);
	fprintf(f,
		"global(workDirectory=\"%s/work\"\n"
		"  DefaultNetstreamDriver=\"gtls\"\n"
		"  DefaultNetstreamDriverCAFile=\"%s/ca.pem\"\n"
		"  DefaultNetstreamDriverCertFile=\"%s/server.pem\"\n"
		"  DefaultNetstreamDriverKeyFile=\"%s/server.key\")\n"
		"module(load=\"imtcp\")\n"
		"input(type=\"imtcp\" address=\"127.0.0.1\" port=\"%d\" ruleset=\"fromtls\"\n"
		"  StreamDriver.Name=\"gtls\" StreamDriver.Mode=\"1\"\n"
		"  StreamDriver.AuthMode=\"x509/name\" PermittedPeer=[\"kura-test\"])\n"
		"template(name=\"t\" type=\"string\"\n"
		"  string=\"app=%%app-name%% msgid=%%msgid%% sd=%%structured-data%% msg=%%msg%%\\n\")\n"
		"$ActionFileEnableSync on\n"
		"ruleset(name=\"fromtls\") {\n"
		"  action(type=\"omfile\" file=\"%s\" template=\"t\" flushOnTXEnd=\"on\"\n"
		"    asyncWriting=\"off\")\n"
		"}\n",
		dir, dir, dir, dir, port, outfile);
	fclose(f);
	snprintf(path, sizeof(path), "%s/work", dir);
	mkdir(path, 0700);
}

static int port_open(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static void start_rsyslog(void)
{
	char conf[PATH_MAX + 32], pid[PATH_MAX + 32], log[PATH_MAX + 32];
	snprintf(conf, sizeof(conf), "%s/rx.conf", dir);
	snprintf(pid, sizeof(pid), "%s/rsyslog.pid", dir);
	snprintf(log, sizeof(log), "%s/rsyslogd.log", dir);
	char *argv[] = {RSYSLOGD, "-n", "-f", conf, "-i", pid, NULL};
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND,
					 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	if (posix_spawn(&rsyslog_pid, RSYSLOGD, &fa, NULL, argv, environ) != 0)
		fail("cannot start %s", RSYSLOGD);
	posix_spawn_file_actions_destroy(&fa);
	for (int i = 0; i < 200; i++) {
		int st;
		if (waitpid(rsyslog_pid, &st, WNOHANG) == rsyslog_pid) {
			rsyslog_pid = -1;
			fail("rsyslogd exited at start; see %s", log);
		}
		if (port_open())
			return;
		sleep_ms(50);
	}
	fail("rsyslogd does not listen on port %d; see %s", port, log);
}

/* ---- the in-memory source ---- */

struct mem_src {
	struct kura_event_row rows[N_TOTAL];
	size_t avail; /* rows[0..avail) are "in the ledger" */
	uint64_t saved_leaf, saved_seq;
	int saves;
};

static int mem_next(void *ctx, uint64_t from, struct kura_event_row *ret)
{
	struct mem_src *s = ctx;
	for (size_t i = 0; i < s->avail; i++)
		if (s->rows[i].leaf_index >= from) {
			*ret = s->rows[i];
			return 0;
		}
	return KURA_ENOTFOUND;
}

static int mem_format(void *ctx, const struct kura_event_row *row, struct kura_buf *body)
{
	(void)ctx;
	return kura_buf_printf(body, "<AuditMessage>event %llu 閲覧 %s</AuditMessage>",
			       (unsigned long long)row->leaf_index, row->ev.actor);
}

static int mem_save(void *ctx, uint64_t next_leaf, uint64_t next_seq)
{
	struct mem_src *s = ctx;
	s->saved_leaf = next_leaf;
	s->saved_seq = next_seq;
	s->saves++;
	return 0;
}

static void mem_init(struct mem_src *s)
{
	memset(s, 0, sizeof(*s));
	s->saved_seq = 1;
	for (size_t i = 0; i < N_TOTAL; i++) {
		struct kura_event *e = &s->rows[i].ev;
		s->rows[i].leaf_index = LEAF(i);
		e->time_us = 1764042219000000LL + (int64_t)i * 1000;
		e->utc_offset_min = 540;
		e->severity = i % 7 == 0 ? 4 : 6;
		snprintf(e->actor, sizeof(e->actor), "dr-%zu", i);
	}
}

static struct kura_tls_config tls_cfg(const char *who)
{
	static char port_s[16], ca[PATH_MAX + 32], cert[PATH_MAX + 32],
		key[PATH_MAX + 32];
	snprintf(port_s, sizeof(port_s), "%d", port);
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	snprintf(cert, sizeof(cert), "%s/%s.pem", dir, who);
	snprintf(key, sizeof(key), "%s/%s.key", dir, who);
	struct kura_tls_config c = {.host = "127.0.0.1",
				    .port = port_s,
				    .ca_file = ca,
				    .cert_file = cert,
				    .key_file = key,
				    .timeout_ms = 5000};
	return c;
}

static int forward(struct mem_src *s, const char *who, int64_t max_ms,
		   struct kura_forward_stats *st)
{
	struct kura_tls_config cfg = tls_cfg(who);
	struct kura_forward_source src = {mem_next, mem_format, mem_save, s};
	struct kura_forward_opts o = {.hostname = "kura-test-host",
				      .log_id = "vault-test",
				      .batch = 50,
				      .max_run_ms = max_ms,
				      .backoff_max_ms = 400};
	return kura_forward_run(&cfg, &src, s->saved_leaf, s->saved_seq, &o, st);
}

/* ---- reading what rsyslog wrote ---- */

static size_t count_lines(void)
{
	FILE *f = fopen(outfile, "r");
	size_t n = 0;
	int c;
	if (!f)
		return 0;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static void wait_lines(size_t want)
{
	for (int i = 0; i < 400 && count_lines() < want; i++)
		sleep_ms(50);
	if (count_lines() < want)
		fail("rsyslog wrote %zu lines, expected %zu", count_lines(), want);
}

static uint64_t field(const char *line, const char *key, size_t lineno)
{
	const char *p = strstr(line, key);
	char *end;
	if (!p)
		fail("line %zu has no %s: %s", lineno, key, line);
	errno = 0;
	unsigned long long v = strtoull(p + strlen(key), &end, 10);
	if (errno || *end != '"')
		fail("line %zu: bad %s", lineno, key);
	return v;
}

/* Every sequence number 1..n once, in order, each with its own leaf. */
static void check_file(size_t n)
{
	FILE *f = fopen(outfile, "r");
	char line[8192], want[64];
	size_t k = 0;
	if (!f)
		fail("no output file %s", outfile);
	while (fgets(line, sizeof(line), f)) {
		if (k >= n)
			fail("more than %zu lines: %s", n, line);
		if (field(line, "sequenceId=\"", k + 1) != k + 1)
			fail("line %zu: sequenceId %llu, expected %zu", k + 1,
			     (unsigned long long)field(line, "sequenceId=\"", k + 1),
			     k + 1);
		if (field(line, "leaf=\"", k + 1) != LEAF(k))
			fail("line %zu: wrong leaf", k + 1);
		snprintf(want, sizeof(want), "event %llu 閲覧 dr-%zu",
			 (unsigned long long)LEAF(k), k);
		if (!strstr(line, want) || !strstr(line, "msgid=IHE+RFC-3881") ||
		    !strstr(line, "log=\"vault-test\""))
			fail("line %zu is not the event sent: %s", k + 1, line);
		k++;
	}
	fclose(f);
	if (k != n)
		fail("%zu lines, expected %zu", k, n);
}

/* ---- the scenario ---- */

static void expect_delivered(struct mem_src *s, size_t upto, uint64_t sent)
{
	struct kura_forward_stats st;
	int r = forward(s, "client", 60000, &st);
	if (r != 0 || st.sent != sent || !st.drained)
		fail("forward: %s, sent %llu of %llu", kura_strerror(r),
		     (unsigned long long)st.sent, (unsigned long long)sent);
	if (s->saved_leaf != LEAF(upto - 1) + 1 || s->saved_seq != upto + 1)
		fail("cursor after %zu events: leaf %llu seq %llu", upto,
		     (unsigned long long)s->saved_leaf, (unsigned long long)s->saved_seq);
	wait_lines(upto);
}

static void expect_undelivered(struct mem_src *s)
{
	struct kura_forward_stats st;
	uint64_t leaf = s->saved_leaf, seq = s->saved_seq;
	int saves = s->saves;
	int r = forward(s, "client", 1500, &st);
	if (r != KURA_EIO || st.sent != 0 || st.failures == 0)
		fail("with rsyslog down: %s, sent %llu", kura_strerror(r),
		     (unsigned long long)st.sent);
	if (s->saves != saves || s->saved_leaf != leaf || s->saved_seq != seq)
		fail("the cursor moved while the receiver was down");
	printf("receiver down: %llu failed attempts, cursor kept at leaf %llu seq %llu\n",
	       (unsigned long long)st.failures, (unsigned long long)leaf,
	       (unsigned long long)seq);
}

/* A certificate from the same CA with CN=intruder: rsyslog's x509/name
 * check must refuse it, and nothing may reach the file. */
static void expect_intruder_refused(void)
{
	static struct mem_src s;
	struct kura_forward_stats st;
	size_t before = count_lines();
	mem_init(&s);
	s.avail = 5;
	int r = forward(&s, "intruder", 3000, &st);
	sleep_ms(1000);
	if (count_lines() != before)
		fail("rsyslog accepted events from CN=intruder");
	if (r == 0 || st.sent != 0 || s.saves != 0)
		fail("intruder run: %s, sent %llu (expected a refusal)", kura_strerror(r),
		     (unsigned long long)st.sent);
	printf("CN=intruder refused: %s after %llu attempts\n", kura_strerror(r),
	       (unsigned long long)st.failures);
}

/* The server's certificate names IP 127.0.0.1 only: another address or a
 * DNS name must fail verification; the right one must connect. */
static void expect_server_checked(void)
{
	struct kura_tls_config cfg = tls_cfg("client");
	struct kura_tls *t = NULL;
	const char *wrong[] = {"127.0.0.2", "localhost"};
	for (size_t i = 0; i < 2; i++) {
		cfg.server_name = wrong[i];
		int r = kura_tls_connect(&cfg, &t);
		if (r != KURA_ECRYPTO || t)
			fail("server_name '%s': %s, expected ECRYPTO", wrong[i],
			     kura_strerror(r));
	}
	cfg.server_name = NULL;
	int r = kura_tls_connect(&cfg, &t);
	if (r != 0)
		fail("connect as kura-test: %s", kura_strerror(r));
	sleep_ms(300);
	if (kura_tls_peer_closed(t))
		fail("rsyslog closed the connection of the permitted client");
	kura_tls_close(t);
}

static void setup(void)
{
	if (access(RSYSLOGD, X_OK) != 0)
		fail("%s not found: install rsyslog and rsyslog-gnutls (scripts/bootstrap)",
		     RSYSLOGD);
	snprintf(dir, sizeof(dir), "/tmp/kura-syslog-XXXXXX");
	if (!mkdtemp(dir))
		fail("mkdtemp: %s", strerror(errno));
	snprintf(outfile, sizeof(outfile), "%s/received.log", dir);
	make_certs();
	port = free_port();
	write_conf();
	start_rsyslog();
}

int main(void)
{
	static struct mem_src s;
	setup();
	expect_server_checked();
	mem_init(&s);
	s.avail = N_FIRST;
	expect_delivered(&s, N_FIRST, N_FIRST);
	stop_rsyslog();
	s.avail = N_TOTAL;
	expect_undelivered(&s);
	start_rsyslog();
	expect_delivered(&s, N_TOTAL, N_TOTAL - N_FIRST);
	sleep_ms(500); /* a late duplicate would show up by now */
	check_file(N_TOTAL);
	expect_intruder_refused();
	check_file(N_TOTAL);
	stop_rsyslog();
	sh("rm -rf '%s'", dir);
	printf("ok: %d events delivered exactly once, in order\n", N_TOTAL);
	return 0;
}
