/*  check_colo_conntable.c - the connection table: lookups, bounds, aging, removal under collisions.
 *  SPDX-License-Identifier: MPL-2.0
 *  This file is part of colonet; see LICENSE.
 *
 *  Keys are literal flow keys; a randomized run checks the table against a
 *  plain array model through thousands of inserts, removals and touches on
 *  a table small enough that probe runs collide and wrap around.
 */
#include <stdlib.h>
#include <string.h>

#include "colo_conntable.h"
#include "colo_test.h"

typedef struct {
    uint64_t id;
    uint32_t pad[8];
} s_val_t;

//  An IPv4 TCP key 10.0.<n>:port <-> 192.168.0.2:80.
static colo_flow_key_t
s_key (uint32_t n)
{
    colo_flow_key_t k;
    memset (&k, 0, sizeof k);
    k.addr_lo[0] = 10;
    k.addr_lo[1] = 0;
    k.addr_lo[2] = (uint8_t) (n >> 8);
    k.addr_lo[3] = (uint8_t) n;
    k.addr_hi[0] = 192;
    k.addr_hi[1] = 168;
    k.addr_hi[3] = 2;
    k.port_lo = (uint16_t) (10000 + (n >> 16));
    k.port_hi = 80;
    k.proto = 6;
    k.family = 4;
    return k;
}

START_TEST (test_bad_arguments)
{
    ck_assert_ptr_null (colo_conntable_new (0, 8, 1));
    ck_assert_ptr_null (colo_conntable_new (((size_t) 1 << 30) + 1, 8, 1));
    ck_assert_ptr_null (colo_conntable_new (16, ((size_t) 1 << 20) + 1, 1));
    colo_conntable_t *t = colo_conntable_new (1, 0, 0);   //  random seed, no value
    ck_assert_ptr_nonnull (t);
    colo_flow_key_t k = s_key (1);
    ck_assert_ptr_nonnull (colo_conntable_insert (t, &k, 5));
    ck_assert_ptr_nonnull (colo_conntable_find (t, &k));
    colo_conntable_destroy (&t, NULL, NULL);
    ck_assert_ptr_null (t);
    colo_conntable_destroy (&t, NULL, NULL);
    colo_conntable_destroy (NULL, NULL, NULL);
}
END_TEST

START_TEST (test_insert_find_remove)
{
    colo_conntable_t *t = colo_conntable_new (4, sizeof (s_val_t), 77);
    ck_assert_ptr_nonnull (t);
    ck_assert_uint_eq (colo_conntable_capacity (t), 4);
    colo_flow_key_t a = s_key (1), b = s_key (2);
    ck_assert_ptr_null (colo_conntable_find (t, &a));
    s_val_t *va = (s_val_t *) colo_conntable_insert (t, &a, 100);
    ck_assert_ptr_nonnull (va);
    ck_assert_uint_eq ((uintptr_t) va % 16, 0);
    ck_assert_uint_eq (va->id, 0);   //  zeroed
    va->id = 0xaaaa;
    //  The key and the value's first 16 bytes share one cache line.
    const colo_flow_key_t *ka = colo_conntable_key (t, va);
    ck_assert_int_eq (memcmp (ka, &a, sizeof a), 0);
    ck_assert_uint_eq ((uintptr_t) ka / 64, ((uintptr_t) va + 15) / 64);
    ck_assert_uint_eq (colo_conntable_last_active (t, va), 100);

    //  b differs from a in one address byte only.
    ck_assert_ptr_null (colo_conntable_find (t, &b));
    s_val_t *vb = (s_val_t *) colo_conntable_insert (t, &b, 101);
    ck_assert_ptr_nonnull (vb);
    ck_assert_ptr_ne (va, vb);
    vb->id = 0xbbbb;
    ck_assert_ptr_eq (colo_conntable_find (t, &a), va);
    ck_assert_ptr_eq (colo_conntable_find (t, &b), vb);
    ck_assert_uint_eq (colo_conntable_count (t), 2);

    //  Every key word counts: ports, vlan, proto, family, address tails.
    colo_flow_key_t c = a;
    c.vlan = 7;
    ck_assert_ptr_null (colo_conntable_find (t, &c));
    c = a;
    c.family = 6;
    ck_assert_ptr_null (colo_conntable_find (t, &c));
    c = a;
    c.addr_hi[15] = 1;
    ck_assert_ptr_null (colo_conntable_find (t, &c));
    c = a;
    c.addr_lo[9] = 1;
    ck_assert_ptr_null (colo_conntable_find (t, &c));

    colo_conntable_remove (t, va);
    ck_assert_ptr_null (colo_conntable_find (t, &a));
    ck_assert_ptr_eq (colo_conntable_find (t, &b), vb);
    ck_assert_uint_eq (vb->id, 0xbbbb);
    ck_assert_uint_eq (colo_conntable_count (t), 1);
    //  A reused entry is zeroed again.
    s_val_t *va2 = (s_val_t *) colo_conntable_insert (t, &a, 102);
    ck_assert_ptr_nonnull (va2);
    ck_assert_uint_eq (va2->id, 0);
    colo_conntable_destroy (&t, NULL, NULL);
}
END_TEST

