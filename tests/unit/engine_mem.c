/* Engine behaviour over the in-process transport: every algorithm and member count returns
 * every member's exact blob; subsets, back-to-back and concurrent fences keep apart; early
 * frames wait; faults (drops, dead members, garbage) end collectives with errors, never hangs;
 * direct modex answers late and coalesces. Time is simulated, so deadlines are exact. */
#include "../algo_rules.h"
#include "../blob.h"
#include "../tap.h"
#include "fmx_engine.h"
#include "fmx_mem.h"

#include <stdlib.h>
#include <string.h>

#define MAXP 64

struct sim {
    fmx_mem_fabric_t *fabric;
    fmx_engine_t *eng[MAXP];
    uint32_t P;
    uint64_t now_ns;
};

struct outcome {
    int fired, status;
    int algo;
    char error[256];
    uint32_t count;
    uint32_t members[MAXP];
    size_t lens[MAXP];
    uint8_t *data;
    size_t total;
};

static uint64_t sim_clock(void *arg)
{
    return ((struct sim *)arg)->now_ns;
}

/* When set, engines name their members as a daemon does (by node and host). */
static int sim_named;

static const char *sim_name(void *arg, uint32_t member)
{
    static char buf[64];

    (void)arg;
    snprintf(buf, sizeof(buf), "node n%u (host h%u)", member, member);
    return buf;
}

static uint32_t sim_per_host; /* fmx_mem_set_hosts() of the next sim_init */

static void sim_init(struct sim *s, uint32_t P, uint64_t seed)
{
    memset(s, 0, sizeof(*s));
    s->P = P;
    if (fmx_mem_fabric_create(P, seed, &s->fabric))
        abort();
    fmx_mem_set_hosts(s->fabric, sim_per_host);
    for (uint32_t i = 0; i < P; i++) {
        fmx_engine_config_t cfg = {.self = i,
                                   .members = P,
                                   .transport = fmx_mem_endpoint(s->fabric, i),
                                   .default_timeout_ms = 5000,
                                   .now_ns = sim_clock,
                                   .clock_arg = s,
                                   .member_name = sim_named ? sim_name : NULL};
        if (fmx_engine_create(&cfg, &s->eng[i]))
            abort();
    }
}

static void sim_fini(struct sim *s)
{
    for (uint32_t i = 0; i < s->P; i++)
        fmx_engine_destroy(s->eng[i]);
    fmx_mem_fabric_destroy(s->fabric);
}

static void on_done(void *arg, fmx_fence_result_t *r)
{
    struct outcome *o = arg;

    o->fired++;
    o->status = r->status;
    o->algo = r->algo;
    snprintf(o->error, sizeof(o->error), "%s", r->error);
    o->count = r->count;
    for (uint32_t i = 0; i < r->count && i < MAXP; i++) {
        o->members[i] = r->members[i];
        o->lens[i] = r->lens ? r->lens[i] : 0;
    }
    free(o->data);
    o->data = r->data;
    o->total = r->total;
}

/* Progresses every live engine, 1 ms of simulated time per round, until all outcomes fired. */
static int pump(struct sim *s, struct outcome *o, uint32_t n, const uint8_t *skip, int max_rounds)
{
    for (int round = 0; round < max_rounds; round++) {
        uint32_t fired = 0;

        for (uint32_t i = 0; i < s->P; i++)
            if (!skip || !skip[i])
                fmx_engine_progress(s->eng[i]);
        for (uint32_t i = 0; i < n; i++)
            fired += (!skip || !skip[i]) ? o[i].fired != 0 : 1;
        if (fired == n)
            return round;
        s->now_ns += 1000000;
    }
    return -1;
}

/* Checks that an outcome holds exactly the blobs of `members` for iteration iter. */
static int check_result(const struct outcome *o, const uint32_t *members, uint32_t n, size_t base,
                        uint32_t iter, char *why, size_t whylen)
{
    size_t off = 0;

    if (o->fired != 1 || o->status != 0) {
        snprintf(why, whylen, "fired %d status %d (%s)", o->fired, o->status, o->error);
        return 0;
    }
    if (o->count != n) {
        snprintf(why, whylen, "count %u, want %u", o->count, n);
        return 0;
    }
    for (uint32_t i = 0; i < n; i++) {
        size_t want = blob_len(base, members[i], iter);
        if (o->members[i] != members[i] || o->lens[i] != want) {
            snprintf(why, whylen, "entry %u: member %u len %zu, want member %u len %zu", i,
                     o->members[i], o->lens[i], members[i], want);
            return 0;
        }
        size_t bad = blob_check(o->data + off, want, members[i], iter);
        if (bad != want) {
            snprintf(why, whylen, "member %u byte %zu differs", members[i], bad);
            return 0;
        }
        off += want;
    }
    if (off != o->total) {
        snprintf(why, whylen, "total %zu, want %zu", o->total, off);
        return 0;
    }
    return 1;
}

