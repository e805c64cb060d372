/*  check_colo_util.c - tests for colo_log, colo_counters, colo_buf (and its FIFO), colo_seq.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "colo_buf.h"
#include "colo_counters.h"
#include "colo_log.h"
#include "colo_seq.h"
#include "colo_service.h"
#include "colo_test.h"

START_TEST (test_log_levels)
{
    ck_assert_int_eq (colo_log_level_parse ("error"), COLO_LOG_ERROR);
    ck_assert_int_eq (colo_log_level_parse ("trace"), COLO_LOG_TRACE);
    ck_assert_int_eq (colo_log_level_parse ("3"), COLO_LOG_DEBUG);
    ck_assert_int_eq (colo_log_level_parse ("loud"), -1);
    ck_assert_int_eq (colo_log_level_parse (NULL), -1);
    colo_log_set_level (COLO_LOG_DEBUG);
    ck_assert_int_eq (colo_log_level (), COLO_LOG_DEBUG);
    colo_log_set_level ((colo_log_level_t) 99);
    ck_assert_int_eq (colo_log_level (), COLO_LOG_TRACE);
    colo_log_set_level (COLO_LOG_WARN);
}
END_TEST

START_TEST (test_ratelimit)
{
    colo_ratelimit_t rl = COLO_RATELIMIT_INIT (60000, 3);
    uint64_t sup = 99;
    ck_assert_int_eq (colo_ratelimit_ok (&rl, &sup), 1);
    ck_assert_uint_eq (sup, 0);
    ck_assert_int_eq (colo_ratelimit_ok (&rl, NULL), 1);
    ck_assert_int_eq (colo_ratelimit_ok (&rl, NULL), 1);
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq (colo_ratelimit_ok (&rl, NULL), 0);
    ck_assert_uint_eq (rl.suppressed, 10);
    //  A new window reports what was suppressed.
    rl.window_start_ms -= 60000;
    ck_assert_int_eq (colo_ratelimit_ok (&rl, &sup), 1);
    ck_assert_uint_eq (sup, 10);
}
END_TEST

START_TEST (test_counters)
{
    static const char *const names[] = {"alpha", "beta", "gamma"};
    uint64_t values[3] = {1, 0, 42};
    colo_counters_t set = {names, values, 3};
    ck_assert_uint_eq (colo_counters_get (&set, "gamma"), 42);
    ck_assert_uint_eq (colo_counters_get (&set, "delta"), 0);
    char buf[128];
    colo_counters_format (&set, "x_", 0, 1, buf, sizeof buf);
    ck_assert_str_eq (buf, "x_alpha 1\nx_gamma 42\n");
    colo_counters_format (&set, NULL, 1, 0, buf, sizeof buf);
    ck_assert_str_eq (buf, "{\"alpha\":1,\"beta\":0,\"gamma\":42}");
    //  Truncation is safe and the needed size is reported.
    size_t need = colo_counters_format (&set, NULL, 1, 0, buf, 8);
    ck_assert_uint_eq (need, strlen ("{\"alpha\":1,\"beta\":0,\"gamma\":42}"));
    ck_assert_uint_eq (strlen (buf), 7);
    uint64_t sum[3] = {1, 1, 1};
    colo_counters_add (sum, values, 3);
    ck_assert_uint_eq (sum[2], 43);
}
END_TEST

START_TEST (test_buf)
{
    ck_assert_ptr_null (colo_buf_new (COLO_FRAME_MAX + 1));
    colo_buf_t *buf = colo_buf_new_copy ("abcdef", 6);
    ck_assert_ptr_nonnull (buf);
    buf->vnet_hdr_len = 2;
    buf->seq = 7;
    ck_assert_uint_eq (colo_buf_frame_len (buf), 4);
    ck_assert_int_eq (colo_buf_frame (buf)[0], 'c');
    colo_buf_t *copy = colo_buf_dup (buf);
    ck_assert_uint_eq (copy->seq, 7);
    ck_assert_int_eq (memcmp (copy->data, "abcdef", 6), 0);
    colo_buf_destroy (&buf);
    ck_assert_ptr_null (buf);
    colo_buf_destroy (&buf);
    colo_buf_t *arr[2] = {copy, NULL};
    colo_buf_destroy_array (arr, 2);
    ck_assert_ptr_null (arr[0]);
    colo_buf_t *big = colo_buf_new (COLO_FRAME_MAX);
    ck_assert_ptr_nonnull (big);
    ck_assert_uint_eq (big->cap, COLO_FRAME_MAX);
    colo_buf_destroy (&big);
    //  Sizes come in classes; a freed buffer is reused by the same thread.
    colo_buf_t *small = colo_buf_new (100);
    ck_assert_uint_ge (small->cap, 100);
    small->len = 7;
    small->seq = 99;
    colo_buf_t *was = small;
    colo_buf_destroy (&small);
    colo_buf_t *again = colo_buf_new (90);
#if !defined(__SANITIZE_ADDRESS__)
    ck_assert_ptr_eq (again, was);
#endif
    (void) was;
    ck_assert_uint_eq (again->len, 0);   //  metadata cleared
    ck_assert_uint_eq (again->seq, 0);
    colo_buf_destroy (&again);
    //  Many at once (more than the cache keeps) all come back.
    colo_buf_t *many[2000];
    for (int i = 0; i < 2000; i++) {
        many[i] = colo_buf_new ((size_t) (i * 37) % COLO_FRAME_MAX);
        ck_assert_ptr_nonnull (many[i]);
        ck_assert_uint_ge (many[i]->cap, (uint32_t) ((i * 37) % COLO_FRAME_MAX));
    }
    colo_buf_destroy_array (many, 2000);
    ck_assert_uint_ne (colo_instance_id ("vm1"), colo_instance_id ("vm2"));
    ck_assert_uint_eq (colo_instance_id (NULL), 0);
}
END_TEST

START_TEST (test_buf_slab)
{
    colo_buf_slab_t *slab = colo_buf_slab_new (4096);
    ck_assert_ptr_nonnull (slab);
    ck_assert_uint_eq (colo_buf_slab_size (slab), 4096);
    uint8_t *bytes = colo_buf_slab_data (slab);
    for (int i = 0; i < 4096; i++)
        bytes[i] = (uint8_t) i;
    ck_assert_int_eq (colo_buf_slab_shared (slab), 0);
    //  Buffers made in the slab point into it, and pin it.
    colo_buf_t *a = colo_buf_new_in (slab, bytes + 100, 60);
    colo_buf_t *b = colo_buf_new_in (slab, bytes + 2000, 1500);
    ck_assert_ptr_nonnull (a);
    ck_assert_ptr_nonnull (b);
    ck_assert_ptr_eq (a->data, bytes + 100);
    ck_assert_uint_eq (a->len, 60);
    ck_assert_uint_eq (b->cap, 1500);
    ck_assert_int_eq (colo_buf_slab_shared (slab), 1);
    ck_assert_ptr_null (colo_buf_new_in (slab, bytes, COLO_FRAME_MAX + 1));
    //  A copy is a buffer of its own.
    colo_buf_t *copy = colo_buf_dup (b);
    ck_assert_ptr_null (copy->slab);
    ck_assert_ptr_ne (copy->data, b->data);
    ck_assert_mem_eq (copy->data, bytes + 2000, 1500);
    colo_buf_destroy (&copy);
    colo_buf_destroy (&a);
    ck_assert_int_eq (colo_buf_slab_shared (slab), 1);
    colo_buf_destroy (&b);
    ck_assert_int_eq (colo_buf_slab_shared (slab), 0);
    //  The owner lets go first: the last buffer frees it (ASan checks).
    colo_buf_t *c = colo_buf_new_in (slab, bytes + 10, 20);
    colo_buf_slab_release (&slab);
    ck_assert_ptr_null (slab);
    ck_assert_int_eq (c->data[0], 10);
    colo_buf_destroy (&c);
    colo_buf_slab_release (&slab);   //  NULL-safe
    //  A buffer from the cache after a slab buffer is a plain one again.
    colo_buf_t *plain = colo_buf_new (50);
    ck_assert_ptr_null (plain->slab);
    ck_assert_ptr_eq (plain->data, plain->storage);
    colo_buf_destroy (&plain);
}
END_TEST

//  Buffers made in slabs by the batch: every view's fields, one reference
//  each; an array with runs from two slabs, plain buffers and NULLs lets
//  each slab go exactly when its last buffer goes (ASan: no early free, no
//  leak).
START_TEST (test_buf_slab_batch)
{
    colo_buf_slab_t *s1 = colo_buf_slab_new (2048), *s2 = colo_buf_slab_new (2048);
    uint8_t *b1 = colo_buf_slab_data (s1), *b2 = colo_buf_slab_data (s2);
    memset (b1, 0x11, 2048);
    memset (b2, 0x22, 2048);
    colo_frame_view_t views[4] = {
        {b1, 60, 0, 7, s1}, {b1 + 100, 70, 10, 8, s1}, {b1 + 300, 80, 0, 9, s1},
        {b1 + 500, COLO_FRAME_MAX + 1, 0, 0, s1},   //  too long: not made
    };
    colo_buf_t *bufs[8] = {NULL};
    ck_assert_int_eq (colo_buf_new_in_views (s1, views, 4, bufs), 3);
    ck_assert_ptr_null (bufs[3]);
    for (int i = 0; i < 3; i++) {
        ck_assert_ptr_eq (bufs[i]->data, views[i].data);
        ck_assert_uint_eq (bufs[i]->len, views[i].len);
        ck_assert_uint_eq (bufs[i]->cap, views[i].len);
        ck_assert_uint_eq (bufs[i]->vnet_hdr_len, views[i].vnet_hdr_len);
        ck_assert_uint_eq (bufs[i]->ts_ns, views[i].ts_ns);
        ck_assert_ptr_eq (bufs[i]->slab, s1);
    }
    ck_assert_int_eq (colo_buf_new_in_views (s2, views, 0, bufs + 3), 0);
    bufs[4] = colo_buf_new_in (s2, b2, 40);
    bufs[5] = colo_buf_new_copy ("plain", 5);
    bufs[6] = colo_buf_new_in (s1, b1 + 900, 30);   //  s1 again after s2
    //  The owners let go; the buffers keep the slabs.
    colo_buf_slab_release (&s1);
    colo_buf_slab_release (&s2);
    ck_assert_int_eq (bufs[0]->data[0], 0x11);
    ck_assert_int_eq (bufs[4]->data[0], 0x22);
    //  The first run alone: s1 stays for bufs[6].
    colo_buf_destroy_array (bufs, 2);
    ck_assert_ptr_null (bufs[0]);
    ck_assert_int_eq (bufs[6]->data[0], 0x11);
    colo_buf_destroy_array (bufs, 8);
    for (int i = 0; i < 8; i++)
        ck_assert_ptr_null (bufs[i]);
}
END_TEST

//  The per-thread cache hands each buffer out once: a burst freed and made
//  again (past the class limit, two classes) gives distinct buffers, every
//  one usable; a thread that exits with a full cache lets it go (make
//  memcheck: nothing definitely lost).
static int
s_cmp_ptr (const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (void *const *) a, y = (uintptr_t) * (void *const *) b;
    return x < y ? -1 : x > y;
}

static void *
s_cache_burst (void *arg)
{
    (void) arg;
    enum { N = 9000 };   //  beyond the smallest class's 8192
    static colo_buf_t *bufs[N];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N; i++) {
            bufs[i] = colo_buf_new (i % 2 ? 100 : 1500);
            if (!bufs[i])
                return (void *) 1;
            memset (bufs[i]->data, (int) i, bufs[i]->cap);
            bufs[i]->len = bufs[i]->cap;
        }
        qsort (bufs, N, sizeof bufs[0], s_cmp_ptr);
        for (int i = 1; i < N; i++)
            if (bufs[i] == bufs[i - 1])
                return (void *) 2;
        colo_buf_destroy_array (bufs, N);
    }
    return NULL;
}

START_TEST (test_buf_cache_threads)
{
    for (int t = 0; t < 2; t++) {
        pthread_t thread;
        void *rc = (void *) 3;
        ck_assert_int_eq (pthread_create (&thread, NULL, s_cache_burst, NULL), 0);
        ck_assert_int_eq (pthread_join (thread, &rc), 0);
        ck_assert_ptr_null (rc);
    }
}
END_TEST

//  The FIFO keeps its order when it grows with its items across the wrap,
//  hands them out oldest first, and frees what is left.
START_TEST (test_bufq)
{
    colo_bufq_t q;
    memset (&q, 0, sizeof q);
    ck_assert_ptr_null (colo_bufq_pop (&q));
    uint32_t next_in = 0, next_out = 0;
    //  Fill 50, take 40 (head at 40 of 64), then push 100: the ring is
    //  full across the wrap when it grows (to 128).
    for (int round = 0; round < 3; round++) {
        int push = round == 0 ? 50 : 100, take = round == 0 ? 40 : 30;
        for (int i = 0; i < push; i++) {
            colo_buf_t *buf = colo_buf_new (4);
            ck_assert_ptr_nonnull (buf);
            buf->seq = next_in++;
            ck_assert_int_eq (colo_bufq_push (&q, buf), 0);
        }
        ck_assert_uint_eq (q.count, next_in - next_out);
        ck_assert_uint_eq (q.cap & (q.cap - 1), 0);
        for (size_t i = 0; i < q.count; i++)
            ck_assert_uint_eq (colo_bufq_at (&q, i)->seq, next_out + i);
        for (int i = 0; i < take; i++) {
            colo_buf_t *buf = colo_bufq_pop (&q);
            ck_assert_ptr_nonnull (buf);
            ck_assert_uint_eq (buf->seq, next_out++);
            colo_buf_destroy (&buf);
        }
    }
    ck_assert_uint_eq (q.cap, 256);
    //  Taken by the caller: skipped, not destroyed.
    colo_buf_t *taken[5];
    for (int i = 0; i < 5; i++)
        taken[i] = colo_bufq_at (&q, (size_t) i);
    colo_bufq_skip (&q, 5);
    next_out += 5;
    ck_assert_uint_eq (colo_bufq_at (&q, 0)->seq, next_out);
    colo_buf_destroy_array (taken, 5);
    //  Taking goes round the end of the ring too (no growth: 245 of 256).
    while (q.count < 245) {
        colo_buf_t *buf = colo_buf_new (4);
        ck_assert_ptr_nonnull (buf);
        buf->seq = next_in++;
        ck_assert_int_eq (colo_bufq_push (&q, buf), 0);
    }
    ck_assert_uint_eq (q.cap, 256);
    for (int i = 0; i < 240; i++) {
        colo_buf_t *buf = colo_bufq_pop (&q);
        ck_assert_uint_eq (buf->seq, next_out++);
        colo_buf_destroy (&buf);
    }
    ck_assert_uint_lt (q.head, q.cap);
    colo_bufq_destroy (&q);   //  the rest: a leak would show under ASan and valgrind
    ck_assert_uint_eq (q.count, 0);
    ck_assert_ptr_null (q.items);
    ck_assert_uint_eq (q.cap, 0);
}
END_TEST

START_TEST (test_seq_wrap)
{
    ck_assert (colo_seq_before (1, 2));
    ck_assert (!colo_seq_before (2, 1));
    ck_assert (colo_seq_before (0xfffffff0u, 0x10));
    ck_assert (colo_seq_after (0x10, 0xfffffff0u));
    ck_assert (colo_seq_before_eq (5, 5));
    ck_assert (colo_seq_after_eq (5, 5));
    ck_assert_uint_eq (colo_seq_max (0xffffffffu, 3), 3);
    ck_assert_uint_eq (colo_seq_min (0xffffffffu, 3), 0xffffffffu);
    ck_assert_uint_eq (colo_seq_diff (5, 0xfffffffbu), 10);
    ck_assert (colo_seq_in (0, 0xfffffff0u, 0x10));
    ck_assert (!colo_seq_in (0x10, 0xfffffff0u, 0x10));
    ck_assert (colo_seq_in (0xfffffff0u, 0xfffffff0u, 0x10));
}
END_TEST

START_TEST (test_clocks)
{
    uint64_t a = colo_clock_mono_ns ();
    uint64_t b = colo_clock_mono_ns ();
    ck_assert_uint_ge (b, a);
    ck_assert_uint_gt (colo_clock_real_ns (), 1600000000ull * 1000000000ull);
}
END_TEST

START_TEST (test_service_bool)
{
    static const char *const yes[] = {"", "on", "true", "yes", "1"};
    static const char *const no[] = {"off", "false", "no", "0"};
    int v = -1;
    for (size_t i = 0; i < 5; i++) {
        ck_assert_int_eq (colo_service_parse_bool (yes[i], &v), 0);
        ck_assert_int_eq (v, 1);
    }
    for (size_t i = 0; i < 4; i++) {
        ck_assert_int_eq (colo_service_parse_bool (no[i], &v), 0);
        ck_assert_int_eq (v, 0);
    }
    ck_assert_int_eq (colo_service_parse_bool (NULL, &v), 0);
    ck_assert_int_eq (v, 1);
    ck_assert_int_eq (colo_service_parse_bool ("maybe", &v), -1);
    ck_assert_int_eq (colo_service_parse_bool ("ON", &v), -1);
}
END_TEST

Suite *
colo_util_suite (void)
{
    Suite *s = suite_create ("colo_util");
    TCase *tc = tcase_create ("core");
    tcase_add_test (tc, test_log_levels);
    tcase_add_test (tc, test_ratelimit);
    tcase_add_test (tc, test_counters);
    tcase_add_test (tc, test_buf);
    tcase_add_test (tc, test_buf_slab);
    tcase_add_test (tc, test_buf_slab_batch);
    tcase_add_test (tc, test_buf_cache_threads);
    tcase_add_test (tc, test_bufq);
    tcase_add_test (tc, test_seq_wrap);
    tcase_add_test (tc, test_clocks);
    tcase_add_test (tc, test_service_bool);
    suite_add_tcase (s, tc);
    return s;
}
