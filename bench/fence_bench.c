/* One member of the engine benchmark, started P times by fmx-mprun (--rank/--size/--dir):
 * each member stands for a daemon with L virtual ranks of B bytes, so a fence moves S = P*L*B
 * bytes in all. For every algorithm asked for, it times `--reps` fences (after a barrier, so
 * that all start together); a fence's time is the slowest member's. Before that, alpha and beta
 * of this provider are measured with the same engine between members 0 and 1 (a two-member
 * fence of 8 bytes, and of 1 MiB), for the bound ceil(log2 P)*alpha + (P-1)/P*S*beta.
 * Member 0 prints one CSV row per configuration (header with --header). */
#include "../tests/mp/rendezvous.h"
#include "fmx_backend.h"
#include "fmx_direct.h"
#include "fmx_pair.h"
#include "fmx_engine.h"
#include "fmx_seal.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct opts {
    uint32_t rank, size, reps;
    const char *dir;
    char algos[128];
    uint64_t L, B;
    int barrier, header, no_mac;
};

struct done {
    int fired, status;
    uint8_t *data;
    size_t total;
};

static void on_fence(void *arg, fmx_fence_result_t *r)
{
    struct done *d = arg;

    d->fired = 1;
    d->status = r->status;
    if (r->status)
        fprintf(stderr, "fence_bench: fence failed: %s\n", r->error);
    free(d->data);
    d->data = r->data; /* keep the blobs: member 0 reads the statistics from them */
    d->total = r->total;
    r->data = NULL;
}

/* Runs one fence to completion; returns its duration in ns (<0 on failure). */
static int64_t fence(fmx_engine_t *e, const fmx_fence_args_t *a, struct done *d)
{
    uint64_t t0 = fmx_now_ns();

    d->fired = 0;
    if (fmx_fence_start(e, a, on_fence, d))
        return -1;
    while (!d->fired)
        if (!fmx_engine_progress(e))
            fmx_engine_wait(e, 100);
    return d->status ? -1 : (int64_t)(fmx_now_ns() - t0);
}

static int barrier(fmx_engine_t *e)
{
    struct done d = {0};
    fmx_fence_args_t a = {.collect = 0, .algo = FMX_ALGO_DISSEM};
    int64_t t = fence(e, &a, &d);

    free(d.data);
    return t < 0 ? -1 : 0;
}

/* Every member's (time, bytes sent) for the last fence, gathered to all; fills the slowest
 * time and the bytes summed over members. */
