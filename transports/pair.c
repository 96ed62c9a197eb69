/* Two transports as one (fmx_pair.h). The pair's address is its host identity followed by both
 * backends' addresses; at add_peers the near backend gets this host's members in ascending
 * order (itself included) and the far backend every member, lists that come out the same on
 * every member they concern, so that a backend's indices, and the keys of its MACs, agree.
 * Events come back with the backend's index mapped to the pair's. */
#include "fmx_pair.h"

#include "fmx_crypto.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#define ID_LEN 32
#define MAGIC "FMXP"
#define NEAR 0
#define FAR 1

struct pair_tp;

struct side {
    struct pair_tp *tp;
    fmx_transport_t *t;
    uint32_t n; /* peers of this side, self included */
    uint32_t *global; /* side index -> pair index */
    int used; /* its peers are added: progress it */
    int fd; /* its wait fd as registered in the pair's epoll set, or -1 */
};

struct pair_tp {
    fmx_transport_t base;
    struct side s[2];
    uint8_t id[ID_LEN];
    uint32_t npeers, self;
    uint8_t *side_of; /* per pair index */
    uint32_t *local; /* pair index -> side index */
    uint32_t *host; /* pair index -> the smallest pair index on the same host */
    int epfd;
    char describe[400];
};

static void put_u32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v;

    memcpy(&v, p, 4);
    return v;
}

static struct pair_tp *pt(fmx_transport_t *t)
{
    return (struct pair_tp *)t;
}

void fmx_host_identity(uint8_t out[32])
{
    const char *forced = getenv("FMX_HOST_ID");
    char text[256] = "";
    size_t n = 0;

    if (forced && *forced) {
        n = (size_t)snprintf(text, sizeof(text), "forced:%s", forced);
    } else {
        const char *ns[] = {"/proc/self/ns/net", "/proc/self/ns/ipc", "/proc/self/ns/pid"};
        FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");

        if (f) {
            n = fread(text, 1, 64, f);
            fclose(f);
        }
        for (size_t i = 0; i < sizeof(ns) / sizeof(*ns) && n < sizeof(text); i++) {
            struct stat st;

            if (stat(ns[i], &st) == 0)
                n += (size_t)snprintf(text + n, sizeof(text) - n, ":%llu",
                                      (unsigned long long)st.st_ino);
        }
        if (n >= sizeof(text))
            n = sizeof(text) - 1;
    }
    fmx_hmac_sha256("fmx host", 8, text, n, out);
}

/* ---- events: a backend's index to the pair's ---- */

static void on_recv(void *arg, uint32_t peer, const void *buf, size_t len)
{
    struct side *s = arg;
    struct pair_tp *tp = s->tp;

    if (peer < s->n && tp->base.events.recv)
        tp->base.events.recv(tp->base.events_arg, s->global[peer], buf, len);
}

static void on_recv_owned(void *arg, uint32_t peer, void *buf, size_t len)
{
    struct side *s = arg;
    struct pair_tp *tp = s->tp;

    if (peer >= s->n || !tp->base.events.recv)
        free(buf);
    else if (tp->base.events.recv_owned)
        tp->base.events.recv_owned(tp->base.events_arg, s->global[peer], buf, len);
    else {
        tp->base.events.recv(tp->base.events_arg, s->global[peer], buf, len);
        free(buf);
    }
}

static void on_peer_error(void *arg, uint32_t peer, int status)
{
    struct side *s = arg;
    struct pair_tp *tp = s->tp;

    if (peer < s->n && tp->base.events.peer_error)
        tp->base.events.peer_error(tp->base.events_arg, s->global[peer], status);
}

/* ---- the interface ---- */

static int pair_get_addr(fmx_transport_t *t, void *buf, size_t *len)
{
    struct pair_tp *tp = pt(t);
    uint8_t a[2][2000]; /* the whole within the callers' 4096 bytes */
    size_t l[2] = {sizeof(a[0]), sizeof(a[1])}, need;
    int rc;

    for (int i = 0; i < 2; i++)
        if ((rc = tp->s[i].t->ops->get_addr(tp->s[i].t, a[i], &l[i])))
            return rc;
    need = 4 + ID_LEN + 4 + l[0] + 4 + l[1];
    if (*len < need) {
        *len = need;
        return -ENOBUFS;
    }
    uint8_t *p = buf;
    memcpy(p, MAGIC, 4);
    memcpy(p + 4, tp->id, ID_LEN);
    p += 4 + ID_LEN;
    for (int i = 0; i < 2; i++) {
        put_u32(p, (uint32_t)l[i]);
        memcpy(p + 4, a[i], l[i]);
        p += 4 + l[i];
    }
    *len = need;
    return 0;
}

