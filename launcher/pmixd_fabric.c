/* A pmixd's fabric: the endpoint opened (fmx_fabric.h), its address sent to pmixrun (ADDR), every
 * daemon's address received (ADDRS) and the engine started, then the engine's progress in the
 * loop. Fences and direct modex requests that come before the engine wait in the glue. */
#include "pmixd.h"

#include "fmx_crypto.h"
#include "fmx_seal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADDRS_TIMEOUT_MS 60000

static void addrs_late(fmx_loop_t *l, void *arg)
{
    struct daemon *d = arg;

    (void)l;
    d->addrs_timer = 0;
    if (d->phase == PHASE_ADDRESSED)
        pmixd_give_up(d, "no addresses of the other daemons from pmixrun within 60 s");
}

/* The endpoint is open (or failed to open): its address goes to pmixrun. */
static int announce(struct daemon *d, fmx_error_t *err)
{
    uint8_t addr[4096]; /* a paired UCX endpoint on several devices takes several hundred */
    size_t alen = sizeof(addr);
    fmx_pack_t p;
    int rc;

    if ((rc = fmx_fabric_ready(d->fabric, &d->tp, err)))
        return rc;
    if ((rc = d->tp->ops->get_addr(d->tp, addr, &alen))) {
        fmx_errprintf(err, "cannot read the fabric address: %s", fmx_strerror(rc));
        return rc;
    }
    fmx_debug("pmixd", "node %u: fabric endpoint open", d->job.self);
    fmx_pack_init(&p);
    fmx_pack_u32(&p, d->job.self);
    fmx_pack_bytes(&p, addr, alen);
    rc = fmx_conn_send(d->ctl, FMX_CTL_ADDR, &p);
    fmx_pack_free(&p);
    d->phase = PHASE_ADDRESSED;
    d->addrs_timer = fmx_loop_add_timer(d->loop, ADDRS_TIMEOUT_MS, addrs_late, d);
    return rc;
}

static void on_opened(fmx_loop_t *l, int fd, unsigned events, void *arg)
{
    struct daemon *d = arg;
    fmx_error_t e = {{0}};

    (void)events;
    fmx_loop_del_fd(l, fd);
    if (announce(d, &e))
        pmixd_give_up(d, e.text[0] ? e.text : "cannot open the fabric endpoint");
}

int pmixd_fabric_start(struct daemon *d, fmx_error_t *err)
{
    const char *secret = getenv("FMX_JOB_SECRET");
    uint8_t key[FMX_SEAL_KEY];
    int rc;

    /* the fabric key: from the job's secret, which only this job's daemons and pmixrun know */
    if (!secret || (rc = fmx_seal_key_from_secret(secret, strlen(secret), key))) {
        fmx_errprintf(err, "cannot derive the fabric key from the job's secret");
        return -EINVAL;
    }
    rc = fmx_fabric_open(d->job.map.nnodes, key, &d->fabric, err);
    fmx_wipe(key, sizeof(key));
    if (rc)
        return rc;
    d->phase = PHASE_OPENING;
    return fmx_loop_add_fd(d->loop, fmx_fabric_fd(d->fabric), FMX_LOOP_IN, on_opened, d);
}

int pmixd_fabric_started(const struct daemon *d)
{
    return d->phase != PHASE_STARTING;
}

static int add_peers(struct daemon *d, fmx_pack_t *p, fmx_error_t *err)
{
    uint32_t n = d->job.map.nnodes;
    const void **addrs = calloc(n, sizeof(*addrs));
    size_t *lens = calloc(n, sizeof(*lens));
    int rc = 0;

    if (!addrs || !lens) {
        rc = -ENOMEM;
    } else {
        for (uint32_t i = 0; i < n; i++)
            addrs[i] = fmx_unpack_bytes(p, &lens[i]);
        if (p->err || p->pos != p->len) {
            fmx_errprintf(err, "malformed address list from pmixrun");
            rc = -EPROTO;
        } else if ((rc = d->tp->ops->add_peers(d->tp, n, (const void *const *)addrs, lens))) {
            fmx_errprintf(err, "cannot reach the other daemons' fabric addresses: %s",
                          fmx_strerror(rc));
        }
    }
    free(addrs);
    free(lens);
    return rc;
}

/* The engine's wait: its deadline, and no sleep while it has work or no descriptor. */
static int engine_before(fmx_loop_t *l, void *arg)
{
    struct daemon *d = arg;
    int t, w;

    (void)l;
    if (fmx_engine_spin(d->eng)) /* polling: nothing else to ask */
        return 0;
    t = fmx_engine_timeout_ms(d->eng);
    w = fmx_engine_prepare_wait(d->eng);
    /* no fd from the fabric, or work in flight it does not announce: come back soon */
    if (fmx_engine_fd(d->eng) < 0 || w > 0)
        t = t < 0 || t > 1 ? 1 : t;
    return w < 0 ? 0 : t;
}

static void engine_after(fmx_loop_t *l, void *arg)
{
    (void)l;
    fmx_engine_progress(((struct daemon *)arg)->eng);
}

static void engine_ready(fmx_loop_t *l, int fd, unsigned events, void *arg)
{
    (void)l;
    (void)fd;
    (void)events;
    (void)arg; /* engine_after progresses it */
}

/* How the engine's errors name a daemon: by its node and host, as the user wrote them. */
static const char *node_name(void *arg, uint32_t member)
{
    struct daemon *d = arg;
    const fmx_node_t *n;

    if (member >= d->job.map.nnodes)
        return NULL;
    n = &d->job.map.nodes[member];
    snprintf(d->name_buf, sizeof(d->name_buf), "node %s (host %s)", n->name, n->host);
    return d->name_buf;
}

void pmixd_fabric_on_addrs(struct daemon *d, fmx_pack_t *body)
{
    fmx_error_t e = {{0}};
    int rc;

    if (d->phase != PHASE_ADDRESSED)
        return;
    if (add_peers(d, body, &e)) {
        pmixd_give_up(d, e.text);
        return;
    }
    fmx_engine_config_t cfg = {.self = d->job.self,
                               .members = d->job.map.nnodes,
                               .transport = d->tp,
                               .default_timeout_ms = d->job.timeout_ms,
                               .member_name = node_name,
                               .name_arg = d};
    if ((rc = fmx_engine_create(&cfg, &d->eng))) {
        fmx_errprintf(&e, "cannot start the engine: %s", fmx_strerror(rc));
        pmixd_give_up(d, e.text);
        return;
    }
    fmx_loop_del_timer(d->loop, d->addrs_timer);
    /* the job may have ended while its ranks waited (stopping), or a job's ranks that did not
     * wait may all have ended: a peer's loss is then no news */
    pmixd_ranks_expect_losses(d);
    d->phase = PHASE_RUNNING;
    fmx_loop_add_fd(d->loop, fmx_engine_fd(d->eng), FMX_LOOP_IN, engine_ready, d);
    fmx_loop_add_hooks(d->loop, engine_before, engine_after, d);
    fmx_debug("pmixd", "node %u: engine up over %s", d->job.self,
              d->tp->ops->describe ? d->tp->ops->describe(d->tp) : d->tp->ops->name);
    fmx_engine_connect_ahead(d->eng); /* while the ranks start */
    pmixd_reach_start(d);
    if (d->glue)
        fmx_glue_set_engine(d->glue, d->eng);
    pmixd_pmi_set_engine(d);
    /* a job ended meanwhile has ended their wait (pmixd_ranks_kill) */
    if (d->ranks_waiting && pmixd_ranks_start(d, &e))
        pmixd_give_up(d, e.text);
}