static void start_fence(struct sim *s, uint32_t m, const uint32_t *members, uint32_t n, size_t base,
                        uint32_t iter, int algo, struct outcome *o)
{
    size_t len = blob_len(base, m, iter);
    uint8_t *blob = malloc(len ? len : 1);
    fmx_fence_args_t a = {
        .members = members, .count = n, .blob = blob, .len = len, .collect = 1, .algo = algo};

    blob_fill(blob, len, m, iter);
    if (fmx_fence_start(s->eng[m], &a, on_done, o))
        o->status = -999;
    free(blob);
}

static void test_all_algorithms(void)
{
    static const uint32_t sizes[] = {1, 2, 3, 5, 8, 13, 32, 64};
    static const int algos[] = {FMX_ALGO_TREE, FMX_ALGO_RD, FMX_ALGO_BRUCK, FMX_ALGO_RING,
                                FMX_ALGO_AUTO};
    static const size_t bases[] = {0, 1, 100};

    for (size_t a = 0; a < sizeof(algos) / sizeof(*algos); a++) {
        for (size_t p = 0; p < sizeof(sizes) / sizeof(*sizes); p++) {
            uint32_t P = sizes[p], members[MAXP];
            int good = 1;
            char why[300] = "";

            for (uint32_t i = 0; i < P; i++)
                members[i] = i;
            for (size_t b = 0; b < sizeof(bases) / sizeof(*bases) && good; b++) {
                struct sim s;
                struct outcome o[MAXP] = {0};

                sim_init(&s, P, 1 + P + a);
                fmx_mem_set_faults(s.fabric, 0, 3, 1); /* delayed and reordered */
                for (uint32_t m = 0; m < P; m++)
                    start_fence(&s, m, NULL, 0, bases[b], (uint32_t)b, algos[a], &o[m]);
                if (pump(&s, o, P, NULL, 10000) < 0) {
                    snprintf(why, sizeof(why), "did not complete");
                    good = 0;
                }
                for (uint32_t m = 0; m < P && good; m++)
                    good = check_result(&o[m], members, P, bases[b], (uint32_t)b, why, sizeof(why));
                for (uint32_t m = 0; m < P && good; m++)
                    if (o[m].algo != expected_algo(algos[a], P, 1, 0)) {
                        snprintf(why, sizeof(why), "member %u ran %s, want %s", m,
                                 fmx_algo_name(o[m].algo),
                                 fmx_algo_name(expected_algo(algos[a], P, 1, 0)));
                        good = 0;
                    }
                for (uint32_t m = 0; m < P; m++)
                    free(o[m].data);
                sim_fini(&s);
            }
            ok(good, "%s, P=%u, blobs of 0/1/100 B: every member holds every blob, by %s %s",
               fmx_algo_name(algos[a]), P, fmx_algo_name(expected_algo(algos[a], P, 1, 0)), why);
        }
    }
}

/* Frames of 16 KiB and more go out gathered from the blocks where they lie (sendv); the
 * transport lets go of them only at its next progress, after the fence may have ended and freed
 * its own references: every byte must still arrive intact (and, under ASan, nothing is read
 * after it was freed or leaked). */
static void test_gathered_sends(void)
{
    static const uint32_t sizes[] = {2, 5, 8, 13};
    static const int algos[] = {FMX_ALGO_TREE, FMX_ALGO_RD, FMX_ALGO_BRUCK, FMX_ALGO_RING};

    for (size_t a = 0; a < sizeof(algos) / sizeof(*algos); a++) {
        for (size_t p = 0; p < sizeof(sizes) / sizeof(*sizes); p++) {
            uint32_t P = sizes[p], members[MAXP];
            int good = 1;
            char why[300] = "";
            struct sim s;
            size_t gathered;

            for (uint32_t i = 0; i < P; i++)
                members[i] = i;
            sim_init(&s, P, 7 + P + a);
            fmx_mem_set_faults(s.fabric, 0, 3, 1);
            for (uint32_t iter = 0; iter < 3 && good; iter++) {
                struct outcome o[MAXP] = {0};

                for (uint32_t m = 0; m < P; m++)
                    start_fence(&s, m, NULL, 0, 20000, iter, algos[a], &o[m]);
                if (pump(&s, o, P, NULL, 10000) < 0) {
                    snprintf(why, sizeof(why), "fence %u did not complete", iter);
                    good = 0;
                }
                for (uint32_t m = 0; m < P && good; m++)
                    good = check_result(&o[m], members, P, 20000, iter, why, sizeof(why));
                for (uint32_t m = 0; m < P; m++)
                    free(o[m].data);
            }
            gathered = fmx_mem_gathered(s.fabric);
            if (good && gathered == 0) {
                snprintf(why, sizeof(why), "no frame was sent gathered");
                good = 0;
            }
            sim_fini(&s);
            ok(good, "%s, P=%u, 20 KB blobs sent in place (%zu gathered sends) %s",
               fmx_algo_name(algos[a]), P, gathered, why);
        }
    }
}

/* The members a member meets in fences: each other's (a check of reachability asks them and
 * they ask it), never itself, none twice, and every recursive-doubling partner among them. */