START_TEST (test_full)
{
    enum { CAP = 100 };
    colo_conntable_t *t = colo_conntable_new (CAP, sizeof (s_val_t), 3);
    ck_assert_ptr_nonnull (t);
    s_val_t *v[CAP];
    for (uint32_t i = 0; i < CAP; i++) {
        colo_flow_key_t k = s_key (i);
        v[i] = (s_val_t *) colo_conntable_insert (t, &k, i);
        ck_assert_ptr_nonnull (v[i]);
        v[i]->id = i;
    }
    colo_flow_key_t extra = s_key (CAP);
    ck_assert_ptr_null (colo_conntable_insert (t, &extra, 0));
    ck_assert_uint_eq (colo_conntable_count (t), CAP);
    //  Values stayed where they were.
    for (uint32_t i = 0; i < CAP; i++) {
        colo_flow_key_t k = s_key (i);
        ck_assert_ptr_eq (colo_conntable_find (t, &k), v[i]);
        ck_assert_uint_eq (v[i]->id, i);
    }
    colo_conntable_remove (t, v[40]);
    s_val_t *ve = (s_val_t *) colo_conntable_insert (t, &extra, 0);
    ck_assert_ptr_eq (ve, v[40]);   //  the freed entry, reused
    ck_assert_ptr_null (colo_conntable_insert (t, &extra, 0));
    colo_conntable_destroy (&t, NULL, NULL);
}
END_TEST

START_TEST (test_age_list)
{
    colo_conntable_t *t = colo_conntable_new (8, sizeof (s_val_t), 5);
    ck_assert_ptr_nonnull (t);
    ck_assert_ptr_null (colo_conntable_oldest (t));
    s_val_t *v[4];
    for (uint32_t i = 0; i < 4; i++) {
        colo_flow_key_t k = s_key (i);
        v[i] = (s_val_t *) colo_conntable_insert (t, &k, 10 + i);
    }
    //  0 1 2 3, then touch 1 (middle), 3 (already youngest), 0 (oldest).
    colo_conntable_touch (t, v[1], 20);
    colo_conntable_touch (t, v[3], 21);
    colo_conntable_touch (t, v[0], 22);
    s_val_t *order[4] = {v[2], v[1], v[3], v[0]};
    uint64_t times[4] = {12, 20, 21, 22};
    s_val_t *p = (s_val_t *) colo_conntable_oldest (t);
    for (int i = 0; i < 4; i++) {
        ck_assert_ptr_eq (p, order[i]);
        ck_assert_uint_eq (colo_conntable_last_active (t, p), times[i]);
        p = (s_val_t *) colo_conntable_younger (t, p);
    }
    ck_assert_ptr_null (p);
    //  Removing the oldest and the youngest keeps the list whole.
    colo_conntable_remove (t, v[2]);
    colo_conntable_remove (t, v[0]);
    ck_assert_ptr_eq (colo_conntable_oldest (t), v[1]);
    ck_assert_ptr_eq (colo_conntable_younger (t, v[1]), v[3]);
    ck_assert_ptr_null (colo_conntable_younger (t, v[3]));
    colo_conntable_remove (t, v[1]);
    colo_conntable_remove (t, v[3]);
    ck_assert_ptr_null (colo_conntable_oldest (t));
    ck_assert_uint_eq (colo_conntable_count (t), 0);
    colo_conntable_destroy (&t, NULL, NULL);
}
END_TEST

