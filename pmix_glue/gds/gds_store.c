/* fmx's GDS store (gds_store.h). Files, for namespace NS under the directory:
 *   fmx-gds.NS.head  {magic, version, gen}: the generation of the current file
 *   fmx-gds.NS.G     a file: header, index (nslots offsets, 0 = empty), entries
 * An entry: rank, key length, value length, then the key (NUL-ended) and the value, each
 * 8-aligned. The writer keeps the index under 70% full; a file that is full (or its index) is
 * copied, live entries only, into generation G + 1, twice the size, which the head then names;
 * the old file is unlinked (readers that mapped it keep it until they move on). */
#include "gds_store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEAD_MAGIC 0x48584d46u /* "FMXH" */
#define FILE_MAGIC 0x53584d46u /* "FMXS" */
#define STORE_VERSION 1u
#define FIRST_SLOTS 1024u
#define FIRST_DATA (256u << 10)
#define MAX_NSPACES 64

struct head {
    uint32_t magic, version;
    uint64_t gen;
};

struct fhdr {
    uint32_t magic, version, nslots, pad;
    uint64_t size; /* of the file */
};

struct ent {
    uint32_t rank, klen, vlen, pad;
};

static size_t align8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

static uint64_t hash_of(uint32_t rank, const char *key)
{
    uint64_t h = 14695981039346656037ull;

    for (int i = 0; i < 4; i++)
        h = (h ^ ((rank >> (8 * i)) & 0xff)) * 1099511628211ull;
    for (const unsigned char *c = (const unsigned char *)key; *c; c++)
        h = (h ^ *c) * 1099511628211ull;
    return h;
}

static void path_of(char *out, size_t len, const char *dir, const char *nspace, const char *what)
{
    int n = snprintf(out, len, "%s/fmx-gds.", dir);

    for (const char *c = nspace; *c && n + 1 < (int)len; c++)
        out[n++] = *c == '/' ? '_' : *c;
    out[n] = '\0';
    snprintf(out + n, len - (size_t)n, ".%s", what);
}

static uint64_t *slots_of(const uint8_t *base)
{
    return (uint64_t *)(base + sizeof(struct fhdr));
}

static size_t data_start(uint32_t nslots)
{
    return sizeof(struct fhdr) + (size_t)nslots * sizeof(uint64_t);
}

/* The entry at off matches (rank, key): bounds checked against the mapping's size. */
static const struct ent *entry_at(const uint8_t *base, size_t size, uint64_t off)
{
    const struct ent *e;

    if (off < sizeof(struct fhdr) || off + sizeof(*e) > size)
        return NULL;
    e = (const struct ent *)(base + off);
    if (off + sizeof(*e) + align8((size_t)e->klen + 1) + e->vlen > size)
        return NULL;
    return e;
}

static int matches(const struct ent *e, uint32_t rank, const char *key, size_t klen)
{
    return e->rank == rank && e->klen == klen && !memcmp(e + 1, key, klen);
}

/* ---- the writer (one thread) ---- */

struct wfile {
    char nspace[256];
    struct head *head;
    uint8_t *base;
    size_t size, used;
    uint32_t nslots, nentries;
    uint64_t gen;
};

static struct wfile wfiles[MAX_NSPACES];

static int write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;

    while (len) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* A new file of generation gen: size bytes, nslots empty slots. */
