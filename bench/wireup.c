/* The wire-up a parallel program does, timed by phase: PMIx_Put a B-byte card, Commit,
 * Fence(collect), Get every peer's card and check each byte, then fences without data in a
 * loop. The same program runs under pmixrun and under Open MPI's mpirun, which both serve it
 * through libpmix. Every rank prints
 *   wireup RANK SIZE put_commit_us fence_us get_all_us barrier_us(mean) total_us init_us
 *   wireup_at RANK start fence_start first_peer_get
 * init_us: its PMIx_Init, before the rest; the wireup_at times are the host's monotonic clock
 * in microseconds: its start (before PMIx_Init), its fence's start, the end of its first
 * successful Get of another rank's card (from these: the last rank into the fence to every
 * rank ready, and the first rank's start to every rank ready). Exits non-zero when a card is
 * wrong. With "dmodex" the fence collects nothing, so every Get of a rank on another node is
 * a direct modex: a request to the daemon holding that rank, answered with its card.
 * Environment:
 *   FMX_WIREUP_MEM=1: each rank also prints, once it holds every card,
 *     wireup_mem RANK fmx_store_bytes dstore_bytes pss_kib parent_pss_kib
 *   (the space the files it maps shared take, st_blocks, each file once: fmx's store, and
 *   libpmix's own shared-memory stores, ds21's and ds12's; the PSS of itself and of its
 *   parent, the server that forked it);
 *   FMX_WIREUP_SETTLE_MS=T: each rank waits T ms before the fence (so that the job has started
 *   everywhere), and after it Gets one peer's card, then waits in a barrier before the rest
 *   (so that ranks ready early sleep instead of taking the cores from ranks still waking).
 *   wireup [CARD_BYTES (default 256)] [BARRIERS (default 20)] [collect|dmodex] */
#include <pmix.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void card(uint32_t rank, uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(rank * 131 + i * 7);
}