START_TEST (test_find_touch)
{
    colo_conntable_t *t = colo_conntable_new (8, sizeof (s_val_t), 0x5eed);
    ck_assert_ptr_nonnull (t);
    ck_assert_uint_eq (colo_conntable_seed (t), 0x5eed);
    uint64_t seed = colo_conntable_seed (t);
    colo_flow_key_t k[3] = {s_key (1), s_key (2), s_key (3)};
    s_val_t *v[3];
    for (int i = 0; i < 3; i++)
        v[i] = (s_val_t *) colo_conntable_insert (t, &k[i], 10);
    //  Found with the table's hash; a wrong hash finds nothing.
    uint64_t h0 = colo_flow_hash (&k[0], seed);
    ck_assert_ptr_eq (colo_conntable_find_touch (t, &k[0], h0, 10), v[0]);
    ck_assert_ptr_null (colo_conntable_find_touch (t, &k[0], h0 ^ 1, 10));
    ck_assert_ptr_null (colo_conntable_find_touch (t, &k[0], colo_flow_hash (&k[0], seed + 1), 10));
    colo_flow_key_t absent = s_key (9);
    ck_assert_ptr_null (colo_conntable_find_touch (t, &absent, colo_flow_hash (&absent, seed), 11));
    //  Same millisecond: the age list is as it was (0 is still oldest).
    ck_assert_ptr_eq (colo_conntable_oldest (t), v[0]);
    //  A later one: 0 becomes the youngest, with its new time.
    ck_assert_ptr_eq (colo_conntable_find_touch (t, &k[0], h0, 12), v[0]);
    ck_assert_ptr_eq (colo_conntable_oldest (t), v[1]);
    ck_assert_ptr_eq (colo_conntable_younger (t, v[2]), v[0]);
    ck_assert_uint_eq (colo_conntable_last_active (t, v[0]), 12);
    ck_assert_uint_eq (colo_conntable_last_active (t, v[1]), 10);
    //  A random seed is not 0.
    colo_conntable_t *r = colo_conntable_new (8, 0, 0);
    ck_assert_ptr_nonnull (r);
    ck_assert_uint_ne (colo_conntable_seed (r), 0);
    colo_conntable_destroy (&r, NULL, NULL);
    colo_conntable_destroy (&t, NULL, NULL);
}
END_TEST

START_TEST (test_grow)
{
    //  The index grows with the entries (past 2 MiB it takes the huge-page
    //  path); every entry stays findable across each doubling, and after
    //  removals.
    enum { N = 50000 };
    colo_conntable_t *t = colo_conntable_new ((size_t) 1 << 20, sizeof (s_val_t), 11);
    ck_assert_ptr_nonnull (t);
    uint64_t seed = colo_conntable_seed (t);
    for (uint32_t i = 0; i < N; i++) {
        colo_flow_key_t k = s_key (i);
        s_val_t *v = (s_val_t *) colo_conntable_insert (t, &k, i);
        ck_assert_ptr_nonnull (v);
        v->id = i;
        if (i % 4999 == 0)
            for (uint32_t j = 0; j <= i; j += 97) {
                colo_flow_key_t kj = s_key (j);
                s_val_t *vj = (s_val_t *) colo_conntable_find (t, &kj);
                ck_assert_ptr_nonnull (vj);
                ck_assert_uint_eq (vj->id, j);
            }
    }
    ck_assert_uint_eq (colo_conntable_count (t), N);
    for (uint32_t i = 0; i < N; i += 2) {
        colo_flow_key_t k = s_key (i);
        colo_conntable_remove (t, colo_conntable_find (t, &k));
    }
    for (uint32_t i = 0; i < N; i++) {
        colo_flow_key_t k = s_key (i);
        s_val_t *v = (s_val_t *) colo_conntable_find_touch (t, &k, colo_flow_hash (&k, seed), N);
        if (i % 2)
            ck_assert_msg (v && v->id == i, "key %u lost", i);
        else
            ck_assert_ptr_null (v);
    }
    ck_assert_uint_eq (colo_conntable_count (t), N / 2);
    colo_conntable_destroy (&t, NULL, NULL);
}
END_TEST

static void
s_count_free (void *value, void *arg)
{
    s_val_t *v = (s_val_t *) value;
    uint32_t *seen = (uint32_t *) arg;
    ck_assert_uint_lt (v->id, 64);
    seen[v->id]++;
}