static void test_neighbours(void)
{
    int good = 1;
    char why[200] = "";

    for (uint32_t P = 1; P <= 40 && good; P++) {
        struct sim s;
        uint32_t nb[MAXP][3 * 8], cnt[MAXP];

        sim_init(&s, P, 5);
        for (uint32_t m = 0; m < P; m++)
            cnt[m] = fmx_engine_neighbours(s.eng[m], nb[m], 3 * 8);
        for (uint32_t m = 0; m < P && good; m++) {
            for (uint32_t i = 0; i < cnt[m] && good; i++) {
                uint32_t p = nb[m][i], back = 0;

                for (uint32_t j = 0; j < cnt[p]; j++)
                    back |= nb[p][j] == m;
                for (uint32_t j = 0; j < i; j++)
                    if (nb[m][j] == p)
                        good = 0, snprintf(why, sizeof(why), "P=%u: %u meets %u twice", P, m, p);
                if (p == m || p >= P || !back)
                    good = 0, snprintf(why, sizeof(why), "P=%u: %u meets %u, not back", P, m, p);
            }
            for (uint32_t k = 1; k < P && good; k <<= 1) {
                uint32_t partner = m ^ k, found = 0;

                for (uint32_t j = 0; j < cnt[m]; j++)
                    found |= nb[m][j] == partner;
                if (partner < P && !found)
                    good = 0, snprintf(why, sizeof(why), "P=%u: %u misses %u", P, m, partner);
            }
        }
        sim_fini(&s);
    }
    ok(good, "the members each member meets in fences meet it too, once each %s", why);
}

static void test_barrier(void)
{
    for (int algo = FMX_ALGO_AUTO; algo < FMX_ALGO_COUNT; algo++) {
        struct sim s;
        struct outcome o[13] = {0};
        int good = 1;

        sim_init(&s, 13, 7);
        fmx_mem_set_faults(s.fabric, 0, 2, 1);
        for (uint32_t m = 0; m < 13; m++) {
            fmx_fence_args_t a = {.blob = "ignored", .len = 7, .collect = 0, .algo = algo};
            fmx_fence_start(s.eng[m], &a, on_done, &o[m]);
        }
        good = pump(&s, o, 13, NULL, 5000) >= 0;
        for (uint32_t m = 0; m < 13 && good; m++)
            good = o[m].fired == 1 && o[m].status == 0 && o[m].data == NULL &&
                o[m].algo == expected_algo(algo, 13, 0, 0);
        ok(good, "fence without data (%s requested) completes on all 13 by %s, no data returned",
           fmx_algo_name(algo), fmx_algo_name(o[0].algo));
        sim_fini(&s);
    }
}

static void test_subsets_and_concurrency(void)
{
    /* two overlapping subsets of 8 members running fences at once, each three times */
    static const uint32_t A[] = {0, 2, 3, 5, 7};
    static const uint32_t B[] = {1, 2, 5, 6};
    struct sim s;
    struct outcome oa[3][8] = {0}, ob[3][8] = {0};
    int good = 1;
    char why[300] = "";

    sim_init(&s, 8, 11);
    fmx_mem_set_faults(s.fabric, 0, 4, 1);
    for (uint32_t it = 0; it < 3; it++) {
        for (uint32_t i = 0; i < 5; i++)
            start_fence(&s, A[i], A, 5, 100, it, FMX_ALGO_AUTO, &oa[it][A[i]]);
        for (uint32_t i = 0; i < 4; i++)
            start_fence(&s, B[i], B, 4, 50, 100 + it, FMX_ALGO_RING, &ob[it][B[i]]);
    }
    for (int round = 0; round < 5000; round++) {
        for (uint32_t i = 0; i < 8; i++)
            fmx_engine_progress(s.eng[i]);
        s.now_ns += 1000000;
    }
    for (uint32_t it = 0; it < 3 && good; it++) {
        for (uint32_t i = 0; i < 5 && good; i++)
            good = check_result(&oa[it][A[i]], A, 5, 100, it, why, sizeof(why));
        for (uint32_t i = 0; i < 4 && good; i++)
            good = check_result(&ob[it][B[i]], B, 4, 50, 100 + it, why, sizeof(why));
    }
    ok(good,
       "3 back-to-back fences on each of two overlapping subsets, all concurrent, "
       "never mix %s",
       why);
    for (uint32_t it = 0; it < 3; it++)
        for (uint32_t i = 0; i < 8; i++) {
            free(oa[it][i].data);
            free(ob[it][i].data);
        }
    sim_fini(&s);
}

static void test_early_frames(void)
{
    /* members 1..4 enter and run for a while before member 0 enters at all */
    struct sim s;
    struct outcome o[5] = {0};
    uint32_t members[5] = {0, 1, 2, 3, 4};
    char why[300] = "";
    int good;

    sim_init(&s, 5, 3);
    for (uint32_t m = 1; m < 5; m++)
        start_fence(&s, m, NULL, 0, 100, 0, FMX_ALGO_BRUCK, &o[m]);
    for (int r = 0; r < 100; r++)
        for (uint32_t m = 0; m < 5; m++)
            fmx_engine_progress(s.eng[m]);
    good = o[1].fired == 0;
    start_fence(&s, 0, NULL, 0, 100, 0, FMX_ALGO_BRUCK, &o[0]);
    good = good && pump(&s, o, 5, NULL, 1000) >= 0;
    for (uint32_t m = 0; m < 5 && good; m++)
        good = check_result(&o[m], members, 5, 100, 0, why, sizeof(why));
    ok(good, "frames that arrive before a member enters the fence are kept and used %s", why);
    for (uint32_t m = 0; m < 5; m++)
        free(o[m].data);
    sim_fini(&s);
}