static int collect_stats(fmx_engine_t *e, uint64_t ns, uint64_t bytes, uint64_t *max_ns,
                         uint64_t *sum_bytes)
{
    uint64_t mine[2] = {ns, bytes};
    struct done d = {0};
    fmx_fence_args_t a = {.blob = mine, .len = sizeof(mine), .collect = 1, .algo = FMX_ALGO_BRUCK};

    if (fence(e, &a, &d) < 0 || d.total != sizeof(mine) * fmx_engine_size(e)) {
        free(d.data);
        return -1;
    }
    *max_ns = 0;
    *sum_bytes = 0;
    for (uint32_t i = 0; i < fmx_engine_size(e); i++) {
        uint64_t v[2];
        memcpy(v, d.data + i * sizeof(v), sizeof(v));
        *max_ns = v[0] > *max_ns ? v[0] : *max_ns;
        *sum_bytes += v[1];
    }
    free(d.data);
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Median time of `reps` two-member fences of `len` bytes each between members 0 and 1. */
static double pair_time_us(fmx_engine_t *e, size_t len, uint32_t reps)
{
    static const uint32_t pair[2] = {0, 1};
    uint8_t *blob = calloc(1, len ? len : 1);
    uint64_t *t = calloc(reps, sizeof(*t));
    struct done d = {0};
    double med = -1;

    for (uint32_t i = 0; blob && t && i < reps; i++) {
        fmx_fence_args_t a = {.members = pair,
                              .count = 2,
                              .blob = blob,
                              .len = len,
                              .collect = 1,
                              .algo = FMX_ALGO_RD};
        int64_t ns = fence(e, &a, &d);
        if (ns < 0)
            goto out;
        t[i] = (uint64_t)ns;
    }
    qsort(t, reps, sizeof(*t), cmp_u64);
    med = t[reps / 2] / 1000.0;
out:
    free(d.data);
    free(blob);
    free(t);
    return med;
}

static int parse(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        {"rank", 1, 0, 'r'},   {"size", 1, 0, 's'},   {"dir", 1, 0, 'd'},  {"algos", 1, 0, 'a'},
        {"L", 1, 0, 'L'},      {"B", 1, 0, 'B'},      {"reps", 1, 0, 'n'}, {"barrier", 0, 0, 'b'},
        {"header", 0, 0, 'H'}, {"no-mac", 0, 0, 'M'}, {0, 0, 0, 0}};
    int c;

    snprintf(o->algos, sizeof(o->algos), "auto");
    o->L = 1;
    o->B = 64;
    o->reps = 20;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'r':
            o->rank = (uint32_t)atoi(optarg);
            break;
        case 's':
            o->size = (uint32_t)atoi(optarg);
            break;
        case 'd':
            o->dir = optarg;
            break;
        case 'a':
            snprintf(o->algos, sizeof(o->algos), "%s", optarg);
            break;
        case 'L':
            o->L = strtoull(optarg, NULL, 10);
            break;
        case 'B':
            o->B = strtoull(optarg, NULL, 10);
            break;
        case 'n':
            o->reps = (uint32_t)atoi(optarg);
            break;
        case 'b':
            o->barrier = 1;
            break;
        case 'H':
            o->header = 1;
            break;
        case 'M':
            o->no_mac = 1;
            break;
        default:
            return -1;
        }
    }
    return o->dir && o->size && o->rank < o->size && o->reps ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct opts o = {0};
    fmx_error_t err = {{0}};
    fmx_transport_t *tp = NULL;
    fmx_engine_t *eng = NULL;
    double alpha = 0, beta = 0;
    char ucx[80];
    const char *prov = getenv("FI_PROVIDER") ? getenv("FI_PROVIDER") : "default";

    if (getenv("FMX_TRANSPORT") &&
        !strcmp(getenv("FMX_TRANSPORT"), "ucx")) { /* as engine.sh names it */
        snprintf(ucx, sizeof(ucx), "ucx-%s",
                 getenv("FMX_UCX_TLS") ? getenv("FMX_UCX_TLS") : "pair");
        prov = ucx;
    }
    int rc;

    fmx_malloc_for_daemons(); /* as pmixd runs the engine */
    if (parse(argc, argv, &o)) {
        fprintf(stderr,
                "usage: fence_bench --rank R --size P --dir DIR [--algos auto,tree,...] "
                "[--L ranks-per-member] [--B bytes-per-rank] [--reps N] [--barrier] "
                "[--header] [--no-mac]\n");
        return 2;
    }
    /* each member stands for a daemon: pmixd's settings for the backend FMX_TRANSPORT names */
    fmx_backend_defaults_apply(fmx_transport_from_env());
    /* every message authenticated, as between daemons (--no-mac: not, to measure the cost) */
    uint8_t key[FMX_SEAL_KEY];
    fmx_seal_key_from_secret(o.dir, strlen(o.dir), key);
    if ((rc = fmx_direct_open_env(&tp, &err)) ||
        (!o.no_mac && (rc = tp->ops->set_key(tp, key, sizeof(key)))) ||
        (rc = rdv_join(tp, o.dir, o.rank, o.size, 120000))) {
        fprintf(stderr, "fence_bench %u: set-up: %s\n", o.rank,
                err.text[0] ? err.text : fmx_strerror(rc));
        return 1;
    }
    fmx_engine_config_t cfg = {
        .self = o.rank, .members = o.size, .transport = tp, .default_timeout_ms = 600000};
    if (fmx_engine_create(&cfg, &eng))
        return 1;
    if (barrier(eng))
        return 1;
    /* alpha and beta on this provider, through the engine, between members 0 and 1 */
    if (o.size >= 2 && o.rank < 2) {
        double t0 = pair_time_us(eng, 8, 200), t1 = pair_time_us(eng, 1 << 20, 20);
        alpha = t0;
        beta = (t1 - t0) / (double)(1 << 20); /* us per byte */
    }
    if (barrier(eng))
        return 1;
    if (o.rank == 0 && o.header)
        printf("provider,algo,kind,P,L,B,virtual_ranks,S_bytes,reps,min_us,median_us,p99_us,"
               "bytes_moved,alpha_us,beta_ns_per_byte,bound_us,median_over_bound\n");
    size_t len = (size_t)(o.L * o.B);
    uint8_t *blob = malloc(len ? len : 1);
    uint64_t *times = calloc(o.reps, sizeof(*times));
    if (!blob || !times)
        return 1;
    for (size_t i = 0; i < len; i++)
        blob[i] = (uint8_t)(o.rank * 31 + i);
    char algos[128], *save, *name;
    snprintf(algos, sizeof(algos), "%s", o.algos);
    for (name = strtok_r(algos, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        int algo = fmx_algo_parse(name);
        uint64_t moved = 0;
        struct done d = {0};

        if (algo < 0) {
            fprintf(stderr, "fence_bench: unknown algorithm %s\n", name);
            return 2;
        }
        for (uint32_t i = 0; i < o.reps; i++) {
            fmx_engine_counters_t c0, c1;
            /* every member contributes len bytes: the total is known alike everywhere */
            fmx_fence_args_t a = {.blob = blob,
                                  .len = o.barrier ? 0 : len,
                                  .collect = !o.barrier,
                                  .algo = algo,
                                  .size_hint = o.barrier ? 0 : (size_t)len * o.size};
            uint64_t max_ns, bytes;

            if (barrier(eng))
                return 1;
            fmx_engine_get_counters(eng, &c0);
            int64_t ns = fence(eng, &a, &d);
            fmx_engine_get_counters(eng, &c1);
            if (ns < 0 || (!o.barrier && d.total != len * o.size))
                return 1;
            if (!o.barrier && o.rank == 0 && d.total &&
                d.data[d.total - 1] != (uint8_t)((o.size - 1) * 31 + len - 1)) {
                fprintf(stderr, "fence_bench: wrong last byte\n");
                return 1;
            }
            if (collect_stats(eng, (uint64_t)ns, c1.bytes_sent - c0.bytes_sent, &max_ns, &bytes))
                return 1;
            times[i] = max_ns;
            moved = bytes;
        }
        free(d.data);
        if (o.rank != 0)
            continue;
        qsort(times, o.reps, sizeof(*times), cmp_u64);
        double med = times[o.reps / 2] / 1000.0;
        double S = (double)len * o.size;
        double bound = o.size < 2 ? 0
                                  : ceil(log2((double)o.size)) * alpha +
                (o.barrier ? 0 : (double)(o.size - 1) / o.size * S * beta);
        printf("%s,%s,%s,%u,%llu,%llu,%llu,%.0f,%u,%.1f,%.1f,%.1f,%llu,%.1f,%.3f,%.1f,%.2f\n", prov,
               name, o.barrier ? "barrier" : "fence", o.size, (unsigned long long)o.L,
               (unsigned long long)o.B, (unsigned long long)(o.L * o.size), S, o.reps,
               times[0] / 1000.0, med, times[(o.reps * 99) / 100] / 1000.0,
               (unsigned long long)moved, alpha, beta * 1000.0, bound,
               bound > 0 ? med / bound : 0.0);
        fflush(stdout);
    }
    barrier(eng);
    free(blob);
    free(times);
    fmx_engine_destroy(eng);
    fmx_transport_close(tp);
    return 0;
}
