/*
 * scan.c - malware scanning of restored documents with libclamav (scan.h).
 * One compiled engine per scanner; libclamav allows concurrent scans on a
 * compiled engine, and each scan here has its own map and options.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <clamav.h>

#include "backup/scan.h"
#include "util/err.h"
#include "util/banned.h"

/* Limits: a record is at most KURA_MAX_CONTENT (64 MiB); archives inside
 * it may unpack to more, up to these.  Past them the scan says so
 * (Heuristics.Limits.Exceeded) instead of passing what it did not read. */
#define SCAN_MAX_BYTES ((long long)KURA_SCAN_MAX_BYTES)
#define SCAN_MAX_FILES 10000
#define SCAN_MAX_RECURSION 16

struct kura_scanner {
	struct cl_engine *engine;
	struct cl_scan_options opts;
	char tmpdir[64]; /* our private scratch directory on tmpfs, "" if none */
};

/*
 * libclamav makes (and removes) a scratch directory under its temporary
 * directory for every scan, and may write unpacked parts of a document
 * there.  On a disk file system that costs about 0.6 ms a document
 * (measured: most of a 200,000-record restore's scanning time), and it
 * would put pieces of patient documents on disk.  So scans use a private
 * directory (mode 0700) on /dev/shm, a tmpfs, when there is one; it is
 * removed at close.
 */
static void private_tmpdir(struct kura_scanner *s)
{
	static const char pattern[] = "/dev/shm/kura-scan-XXXXXX"; /* mkdtemp fills the X's */
	struct stat st;
	s->tmpdir[0] = 0;
	if (stat("/dev/shm", &st) != 0 || !S_ISDIR(st.st_mode))
		return;
	memcpy(s->tmpdir, pattern, sizeof(pattern));
	if (!mkdtemp(s->tmpdir)) {
		s->tmpdir[0] = 0; /* libclamav's default directory, then */
		return;
	}
	if (cl_engine_set_str(s->engine, CL_ENGINE_TMPDIR, s->tmpdir) != CL_SUCCESS) {
		rmdir(s->tmpdir);
		s->tmpdir[0] = 0;
	}
}

/* libclamav's process-wide initialisation, once; the only static state. */
static pthread_once_t clam_once = PTHREAD_ONCE_INIT;
static cl_error_t clam_init_result = CL_EARG;

/* Library code does not log (STYLE.md rule 6): libclamav's messages go
 * nowhere; errors reach the caller through return codes. */
static void clam_quiet(enum cl_msg severity, const char *fullmsg, const char *msg, void *ctx)
{
	(void)severity;
	(void)fullmsg;
	(void)msg;
	(void)ctx;
}

static void clam_init(void)
{
	cl_set_clcb_msg(clam_quiet);
	clam_init_result = cl_init(CL_INIT_DEFAULT);
}

static int set_limits(struct cl_engine *e)
{
	cl_error_t r = cl_engine_set_num(e, CL_ENGINE_MAX_FILESIZE, SCAN_MAX_BYTES);
	if (r == CL_SUCCESS)
		r = cl_engine_set_num(e, CL_ENGINE_MAX_SCANSIZE, SCAN_MAX_BYTES);
	if (r == CL_SUCCESS)
		r = cl_engine_set_num(e, CL_ENGINE_MAX_FILES, SCAN_MAX_FILES);
	if (r == CL_SUCCESS)
		r = cl_engine_set_num(e, CL_ENGINE_MAX_RECURSION, SCAN_MAX_RECURSION);
	return r;
}

static void scan_options(struct cl_scan_options *o)
{
	memset(o, 0, sizeof(*o));
	o->general = CL_SCAN_GENERAL_HEURISTICS;
	o->parse = ~0u; /* every archive and document format libclamav knows */
	/* Fail closed on what could not be scanned whole.  Encrypted documents
	 * and macros are not flagged: PDFs with an empty owner password and
	 * office forms are common in hospitals. */
	o->heuristic = CL_SCAN_HEURISTIC_EXCEEDS_MAX;
}

static int load(struct kura_scanner *s, const char *dir, unsigned *ret_sigs, char err[256])
{
	unsigned sigs = 0;
	cl_error_t r = cl_load(dir, s->engine, &sigs, CL_DB_STDOPT);
	if (r == CL_SUCCESS && sigs == 0)
		r = CL_EOPEN;
	if (r != CL_SUCCESS) {
		/* An empty directory (or one of other files): libclamav would
		 * otherwise scan with no signature and pass everything. */
		snprintf(err, 256, "no signatures loaded from '%s': %s", dir, cl_strerror(r));
		return r == CL_EOPEN ? KURA_EINVAL : KURA_EIO;
	}
	r = cl_engine_compile(s->engine);
	if (r != CL_SUCCESS) {
		snprintf(err, 256, "cannot compile the signatures of '%s': %s", dir, cl_strerror(r));
		return KURA_EIO;
	}
	*ret_sigs = sigs;
	return 0;
}

int kura_scan_open(const char *dir, struct kura_scanner **ret, unsigned *ret_sigs, char err[256])
{
	struct kura_scanner *s = NULL;
	struct stat st;
	int r = KURA_EIO;
	*ret = NULL;
	*ret_sigs = 0;
	err[0] = 0;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, 256, "no signature database directory '%s'", dir);
		return KURA_ENOTFOUND;
	}
	pthread_once(&clam_once, clam_init);
	if (clam_init_result != CL_SUCCESS) {
		snprintf(err, 256, "libclamav: %s", cl_strerror(clam_init_result));
		return KURA_EIO;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return KURA_ENOMEM;
	s->engine = cl_engine_new();
	if (!s->engine || set_limits(s->engine) != CL_SUCCESS) {
		snprintf(err, 256, "libclamav: cannot make an engine");
		goto out;
	}
	scan_options(&s->opts);
	private_tmpdir(s);
	r = load(s, dir, ret_sigs, err);
out:
	if (r) {
		kura_scan_close(s);
		return r;
	}
	*ret = s;
	return 0;
}

void kura_scan_close(struct kura_scanner *s)
{
	if (!s)
		return;
	if (s->engine)
		cl_engine_free(s->engine);
	if (s->tmpdir[0])
		rmdir(s->tmpdir); /* libclamav removed what it made in it */
	free(s);
}

int kura_scan_buf(struct kura_scanner *s, const uint8_t *p, size_t n,
		  char virus[KURA_SCAN_MAX_NAME])
{
	struct cl_scan_options opts = s->opts; /* libclamav takes it non-const */
	const char *name = NULL;
	unsigned long scanned = 0;
	virus[0] = 0;
	if (n == 0)
		return 0; /* nothing to carry anything (libclamav cannot map it) */
	cl_fmap_t *map = cl_fmap_open_memory(p, n);
	if (!map) {
		snprintf(virus, KURA_SCAN_MAX_NAME, "libclamav: cannot map the buffer");
		return KURA_EIO;
	}
	cl_error_t r = cl_scanmap_callback(map, NULL, &name, &scanned, s->engine, &opts, NULL);
	cl_fmap_close(map);
	if (r == CL_CLEAN)
		return 0;
	if (r == CL_VIRUS) {
		snprintf(virus, KURA_SCAN_MAX_NAME, "%s", name ? name : "unknown");
		return 1;
	}
	snprintf(virus, KURA_SCAN_MAX_NAME, "libclamav: %s", cl_strerror(r));
	return KURA_EIO;
}