static void test_back_to_back_1000(void)
{
    struct sim s;
    uint32_t members[5] = {0, 1, 2, 3, 4};
    int good = 1;
    char why[300] = "";

    sim_init(&s, 5, 5);
    fmx_mem_set_faults(s.fabric, 0, 1, 1);
    for (uint32_t it = 0; it < 1000 && good; it++) {
        struct outcome o[5] = {0};
        for (uint32_t m = 0; m < 5; m++)
            start_fence(&s, m, NULL, 0, 10, it, FMX_ALGO_AUTO, &o[m]);
        good = pump(&s, o, 5, NULL, 1000) >= 0;
        for (uint32_t m = 0; m < 5 && good; m++)
            good = check_result(&o[m], members, 5, 10, it, why, sizeof(why));
        for (uint32_t m = 0; m < 5; m++)
            free(o[m].data);
        if (!good)
            snprintf(why + strlen(why), sizeof(why) - strlen(why), " at fence %u", it);
    }
    ok(good, "1000 back-to-back fences over 5 members with reordering %s", why);
    sim_fini(&s);
}

/* A member that never arrives (dead, silent): every survivor fails by its deadline. */
static void test_dead_member(int notify)
{
    struct sim s;
    struct outcome o[8] = {0};
    uint8_t skip[8] = {0};
    int good, rounds;

    sim_init(&s, 8, 9);
    fmx_mem_kill(s.fabric, 5, notify);
    skip[5] = 1;
    for (uint32_t m = 0; m < 8; m++)
        if (m != 5) {
            fmx_fence_args_t a = {.blob = "x", .len = 1, .collect = 1, .timeout_ms = 2000};
            fmx_fence_start(s.eng[m], &a, on_done, &o[m]);
        }
    rounds = pump(&s, o, 8, skip, 10000);
    good = rounds >= 0 && rounds <= 2000;
    for (uint32_t m = 0; m < 8 && good; m++)
        if (m != 5)
            good = o[m].fired == 1 && o[m].status != 0;
    ok(good, "member 5 %s: all 7 survivors fail within the 2 s deadline (after %d ms): %s",
       notify ? "lost with a transport error" : "silently gone", rounds, o[0].error);
    sim_fini(&s);
}

static void test_dead_member_message(void)
{
    struct sim s;
    struct outcome o[4] = {0};
    uint8_t skip[4] = {0, 0, 0, 1};

    sim_init(&s, 4, 1);
    fmx_mem_kill(s.fabric, 3, 0);
    for (uint32_t m = 0; m < 3; m++) {
        fmx_fence_args_t a = {.collect = 0, .timeout_ms = 100, .algo = FMX_ALGO_DISSEM};
        fmx_fence_start(s.eng[m], &a, on_done, &o[m]);
    }
    pump(&s, o, 4, skip, 1000);
    ok(o[0].status == -ETIMEDOUT || o[0].status == FMX_ERR_ABORTED,
       "a barrier with a silent member times out: %s", o[0].error);
    ok(strstr(o[1].error, "member 3") || strstr(o[1].error, "member 0"),
       "the error names a member: %s", o[1].error);
    sim_fini(&s);
}

static void test_garbage(void)
{
    static const uint8_t junk[] = "this is not a frame at all, just bytes on the wire....";
    struct sim s;
    struct outcome o[4] = {0};
    fmx_engine_counters_t ctr;
    uint8_t truncated[30];

    sim_init(&s, 4, 2);
    for (uint32_t m = 0; m < 4; m++) {
        fmx_fence_args_t a = {.blob = "abc", .len = 3, .collect = 1, .timeout_ms = 1000};
        fmx_fence_start(s.eng[m], &a, on_done, &o[m]);
    }
    /* before anything is delivered, member 2 "sends" garbage to member 0 */
    fmx_mem_inject(s.fabric, 2, 0, junk, sizeof(junk));
    memset(truncated, 0, sizeof(truncated));
    fmx_mem_inject(s.fabric, 2, 1, truncated, sizeof(truncated));
    pump(&s, o, 4, NULL, 2000);
    fmx_engine_get_counters(s.eng[0], &ctr);
    ok(ctr.bad_frames == 1, "the garbage frame is counted as bad (%llu)",
       (unsigned long long)ctr.bad_frames);
    ok(o[0].fired == 1 && o[0].status == FMX_ERR_PROTO && strstr(o[0].error, "member 2"),
       "the fence fails with an error naming the sender: %s", o[0].error);
    ok(o[1].fired == 1 && strstr(o[1].error, "member 2"),
       "a truncated frame is rejected naming the sender: %s", o[1].error);
    int settled = 1;
    for (uint32_t m = 2; m < 4; m++)
        /* a member that finished before the abort reached it must hold every blob */
        settled = settled && o[m].fired == 1 &&
            (o[m].status != 0 ||
             (o[m].count == 4 && o[m].total == 12 && !memcmp(o[m].data, "abcabcabcabc", 12)));
    ok(settled, "the others end too, each exactly once (%d: %s / %d: %s)", o[2].status, o[2].error,
       o[3].status, o[3].error);
    for (uint32_t m = 0; m < 4; m++)
        free(o[m].data);
    sim_fini(&s);
}