/* Splits a pair address into its identity and its backends' addresses; -EINVAL if malformed. */
static int parse_addr(const void *addr, size_t len, const uint8_t **id, const uint8_t *sub[2],
                      size_t sublen[2])
{
    const uint8_t *p = addr, *end = p + len;

    if (len < 4 + ID_LEN || memcmp(p, MAGIC, 4))
        return -EINVAL;
    *id = p + 4;
    p += 4 + ID_LEN;
    for (int i = 0; i < 2; i++) {
        if (end - p < 4)
            return -EINVAL;
        sublen[i] = get_u32(p);
        if ((size_t)(end - p - 4) < sublen[i])
            return -EINVAL;
        sub[i] = p + 4;
        p += 4 + sublen[i];
    }
    return p == end ? 0 : -EINVAL;
}

static int pair_add_peers(fmx_transport_t *t, uint32_t count, const void *const *addrs,
                          const size_t *lens)
{
    struct pair_tp *tp = pt(t);
    const uint8_t **ids = calloc(count ? count : 1, sizeof(*ids));
    const void **sub[2] = {calloc(count ? count : 1, sizeof(void *)),
                           calloc(count ? count : 1, sizeof(void *))};
    size_t *sublen[2] = {calloc(count ? count : 1, sizeof(size_t)),
                         calloc(count ? count : 1, sizeof(size_t))};
    uint8_t own[4096];
    size_t ownlen = sizeof(own);
    int rc = -ENOMEM, found = 0;

    tp->side_of = calloc(count ? count : 1, 1);
    tp->local = calloc(count ? count : 1, sizeof(uint32_t));
    tp->host = calloc(count ? count : 1, sizeof(uint32_t));
    for (int i = 0; i < 2; i++)
        tp->s[i].global = calloc(count ? count : 1, sizeof(uint32_t));
    if (!ids || !sub[0] || !sub[1] || !sublen[0] || !sublen[1] || !tp->side_of || !tp->local ||
        !tp->host || !tp->s[0].global || !tp->s[1].global)
        goto out;
    if ((rc = pair_get_addr(t, own, &ownlen)))
        goto out;
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *subp[2];
        size_t sl[2];

        if (parse_addr(addrs[i], lens[i], &ids[i], subp, sl)) {
            fmx_log(FMX_LOG_ERROR, "pair", "peer %u's address is not a paired transport's", i);
            rc = -EINVAL;
            goto out;
        }
        for (int k = 0; k < 2; k++) {
            sub[k][i] = subp[k];
            sublen[k][i] = sl[k];
        }
        if (!found && lens[i] == ownlen && !memcmp(addrs[i], own, ownlen)) {
            tp->self = i;
            found = 1;
        }
    }
    if (!found) {
        fmx_log(FMX_LOG_ERROR, "pair", "this endpoint's own address is not among the %u peers",
                count);
        rc = -EINVAL;
        goto out;
    }
    tp->npeers = count;
    tp->s[FAR].n = count;
    /* the near backend's peers are this host's members, the same list on each of them; the
     * far backend's are every member, so that its indices are the pair's everywhere (a set
     * that differed from member to member would number them differently) */
    for (uint32_t i = 0; i < count; i++) {
        int near = !memcmp(ids[i], tp->id, ID_LEN);

        if (near) {
            tp->local[i] = tp->s[NEAR].n;
            tp->s[NEAR].global[tp->s[NEAR].n++] = i;
        } else {
            tp->local[i] = i;
        }
        tp->side_of[i] = near ? NEAR : FAR;
        tp->s[FAR].global[i] = i;
        tp->host[i] = i;
        for (uint32_t j = 0; j < i; j++)
            if (!memcmp(ids[j], ids[i], ID_LEN)) {
                tp->host[i] = j;
                break;
            }
    }
    for (int k = 0; k < 2; k++) {
        struct side *s = &tp->s[k];
        const void **a = calloc(s->n, sizeof(*a));
        size_t *l = calloc(s->n, sizeof(*l));

        if (!a || !l) {
            free(a);
            free(l);
            rc = -ENOMEM;
            goto out;
        }
        for (uint32_t j = 0; j < s->n; j++) {
            a[j] = sub[k][s->global[j]];
            l[j] = sublen[k][s->global[j]];
        }
        /* with no other peer too: what a stranger sends it is still read and rejected */
        s->used = 1;
        rc = s->t->ops->add_peers(s->t, s->n, a, l);
        free(a);
        free(l);
        if (rc)
            goto out;
    }
    snprintf(tp->describe, sizeof(tp->describe),
             "%u peer(s) on this host by %s; %u elsewhere by %s", tp->s[NEAR].n - 1,
             tp->s[NEAR].t->ops->describe ? tp->s[NEAR].t->ops->describe(tp->s[NEAR].t) : "?",
             tp->npeers - tp->s[NEAR].n,
             tp->s[FAR].t->ops->describe ? tp->s[FAR].t->ops->describe(tp->s[FAR].t) : "?");
