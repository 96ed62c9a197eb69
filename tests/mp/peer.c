/* One member of a multi-process engine test over a real libfabric provider (FI_PROVIDER).
 * Started by fmx-mprun with --rank/--size/--dir; runs one scenario, checks every byte it
 * receives, and exits 0 only when everything it saw was right. Exit 3: a wait ran out. */
#include "../algo_rules.h"
#include "../blob.h"
#include "fmx_engine.h"
#include "fmx_seal.h"
#include "fmx_backend.h"
#include "fmx_direct.h"
#include "fmx_pair.h"
#include "rendezvous.h"

#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct opts {
    uint32_t rank, size;
    const char *dir, *scenario;
    char algos[128], sizes[256];
    uint32_t iters;
    uint64_t timeout_ms;
    uint32_t victim; /* kill / garbage scenarios; whom the impostor claims to be */
    int impostor; /* the impostor scenario's last process: a stranger, not a member */
};

struct peer {
    struct opts o;
    fmx_transport_t *tp;
    fmx_engine_t *eng;
    int failures;
};

struct pending {
    int fired, status, algo;
    char error[256];
    uint32_t count;
    uint32_t *members;
    size_t *lens;
    uint8_t *data;
    size_t total;
};

#define FAIL(p, ...)                                                                               \
    do {                                                                                           \
        fprintf(stderr, "peer %u: ", (p)->o.rank);                                                 \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        (p)->failures++;                                                                           \
    } while (0)

static void on_fence(void *arg, fmx_fence_result_t *r)
{
    struct pending *pd = arg;

    pd->fired++;
    pd->status = r->status;
    pd->algo = r->algo;
    snprintf(pd->error, sizeof(pd->error), "%s", r->error);
    pd->count = r->count;
    pd->members = malloc(r->count * sizeof(uint32_t));
    pd->lens = malloc(r->count * sizeof(size_t));
    if (pd->members)
        memcpy(pd->members, r->members, r->count * sizeof(uint32_t));
    if (pd->lens && r->lens)
        memcpy(pd->lens, r->lens, r->count * sizeof(size_t));
    pd->data = r->data;
    pd->total = r->total;
}

static void pending_free(struct pending *pd)
{
    free(pd->members);
    free(pd->lens);
    free(pd->data);
    memset(pd, 0, sizeof(*pd));
}

/* Sleeps the way a daemon's poll loop would: on the engine's fd, no longer than its next
 * deadline; transports without an fd fall back to fmx_engine_wait's short naps. */
static void idle(struct peer *p, int max_ms)
{
    struct pollfd pfd = {.fd = fmx_engine_fd(p->eng), .events = POLLIN};
    int t = fmx_engine_timeout_ms(p->eng);

    if (pfd.fd < 0) {
        fmx_engine_wait(p->eng, max_ms);
        return;
    }
    int w = fmx_engine_prepare_wait(p->eng);

    if (w < 0)
        return;
    if (w > 0) /* at most w us: poll's 1 ms is the least it can say */
        max_ms = 1;
    poll(&pfd, 1, t < 0 || t > max_ms ? max_ms : t);
}

/* Progresses until *done is non-zero or deadline_ms passes; returns 0 or -ETIMEDOUT. */
static int run_until(struct peer *p, const int *done, uint64_t deadline_ms)
{
    uint64_t until = fmx_now_ns() + deadline_ms * 1000000u;

    while (!*done) {
        if (fmx_now_ns() > until)
            return -ETIMEDOUT;
        if (fmx_engine_progress(p->eng) == 0)
            idle(p, 100);
    }
    return 0;
}