static void test_garbage_between_fences(void)
{
    struct sim s;
    struct outcome o[3] = {0};
    uint32_t all[3] = {0, 1, 2};
    char why[300] = "";
    int good;

    sim_init(&s, 3, 2);
    fmx_mem_inject(s.fabric, 1, 0, "garbage", 7);
    for (int r = 0; r < 3; r++)
        fmx_engine_progress(s.eng[0]);
    ok(strstr(fmx_engine_last_error(s.eng[0]), "bad frame from member 1") != NULL,
       "garbage while no fence runs is rejected naming the sender: %s",
       fmx_engine_last_error(s.eng[0]));
    for (uint32_t m = 0; m < 3; m++)
        start_fence(&s, m, NULL, 0, 100, 0, FMX_ALGO_AUTO, &o[m]);
    good = pump(&s, o, 3, NULL, 100) >= 0;
    for (uint32_t m = 0; m < 3 && good; m++)
        good = check_result(&o[m], all, 3, 100, 0, why, sizeof(why));
    ok(good, "and the next fence still works %s", why);
    for (uint32_t m = 0; m < 3; m++)
        free(o[m].data);
    sim_fini(&s);
}

static void test_drops_time_out(void)
{
    struct sim s;
    struct outcome o[6] = {0};
    int rounds, good = 1;

    sim_init(&s, 6, 4);
    fmx_mem_set_faults(s.fabric, 100, 0, 0);
    for (uint32_t m = 0; m < 6; m++) {
        fmx_fence_args_t a = {.blob = "x", .len = 1, .collect = 1, .timeout_ms = 300};
        fmx_fence_start(s.eng[m], &a, on_done, &o[m]);
    }
    rounds = pump(&s, o, 6, NULL, 5000);
    for (uint32_t m = 0; m < 6; m++)
        good = good && o[m].fired == 1 && o[m].status == -ETIMEDOUT &&
            strstr(o[m].error, "still waiting for member");
    ok(good && rounds >= 299 && rounds <= 301,
       "every message dropped: all 6 time out at 300 ms (%d) naming a straggler: %s", rounds,
       o[0].error);
    sim_fini(&s);
    /* with names, the straggler is named as the front end names it, index included */
    memset(o, 0, sizeof(o));
    sim_named = 1;
    sim_init(&s, 6, 4);
    sim_named = 0;
    fmx_mem_set_faults(s.fabric, 100, 0, 0);
    for (uint32_t m = 0; m < 6; m++) {
        fmx_fence_args_t a = {.blob = "x", .len = 1, .collect = 1, .timeout_ms = 300};
        fmx_fence_start(s.eng[m], &a, on_done, &o[m]);
    }
    pump(&s, o, 6, NULL, 5000);
    good = 1;
    for (uint32_t m = 0; m < 6; m++)
        good = good && o[m].status == -ETIMEDOUT &&
            strstr(o[m].error, "still waiting for node n") && strstr(o[m].error, "), member ");
    ok(good, "a named straggler: %s", o[0].error);
    sim_fini(&s);
}

/* ---- direct modex ---- */

struct dmx_server {
    fmx_engine_t *eng;
    fmx_dmodex_req_t *held[8];
    int nheld, requests;
};

struct dmx_answer {
    int fired, status;
    char blob[64];
};

static void dmx_handler(void *arg, uint32_t from, const void *key, size_t keylen,
                        fmx_dmodex_req_t *req)
{
    struct dmx_server *srv = arg;
    (void)from;
    srv->requests++;
    if (keylen == 4 && memcmp(key, "late", 4) == 0) {
        srv->held[srv->nheld++] = req; /* answered later, as uncommitted data would be */
        return;
    }
    if (keylen == 7 && memcmp(key, "missing", 7) == 0) {
        fmx_dmodex_respond(srv->eng, req, -ENOENT, NULL, 0);
        return;
    }
    char reply[64];
    int n = snprintf(reply, sizeof(reply), "value-of-%.*s", (int)keylen, (const char *)key);
    fmx_dmodex_respond(srv->eng, req, 0, reply, (size_t)n);
}

static void dmx_done(void *arg, int status, const void *blob, size_t len)
{
    struct dmx_answer *a = arg;
    a->fired++;
    a->status = status;
    snprintf(a->blob, sizeof(a->blob), "%.*s", (int)len, (const char *)blob);
}

