/* Publish and lookup, the home's side (pubsub.h): the records published under the keys whose
 * home this daemon is, the lookups held here until their keys come (PMIX_WAIT) or their time
 * runs out, and the requests of the other daemons and of this one. */
#include "pubsub.h"

#include "fmx_loop.h"

#include <stdlib.h>
#include <string.h>

struct pub_record {
    struct pub_record *next;
    char *key;
    pmix_proc_t owner;
    uint32_t range, persist;
    uint8_t *val; /* as PMIx_Data_pack wrote it */
    size_t vlen;
};

struct pub_waiter {
    struct pub_waiter *next;
    fmx_glue_t *g;
    pmix_proc_t who;
    uint32_t range;
    char **keys;
    uint32_t nkeys;
    uint64_t timer;
    struct pub_to to;
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

/* Sends an answer where it goes: to the daemon that asked, or to this daemon's own call. */
static void answer(fmx_glue_t *g, struct pub_to to, int status, const void *blob, size_t len)
{
    if (to.token)
        fmx_dmodex_respond(g->eng, to.token, status, blob, len);
    else
        fmx_pub_home_answered(to.local, status, blob, len);
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

static struct pub_record **find(fmx_glue_t *g, const char *key, const pmix_proc_t *who,
                                uint32_t range)
{
    for (struct pub_record **r = &g->pub_records; *r; r = &(*r)->next)
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
static int answer_lookup(fmx_glue_t *g, struct pub_to to, const pmix_proc_t *who, uint32_t range,
                         char *const *keys, uint32_t nkeys, int all)
{
    fmx_pack_t p;
    uint32_t n = 0;

    for (uint32_t i = 0; i < nkeys; i++)
        n += find(g, keys[i], who, range) != NULL;
    if (all && n < nkeys)
        return 0;
    fmx_pack_init(&p);
    fmx_pack_u32(&p, n);
    for (uint32_t i = 0; i < nkeys; i++) {
        struct pub_record **at = find(g, keys[i], who, range), *r;

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
        answer(g, to, -ENOMEM, NULL, 0);
    else
        answer(g, to, n ? 0 : -ENOENT, p.data, p.len);
    fmx_pack_free(&p);
    return 1;
}

static void unlink_waiter(fmx_glue_t *g, struct pub_waiter *w)
{
    for (struct pub_waiter **at = &g->pub_waiters; *at; at = &(*at)->next)
        if (*at == w) {
            *at = w->next;
            return;
        }
}

static void waiter_expired(fmx_loop_t *l, void *arg)
{
    struct pub_waiter *w = arg;

    (void)l;
    unlink_waiter(w->g, w);
    answer(w->g, w->to, -ETIMEDOUT, NULL, 0);
    waiter_free(w);
}

/* Something was published: lookups waiting for it may be answered now. */
static void wake_waiters(fmx_glue_t *g)
{
    struct pub_waiter **at = &g->pub_waiters, *w;

    while ((w = *at)) {
        if (answer_lookup(g, w->to, &w->who, w->range, w->keys, w->nkeys, 1)) {
            *at = w->next;
            fmx_loop_del_timer(g->job.loop, w->timer);
            waiter_free(w);
        } else {
            at = &w->next;
        }
    }
}

static int publish(fmx_glue_t *g, const pmix_proc_t *who, uint32_t range, uint32_t persist,
                   fmx_pack_t *p, uint32_t n)
{
    size_t start = p->pos;

    /* all or nothing: a key another rank published is refused before anything is stored */
    for (uint32_t i = 0; i < n && !p->err; i++) {
        char *key = fmx_unpack_str(p);
        size_t vlen;
        struct pub_record **at;

        fmx_unpack_bytes(p, &vlen);
        at = key ? find(g, key, who, PMIX_RANGE_SESSION) : NULL;
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
        r->range = range;
        r->persist = persist;
        if ((old = find(g, r->key, who, PMIX_RANGE_SESSION))) { /* the rank's own: replaced */
            struct pub_record *gone = *old;

            *old = gone->next;
            record_free(gone);
        }
        r->next = g->pub_records;
        g->pub_records = r;
    }
    wake_waiters(g);
    return 0;
}

static void unpublish(fmx_glue_t *g, const pmix_proc_t *who, char *const *keys, uint32_t n)
{
    struct pub_record **at = &g->pub_records, *r;

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

void fmx_pub_serve(fmx_glue_t *g, uint32_t from, const uint8_t *req, size_t len, struct pub_to to)
{
    size_t pre = strlen(PUB_PREFIX);
    fmx_pack_t p;
    pmix_proc_t who;
    uint32_t range, extra, timeout_ms, n;
    char **keys = NULL;
    int op, rc = 0;

    if (len < pre + 1) {
        answer(g, to, -EINVAL, NULL, 0);
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
        fmx_log(FMX_LOG_WARN, "glue", "node %s sent a malformed publish/lookup request",
                g->job.map->nodes[from].name);
        answer(g, to, -EINVAL, NULL, 0);
        return;
    }
    if (op == OP_PUBLISH) {
        answer(g, to, publish(g, &who, range, extra, &p, n), NULL, 0);
        return;
    }
    if ((op != OP_LOOKUP && op != OP_UNPUBLISH) || !(keys = read_keys(&p, n))) {
        answer(g, to, op == OP_LOOKUP || op == OP_UNPUBLISH ? -ENOMEM : -EINVAL, NULL, 0);
        return;
    }
    if (op == OP_UNPUBLISH) {
        unpublish(g, &who, keys, n);
        answer(g, to, 0, NULL, 0);
    } else if (!answer_lookup(g, to, &who, range, keys, n, extra && g->job.loop)) {
        struct pub_waiter *w = calloc(1, sizeof(*w));

        if (!w) {
            answer(g, to, -ENOMEM, NULL, 0);
        } else {
            *w = (struct pub_waiter){.g = g,
                                     .who = who,
                                     .range = range,
                                     .keys = keys,
                                     .nkeys = n,
                                     .to = to,
                                     .next = g->pub_waiters};
            w->timer =
                fmx_loop_add_timer(g->job.loop, timeout_ms ? timeout_ms : 1, waiter_expired, w);
            g->pub_waiters = w;
            return; /* w owns the keys */
        }
    }
    for (uint32_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
}

static void on_request(void *arg, uint32_t from, const void *key, size_t keylen,
                       fmx_dmodex_req_t *token)
{
    fmx_pub_serve(arg, from, key, keylen, (struct pub_to){.token = token});
}

int fmx_glue_pubsub_start(fmx_glue_t *g)
{
    return fmx_dmodex_add_handler(g->eng, PUB_PREFIX, on_request, g);
}

void fmx_glue_pubsub_stop(fmx_glue_t *g)
{
    struct pub_waiter *w;
    struct pub_record *r;

    if (g->eng)
        fmx_dmodex_remove_handler(g->eng, PUB_PREFIX);
    while ((w = g->pub_waiters)) {
        g->pub_waiters = w->next;
        fmx_loop_del_timer(g->job.loop, w->timer);
        if (w->to.token)
            fmx_dmodex_respond(g->eng, w->to.token, -ECANCELED, NULL, 0);
        else
            fmx_pub_home_answered(w->to.local, -ECANCELED, NULL, 0);
        waiter_free(w);
    }
    while ((r = g->pub_records)) {
        g->pub_records = r->next;
        record_free(r);
    }
}