static int start_fence(struct peer *p, const uint32_t *members, uint32_t n, size_t base,
                       uint32_t iter, int algo, int collect, struct pending *pd)
{
    size_t len = blob_len(base, p->o.rank, iter);
    uint8_t *blob = malloc(len ? len : 1);
    fmx_fence_args_t a = {.members = members,
                          .count = n,
                          .blob = blob,
                          .len = len,
                          .collect = collect,
                          .algo = algo,
                          .timeout_ms = p->o.timeout_ms};
    int rc;

    blob_fill(blob, len, p->o.rank, iter);
    rc = fmx_fence_start(p->eng, &a, on_fence, pd);
    free(blob);
    return rc;
}

static void check_fence(struct peer *p, const struct pending *pd, const uint32_t *members,
                        uint32_t n, size_t base, uint32_t iter, int algo, const char *what)
{
    size_t off = 0;

    if (pd->fired != 1 || pd->status) {
        FAIL(p, "%s: fired %d, status %d: %s", what, pd->fired, pd->status, pd->error);
        return;
    }
    int want = expected_algo(algo, n, 1, 0);

    if (pd->algo != want) {
        FAIL(p, "%s: ran as %s, want %s", what, fmx_algo_name(pd->algo), fmx_algo_name(want));
        return;
    }
    if (pd->count != n) {
        FAIL(p, "%s: %u participants, want %u", what, pd->count, n);
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t m = members ? members[i] : i;
        size_t want = blob_len(base, m, iter);

        if (pd->members[i] != m || pd->lens[i] != want) {
            FAIL(p, "%s: entry %u is member %u with %zu bytes, want member %u with %zu", what, i,
                 pd->members[i], pd->lens[i], m, want);
            return;
        }
        size_t bad = blob_check(pd->data + off, want, m, iter);
        if (bad != want) {
            FAIL(p, "%s: byte %zu of member %u's blob differs", what, bad, m);
            return;
        }
        off += want;
    }
    if (off != pd->total)
        FAIL(p, "%s: %zu bytes in all, want %zu", what, pd->total, off);
}

/* Fences over every member for each algorithm and blob size listed. */
static void scenario_fences(struct peer *p)
{
    char algos[128], sizes[256], *sa, *ss, *a, *s;
    uint32_t iter = 0;

    snprintf(algos, sizeof(algos), "%s", p->o.algos);
    for (a = strtok_r(algos, ",", &sa); a; a = strtok_r(NULL, ",", &sa)) {
        int algo = fmx_algo_parse(a);

        snprintf(sizes, sizeof(sizes), "%s", p->o.sizes);
        for (s = strtok_r(sizes, ",", &ss); s; s = strtok_r(NULL, ",", &ss)) {
            size_t base = strtoull(s, NULL, 0);

            for (uint32_t k = 0; k < p->o.iters; k++, iter++) {
                struct pending pd = {0};
                char what[96];

                snprintf(what, sizeof(what), "%s fence of %zu B #%u", a, base, k);
                if (start_fence(p, NULL, 0, base, iter, algo, 1, &pd) ||
                    run_until(p, &pd.fired, p->o.timeout_ms + 5000))
                    FAIL(p, "%s did not complete: %s", what, fmx_engine_last_error(p->eng));
                else
                    check_fence(p, &pd, NULL, p->o.size, base, iter, algo, what);
                pending_free(&pd);
                if (p->failures)
                    return;
            }
        }
    }
}