static void test_dmodex(void)
{
    struct sim s;
    struct dmx_server srv = {0};
    struct dmx_answer a[6] = {{0}};
    fmx_engine_counters_t ctr;

    sim_init(&s, 3, 8);
    srv.eng = s.eng[2];
    fmx_dmodex_add_handler(s.eng[2], "", dmx_handler, &srv);
    fmx_dmodex_request(s.eng[0], 2, "rank7", 5, 1000, dmx_done, &a[0]);
    fmx_dmodex_request(s.eng[0], 2, "rank7", 5, 1000, dmx_done, &a[1]);
    fmx_dmodex_request(s.eng[1], 2, "missing", 7, 1000, dmx_done, &a[2]);
    fmx_dmodex_request(s.eng[1], 2, "late", 4, 3000, dmx_done, &a[3]);
    fmx_dmodex_request(s.eng[0], 2, "late", 4, 200, dmx_done, &a[4]);
    for (int r = 0; r < 500; r++) {
        for (uint32_t m = 0; m < 3; m++)
            fmx_engine_progress(s.eng[m]);
        s.now_ns += 1000000;
    }
    fmx_engine_get_counters(s.eng[0], &ctr);
    ok(a[0].fired == 1 && a[1].fired == 1 && !strcmp(a[0].blob, "value-of-rank7") &&
           !strcmp(a[1].blob, "value-of-rank7"),
       "two requests for one key both get the reply (%s)", a[0].blob);
    ok(ctr.dmodex_sent == 2 && ctr.dmodex_coalesced == 1,
       "...through one message (sent %llu, coalesced %llu)", (unsigned long long)ctr.dmodex_sent,
       (unsigned long long)ctr.dmodex_coalesced);
    ok(a[2].fired == 1 && a[2].status == -ENOENT, "the handler's error reaches the requester");
    ok(a[4].fired == 1 && a[4].status == -ETIMEDOUT, "a request not answered in 200 ms times out");
    ok(a[3].fired == 0 && srv.nheld == 2, "a request for data not yet there waits");
    for (int i = 0; i < srv.nheld; i++)
        fmx_dmodex_respond(s.eng[2], srv.held[i], 0, "committed", 9);
    for (int r = 0; r < 10; r++)
        for (uint32_t m = 0; m < 3; m++)
            fmx_engine_progress(s.eng[m]);
    ok(a[3].fired == 1 && a[3].status == 0 && !strcmp(a[3].blob, "committed"),
       "...and gets the data once it is answered, 500 ms later (%s)", a[3].blob);
    ok(a[4].fired == 1, "the late reply to the timed-out request is dropped, not delivered twice");
    fmx_mem_kill(s.fabric, 2, 1);
    fmx_dmodex_request(s.eng[1], 2, "after", 5, 60000, dmx_done, &a[5]);
    for (int r = 0; r < 10; r++)
        fmx_engine_progress(s.eng[1]);
    ok(a[5].fired == 1 && a[5].status == FMX_ERR_PEER_LOST,
       "a request to a member lost with a transport error fails at once (%d)", a[5].status);
    sim_fini(&s);
}

/* Two front ends on one engine: each direct modex request reaches the handler of its key's
 * prefix, a key no front end claims is refused, and a prefix has one handler. */
static void test_dmodex_front_ends(void)
{
    struct sim s;
    struct dmx_server pmix = {0}, pmi = {0};
    struct dmx_answer a[4] = {{0}};

    sim_init(&s, 2, 3);
    pmix.eng = pmi.eng = s.eng[1];
    ok(fmx_dmodex_add_handler(s.eng[1], "pmix:", dmx_handler, &pmix) == 0 &&
           fmx_dmodex_add_handler(s.eng[1], "pmi:", dmx_handler, &pmi) == 0,
       "two front ends register their prefixes");
    ok(fmx_dmodex_add_handler(s.eng[1], "pmi:", dmx_handler, &pmix) == -EEXIST,
       "a prefix has one handler");
    fmx_dmodex_request(s.eng[0], 1, "pmix:rank3", 10, 1000, dmx_done, &a[0]);
    fmx_dmodex_request(s.eng[0], 1, "pmi:rank3", 9, 1000, dmx_done, &a[1]);
    fmx_dmodex_request(s.eng[0], 1, "flux:rank3", 10, 1000, dmx_done, &a[2]);
    for (int r = 0; r < 20; r++)
        for (uint32_t m = 0; m < 2; m++)
            fmx_engine_progress(s.eng[m]);
    ok(pmix.requests == 1 && pmi.requests == 1 && !strcmp(a[0].blob, "value-of-pmix:rank3") &&
           !strcmp(a[1].blob, "value-of-pmi:rank3"),
       "each request reaches its own front end, with its whole key");
    ok(a[2].fired == 1 && a[2].status == -ENOSYS, "a key no front end claims is refused");
    fmx_dmodex_remove_handler(s.eng[1], "pmi:");
    fmx_dmodex_request(s.eng[0], 1, "pmi:rank4", 9, 1000, dmx_done, &a[3]);
    for (int r = 0; r < 20; r++)
        for (uint32_t m = 0; m < 2; m++)
            fmx_engine_progress(s.eng[m]);
    ok(a[3].fired == 1 && a[3].status == -ENOSYS && pmi.requests == 1,
       "a removed front end gets no more requests");
    sim_fini(&s);
}

