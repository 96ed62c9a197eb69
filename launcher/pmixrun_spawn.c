/* Spawn, the launcher's part: a daemon forwards a rank's PMIx_Spawn (SPAWN); pmixrun names the
 * namespace "<job>.<n>", places it on the job's nodes (fmx_place_spawn: PMIX_HOST, PMIX_MAPBY,
 * the slots the job leaves free, --oversubscribe as the job has it), sends it to every daemon
 * (NSPACE) and, once each has started its ranks of it (NSPACE_UP), tells the requester's
 * daemon (SPAWNED). From then on its ranks are the job's: their output comes as the others',
 * and the first one that fails ends the job. A spawn that cannot be placed fails the caller's
 * call alone; one whose ranks cannot be started ends the job, naming the node and why, as
 * mpirun does (the ranks of it that did start cannot be left alone). */
#include "pmixrun.h"

#include "alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct spawn_wait {
    struct spawn_wait *next;
    char *nspace;
    uint32_t node; /* the requester's daemon */
    uint32_t id_lo, id_hi;
    uint32_t waiting; /* daemons yet to answer */
    int status;
    char *error; /* the first failure's, naming its node */
};

static void answer(struct run *r, uint32_t node, uint32_t id_lo, uint32_t id_hi, int status,
                   const char *text)
{
    fmx_pack_t p;

    if (!r->d[node].conn)
        return;
    fmx_pack_init(&p);
    fmx_pack_u32(&p, id_lo);
    fmx_pack_u32(&p, id_hi);
    fmx_pack_u32(&p, (uint32_t)-status);
    fmx_pack_str(&p, text);
    fmx_conn_send(r->d[node].conn, FMX_CTL_SPAWNED, &p);
    fmx_pack_free(&p);
}

/* The job map grew: what points into it, and what is sized by it. */
static int map_grew(struct run *r)
{
    uint32_t size = fmx_jobmap_nprocs(&r->job.map);
    char **partial = realloc(r->partial, 2 * (size_t)size * sizeof(*partial));

    r->ns = fmx_jobspec_nspace(&r->job);
    if (!partial)
        return -ENOMEM;
    memset(partial + 2 * (size_t)r->size, 0, 2 * (size_t)(size - r->size) * sizeof(*partial));
    r->partial = partial;
    r->size = size;
    return 0;
}