/* Two overlapping subsets, each running iters fences, all in flight at once. */
static void scenario_subsets(struct peer *p)
{
    uint32_t n = p->o.size, A[n], B[n], na = 0, nb = 0, inA = 0, inB = 0, it;
    struct pending *pa = calloc(p->o.iters, sizeof(*pa)), *pb = calloc(p->o.iters, sizeof(*pb));
    int all = 0;

    for (uint32_t r = 0; r < n; r++) {
        if (r % 2 == 0 || r == 1)
            A[na++] = r, inA |= r == p->o.rank;
        if (r % 3 != 0)
            B[nb++] = r, inB |= r == p->o.rank;
    }
    for (it = 0; it < p->o.iters; it++) {
        if (inA && start_fence(p, A, na, 100, it, FMX_ALGO_AUTO, 1, &pa[it]))
            FAIL(p, "subset A fence %u did not start", it);
        if (inB && start_fence(p, B, nb, 64, 1000 + it, FMX_ALGO_RING, 1, &pb[it]))
            FAIL(p, "subset B fence %u did not start", it);
    }
    uint64_t until = fmx_now_ns() + (p->o.timeout_ms + 5000) * 1000000u;
    while (!all && fmx_now_ns() < until) {
        all = 1;
        for (it = 0; it < p->o.iters; it++)
            all &= (!inA || pa[it].fired) && (!inB || pb[it].fired);
        if (!all && fmx_engine_progress(p->eng) == 0)
            idle(p, 100);
    }
    for (it = 0; it < p->o.iters; it++) {
        if (inA)
            check_fence(p, &pa[it], A, na, 100, it, FMX_ALGO_AUTO, "subset A fence");
        if (inB)
            check_fence(p, &pb[it], B, nb, 64, 1000 + it, FMX_ALGO_RING, "subset B fence");
        pending_free(&pa[it]);
        pending_free(&pb[it]);
    }
    free(pa);
    free(pb);
}

/* dmodex: each member serves its own blob under key "rank<r>", answering every request on the
 * second pass through its loop (late, as data not yet committed would be). */
struct dmx_state {
    struct peer *p;
    fmx_dmodex_req_t *held[4096];
    uint32_t nheld;
    int immediate; /* after this member's own requests are done, serve at once */
    uint8_t *mine;
    size_t len;
};

static void dmx_handler(void *arg, uint32_t from, const void *key, size_t keylen,
                        fmx_dmodex_req_t *req)
{
    struct dmx_state *st = arg;
    (void)from;
    (void)key;
    (void)keylen;
    if (st->immediate)
        fmx_dmodex_respond(st->p->eng, req, 0, st->mine, st->len);
    else if (st->nheld < 4096)
        st->held[st->nheld++] = req;
    else
        fmx_dmodex_respond(st->p->eng, req, -EBUSY, NULL, 0);
}

struct dmx_answer {
    int fired, status;
    uint32_t from;
    int ok;
};

static void dmx_done(void *arg, int status, const void *blob, size_t len)
{
    struct dmx_answer *a = arg;
    size_t want = blob_len(300, a->from, 77);

    a->fired++;
    a->status = status;
    a->ok = status == 0 && len == want && blob_check(blob, len, a->from, 77) == want;
}

static struct dmx_state st;

static void scenario_dmodex(struct peer *p)
{
    uint32_t n = p->o.size;
    struct dmx_answer *ans = calloc(2 * n, sizeof(*ans));
    size_t len = blob_len(300, p->o.rank, 77);
    uint8_t *mine = malloc(len);
    uint64_t until = fmx_now_ns() + (p->o.timeout_ms + 5000) * 1000000u;
    uint32_t fired = 0;

    st.p = p;
    st.mine = mine;
    st.len = len;
    blob_fill(mine, len, p->o.rank, 77);
    fmx_dmodex_add_handler(p->eng, "", dmx_handler, &st);
    for (uint32_t r = 0; r < n; r++) {
        char key[32];
        int kl = snprintf(key, sizeof(key), "rank%u", r);
        for (int twice = 0; twice < 2; twice++) {
            ans[2 * r + twice].from = r;
            if (r != p->o.rank)
                fmx_dmodex_request(p->eng, r, key, (size_t)kl, p->o.timeout_ms, dmx_done,
                                   &ans[2 * r + twice]);
        }
    }
    while (fired < 2 * (n - 1) && fmx_now_ns() < until) {
        if (fmx_engine_progress(p->eng) == 0)
            idle(p, 20);
        for (uint32_t i = 0; i < st.nheld; i++)
            fmx_dmodex_respond(p->eng, st.held[i], 0, mine, len);
        st.nheld = 0;
        fired = 0;
        for (uint32_t i = 0; i < 2 * n; i++)
            fired += ans[i].fired;
    }
    for (uint32_t r = 0; r < n; r++)
        for (int twice = 0; twice < 2 && r != p->o.rank; twice++)
            if (!ans[2 * r + twice].ok)
                FAIL(p, "direct modex from member %u: fired %d status %d, data %s", r,
                     ans[2 * r + twice].fired, ans[2 * r + twice].status,
                     ans[2 * r + twice].ok ? "right" : "wrong or missing");
    fmx_engine_counters_t c;
    fmx_engine_get_counters(p->eng, &c);
    if (c.dmodex_sent != n - 1 || c.dmodex_coalesced != n - 1)
        FAIL(p, "direct modex sent %llu requests (%llu coalesced), want %u and %u",
             (unsigned long long)c.dmodex_sent, (unsigned long long)c.dmodex_coalesced, n - 1,
             n - 1);
    /* keep serving, at once, until everyone is through the final barrier */
    st.immediate = 1;
    for (uint32_t i = 0; i < st.nheld; i++)
        fmx_dmodex_respond(p->eng, st.held[i], 0, mine, len);
    st.nheld = 0;
    free(ans);
}