out:
    free(ids);
    for (int k = 0; k < 2; k++) {
        free(sub[k]);
        free(sublen[k]);
    }
    return rc;
}

static struct side *route(struct pair_tp *tp, uint32_t peer, uint32_t *local)
{
    if (peer >= tp->npeers || peer == tp->self)
        return NULL;
    *local = tp->local[peer];
    return &tp->s[tp->side_of[peer]];
}

static int pair_send(fmx_transport_t *t, uint32_t peer, void *buf, size_t len)
{
    uint32_t l;
    struct side *s = route(pt(t), peer, &l);

    if (!s) {
        free(buf);
        return -EINVAL;
    }
    return s->t->ops->send(s->t, l, buf, len);
}

/* A backend without gathered sends gets the segments copied into one message. */
static int pair_sendv(fmx_transport_t *t, uint32_t peer, const fmx_seg_t *segs, size_t n,
                      fmx_send_done_f done, void *arg)
{
    uint32_t l;
    struct side *s = route(pt(t), peer, &l);
    size_t len = fmx_segs_len(segs, n);
    uint8_t *buf;

    if (s && s->t->ops->sendv)
        return s->t->ops->sendv(s->t, l, segs, n, done, arg);
    if (!s) {
        done(arg);
        return -EINVAL;
    }
    if (!(buf = malloc(len ? len : 1))) {
        done(arg);
        return -ENOMEM;
    }
    fmx_segs_copy(segs, n, 0, len, buf);
    done(arg);
    return s->t->ops->send(s->t, l, buf, len);
}

static int pair_progress(fmx_transport_t *t)
{
    struct pair_tp *tp = pt(t);
    int n = 0;

    for (int k = 0; k < 2; k++) {
        int rc;

        if (!tp->s[k].used)
            continue;
        if ((rc = tp->s[k].t->ops->progress(tp->s[k].t)) < 0)
            return rc;
        n += rc;
    }
    return n;
}

static int pair_wait_fd(fmx_transport_t *t)
{
    return pt(t)->epfd;
}

/* Keeps the epoll set on a backend's current wait fd (one may appear, change or go after
 * add_peers: libfabric shm's doorbell). */
static int sync_fd(struct pair_tp *tp, struct side *s)
{
    int fd = s->t->ops->wait_fd(s->t);

    if (fd == s->fd)
        return 0;
    if (s->fd >= 0)
        epoll_ctl(tp->epfd, EPOLL_CTL_DEL, s->fd, NULL);
    s->fd = -1;
    if (fd >= 0 &&
        epoll_ctl(tp->epfd, EPOLL_CTL_ADD, fd, &(struct epoll_event){.events = EPOLLIN}) &&
        errno != EEXIST)
        return -errno;
    s->fd = fd;
    return 0;
}