/* fmx_engine_cancel: a fence still waiting for a member ends now with -ECANCELED, its callback
 * fired once, and the engine goes on working. */
static void test_cancel(void)
{
    struct sim s;
    struct outcome o[2] = {{0}}, again[2] = {{0}};
    fmx_fence_args_t a = {.blob = "x", .len = 1, .collect = 1};

    sim_init(&s, 2, 5);
    fmx_fence_start(s.eng[0], &a, on_done, &o[0]); /* member 1 never joins this one */
    fmx_engine_progress(s.eng[0]);
    fmx_engine_cancel(s.eng[0]);
    ok(o[0].fired == 1 && o[0].status == -ECANCELED, "cancel ends the waiting fence (%d)",
       o[0].status);
    fmx_engine_cancel(s.eng[0]);
    ok(o[0].fired == 1, "its callback fires once");
    sim_fini(&s);
    sim_init(&s, 2, 6);
    fmx_engine_cancel(s.eng[0]); /* nothing in flight */
    for (uint32_t m = 0; m < 2; m++)
        fmx_fence_start(s.eng[m], &a, on_done, &again[m]);
    for (int r = 0; r < 50; r++)
        for (uint32_t m = 0; m < 2; m++)
            fmx_engine_progress(s.eng[m]);
    ok(again[0].fired == 1 && again[0].status == 0 && again[1].status == 0,
       "an engine cancelled with nothing in flight goes on fencing");
    free(o[0].data);
    free(again[0].data);
    free(again[1].data);
    sim_fini(&s);
}

/* Runs one fence over P members, each with its own requested algorithm and the same size hint,
 * outcomes in o[0..P-1]; returns the rounds it took, or -1 when some member never finished. */
static int one_fence(uint32_t P, const int *algo, size_t hint, int collect, struct outcome *o)
{
    struct sim s;
    int rc;

    sim_init(&s, P, 17);
    for (uint32_t m = 0; m < P; m++) {
        fmx_fence_args_t a = {
            .blob = "x", .len = 1, .collect = collect, .algo = algo[m], .size_hint = hint};
        fmx_fence_start(s.eng[m], &a, on_done, &o[m]);
    }
    rc = pump(&s, o, P, NULL, 10000);
    sim_fini(&s);
    return rc;
}

static void test_algorithm_choice(void)
{
    static const struct {
        uint32_t P;
        size_t hint;
        int collect;
        const char *env;
        int requested;
    } cases[] = {
        {8, 0, 1, NULL, FMX_ALGO_AUTO}, /* power of two: rd */
        {13, 0, 1, NULL, FMX_ALGO_AUTO}, /* otherwise: bruck */
        {13, 4u << 20, 1, NULL, FMX_ALGO_AUTO}, /* 4 MiB in all: ring */
        {8, (4u << 20) - 1, 1, NULL, FMX_ALGO_AUTO}, /* just below: rd */
        {5, 0, 0, NULL, FMX_ALGO_AUTO}, /* no data: dissemination */
        {5, 0, 1, NULL, FMX_ALGO_DISSEM}, /* dissemination asked for, with data: bruck */
        {8, 0, 1, "tree", FMX_ALGO_AUTO}, /* FMX_FENCE_ALGO decides for auto */
        {8, 0, 1, "tree", FMX_ALGO_RING}, /* ...but not over an explicit request */
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        struct outcome o[16] = {0};
        int algo[16], want, good;

        for (uint32_t m = 0; m < cases[i].P; m++)
            algo[m] = cases[i].requested;
        if (cases[i].env)
            setenv("FMX_FENCE_ALGO", cases[i].env, 1);
        want = expected_algo(cases[i].requested, cases[i].P, cases[i].collect, cases[i].hint);
        good = one_fence(cases[i].P, algo, cases[i].hint, cases[i].collect, o) >= 0;
        unsetenv("FMX_FENCE_ALGO");
        for (uint32_t m = 0; m < cases[i].P && good; m++)
            good = o[m].status == 0 && o[m].algo == want;
        ok(good, "P=%u, %s, hint %zu B, FMX_FENCE_ALGO=%s, %s requested: %s ran (want %s)",
           cases[i].P, cases[i].collect ? "with data" : "no data", cases[i].hint,
           cases[i].env ? cases[i].env : "unset", fmx_algo_name(cases[i].requested),
           fmx_algo_name(o[0].algo), fmx_algo_name(want));
        for (uint32_t m = 0; m < cases[i].P; m++)
            free(o[m].data);
    }
}

/* One member asks for another algorithm than the rest: the fence fails on everyone with a
 * protocol error that says so, never completes with mixed data or hangs. */