static uint8_t *create_file(const char *dir, const char *nspace, uint64_t gen, size_t size,
                            uint32_t nslots)
{
    char path[4096], num[24];
    struct fhdr h = {.magic = FILE_MAGIC, .version = STORE_VERSION, .nslots = nslots, .size = size};
    uint8_t *base;
    int fd;

    snprintf(num, sizeof(num), "%llu", (unsigned long long)gen);
    path_of(path, sizeof(path), dir, nspace, num);
    if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
        return NULL;
    if (ftruncate(fd, (off_t)size) || write_all(fd, &h, sizeof(h)) ||
        (base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED) {
        close(fd);
        unlink(path);
        return NULL;
    }
    close(fd);
    return base;
}

/* The writer: the slot of (rank, key) in the index, or the empty slot where it would go. */
static uint64_t slot_of(const uint8_t *base, uint32_t nslots, uint32_t rank, const char *key,
                        size_t klen)
{
    const uint64_t *slots = slots_of(base);
    uint64_t i = hash_of(rank, key) % nslots;

    while (slots[i] && !matches((const struct ent *)(base + slots[i]), rank, key, klen))
        i = (i + 1) % nslots;
    return i;
}

static void insert(uint8_t *base, uint32_t nslots, uint64_t off, uint32_t *nentries)
{
    const struct ent *e = (const struct ent *)(base + off);
    uint64_t *slots = slots_of(base),
             i = slot_of(base, nslots, e->rank, (const char *)(e + 1), e->klen);

    *nentries += !slots[i];
    __atomic_store_n(&slots[i], off, __ATOMIC_RELEASE);
}

/* The writer: the entry (rank, key) has now, or NULL. */
static const struct ent *current(const uint8_t *base, uint32_t nslots, uint32_t rank,
                                 const char *key, size_t klen)
{
    uint64_t off = slots_of(base)[slot_of(base, nslots, rank, key, klen)];

    return off ? (const struct ent *)(base + off) : NULL;
}

static size_t entry_size(const struct ent *e)
{
    return sizeof(*e) + align8((size_t)e->klen + 1) + align8(e->vlen);
}

/* Copies the live entries of w's file into the next generation, room for `need` more bytes. */
static int grow(const char *dir, struct wfile *w, size_t need)
{
    uint32_t nslots = w->nslots * 2, nentries = 0;
    size_t live = 0, size, used;
    uint64_t *old = slots_of(w->base);
    uint8_t *base;
    char path[4096], num[24];

    for (uint32_t i = 0; i < w->nslots; i++)
        if (old[i])
            live += entry_size((const struct ent *)(w->base + old[i]));
    size = data_start(nslots) + 2 * (live + need) + FIRST_DATA;
    if (!(base = create_file(dir, w->nspace, w->gen + 1, size, nslots)))
        return -errno ? -errno : -EIO;
    used = data_start(nslots);
    for (uint32_t i = 0; i < w->nslots; i++) {
        size_t n;

        if (!old[i])
            continue;
        n = entry_size((const struct ent *)(w->base + old[i]));
        memcpy(base + used, w->base + old[i], n);
        insert(base, nslots, used, &nentries);
        used += n;
    }
    munmap(w->base, w->size);
    snprintf(num, sizeof(num), "%llu", (unsigned long long)w->gen);
    path_of(path, sizeof(path), dir, w->nspace, num);
    w->base = base;
    w->size = size;
    w->used = used;
    w->nslots = nslots;
    w->nentries = nentries;
    w->gen++;
    __atomic_store_n(&w->head->gen, w->gen, __ATOMIC_RELEASE);
    unlink(path);
    return 0;
}

static struct wfile *writer(const char *dir, const char *nspace)
{
    struct head init = {.magic = HEAD_MAGIC, .version = STORE_VERSION, .gen = 0};
    struct wfile *w = NULL;
    char path[4096];
    int fd, i;

    for (i = 0; i < MAX_NSPACES && wfiles[i].head; i++)
        if (!strcmp(wfiles[i].nspace, nspace))
            return &wfiles[i];
    if (i == MAX_NSPACES || strlen(nspace) >= sizeof(w->nspace))
        return NULL;
    w = &wfiles[i];
    if (!(w->base = create_file(dir, nspace, 1, data_start(FIRST_SLOTS) + FIRST_DATA, FIRST_SLOTS)))
        return NULL;
    w->size = data_start(FIRST_SLOTS) + FIRST_DATA;
    w->used = data_start(FIRST_SLOTS);
    w->nslots = FIRST_SLOTS;
    w->gen = 1;
    init.gen = 1;
    path_of(path, sizeof(path), dir, nspace, "head");
    if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0 ||
        write_all(fd, &init, sizeof(init)) ||
        (w->head = mmap(NULL, sizeof(*w->head), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) ==
            MAP_FAILED) {
        if (fd >= 0)
            close(fd);
        munmap(w->base, w->size);
        memset(w, 0, sizeof(*w));
        return NULL;
    }
    close(fd);
    snprintf(w->nspace, sizeof(w->nspace), "%s", nspace);
    return w;
}

int fmx_store_create(const char *dir, const char *nspace)
{
    return writer(dir, nspace) ? 0 : -EIO;
}

int fmx_store_put(const char *dir, const char *nspace, uint32_t rank, const char *key,
                  const void *val, size_t len)
{
    struct wfile *w = writer(dir, nspace);
    size_t klen = strlen(key), need = sizeof(struct ent) + align8(klen + 1) + align8(len);
    struct ent *e;
    int rc;

    if (!w)
        return -EIO;
    if (klen > UINT32_MAX / 2 || len > UINT32_MAX / 2)
        return -E2BIG;
    /* the same value again (a rank's commit, then the fence that collects it): nothing new */
    if ((e = (struct ent *)current(w->base, w->nslots, rank, key, klen)) && e->vlen == len &&
        !memcmp((uint8_t *)(e + 1) + align8(klen + 1), val, len))
        return 0;
    if ((w->used + need > w->size || (uint64_t)(w->nentries + 1) * 10 > (uint64_t)w->nslots * 7) &&
        (rc = grow(dir, w, need)))
        return rc;
    e = (struct ent *)(w->base + w->used);
    *e = (struct ent){.rank = rank, .klen = (uint32_t)klen, .vlen = (uint32_t)len};
    memcpy(e + 1, key, klen + 1);
    memcpy((uint8_t *)(e + 1) + align8(klen + 1), val, len);
    insert(w->base, w->nslots, w->used, &w->nentries);
    w->used += need;
    return 0;
}

/* ---- the readers (any thread of a rank) ---- */

struct rfile {
    char nspace[256];
    const struct head *head;
    const uint8_t *base;
    size_t size;
    uint64_t gen;
};

static struct rfile rfiles[MAX_NSPACES];
static pthread_mutex_t rlock = PTHREAD_MUTEX_INITIALIZER;

static const void *map_file(const char *path, size_t *size)
{
    struct stat st;
    void *p;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return NULL;
    if (fstat(fd, &st) || st.st_size <= 0 ||
        (p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0)) == MAP_FAILED) {
        close(fd);
        return NULL;
    }
    close(fd);
    *size = (size_t)st.st_size;
    return p;
}