/* Both backends must agree to sleep; one with no fd of its own is looked at every nap. */
static int pair_prepare_wait(fmx_transport_t *t)
{
    struct pair_tp *tp = pt(t);
    int bound = 0;

    for (int k = 0; k < 2; k++) {
        fmx_transport_t *b = tp->s[k].t;
        int rc;

        if (!tp->s[k].used)
            continue;
        if (sync_fd(tp, &tp->s[k]) || tp->s[k].fd < 0) {
            rc = FMX_NAP_US;
        } else if ((rc = b->ops->prepare_wait(b)) < 0) {
            return rc;
        }
        if (rc > 0 && (bound == 0 || rc < bound))
            bound = rc;
    }
    return bound;
}

static int pair_connect(fmx_transport_t *t, uint32_t peer)
{
    uint32_t l;
    struct side *s = route(pt(t), peer, &l);

    if (!s)
        return -EINVAL;
    return s->t->ops->connect ? s->t->ops->connect(s->t, l) : 0;
}

static const char *pair_describe(fmx_transport_t *t)
{
    return pt(t)->describe;
}

static int pair_peer_addr(fmx_transport_t *t, uint32_t peer, char *buf, size_t len)
{
    uint32_t l;
    struct side *s = route(pt(t), peer, &l);

    if (!s)
        return -EINVAL;
    if (!s->t->ops->peer_addr)
        return snprintf(buf, len, "peer %u", peer) < 0 ? -EINVAL : 0;
    return s->t->ops->peer_addr(s->t, l, buf, len);
}

static void pair_quiet(fmx_transport_t *t)
{
    for (int k = 0; k < 2; k++)
        if (pt(t)->s[k].t->ops->quiet)
            pt(t)->s[k].t->ops->quiet(pt(t)->s[k].t);
}

static int pair_set_key(fmx_transport_t *t, const uint8_t *key, size_t len)
{
    for (int k = 0; k < 2; k++) {
        fmx_transport_t *b = pt(t)->s[k].t;
        int rc = b->ops->set_key ? b->ops->set_key(b, key, len) : -ENOTSUP;

        if (rc)
            return rc;
    }
    return 0;
}

static uint64_t pair_rejected(fmx_transport_t *t)
{
    uint64_t n = 0;

    for (int k = 0; k < 2; k++)
        if (pt(t)->s[k].t->ops->rejected)
            n += pt(t)->s[k].t->ops->rejected(pt(t)->s[k].t);
    return n;
}

static size_t pair_max_msg_size(fmx_transport_t *t)
{
    size_t m = SIZE_MAX;

    for (int k = 0; k < 2; k++) {
        fmx_transport_t *b = pt(t)->s[k].t;
        size_t v = b->ops->max_msg_size ? b->ops->max_msg_size(b) : SIZE_MAX;

        if (v < m)
            m = v;
    }
    return m;
}

static int64_t pair_host_of(fmx_transport_t *t, uint32_t peer)
{
    struct pair_tp *tp = pt(t);

    return peer < tp->npeers ? (int64_t)tp->host[peer] : -1;
}

static uint32_t pair_spin_us(fmx_transport_t *t)
{
    uint32_t m = 0;

    for (int k = 0; k < 2; k++) {
        fmx_transport_t *b = pt(t)->s[k].t;
        uint32_t v = b->ops->spin_us ? b->ops->spin_us(b) : 0;

        if (v > m)
            m = v;
    }
    return m;
}

static void pair_close(fmx_transport_t *t)
{
    struct pair_tp *tp = pt(t);

    for (int k = 0; k < 2; k++) {
        fmx_transport_close(tp->s[k].t);
        free(tp->s[k].global);
    }
    if (tp->epfd >= 0)
        close(tp->epfd);
    free(tp->side_of);
    free(tp->local);
    free(tp->host);
    free(tp);
}

static const fmx_transport_ops_t pair_ops = {.name = "pair",
                                             .get_addr = pair_get_addr,
                                             .add_peers = pair_add_peers,
                                             .send = pair_send,
                                             .sendv = pair_sendv,
                                             .progress = pair_progress,
                                             .wait_fd = pair_wait_fd,
                                             .prepare_wait = pair_prepare_wait,
                                             .connect = pair_connect,
                                             .describe = pair_describe,
                                             .peer_addr = pair_peer_addr,
                                             .quiet = pair_quiet,
                                             .set_key = pair_set_key,
                                             .rejected = pair_rejected,
                                             .max_msg_size = pair_max_msg_size,
                                             .host_of = pair_host_of,
                                             .spin_us = pair_spin_us,
                                             .close = pair_close};

