/* Publish and lookup, the home's side (pubstore.h): the records published under the keys of a
 * home, the lookups held there until their keys come (PMIX_WAIT) or their time runs out. */
#include "pubstore.h"
#include "pubsub.h"

#include <stdlib.h>
#include <string.h>

struct pub_record {
    struct pub_record *next;
    uint64_t src;
    char *key;
    pmix_proc_t owner;
    uint32_t range, persist;
    uint8_t *val; /* as PMIx_Data_pack wrote it */
    size_t vlen;
};

struct pub_waiter {
    struct pub_waiter *next;
    fmx_pubstore_t *s;
    uint64_t src;
    pmix_proc_t who;
    uint32_t range;
    char **keys;
    uint32_t nkeys;
    uint64_t timer;
    uint64_t to;
};

struct fmx_pubstore {
    fmx_loop_t *loop;
    fmx_pubstore_answer_f answer;
    void *arg;
    struct pub_record *records;
    struct pub_waiter *waiters;
};

void fmx_pub_pack_proc(fmx_pack_t *p, const pmix_proc_t *proc)
{
    char ns[PMIX_MAX_NSLEN + 1];

    memcpy(ns, proc->nspace, PMIX_MAX_NSLEN);
    ns[PMIX_MAX_NSLEN] = '\0';
    fmx_pack_str(p, ns);
    fmx_pack_u32(p, proc->rank);
}

int fmx_pub_unpack_proc(fmx_pack_t *p, pmix_proc_t *proc)
{
    size_t n;
    const char *ns = fmx_unpack_bytes(p, &n);

    if (!ns || n > PMIX_MAX_NSLEN || memchr(ns, '\0', n))
        return -EINVAL;
    memset(proc, 0, sizeof(*proc));
    memcpy(proc->nspace, ns, n);
    proc->rank = fmx_unpack_u32(p);
    return p->err ? -EINVAL : 0;
}

static void answer(fmx_pubstore_t *s, uint64_t to, int status, const void *blob, size_t len)
{
    s->answer(s->arg, to, status, blob, len);
}

/* Whether who may read r, asking with range `range`. */
static int visible(const struct pub_record *r, const pmix_proc_t *who, uint32_t range)
{
    int same_ns = !strncmp(r->owner.nspace, who->nspace, PMIX_MAX_NSLEN);

    if (r->range == PMIX_RANGE_NAMESPACE || range == PMIX_RANGE_NAMESPACE)
        return same_ns;
    if (r->range == PMIX_RANGE_PROC_LOCAL)
        return same_ns && r->owner.rank == who->rank;
    return 1;
}

static struct pub_record **find(fmx_pubstore_t *s, const char *key, const pmix_proc_t *who,
                                uint32_t range)
{
    for (struct pub_record **r = &s->records; *r; r = &(*r)->next)
        if (!strcmp((*r)->key, key) && visible(*r, who, range))
            return r;
    return NULL;
}

static void record_free(struct pub_record *r)
{
    free(r->key);
    free(r->val);
    free(r);
}

static void waiter_free(struct pub_waiter *w)
{
    for (uint32_t i = 0; i < w->nkeys; i++)
        free(w->keys[i]);
    free(w->keys);
    free(w);
}

/* Answers a lookup with what is found of its keys; with `all`, only when every key is found
 * (returns 0 then without answering). Records read once go. */
static int answer_lookup(fmx_pubstore_t *s, uint64_t to, const pmix_proc_t *who, uint32_t range,
                         char *const *keys, uint32_t nkeys, int all)
{
    fmx_pack_t p;
    uint32_t n = 0;

    for (uint32_t i = 0; i < nkeys; i++)
        n += find(s, keys[i], who, range) != NULL;
    if (all && n < nkeys)
        return 0;
    fmx_pack_init(&p);
    fmx_pack_u32(&p, n);
    for (uint32_t i = 0; i < nkeys; i++) {
        struct pub_record **at = find(s, keys[i], who, range), *r;

        if (!at)
            continue;
        r = *at;
        fmx_pack_str(&p, r->key);
        fmx_pub_pack_proc(&p, &r->owner);
        fmx_pack_bytes(&p, r->val, r->vlen);
        if (r->persist == PMIX_PERSIST_FIRST_READ) {
            *at = r->next;
            record_free(r);
        }
    }
    if (p.err)
        answer(s, to, -ENOMEM, NULL, 0);
    else
        answer(s, to, n ? 0 : -ENOENT, p.data, p.len);
    fmx_pack_free(&p);
    return 1;
}

