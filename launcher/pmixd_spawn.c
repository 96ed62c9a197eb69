/* Spawn, the daemon's part: a rank's PMIx_Spawn goes to pmixrun as it came (SPAWN); pmixrun
 * names and places the namespace and sends it to every daemon (NSPACE), each of which adds it
 * to its job map, registers it with its PMIx server and starts its ranks of it, and says so
 * (NSPACE_UP); once all have, the requester's daemon hears (SPAWNED) and the client's call
 * completes. */
#include "pmixd.h"

#include <stdlib.h>
#include <string.h>

int pmixd_spawn_request(void *arg, uint64_t id, const fmx_spawn_t *s)
{
    struct daemon *d = arg;
    fmx_pack_t p;
    int rc;

    if (d->stopping)
        return -ECANCELED;
    fmx_pack_init(&p);
    fmx_pack_u32(&p, (uint32_t)id);
    fmx_pack_u32(&p, (uint32_t)(id >> 32));
    fmx_spawn_pack(s, &p);
    rc = p.err ? -ENOMEM : fmx_conn_send(d->ctl, FMX_CTL_SPAWN, &p);
    fmx_pack_free(&p);
    return rc;
}

static void answer(struct daemon *d, const char *nspace, int status, const char *error)
{
    fmx_pack_t p;

    fmx_pack_init(&p);
    fmx_pack_str(&p, nspace ? nspace : "");
    fmx_pack_u32(&p, (uint32_t)-status);
    fmx_pack_str(&p, error ? error : "");
    fmx_conn_send(d->ctl, FMX_CTL_NSPACE_UP, &p);
    fmx_pack_free(&p);
}

void pmixd_spawn_on_nspace(struct daemon *d, fmx_pack_t *body)
{
    fmx_error_t err = {{0}};
    fmx_spawn_t s;
    const void *node_of = NULL;
    uint32_t size, *copy = NULL;
    size_t len = 0;
    int rc;

    if ((rc = fmx_spawn_unpack(&s, body, &err))) {
        pmixd_give_up(d, err.text); /* pmixrun sent what it could not have: a fault */
        return;
    }
    node_of = fmx_unpack_bytes(body, &len);
    size = fmx_spawn_size(&s);
    if (body->err || body->pos != body->len || !s.nspace || !s.app_of ||
        len != (size_t)size * sizeof(uint32_t) || !(copy = malloc(len))) {
        pmixd_give_up(d, "malformed namespace from pmixrun");
        fmx_spawn_free(&s);
        return;
    }
    memcpy(copy, node_of, len); /* the message need not be aligned */
    if (!(rc = fmx_jobmap_add_nspace(&d->job.map, s.nspace, size, copy, &err)) &&
        !(rc = fmx_glue_add_nspace(d->glue, s.nspace, s.parent, s.app_of, &err)))
        rc = pmixd_ranks_start_spawned(d, &s, &err);
    fmx_debug("pmixd", "node %u: namespace %s: %s", d->job.self, s.nspace,
              rc ? err.text : "its ranks here started");
    answer(d, s.nspace, rc, rc ? (err.text[0] ? err.text : fmx_strerror(rc)) : NULL);
    free(copy);
    fmx_spawn_free(&s);
}

void pmixd_spawn_on_spawned(struct daemon *d, fmx_pack_t *body)
{
    uint64_t id = fmx_unpack_u32(body);
    uint32_t status;
    char *text;

    id |= (uint64_t)fmx_unpack_u32(body) << 32;
    status = fmx_unpack_u32(body);
    text = fmx_unpack_str(body);
    if (!body->err && d->glue)
        fmx_glue_spawned(d->glue, id, -(int)status, text);
    free(text);
}