int fmx_pair_create(fmx_transport_t *near, fmx_transport_t *far, fmx_transport_t **out,
                    fmx_error_t *err)
{
    struct pair_tp *tp = calloc(1, sizeof(*tp));
    static const fmx_transport_events_t ev = {
        .recv = on_recv, .recv_owned = on_recv_owned, .peer_error = on_peer_error};

    if (!tp || (tp->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        fmx_errprintf(err, "cannot pair transports: %s", strerror(errno));
        free(tp);
        fmx_transport_close(near);
        fmx_transport_close(far);
        return -ENOMEM;
    }
    tp->base.ops = &pair_ops;
    tp->s[NEAR].t = near;
    tp->s[FAR].t = far;
    fmx_host_identity(tp->id);
    for (int k = 0; k < 2; k++) {
        tp->s[k].tp = tp;
        tp->s[k].fd = -1;
        fmx_transport_set_events(tp->s[k].t, &ev, &tp->s[k]);
        if (sync_fd(tp, &tp->s[k])) {
            fmx_errprintf(err, "cannot wait on both transports: %s", strerror(errno));
            pair_close(&tp->base);
            return -EIO;
        }
    }
    snprintf(tp->describe, sizeof(tp->describe), "this host by %s; others by %s",
             near->ops->describe ? near->ops->describe(near) : near->ops->name,
             far->ops->describe ? far->ops->describe(far) : far->ops->name);
    *out = &tp->base;
    return 0;
}

/* ---- names ---- */

const char *fmx_transport_expand(const char *name)
{
    if (!strcmp(name, "ucx") && !getenv("FMX_UCX_TLS"))
        return "ucx:sm+ucx:net";
    return name;
}

const char *fmx_transport_from_env(void)
{
    const char *name = getenv("FMX_TRANSPORT");

    return fmx_transport_expand(name && *name ? name : "ofi");
}

const char *fmx_transport_component(const char *name, int i, char *buf, size_t len)
{
    const char *plus = strchr(name, '+');
    const char *start = i == 0 ? name : plus ? plus + 1 : NULL;
    size_t n;

    if (i > 1 || !start)
        return NULL;
    n = i == 0 && plus ? (size_t)(plus - name) : strlen(start);
    if (memchr(start, ':', n))
        n = (size_t)((const char *)memchr(start, ':', n) - start);
    snprintf(buf, len, "%.*s", (int)n, start);
    return buf;
}

static int open_one(const char *item, size_t n, fmx_open_backend_f open_backend,
                    fmx_transport_t **out, fmx_error_t *err)
{
    char name[64], spec[64];
    const char *colon = memchr(item, ':', n);

    if (n == 0 || n >= sizeof(name)) {
        fmx_errprintf(err, "transport name '%.*s' is empty or too long", (int)n, item);
        return -EINVAL;
    }
    if (colon) {
        snprintf(name, sizeof(name), "%.*s", (int)(colon - item), item);
        snprintf(spec, sizeof(spec), "%.*s", (int)(item + n - colon - 1), colon + 1);
    } else {
        snprintf(name, sizeof(name), "%.*s", (int)n, item);
    }
    return open_backend(name, colon ? spec : NULL, out, err);
}

int fmx_transport_open_named(const char *name, fmx_open_backend_f open_backend,
                             fmx_transport_t **out, fmx_error_t *err)
{
    const char *plus = strchr(name, '+');
    fmx_transport_t *near, *far;
    int rc;

    if (!plus)
        return open_one(name, strlen(name), open_backend, out, err);
    if (strchr(plus + 1, '+')) {
        fmx_errprintf(err, "transport '%s': at most two, NEAR+FAR", name);
        return -EINVAL;
    }
    if ((rc = open_one(name, (size_t)(plus - name), open_backend, &near, err)))
        return rc;
    if ((rc = open_one(plus + 1, strlen(plus + 1), open_backend, &far, err))) {
        fmx_transport_close(near);
        return rc;
    }
    return fmx_pair_create(near, far, out, err);
}