static void unlink_waiter(fmx_pubstore_t *s, struct pub_waiter *w)
{
    for (struct pub_waiter **at = &s->waiters; *at; at = &(*at)->next)
        if (*at == w) {
            *at = w->next;
            return;
        }
}

static void waiter_expired(fmx_loop_t *l, void *arg)
{
    struct pub_waiter *w = arg;

    (void)l;
    unlink_waiter(w->s, w);
    answer(w->s, w->to, -ETIMEDOUT, NULL, 0);
    waiter_free(w);
}

/* Something was published: lookups waiting for it may be answered now. */
static void wake_waiters(fmx_pubstore_t *s)
{
    struct pub_waiter **at = &s->waiters, *w;

    while ((w = *at)) {
        if (answer_lookup(s, w->to, &w->who, w->range, w->keys, w->nkeys, 1)) {
            *at = w->next;
            fmx_loop_del_timer(s->loop, w->timer);
            waiter_free(w);
        } else {
            at = &w->next;
        }
    }
}

static int publish(fmx_pubstore_t *s, uint64_t src, const pmix_proc_t *who, uint32_t range,
                   uint32_t persist, fmx_pack_t *p, uint32_t n)
{
    size_t start = p->pos;

    /* all or nothing: a key another rank published is refused before anything is stored */
    for (uint32_t i = 0; i < n && !p->err; i++) {
        char *key = fmx_unpack_str(p);
        size_t vlen;
        struct pub_record **at;

        fmx_unpack_bytes(p, &vlen);
        at = key ? find(s, key, who, PMIX_RANGE_SESSION) : NULL;
        free(key);
        if (at &&
            ((*at)->owner.rank != who->rank ||
             strncmp((*at)->owner.nspace, who->nspace, PMIX_MAX_NSLEN)))
            return -EEXIST;
    }
    if (p->err)
        return -EINVAL;
    p->pos = start;
    for (uint32_t i = 0; i < n; i++) {
        struct pub_record *r = calloc(1, sizeof(*r)), **old;
        const void *v;

        if (!r || !(r->key = fmx_unpack_str(p)) || !(v = fmx_unpack_bytes(p, &r->vlen)) ||
            !(r->val = malloc(r->vlen ? r->vlen : 1))) {
            if (r)
                record_free(r);
            return -ENOMEM;
        }
        memcpy(r->val, v, r->vlen);
        r->owner = *who;
        r->src = src;
        r->range = range;
        r->persist = persist;
        if ((old = find(s, r->key, who, PMIX_RANGE_SESSION))) { /* the rank's own: replaced */
            struct pub_record *gone = *old;

            *old = gone->next;
            record_free(gone);
        }
        r->next = s->records;
        s->records = r;
    }
    wake_waiters(s);
    return 0;
}

static void unpublish(fmx_pubstore_t *s, const pmix_proc_t *who, char *const *keys, uint32_t n)
{
    struct pub_record **at = &s->records, *r;

    while ((r = *at)) {
        int match = !n && r->owner.rank == who->rank &&
            !strncmp(r->owner.nspace, who->nspace, PMIX_MAX_NSLEN);

        for (uint32_t i = 0; i < n && !match; i++)
            match = !strcmp(r->key, keys[i]) && r->owner.rank == who->rank &&
                !strncmp(r->owner.nspace, who->nspace, PMIX_MAX_NSLEN);
        if (match) {
            *at = r->next;
            record_free(r);
        } else {
            at = &r->next;
        }
    }
}

static char **read_keys(fmx_pack_t *p, uint32_t n)
{
    char **keys = n > p->len ? NULL : calloc(n + 1, sizeof(*keys)); /* a key takes >= 4 bytes */

    for (uint32_t i = 0; keys && i < n; i++)
        if (!(keys[i] = fmx_unpack_str(p))) {
            for (uint32_t k = 0; k < i; k++)
                free(keys[k]);
            free(keys);
            return NULL;
        }
    return keys;
}