START_TEST (test_destroy_on_free)
{
    colo_conntable_t *t = colo_conntable_new (64, sizeof (s_val_t), 9);
    ck_assert_ptr_nonnull (t);
    for (uint32_t i = 0; i < 64; i++) {
        colo_flow_key_t k = s_key (i);
        s_val_t *v = (s_val_t *) colo_conntable_insert (t, &k, 0);
        v->id = i;
        if (i % 3 == 0)
            colo_conntable_remove (t, v);
    }
    uint32_t seen[64] = {0};
    colo_conntable_destroy (&t, s_count_free, seen);
    for (uint32_t i = 0; i < 64; i++)
        ck_assert_uint_eq (seen[i], i % 3 == 0 ? 0 : 1);
}
END_TEST

//  The table against a model: key i is present iff model[i], with value id
//  i and last activity times[i]; the age list is ordered by time and holds
//  exactly the present keys.
static void
s_check_model (colo_conntable_t *t, const s_val_t *const *model, const uint64_t *times,
               uint32_t keys)
{
    uint32_t present = 0;
    for (uint32_t i = 0; i < keys; i++) {
        colo_flow_key_t k = s_key (i);
        s_val_t *v = (s_val_t *) colo_conntable_find (t, &k);
        ck_assert_ptr_eq (v, model[i]);
        if (v) {
            ck_assert_uint_eq (v->id, i);
            ck_assert_uint_eq (colo_conntable_last_active (t, v), times[i]);
            present++;
        }
    }
    ck_assert_uint_eq (colo_conntable_count (t), present);
    uint32_t walked = 0;
    uint64_t last = 0;
    for (s_val_t *v = (s_val_t *) colo_conntable_oldest (t); v;
         v = (s_val_t *) colo_conntable_younger (t, v)) {
        ck_assert_uint_lt (v->id, keys);
        ck_assert_ptr_eq (model[v->id], v);
        uint64_t when = colo_conntable_last_active (t, v);
        ck_assert_uint_ge (when, last);
        last = when;
        walked++;
    }
    ck_assert_uint_eq (walked, present);
}

START_TEST (test_random_against_model)
{
    //  Capacity 10 gives 16 slots: runs collide and wrap past the end.
    static const size_t caps[] = {10, 11, 100};
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        enum { KEYS = 160 };
        uint32_t cap = (uint32_t) caps[c];
        colo_conntable_t *t = colo_conntable_new (cap, sizeof (s_val_t), 1000 + c);
        ck_assert_ptr_nonnull (t);
        s_val_t *model[KEYS] = {NULL};
        uint64_t times[KEYS] = {0};
        uint64_t rng = 0xc0ffee + c, now = 1;
        for (int step = 0; step < 20000; step++) {
            uint32_t i = (uint32_t) (colo_test_rand (&rng) % (cap + cap / 2 + 1));
            colo_flow_key_t k = s_key (i);
            now++;
            if (model[i]) {
                if (colo_test_rand (&rng) % 2) {
                    colo_conntable_remove (t, model[i]);
                    model[i] = NULL;
                }
                else {
                    colo_conntable_touch (t, model[i], now);
                    times[i] = now;
                }
            }
            else {
                s_val_t *v = (s_val_t *) colo_conntable_insert (t, &k, now);
                if (colo_conntable_count (t) == cap && !v)
                    continue;
                ck_assert_ptr_nonnull (v);
                ck_assert_uint_eq (v->id, 0);
                v->id = i;
                model[i] = v;
                times[i] = now;
            }
            if (step % 97 == 0)
                s_check_model (t, (const s_val_t *const *) model, times, KEYS);
        }
        s_check_model (t, (const s_val_t *const *) model, times, KEYS);
        colo_conntable_destroy (&t, NULL, NULL);
    }
}
END_TEST

Suite *
colo_conntable_suite (void)
{
    Suite *s = suite_create ("colo_conntable");
    TCase *tc = tcase_create ("table");
    tcase_add_test (tc, test_bad_arguments);
    tcase_add_test (tc, test_insert_find_remove);
    tcase_add_test (tc, test_full);
    tcase_add_test (tc, test_age_list);
    tcase_add_test (tc, test_find_touch);
    tcase_add_test (tc, test_grow);
    tcase_add_test (tc, test_destroy_on_free);
    tcase_add_test (tc, test_random_against_model);
    tcase_set_timeout (tc, 60);
    suite_add_tcase (s, tc);
    return s;
}