static int file_exists(const char *dir, const char *name)
{
    char path[512];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

static void touch(const char *dir, const char *name)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if ((f = fopen(path, "w")))
        fclose(f);
}

/* Marks this member as having reached a point of a fault scenario (DIR/WHAT.RANK): entered
 * its fence, so that the victim can act once everyone is in it rather than after a guessed
 * sleep; done with it, so that no member leaves (and breaks the others' connections to it)
 * before every other has seen what it must. */
static void mark(struct peer *p, const char *what)
{
    char name[32];

    snprintf(name, sizeof(name), "%s.%u", what, p->o.rank);
    touch(p->o.dir, name);
}

/* Waits (at most 20 s) until every member but this one and `skip` has marked `what`; with
 * `progress`, what this member sends meanwhile still goes out. */
static int wait_all_marked(struct peer *p, const char *what, uint32_t skip, int progress)
{
    uint64_t until = fmx_now_ns() + 20000000000ull;
    uint32_t want = p->o.size - 1 - (skip < p->o.size && skip != p->o.rank);

    while (fmx_now_ns() < until) {
        uint32_t in = 0;

        for (uint32_t r = 0; r < p->o.size; r++) {
            char path[512];

            snprintf(path, sizeof(path), "%s/%s.%u", p->o.dir, what, r);
            in += r != p->o.rank && r != skip && access(path, F_OK) == 0;
        }
        if (in == want)
            return 0;
        if (progress)
            fmx_engine_progress(p->eng);
        nanosleep(&(struct timespec){0, 2000000}, NULL);
    }
    return -ETIMEDOUT;
}

static void mark_entered(struct peer *p)
{
    mark(p, "entered");
}

static int wait_all_entered(struct peer *p)
{
    return wait_all_marked(p, "entered", UINT32_MAX, 0);
}

/* Slack allowed past a deadline for a loaded 2-core machine to schedule the member that notices
 * it: the error must come from the deadline, not from the test's own give-up. */
#define DEADLINE_SLACK_MS 1000

/* The victim enters a fence, hands its first step to the transport and, once every survivor is
 * in the fence too, dies by SIGKILL before it can take another: no survivor can complete, and
 * each must fail by its deadline (timeout_ms after it entered), not later. */