/* nspace's file, the current generation mapped (rlock held); NULL when there is none yet. */
static struct rfile *reader(const char *dir, const char *nspace)
{
    struct rfile *r = NULL;
    int i;

    for (i = 0; i < MAX_NSPACES && rfiles[i].nspace[0]; i++)
        if (!strcmp(rfiles[i].nspace, nspace)) {
            r = &rfiles[i];
            break;
        }
    if (!r) {
        if (i == MAX_NSPACES || strlen(nspace) >= sizeof(r->nspace))
            return NULL;
        r = &rfiles[i];
        snprintf(r->nspace, sizeof(r->nspace), "%s", nspace);
    }
    if (!r->head) {
        char path[4096];
        size_t size = 0;
        const struct head *h;

        path_of(path, sizeof(path), dir, nspace, "head");
        if (!(h = map_file(path, &size)))
            return NULL; /* nothing written yet: looked for again next time */
        if (size < sizeof(*h) || h->magic != HEAD_MAGIC || h->version != STORE_VERSION) {
            munmap((void *)h, size);
            return NULL;
        }
        r->head = h;
    }
    for (int tries = 0; tries < 4; tries++) {
        uint64_t gen = __atomic_load_n(&r->head->gen, __ATOMIC_ACQUIRE);
        char path[4096], num[24];
        const struct fhdr *fh;
        const uint8_t *base;
        size_t size = 0;

        if (gen == r->gen && r->base)
            return r;
        snprintf(num, sizeof(num), "%llu", (unsigned long long)gen);
        path_of(path, sizeof(path), dir, nspace, num);
        if (!(base = map_file(path, &size)))
            continue; /* grown again meanwhile */
        fh = (const struct fhdr *)base;
        if (size < sizeof(*fh) || fh->magic != FILE_MAGIC || fh->version != STORE_VERSION ||
            fh->size != size || data_start(fh->nslots) > size || !fh->nslots) {
            munmap((void *)base, size);
            return NULL;
        }
        if (r->base)
            munmap((void *)r->base, r->size);
        r->base = base;
        r->size = size;
        r->gen = gen;
        for (size_t at = 0; at < data_start(fh->nslots); at += 4096) /* the index, read in */
            (void)*(volatile const uint8_t *)(base + at);
    }
    return r->base ? r : NULL;
}

int fmx_store_open(const char *dir, const char *nspace)
{
    int rc;

    pthread_mutex_lock(&rlock);
    rc = reader(dir, nspace) ? 0 : -ENOENT;
    pthread_mutex_unlock(&rlock);
    return rc;
}

int fmx_store_find(const char *dir, const char *nspace, uint32_t rank, const char *key,
                   int (*take)(void *arg, const void *val, size_t len), void *arg)
{
    size_t klen = strlen(key);
    struct rfile *r;
    int rc = -ENOENT;

    pthread_mutex_lock(&rlock);
    if ((r = reader(dir, nspace))) {
        uint32_t nslots = ((const struct fhdr *)r->base)->nslots;
        const uint64_t *slots = slots_of(r->base);

        for (uint64_t i = hash_of(rank, key) % nslots, n = 0; n < nslots;
             i = (i + 1) % nslots, n++) {
            uint64_t off = __atomic_load_n(&slots[i], __ATOMIC_ACQUIRE);
            const struct ent *e;

            if (!off || !(e = entry_at(r->base, r->size, off)))
                break;
            if (matches(e, rank, key, klen)) {
                rc = take(arg, (const uint8_t *)(e + 1) + align8(klen + 1), e->vlen);
                break;
            }
        }
    }
    pthread_mutex_unlock(&rlock);
    return rc;
}