void pmixrun_spawn_request(struct run *r, uint32_t node, fmx_pack_t *b)
{
    fmx_error_t err = {{0}};
    uint32_t id_lo = fmx_unpack_u32(b), id_hi = fmx_unpack_u32(b);
    struct spawn_wait *w = NULL;
    const fmx_nspace_map_t *ns;
    uint32_t *ended;
    fmx_spawn_t s;
    fmx_pack_t p;
    int rc, bad = b->err || fmx_spawn_unpack(&s, b, &err);

    if (!bad && b->pos != b->len) { /* more than a spawn */
        fmx_spawn_free(&s);
        bad = 1;
    }
    if (bad) {
        fprintf(stderr, "pmixrun: pmixd on node %s sent a %s\n", r->job.map.nodes[node].name,
                err.text[0] ? err.text : "malformed spawn request");
        pmixrun_end_job(r, 1);
        return;
    }
    if (r->ending || s.parent >= r->size) {
        answer(r, node, id_lo, id_hi, -ECANCELED,
               r->ending ? "the job is ending" : "the requester is not one of the job's");
        fmx_spawn_free(&s);
        return;
    }
    free(s.nspace);
    if (asprintf(&s.nspace, "%s.%u", r->job.nspace, ++r->nspawned) < 0)
        pmixrun_die("out of memory");
    if (!(ended = calloc(r->job.map.nnodes, sizeof(*ended))))
        pmixrun_die("out of memory");
    for (uint32_t i = 0; i < r->job.map.nnodes; i++)
        ended[i] = r->d[i].exited;
    rc = r->job.map.nnspaces >= FMX_SPAWN_MAX_NSPACES
        ? -ENOSPC
        : fmx_place_spawn(&r->job.map, &s, ended, r->o.oversubscribe, &err);
    free(ended);
    if (rc == -ENOSPC)
        fmx_errprintf(&err, "spawn: the job holds %u namespaces, the most it may",
                      FMX_SPAWN_MAX_NSPACES);
    if (rc) {
        fprintf(stderr, "pmixrun: %s\n", err.text); /* the caller's call fails; the job goes on */
        r->ns = fmx_jobspec_nspace(&r->job);
        answer(r, node, id_lo, id_hi, -EINVAL, err.text);
        fmx_spawn_free(&s);
        return;
    }
    if (map_grew(r) || !(w = calloc(1, sizeof(*w))) || !(w->nspace = strdup(s.nspace)))
        pmixrun_die("out of memory");
    ns = fmx_jobmap_nspace(&r->job.map, s.nspace);
    *w = (struct spawn_wait){r->spawns, w->nspace, node, id_lo, id_hi, 0, 0, NULL};
    r->spawns = w;
    fmx_pack_init(&p);
    fmx_spawn_pack(&s, &p);
    fmx_pack_bytes(&p, ns->node_of, (size_t)ns->size * sizeof(*ns->node_of));
    for (uint32_t i = 0; i < r->job.map.nnodes; i++)
        if (r->d[i].conn && !fmx_conn_send(r->d[i].conn, FMX_CTL_NSPACE, &p))
            w->waiting++;
    fmx_pack_free(&p);
    fmx_debug("pmixrun", "spawn: %s, %u process(es) of %u application(s)", s.nspace, ns->size,
              s.napps);
    fmx_spawn_free(&s);
    if (!w->waiting) /* no daemon left to start it: the job is ending anyway */
        pmixrun_end_job(r, 1);
}

void pmixrun_spawn_up(struct run *r, uint32_t node, fmx_pack_t *b)
{
    char *nspace = fmx_unpack_str(b), *error;
    uint32_t status = fmx_unpack_u32(b);
    struct spawn_wait **at = &r->spawns, *w;

    error = fmx_unpack_str(b);
    while (nspace && *at && strcmp((*at)->nspace, nspace))
        at = &(*at)->next;
    if (b->err || !(w = *at) || !w->waiting) {
        fprintf(stderr, "pmixrun: pmixd on node %s answered a namespace it was not sent\n",
                r->job.map.nodes[node].name);
        pmixrun_end_job(r, 1);
    } else {
        if (status && !w->status) { /* some of its ranks may run: they cannot be left alone */
            w->status = -(int)status;
            if (asprintf(&w->error, "spawn of %s: node %s: %s", nspace, r->job.map.nodes[node].name,
                         error && *error ? error : "failed") < 0)
                w->error = NULL;
            /* as mpirun: the job ends, said before the failed ranks' ends come in */
            fprintf(stderr, "pmixrun: %s; ending the job\n", w->error ? w->error : "spawn");
            pmixrun_end_job(r, 1);
        }
        if (!--w->waiting) {
            *at = w->next;
            answer(r, w->node, w->id_lo, w->id_hi, w->status,
                   w->status ? (w->error ? w->error : "failed") : w->nspace);
            free(w->nspace);
            free(w->error);
            free(w);
        }
    }
    free(nspace);
    free(error);
}

void pmixrun_spawn_free(struct run *r)
{
    struct spawn_wait *w;

    while ((w = r->spawns)) {
        r->spawns = w->next;
        free(w->nspace);
        free(w->error);
        free(w);
    }
}

const char *pmixrun_proc_name(struct run *r, uint32_t index, char *buf, size_t len)
{
    uint32_t rank = 0;
    const fmx_nspace_map_t *ns = fmx_jobmap_proc(&r->job.map, index, &rank);

    if (!ns || ns == r->ns)
        snprintf(buf, len, "rank %u", index);
    else
        snprintf(buf, len, "rank %u of %s", rank, ns->name);
    return buf;
}