static void scenario_kill(struct peer *p)
{
    struct pending pd = {0};
    uint64_t t0 = fmx_now_ns(), took;

    if (start_fence(p, NULL, 0, 1000, 0, FMX_ALGO_AUTO, 1, &pd)) {
        FAIL(p, "fence did not start");
        return;
    }
    mark_entered(p);
    if (p->o.rank == p->o.victim) {
        if (wait_all_entered(p))
            FAIL(p, "the others did not enter the fence within 20 s");
        raise(SIGKILL);
    }
    if (run_until(p, &pd.fired, p->o.timeout_ms + DEADLINE_SLACK_MS)) {
        FAIL(p, "no error %llu ms after entering a fence that member %u left by dying",
             (unsigned long long)p->o.timeout_ms + DEADLINE_SLACK_MS, p->o.victim);
        pending_free(&pd);
        return;
    }
    took = (fmx_now_ns() - t0) / 1000000u;
    if (pd.status == 0)
        FAIL(p, "the fence completed although member %u died before its second step", p->o.victim);
    else
        fprintf(stderr, "peer %u: fence failed as expected after %llu ms (deadline %llu ms): %s\n",
                p->o.rank, (unsigned long long)took, (unsigned long long)p->o.timeout_ms, pd.error);
    pending_free(&pd);
}

/* The victim sends garbage and truncated frames to everyone instead of joining the fence. Every
 * other member must fail with the protocol error that names it (its own, or one another member
 * aborted the fence with), well before the deadline: a timeout also names the missing member, and
 * must not pass for a rejection. */
static void scenario_garbage(struct peer *p)
{
    struct pending pd = {0};
    uint64_t t0 = fmx_now_ns(), took;
    char name[64];

    if (p->o.rank == p->o.victim) {
        if (wait_all_entered(p))
            FAIL(p, "the others did not enter the fence within 20 s");
        for (uint32_t r = 0; r < p->o.size; r++) {
            static const char junk[] = "definitely not an fmx frame, just noise on the wire";
            uint8_t *g = malloc(sizeof(junk)), *t = calloc(1, 20);
            uint8_t *hdr = calloc(1, 64);

            if (r == p->o.rank || !g || !t || !hdr) {
                free(g), free(t), free(hdr);
                continue;
            }
            memcpy(g, junk, sizeof(junk));
            fmx_transport_send(p->tp, r, g, sizeof(junk));
            fmx_transport_send(p->tp, r, t, 20);
            /* a valid header announcing more payload than follows */
            hdr[0] = 0x46, hdr[1] = 0x4d, hdr[2] = 0x58, hdr[3] = 0x31, hdr[4] = 1, hdr[5] = 1;
            hdr[24] = (uint8_t)p->o.rank;
            hdr[32] = 200;
            fmx_transport_send(p->tp, r, hdr, 64);
        }
        for (int i = 0; i < 50; i++)
            fmx_engine_progress(p->eng);
        if (wait_all_marked(p, "done", p->o.victim, 1))
            FAIL(p, "the others did not finish within 20 s");
        return;
    }
    if (start_fence(p, NULL, 0, 10, 0, FMX_ALGO_AUTO, 1, &pd)) {
        FAIL(p, "fence did not start");
        return;
    }
    mark_entered(p);
    if (run_until(p, &pd.fired, p->o.timeout_ms + 5000)) {
        FAIL(p, "no error after garbage from member %u", p->o.victim);
        pending_free(&pd);
        mark(p, "done");
        return;
    }
    took = (fmx_now_ns() - t0) / 1000000u;
    snprintf(name, sizeof(name), "bad frame from member %u", p->o.victim);
    /* the fence's own error: the engine's last error moves on as peers exit */
    if (!(pd.status == FMX_ERR_PROTO || pd.status == FMX_ERR_ABORTED) || !strstr(pd.error, name))
        FAIL(p, "fence status %d, error \"%s\": want a protocol error with \"%s\"", pd.status,
             pd.error, name);
    else if (took >= p->o.timeout_ms)
        FAIL(p, "the garbage was rejected only after %llu ms, at the deadline (%llu ms)",
             (unsigned long long)took, (unsigned long long)p->o.timeout_ms);
    else
        fprintf(stderr, "peer %u: rejected as expected after %llu ms: %s\n", p->o.rank,
                (unsigned long long)took, pd.error);
    pending_free(&pd);
    mark(p, "done");
    if (wait_all_marked(p, "done", p->o.victim, 1))
        FAIL(p, "the others did not finish within 20 s");
}