static void test_algorithm_mismatch(void)
{
    struct outcome o[5] = {0};
    int algo[5] = {FMX_ALGO_RING, FMX_ALGO_BRUCK, FMX_ALGO_BRUCK, FMX_ALGO_BRUCK, FMX_ALGO_BRUCK};
    int named = 0, failed = 0;

    one_fence(5, algo, 0, 1, o);
    for (uint32_t m = 0; m < 5; m++) {
        failed += o[m].fired == 1 && o[m].status != 0;
        named += o[m].status == FMX_ERR_PROTO && strstr(o[m].error, "runs this fence as") &&
            strstr(o[m].error, "FMX_FENCE_ALGO");
        free(o[m].data);
    }
    ok(failed == 5 && named >= 1,
       "member 0 runs ring where the others run bruck: all 5 fail, %d with the mismatch named "
       "(\"%s\")",
       named, o[1].error[0] ? o[1].error : o[0].error);
}

/* The hierarchical algorithm over hosts of 1 to 4 members (the fabric's host_of): every blob
 * everywhere, with and without data, over every member and over a subset that leaves hosts
 * partly or wholly out, delayed and reordered; a member killed mid-fence fails it on every
 * survivor. */
static void test_hierarchy(void)
{
    static const uint32_t sizes[] = {2, 3, 5, 8, 13, 32};

    for (uint32_t per = 1; per <= 4; per++) {
        for (size_t p = 0; p < sizeof(sizes) / sizeof(*sizes); p++) {
            uint32_t P = sizes[p], all[MAXP], sub[MAXP], nsub = 0;
            int good = 1;
            char why[300] = "";

            for (uint32_t i = 0; i < P; i++) {
                all[i] = i;
                if (i % 3 != 1) /* drops some hosts' leaders, and one-member hosts */
                    sub[nsub++] = i;
            }
            sim_per_host = per;
            for (int pass = 0; pass < 3 && good; pass++) {
                const uint32_t *m = pass == 2 ? sub : all;
                uint32_t n = pass == 2 ? nsub : P;
                struct sim s;
                struct outcome o[MAXP] = {0};

                sim_init(&s, P, 5 + P + per);
                fmx_mem_set_faults(s.fabric, 0, 3, 1);
                for (uint32_t i = 0; i < n; i++) {
                    if (pass == 1) {
                        fmx_fence_args_t a = {
                            .members = m, .count = n, .collect = 0, .algo = FMX_ALGO_HIER};
                        fmx_fence_start(s.eng[m[i]], &a, on_done, &o[i]);
                    } else {
                        start_fence(&s, m[i], pass ? m : NULL, pass ? n : 0, 100, (uint32_t)pass,
                                    FMX_ALGO_HIER, &o[i]);
                    }
                }
                /* pump() progresses every engine; outcomes are by position here */
                if (pump(&s, o, n, NULL, 10000) < 0) {
                    snprintf(why, sizeof(why), "pass %d did not complete", pass);
                    good = 0;
                }
                for (uint32_t i = 0; i < n && good; i++) {
                    if (pass != 1)
                        good = check_result(&o[i], m, n, 100, (uint32_t)pass, why, sizeof(why));
                    else if (o[i].status || o[i].algo != FMX_ALGO_HIER)
                        snprintf(why, sizeof(why), "barrier: status %d, ran %s", o[i].status,
                                 fmx_algo_name(o[i].algo)),
                            good = 0;
                }
                for (uint32_t i = 0; i < n; i++)
                    free(o[i].data);
                sim_fini(&s);
            }
            ok(good, "hier, P=%u on hosts of %u: all, barrier, subset of %u %s", P, per, nsub, why);
        }
    }
    /* a member that is not its host's leader, and one that is, die mid-fence */
    for (uint32_t victim = 2; victim <= 3; victim++) {
        struct sim s;
        struct outcome o[MAXP] = {0};
        uint8_t skip[MAXP] = {0};
        int good = 1;

        sim_per_host = 3;
        sim_init(&s, 8, 77);
        for (uint32_t i = 0; i < 8; i++)
            if (i != victim)
                start_fence(&s, i, NULL, 0, 100, 0, FMX_ALGO_HIER, &o[i]);
        fmx_mem_kill(s.fabric, victim, 1);
        skip[victim] = 1;
        o[victim].fired = 1;
        good = pump(&s, o, 8, skip, 20000) >= 0;
        for (uint32_t i = 0; i < 8 && good; i++)
            good = i == victim || (o[i].fired == 1 && o[i].status != 0);
        for (uint32_t i = 0; i < 8; i++)
            free(o[i].data);
        sim_fini(&s);
        ok(good, "hier: member %u (%s) killed mid-fence: every survivor's fence fails", victim,
           victim % 3 ? "not a leader" : "a host's leader");
    }
    sim_per_host = 0;
}

int main(void)
{
    test_all_algorithms();
    test_gathered_sends();
    test_neighbours();
    test_barrier();
    test_algorithm_choice();
    test_hierarchy();
    test_algorithm_mismatch();
    test_subsets_and_concurrency();
    test_early_frames();
    test_back_to_back_1000();
    test_dead_member(0);
    test_dead_member(1);
    test_dead_member_message();
    test_garbage();
    test_garbage_between_fences();
    test_drops_time_out();
    test_dmodex();
    test_dmodex_front_ends();
    test_cancel();
    return done_testing();
}
