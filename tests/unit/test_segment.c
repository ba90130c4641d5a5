/* test_segment.c - segments: every entry form round trips, the parser
 * refuses every truncation and anything left over. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "backup/segment.h"

static const uint8_t ev_leaf[] = {0x02, 'e', 'v'};
static const uint8_t v_leaf[] = {0x01, 'v', '1', '2'};

struct seen {
	unsigned entries, sths;
	uint64_t index[8];
	struct kura_seg_entry e[8];
	struct kura_sth sth[4];
	int stop_at;
};

static int on_entry(void *ctx, uint64_t i, const struct kura_seg_entry *e)
{
	struct seen *s = ctx;
	if (s->stop_at && (int)s->entries == s->stop_at)
		return KURA_ESTATE;
	s->index[s->entries] = i;
	s->e[s->entries++] = *e;
	return 0;
}

static int on_sth(void *ctx, const struct kura_sth *sth)
{
	struct seen *s = ctx;
	s->sth[s->sths++] = *sth;
	return 0;
}

static void build(struct kura_seg_writer *w, struct kura_seg_chunk ch[2], struct kura_sth sth[2])
{
	memset(ch, 0, 2 * sizeof(*ch));
	memset(ch[0].id, 0xaa, 32);
	ch[0].len = 300000;
	memset(ch[1].id, 0xbb, 32);
	ch[1].len = 5;
	memset(sth, 0, 2 * sizeof(*sth));
	sth[0].tree_size = 103;
	sth[0].time_us = -5;
	memset(sth[0].root, 1, 32);
	memset(sth[0].signature, 2, 64);
	sth[1].tree_size = 104;
	sth[1].time_us = 1700000000000000;
	memset(sth[1].root, 3, 32);
	memset(sth[1].signature, 4, 64);
	kura_seg_begin(w, 100);
	assert_int_equal(kura_seg_add_event(w, ev_leaf, sizeof(ev_leaf)), 0);
	assert_int_equal(kura_seg_add_version(w, v_leaf, sizeof(v_leaf), KURA_SEG_NONE, NULL, 0,
					      NULL, 0), 0);
	assert_int_equal(kura_seg_add_version(w, v_leaf, sizeof(v_leaf), KURA_SEG_INLINE,
					      (const uint8_t *)"content", 7, NULL, 0), 0);
	assert_int_equal(kura_seg_add_version(w, v_leaf, sizeof(v_leaf), KURA_SEG_CHUNKED, NULL,
					      300005, ch, 2), 0);
	assert_int_equal(kura_seg_add_sth(w, &sth[0]), 0);
	assert_int_equal(kura_seg_add_sth(w, &sth[1]), 0);
	assert_int_equal(kura_seg_finish(w), 0);
}

static void test_round_trip(void **state)
{
	(void)state;
	struct kura_seg_writer w;
	struct kura_seg_chunk ch[2], got;
	struct kura_sth sth[2];
	struct seen s = {0};
	uint64_t first;
	uint32_t count;
	build(&w, ch, sth);
	assert_int_equal(kura_seg_size(&w), w.buf.len);
	assert_memory_equal(w.buf.data, "KSG1\0\0\0\0\0\0\0\x64\0\0\0\x04", 16);
	assert_int_equal(kura_seg_parse(w.buf.data, w.buf.len, &first, &count, on_entry, on_sth, &s),
			 0);
	assert_int_equal(first, 100);
	assert_int_equal(count, 4);
	assert_int_equal(s.entries, 4);
	assert_int_equal(s.index[3], 103);
	assert_int_equal(s.e[0].kind, KURA_SEG_EVENT);
	assert_int_equal(s.e[0].leaf_len, 3);
	assert_memory_equal(s.e[0].leaf, ev_leaf, 3);
	assert_int_equal(s.e[1].kind, KURA_SEG_VERSION);
	assert_int_equal(s.e[1].mode, KURA_SEG_NONE);
	assert_int_equal(s.e[2].mode, KURA_SEG_INLINE);
	assert_int_equal(s.e[2].content_len, 7);
	assert_memory_equal(s.e[2].content, "content", 7);
	assert_int_equal(s.e[3].mode, KURA_SEG_CHUNKED);
	assert_int_equal(s.e[3].content_len, 300005);
	assert_int_equal(s.e[3].nchunks, 2);
	kura_seg_chunk_at(&s.e[3], 1, &got);
	assert_memory_equal(&got, &ch[1], sizeof(got));
	kura_seg_chunk_at(&s.e[3], 0, &got);
	assert_int_equal(got.len, 300000);
	assert_int_equal(s.sths, 2);
	assert_memory_equal(&s.sth[0], &sth[0], sizeof(sth[0]));
	assert_memory_equal(&s.sth[1], &sth[1], sizeof(sth[1]));
	/* A callback's error stops the walk and comes back. */
	memset(&s, 0, sizeof(s));
	s.stop_at = 2;
	assert_int_equal(kura_seg_parse(w.buf.data, w.buf.len, &first, &count, on_entry, on_sth, &s),
			 KURA_ESTATE);
	kura_seg_release(&w);
}