/* The job is members 0..size-2; process size-1 is a stranger that knows every member's address
 * but not the job's key. It takes member `victim`'s place in its own address list, so that
 * what it sends claims to come from the victim: a frame of junk to every other member, then
 * the frames of a fence of its own with other data. The real victim joins the job's fences only
 * after that. Every member must complete every fence with the right bytes, and every member the
 * junk went to must have dropped at least one message as unauthenticated. */
static void scenario_impostor(struct peer *p)
{
    static const char junk[] = "a frame from someone who does not know the job's key";

    if (p->o.impostor) {
        struct pending pd = {0};
        uint64_t until;

        for (uint32_t r = 0; r < p->o.size; r++) {
            uint8_t *g = malloc(sizeof(junk));

            if (r != p->o.victim && g) {
                memcpy(g, junk, sizeof(junk));
                fmx_transport_send(p->tp, r, g, sizeof(junk));
            } else {
                free(g);
            }
        }
        start_fence(p, NULL, 0, strtoull(p->o.sizes, NULL, 0), 0, FMX_ALGO_AUTO, 1, &pd);
        until = fmx_now_ns() + 300000000ull; /* hand everything to the provider */
        while (fmx_now_ns() < until)
            if (fmx_engine_progress(p->eng) == 0)
                idle(p, 10);
        touch(p->o.dir, "impostor.sent");
        until = fmx_now_ns() + p->o.timeout_ms * 1000000ull;
        while (!file_exists(p->o.dir, "job.done") && fmx_now_ns() < until)
            if (fmx_engine_progress(p->eng) == 0)
                idle(p, 10);
        pending_free(&pd);
        return;
    }
    if (p->o.rank == p->o.victim) {
        uint64_t until = fmx_now_ns() + 20000000000ull;

        while (!file_exists(p->o.dir, "impostor.sent") && fmx_now_ns() < until)
            nanosleep(&(struct timespec){0, 2000000}, NULL);
        if (!file_exists(p->o.dir, "impostor.sent"))
            FAIL(p, "the impostor did not send within 20 s");
    }
    if (!p->failures)
        scenario_fences(p);
}

/* After the job's last barrier: the impostor's junk was dropped by the transport. */
static void check_impostor(struct peer *p)
{
    uint64_t n = p->tp->ops->rejected ? p->tp->ops->rejected(p->tp) : 0;

    if (p->o.rank != p->o.victim && n == 0)
        FAIL(p, "no message was dropped as unauthenticated, yet the impostor sent one here");
    else
        fprintf(stderr, "peer %u: dropped %llu unauthenticated messages, fences all right\n",
                p->o.rank, (unsigned long long)n);
    if (p->o.rank == 0)
        touch(p->o.dir, "job.done");
}

static int final_barrier(struct peer *p)
{
    struct pending pd = {0};
    int rc = start_fence(p, NULL, 0, 0, 0, FMX_ALGO_AUTO, 0, &pd);

    if (rc == 0)
        rc = run_until(p, &pd.fired, p->o.timeout_ms + 5000);
    if (rc || pd.status)
        FAIL(p, "final barrier: %s", rc ? "timed out" : pd.error);
    pending_free(&pd);
    return rc;
}