void fmx_pubstore_serve(fmx_pubstore_t *s, uint64_t src, const char *who_name, const uint8_t *req,
                        size_t len, uint64_t to)
{
    size_t pre = strlen(PUB_PREFIX);
    fmx_pack_t p;
    pmix_proc_t who;
    uint32_t range, extra, timeout_ms, n;
    char **keys = NULL;
    int op, rc = 0;

    if (len < pre + 1 || memcmp(req, PUB_PREFIX, pre)) {
        answer(s, to, -EINVAL, NULL, 0);
        return;
    }
    op = req[pre];
    fmx_unpack_init(&p, req + pre + 1, len - pre - 1);
    fmx_unpack_u32(&p); /* sender, and its sequence number: they only keep requests apart */
    fmx_unpack_u32(&p);
    fmx_unpack_u32(&p);
    rc = fmx_pub_unpack_proc(&p, &who);
    range = fmx_unpack_u32(&p);
    extra = fmx_unpack_u32(&p);
    timeout_ms = fmx_unpack_u32(&p);
    n = fmx_unpack_u32(&p);
    if (rc || p.err) {
        fmx_log(FMX_LOG_WARN, "glue", "%s sent a malformed publish/lookup request", who_name);
        answer(s, to, -EINVAL, NULL, 0);
        return;
    }
    if (op == OP_PUBLISH) {
        answer(s, to, publish(s, src, &who, range, extra, &p, n), NULL, 0);
        return;
    }
    if ((op != OP_LOOKUP && op != OP_UNPUBLISH) || !(keys = read_keys(&p, n))) {
        answer(s, to, op == OP_LOOKUP || op == OP_UNPUBLISH ? -ENOMEM : -EINVAL, NULL, 0);
        return;
    }
    if (op == OP_UNPUBLISH) {
        unpublish(s, &who, keys, n);
        answer(s, to, 0, NULL, 0);
    } else if (!answer_lookup(s, to, &who, range, keys, n, extra && s->loop)) {
        struct pub_waiter *w = calloc(1, sizeof(*w));

        if (!w) {
            answer(s, to, -ENOMEM, NULL, 0);
        } else {
            *w = (struct pub_waiter){.s = s,
                                     .src = src,
                                     .who = who,
                                     .range = range,
                                     .keys = keys,
                                     .nkeys = n,
                                     .to = to,
                                     .next = s->waiters};
            w->timer = fmx_loop_add_timer(s->loop, timeout_ms ? timeout_ms : 1, waiter_expired, w);
            s->waiters = w;
            return; /* w owns the keys */
        }
    }
    for (uint32_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
}

fmx_pubstore_t *fmx_pubstore_new(fmx_loop_t *loop, fmx_pubstore_answer_f fn, void *arg)
{
    fmx_pubstore_t *s = calloc(1, sizeof(*s));

    if (s)
        *s = (fmx_pubstore_t){.loop = loop, .answer = fn, .arg = arg};
    return s;
}

void fmx_pubstore_forget(fmx_pubstore_t *s, uint64_t src)
{
    struct pub_waiter **w = &s->waiters, *gone;
    struct pub_record **r = &s->records, *rgone;

    while ((gone = *w)) {
        if (gone->src != src) {
            w = &gone->next;
            continue;
        }
        *w = gone->next;
        fmx_loop_del_timer(s->loop, gone->timer);
        waiter_free(gone);
    }
    while ((rgone = *r)) {
        if (rgone->src != src) {
            r = &rgone->next;
            continue;
        }
        *r = rgone->next;
        record_free(rgone);
    }
}

void fmx_pubstore_free(fmx_pubstore_t *s, int quiet)
{
    struct pub_waiter *w;
    struct pub_record *r;

    if (!s)
        return;
    while ((w = s->waiters)) {
        s->waiters = w->next;
        fmx_loop_del_timer(s->loop, w->timer);
        if (!quiet)
            answer(s, w->to, -ECANCELED, NULL, 0);
        waiter_free(w);
    }
    while ((r = s->records)) {
        s->records = r->next;
        record_free(r);
    }
    free(s);
}