static void test_truncated_and_trailing(void **state)
{
	(void)state;
	struct kura_seg_writer w;
	struct kura_seg_chunk ch[2];
	struct kura_sth sth[2];
	struct seen s = {0};
	uint64_t first;
	uint32_t count;
	build(&w, ch, sth);
	for (size_t n = 0; n < w.buf.len; n++) {
		uint8_t *copy = malloc(n + 1);
		memcpy(copy, w.buf.data, n);
		assert_int_equal(kura_seg_parse(copy, n, &first, &count, on_entry, on_sth, &s),
				 KURA_ECORRUPT);
		free(copy);
	}
	assert_int_equal(s.entries, 0); /* no callback saw a damaged segment */
	assert_int_equal(kura_buf_append_byte(&w.buf, 0), 0);
	assert_int_equal(kura_seg_parse(w.buf.data, w.buf.len, &first, &count, NULL, NULL, NULL),
			 KURA_ECORRUPT);
	w.buf.len--;
	/* A chunk length changed: the sum no longer matches the total. */
	size_t sum_at = w.buf.len - 4 - 2 * 112 - 4;
	w.buf.data[sum_at + 3] ^= 1;
	assert_int_equal(kura_seg_parse(w.buf.data, w.buf.len, &first, &count, NULL, NULL, NULL),
			 KURA_ECORRUPT);
	w.buf.data[sum_at + 3] ^= 1;
	/* A leaf whose type byte disagrees with the entry's kind. */
	w.buf.data[16 + 1 + 4] = 0x01;
	assert_int_equal(kura_seg_parse(w.buf.data, w.buf.len, &first, &count, NULL, NULL, NULL),
			 KURA_ECORRUPT);
	w.buf.data[16 + 1 + 4] = 0x02;
	assert_int_equal(kura_seg_parse(w.buf.data, w.buf.len, &first, &count, NULL, NULL, NULL), 0);
	kura_seg_release(&w);
}

static void test_writer_refuses(void **state)
{
	(void)state;
	struct kura_seg_writer w;
	struct kura_seg_chunk ch = {{0}, 10};
	struct kura_sth sth = {0};
	kura_seg_begin(&w, 0);
	assert_int_equal(kura_seg_finish(&w), KURA_EINVAL); /* empty */
	assert_int_equal(kura_seg_add_sth(&w, &sth), KURA_EINVAL);
	assert_int_equal(kura_seg_add_event(&w, v_leaf, sizeof(v_leaf)), KURA_EINVAL);
	assert_int_equal(kura_seg_add_version(&w, ev_leaf, sizeof(ev_leaf), KURA_SEG_NONE, NULL, 0,
					      NULL, 0), KURA_EINVAL);
	assert_int_equal(kura_seg_add_version(&w, v_leaf, sizeof(v_leaf), 7, NULL, 0, NULL, 0),
			 KURA_EINVAL);
	assert_int_equal(kura_seg_add_version(&w, v_leaf, sizeof(v_leaf), KURA_SEG_CHUNKED, NULL,
					      11, &ch, 1), KURA_EINVAL);
	assert_int_equal(kura_seg_add_version(&w, v_leaf, sizeof(v_leaf), KURA_SEG_CHUNKED, NULL,
					      10, &ch, 0), KURA_EINVAL);
	assert_int_equal(kura_seg_add_version(&w, v_leaf, sizeof(v_leaf), KURA_SEG_CHUNKED, NULL,
					      10, &ch, 1), 0);
	sth.tree_size = 5;
	assert_int_equal(kura_seg_add_sth(&w, &sth), 0);
	assert_int_equal(kura_seg_add_sth(&w, &sth), KURA_EINVAL); /* not increasing */
	assert_int_equal(kura_seg_add_event(&w, ev_leaf, sizeof(ev_leaf)), KURA_EINVAL);
	assert_int_equal(kura_seg_finish(&w), 0);
	uint64_t first;
	uint32_t count;
	assert_int_equal(kura_seg_parse(w.buf.data, w.buf.len, &first, &count, NULL, NULL, NULL), 0);
	assert_int_equal(count, 1);
	kura_seg_release(&w);
	kura_seg_release(&w); /* safe twice */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_truncated_and_trailing),
		cmocka_unit_test(test_writer_refuses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