/* Member 0 reports what its engine counted, so a run shows what it exercised. */
static void report(struct peer *p)
{
    fmx_engine_counters_t c;
    char line[512];
    int n = 0;

    fmx_engine_get_counters(p->eng, &c);
    n += snprintf(line + n, sizeof(line) - (size_t)n,
                  "member 0 of %u: sent %llu messages "
                  "(%llu bytes), received %llu (%llu bytes)",
                  p->o.size, (unsigned long long)c.msgs_sent, (unsigned long long)c.bytes_sent,
                  (unsigned long long)c.msgs_recv, (unsigned long long)c.bytes_recv);
    for (int a = 1; a < FMX_ALGO_COUNT && n < (int)sizeof(line) - 64; a++)
        if (c.fences_done[a])
            n += snprintf(line + n, sizeof(line) - (size_t)n, "; %s %llu x %.0f us",
                          fmx_algo_name(a), (unsigned long long)c.fences_done[a],
                          (double)c.fence_ns[a] / (double)c.fences_done[a] / 1e3);
    if (c.dmodex_sent)
        snprintf(line + n, sizeof(line) - (size_t)n,
                 "; direct modex %llu sent, %llu coalesced, "
                 "%llu served",
                 (unsigned long long)c.dmodex_sent, (unsigned long long)c.dmodex_coalesced,
                 (unsigned long long)c.dmodex_served);
    printf("%s\n", line);
}

static int parse(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {{"rank", 1, 0, 'r'},   {"size", 1, 0, 'n'},
                                       {"dir", 1, 0, 'd'},    {"scenario", 1, 0, 's'},
                                       {"algos", 1, 0, 'a'},  {"sizes", 1, 0, 'b'},
                                       {"iters", 1, 0, 'i'},  {"timeout-ms", 1, 0, 't'},
                                       {"victim", 1, 0, 'v'}, {0, 0, 0, 0}};
    int c;

    *o = (struct opts){.scenario = "fences", .iters = 1, .timeout_ms = 20000};
    snprintf(o->algos, sizeof(o->algos), "auto");
    snprintf(o->sizes, sizeof(o->sizes), "100");
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'r':
            o->rank = (uint32_t)atoi(optarg);
            break;
        case 'n':
            o->size = (uint32_t)atoi(optarg);
            break;
        case 'd':
            o->dir = optarg;
            break;
        case 's':
            o->scenario = optarg;
            break;
        case 'a':
            snprintf(o->algos, sizeof(o->algos), "%s", optarg);
            break;
        case 'b':
            snprintf(o->sizes, sizeof(o->sizes), "%s", optarg);
            break;
        case 'i':
            o->iters = (uint32_t)atoi(optarg);
            break;
        case 't':
            o->timeout_ms = strtoull(optarg, NULL, 0);
            break;
        case 'v':
            o->victim = (uint32_t)atoi(optarg);
            break;
        default:
            return -1;
        }
    }
    return o->dir && o->size && o->rank < o->size ? 0 : -1;
}

/* The address exchange of the impostor scenario: everyone publishes, the members add the
 * job's size-1 members, the impostor the same list with its own address in the victim's place. */
static int join_with_impostor(struct peer *p, uint32_t procs)
{
    uint8_t addr[4096];
    size_t len = sizeof(addr), *lens, l;
    void **addrs, *a;
    int rc;

    if ((rc = p->tp->ops->get_addr(p->tp, addr, &len)) ||
        (rc = rdv_exchange(p->o.dir, p->o.rank, procs, addr, len, 60000, &addrs, &lens)))
        return rc;
    if (p->o.impostor) {
        a = addrs[p->o.victim], l = lens[p->o.victim];
        addrs[p->o.victim] = addrs[p->o.rank], lens[p->o.victim] = lens[p->o.rank];
        addrs[p->o.rank] = a, lens[p->o.rank] = l;
    }
    rc = p->tp->ops->add_peers(p->tp, procs - 1, (const void *const *)addrs, lens);
    rdv_free(procs, addrs, lens);
    return rc;
}