/* Pss of /proc/PID/smaps_rollup ("self" or a number), KiB; -1 when unreadable. */
static long pss_kib(const char *pid)
{
    char path[64], line[256];
    long kib = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%s/smaps_rollup", pid);
    if (!(f = fopen(path, "r")))
        return -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "Pss: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

/* The blocks of every file this process maps shared whose path holds `what`, each file once. */
static long long shared_bytes(const char *what)
{
    char line[4352], perms[8], path[4096];
    unsigned long long seen[256];
    int nseen = 0;
    long long sum = 0;
    FILE *f = fopen("/proc/self/maps", "r");

    while (f && fgets(line, sizeof(line), f)) {
        struct stat st;
        int dup = 0;

        if (sscanf(line, "%*s %7s %*s %*s %*s %4095s", perms, path) != 2 || perms[3] != 's' ||
            path[0] != '/' || !strstr(path, what) || stat(path, &st) || !S_ISREG(st.st_mode))
            continue;
        for (int i = 0; i < nseen; i++)
            dup |= seen[i] == (unsigned long long)st.st_ino;
        if (dup || nseen == 256)
            continue;
        seen[nseen++] = st.st_ino;
        sum += (long long)st.st_blocks * 512;
    }
    if (f)
        fclose(f);
    return sum;
}

int main(int argc, char **argv)
{
    size_t bytes = argc > 1 ? strtoul(argv[1], NULL, 10) : 256;
    int barriers = argc > 2 ? atoi(argv[2]) : 20;
    bool dmodex = argc > 3 && !strcmp(argv[3], "dmodex");
    pmix_proc_t me, wild, peer;
    pmix_value_t v, *val = NULL;
    pmix_info_t coll;
    bool yes = true;
    uint32_t size;
    int bad = 0;
    pmix_status_t rc;
    double t0 = now_us(), tstart = t0, t1, t2, t3, t4, tinit, tfirst = 0;
    uint8_t *mine = malloc(bytes ? bytes : 1), *want = malloc(bytes ? bytes : 1);
    char parent[24];
    const char *settle = getenv("FMX_WIREUP_SETTLE_MS");

    if ((rc = PMIx_Init(&me, NULL, 0)) != PMIX_SUCCESS) {
        fprintf(stderr, "wireup: PMIx_Init: %s\n", PMIx_Error_string(rc));
        return 1;
    }
    tinit = now_us() - t0;
    PMIX_PROC_LOAD(&wild, me.nspace, PMIX_RANK_WILDCARD);
    if ((rc = PMIx_Get(&wild, PMIX_JOB_SIZE, NULL, 0, &val)) != PMIX_SUCCESS) {
        fprintf(stderr, "wireup: PMIx_Get(%s): %s\n", PMIX_JOB_SIZE, PMIx_Error_string(rc));
        return 1;
    }
    size = val->data.uint32;
    PMIX_VALUE_RELEASE(val);
    t0 = now_us();
    card(me.rank, mine, bytes);
    v.type = PMIX_BYTE_OBJECT;
    v.data.bo.bytes = (char *)mine;
    v.data.bo.size = bytes;
    if ((rc = PMIx_Put(PMIX_GLOBAL, "fmx.card", &v)) != PMIX_SUCCESS ||
        (rc = PMIx_Commit()) != PMIX_SUCCESS) {
        fprintf(stderr, "wireup: Put/Commit: %s\n", PMIx_Error_string(rc));
        return 1;
    }
    if (settle)
        usleep(1000 * (useconds_t)atoi(settle));
    t1 = now_us();
    PMIX_INFO_LOAD(&coll, PMIX_COLLECT_DATA, &yes, PMIX_BOOL);
    if ((rc = PMIx_Fence(NULL, 0, dmodex ? NULL : &coll, dmodex ? 0 : 1)) != PMIX_SUCCESS) {
        fprintf(stderr, "wireup: Fence: %s\n", PMIx_Error_string(rc));
        return 1;
    }
    t2 = now_us();
    if (settle && size > 1) {
        PMIX_PROC_LOAD(&peer, me.nspace, (me.rank + 1) % size);
        if ((rc = PMIx_Get(&peer, "fmx.card", NULL, 0, &val)) != PMIX_SUCCESS) {
            fprintf(stderr, "wireup: rank %u: Get(rank %u, fmx.card): %s\n", me.rank, peer.rank,
                    PMIx_Error_string(rc));
            return 1;
        }
        tfirst = now_us();
        PMIX_VALUE_RELEASE(val);
        if ((rc = PMIx_Fence(NULL, 0, NULL, 0)) != PMIX_SUCCESS) {
            fprintf(stderr, "wireup: barrier: %s\n", PMIx_Error_string(rc));
            return 1;
        }
    }
    for (uint32_t r = 0; r < size; r++) {
        PMIX_PROC_LOAD(&peer, me.nspace, r);
        if ((rc = PMIx_Get(&peer, "fmx.card", NULL, 0, &val)) != PMIX_SUCCESS) {
            fprintf(stderr, "wireup: rank %u: Get(rank %u, fmx.card): %s\n", me.rank, r,
                    PMIx_Error_string(rc));
            return 1;
        }
        if (r != me.rank && !tfirst)
            tfirst = now_us();
        card(r, want, bytes);
        if (val->type != PMIX_BYTE_OBJECT || val->data.bo.size != bytes ||
            memcmp(val->data.bo.bytes, want, bytes))
            bad++;
        PMIX_VALUE_RELEASE(val);
    }
    t3 = now_us();
    if (getenv("FMX_WIREUP_MEM")) {
        snprintf(parent, sizeof(parent), "%d", (int)getppid());
        printf("wireup_mem %u %lld %lld %ld %ld\n", me.rank, shared_bytes("/fmx-gds."),
               shared_bytes("/pmix_dstor_"), pss_kib("self"), pss_kib(parent));
    }
    for (int i = 0; i < barriers; i++)
        if ((rc = PMIx_Fence(NULL, 0, NULL, 0)) != PMIX_SUCCESS) {
            fprintf(stderr, "wireup: barrier: %s\n", PMIx_Error_string(rc));
            return 1;
        }
    t4 = now_us();
    printf("wireup %u %u %.1f %.1f %.1f %.1f %.1f %.1f\n", me.rank, size, t1 - t0, t2 - t1, t3 - t2,
           barriers ? (t4 - t3) / barriers : 0.0, t4 - t0, tinit);
    printf("wireup_at %u %.1f %.1f %.1f\n", me.rank, tstart, t1, tfirst ? tfirst : t2);
    if (bad)
        fprintf(stderr, "wireup: rank %u: %d wrong card(s)\n", me.rank, bad);
    PMIx_Finalize(NULL, 0);
    free(mine);
    free(want);
    return bad ? 1 : 0;
}
