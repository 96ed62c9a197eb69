/* fmx's GDS store (pmix_glue/gds/gds_store.h): what one writer puts, readers find, whole and
 * current; across processes (the readers are forked, as ranks are separate processes) while
 * the writer goes on writing and the file grows through several generations: a reader that
 * may find an entry (the writer announced it) must find every byte of its value, and no
 * reader may find a value that was never put. */
#include "gds_store.h"
#include "../tap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NS "fmx.test.0"
#define N_ENTRIES 100000
#define READERS 2

/* entry i: rank i % 97, key "k<i>", value of 1 + i % 301 bytes that say i */
static void entry(uint32_t i, uint32_t *rank, char *key, size_t klen, uint8_t *val, size_t *len)
{
    *rank = i % 97;
    snprintf(key, klen, "k%u", i);
    *len = 1 + i % 301;
    for (size_t b = 0; b < *len; b++)
        val[b] = (uint8_t)(i * 31 + b * 7);
}

struct want {
    const uint8_t *val;
    size_t len;
};

static int check(void *arg, const void *val, size_t len)
{
    const struct want *w = arg;

    return len == w->len && !memcmp(val, w->val, len) ? 0 : -EILSEQ;
}

static int copy_out(void *arg, const void *val, size_t len)
{
    memcpy(arg, val, len < 16 ? len : 16);
    return (int)len;
}

/* A reader: until the writer is done (and once more after), looks up entries it may find. */
static int reader(const char *dir, volatile uint32_t *announced, volatile uint32_t *done,
                  unsigned seed)
{
    int errors = 0;
    long lookups = 0;
    time_t until = time(NULL) + 30;

    srand(seed);
    for (int last = 0; !last && time(NULL) < until;) {
        uint32_t n = __atomic_load_n(announced, __ATOMIC_ACQUIRE), rank;
        char key[32];
        uint8_t val[301];
        size_t len;

        last = __atomic_load_n(done, __ATOMIC_ACQUIRE);
        for (int k = 0; k < 200 && n; k++, lookups++) {
            uint32_t i = (uint32_t)rand() % n;
            struct want w = {val, 0};

            entry(i, &rank, key, sizeof(key), val, &len);
            w.len = len;
            if (fmx_store_find(dir, NS, rank, key, check, &w))
                errors++;
        }
    }
    printf("# reader %u: %ld lookups\n", seed, lookups);
    fflush(stdout);
    return errors > 255 ? 255 : errors;
}

int main(void)
{
    char dir[] = "/tmp/fmx-gds-test.XXXXXX", key[32], cmd[64];
    uint8_t val[301], got[16];
    uint32_t rank, *shared;
    size_t len;
    pid_t pids[READERS];
    int put_errors = 0, found;
    struct want w;

    plan(11);
    if (!mkdtemp(dir) ||
        (shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0)) ==
            MAP_FAILED)
        return 1;
    ok(fmx_store_find(dir, NS, 0, "k0", copy_out, got) == -ENOENT, "nothing written: not found");
    ok(fmx_store_put(dir, NS, 3, "card", "abc", 4) == 0, "a put");
    ok(fmx_store_find(dir, NS, 3, "card", copy_out, got) == 4 && !memcmp(got, "abc", 4),
       "found, whole");
    ok(fmx_store_find(dir, NS, 4, "card", copy_out, got) == -ENOENT &&
           fmx_store_find(dir, NS, 3, "car", copy_out, got) == -ENOENT &&
           fmx_store_find(dir, "fmx.other", 3, "card", copy_out, got) == -ENOENT,
       "another rank, key or namespace: not found");
    ok(fmx_store_put(dir, NS, 3, "card", "defgh", 6) == 0 &&
           fmx_store_find(dir, NS, 3, "card", copy_out, got) == 6 && !memcmp(got, "defgh", 6),
       "a key put again: its new value");
    ok(fmx_store_put(dir, NS, 5, "empty", "", 0) == 0 &&
           fmx_store_find(dir, NS, 5, "empty", copy_out, got) == 0,
       "an empty value");

    /* readers in other processes while the writer grows the file through generations */
    shared[0] = shared[1] = 0;
    for (int r = 0; r < READERS; r++)
        if ((pids[r] = fork()) == 0)
            _exit(reader(dir, &shared[0], &shared[1], (unsigned)r + 1));
    for (uint32_t i = 0; i < N_ENTRIES; i++) {
        entry(i, &rank, key, sizeof(key), val, &len);
        if (fmx_store_put(dir, NS, rank, key, val, len))
            put_errors++;
        __atomic_store_n(&shared[0], i + 1, __ATOMIC_RELEASE);
    }
    __atomic_store_n(&shared[1], 1, __ATOMIC_RELEASE);
    ok(put_errors == 0, "%d entries put (%d failed)", N_ENTRIES, put_errors);
    for (int r = 0; r < READERS; r++) {
        int st = -1;

        waitpid(pids[r], &st, 0);
        ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
           "reader %d, during the writes: every entry announced found whole (%d wrong)", r,
           WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    }
    found = 0;
    for (uint32_t i = 0; i < N_ENTRIES; i++) {
        entry(i, &rank, key, sizeof(key), val, &len);
        w = (struct want){val, len};
        found += fmx_store_find(dir, NS, rank, key, check, &w) == 0;
    }
    ok(found == N_ENTRIES, "afterwards: %d of %d found whole", found, N_ENTRIES);
    snprintf(cmd, sizeof(cmd), "ls %s | grep -c '^fmx-gds'", dir);
    diag("files left (the head and the current generation):");
    fflush(stdout);
    ok(system(cmd) == 0, "the store's files are there");
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd))
        diag("could not remove %s", dir);
    return done_testing();
}