static int setup(struct peer *p)
{
    fmx_error_t err = {{0}};
    uint8_t key[FMX_SEAL_KEY];
    uint32_t procs = p->o.size;
    int with_impostor = !strcmp(p->o.scenario, "impostor"), rc;

    if (with_impostor && (procs < 3 || p->o.victim >= procs - 1)) {
        fprintf(stderr, "peer: --scenario impostor needs -n 3 or more and a victim below n-1\n");
        return -EINVAL;
    }
    p->o.impostor = with_impostor && p->o.rank == procs - 1;
    /* FMX_TEST_HOSTS=H: the members are H "hosts" of consecutive ranks, as far as a paired
     * transport (fmx_pair.h) can tell: those of one reach each other by its near backend */
    uint64_t hosts = fmx_env_u64("FMX_TEST_HOSTS", 0);
    if (hosts) {
        char id[32];
        snprintf(id, sizeof(id), "test-host-%llu",
                 (unsigned long long)(p->o.rank * hosts / (procs ? procs : 1)));
        setenv("FMX_HOST_ID", id, 1);
    }
    /* a member stands for a daemon: the settings pmixd gives its backend */
    fmx_backend_defaults_apply(fmx_transport_from_env());
    rc = fmx_direct_open_env(&p->tp, &err);
    fmx_backend_defaults_clear();
    if (rc) {
        fprintf(stderr, "peer %u: %s\n", p->o.rank, err.text);
        return rc;
    }
    /* the job's fabric key, as a daemon's (FMX_TEST_NO_KEY=1: none, as before there was one) */
    fmx_seal_key_from_secret(p->o.dir, strlen(p->o.dir), key);
    if (p->o.impostor)
        key[0] ^= 0x5a; /* knows everything but the key */
    if (fmx_env_u64("FMX_TEST_NO_KEY", 0) == 0 &&
        (rc = p->tp->ops->set_key(p->tp, key, sizeof(key)))) {
        fprintf(stderr, "peer %u: set_key: %s\n", p->o.rank, fmx_strerror(rc));
        return rc;
    }
    rc = with_impostor ? join_with_impostor(p, procs)
                       : rdv_join(p->tp, p->o.dir, p->o.rank, procs, 60000);
    if (rc) {
        fprintf(stderr, "peer %u: address exchange: %s\n", p->o.rank, fmx_strerror(rc));
        return rc;
    }
    if (with_impostor)
        p->o.size = procs - 1; /* the job */
    fmx_engine_config_t cfg = {
        .self = p->o.impostor ? p->o.victim : p->o.rank, .members = p->o.size, .transport = p->tp};
    return fmx_engine_create(&cfg, &p->eng);
}

int main(int argc, char **argv)
{
    struct peer p = {0};
    int faulty;

    if (parse(argc, argv, &p.o)) {
        fprintf(stderr,
                "usage: fmx-peer --rank R --size N --dir DIR [--scenario fences|subsets|"
                "dmodex|kill|garbage|impostor] [--algos a,b] [--sizes 0,100] [--iters N] "
                "[--timeout-ms MS] [--victim R]\n");
        return 2;
    }
    if (setup(&p))
        return 2;
    faulty = !strcmp(p.o.scenario, "kill") || !strcmp(p.o.scenario, "garbage");
    if (!strcmp(p.o.scenario, "fences"))
        scenario_fences(&p);
    else if (!strcmp(p.o.scenario, "subsets"))
        scenario_subsets(&p);
    else if (!strcmp(p.o.scenario, "dmodex"))
        scenario_dmodex(&p);
    else if (!strcmp(p.o.scenario, "kill"))
        scenario_kill(&p);
    else if (!strcmp(p.o.scenario, "garbage"))
        scenario_garbage(&p);
    else if (!strcmp(p.o.scenario, "impostor"))
        scenario_impostor(&p);
    else {
        fprintf(stderr, "peer: unknown scenario %s\n", p.o.scenario);
        return 2;
    }
    faulty |= p.o.impostor;
    if (!faulty && !p.failures)
        final_barrier(&p);
    if (!strcmp(p.o.scenario, "impostor") && !p.o.impostor && !p.failures)
        check_impostor(&p);
    fmx_dmodex_remove_handler(p.eng, "");
    if (!p.failures && p.o.rank == 0 && !faulty)
        report(&p);
    fmx_engine_destroy(p.eng);
    fmx_transport_close(p.tp);
    free(st.mine);
    return p.failures ? 1 : 0;
}
