/* PMIx_Spawn (and so MPI_Comm_spawn, MPI_Comm_spawn_multiple): the client's applications are
 * copied into a plain request (fmx_spawn.h) on libpmix's thread; on the loop the host sends it
 * to the launcher, which names and places the new namespace, has every daemon register it
 * (fmx_glue_add_nspace) and start its ranks there, and then answers this daemon
 * (fmx_glue_spawned), which completes the client's call with the namespace.
 *
 * Honoured: each application's command, argv, environment, working directory (its cwd or
 * PMIX_WDIR), PMIX_HOST and PMIX_HOSTFILE (the nodes its ranks may go to, by name or host),
 * and the job's PMIX_MAPBY (node: a rank a node in turn; slot, core, hwthread, socket, package,
 * numa: slots filled node by node). Refused NOT-SUPPORTED rather than ignored: PMIX_ADD_HOST,
 * PMIX_ADD_HOSTFILE (the job's nodes are fixed) and other mapping policies. */
#include "glue_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct spawn_req {
    struct req base;
    struct spawn_req *next; /* waiting for the launcher (g->spawns) */
    uint64_t id;
    pmix_proc_t who; /* the caller, named in the lines that say why a spawn is refused */
    fmx_spawn_t s;
    char **hostfiles; /* per application: PMIX_HOSTFILE, read on the loop */
    pmix_status_t refuse; /* an attribute that cannot be honoured */
    pmix_spawn_cbfunc_t cb;
    void *cbdata;
};

static void spawn_finish(struct spawn_req *q, pmix_status_t st, const char *nspace)
{
    if (q->cb)
        q->cb(st, (char *)(nspace ? nspace : ""), q->cbdata);
    for (uint32_t i = 0; q->hostfiles && i < q->s.napps; i++)
        free(q->hostfiles[i]);
    free(q->hostfiles);
    fmx_spawn_free(&q->s);
    free(q);
}

/* The first word of every line of an Open MPI style hostfile, comma-separated (malloc'd). */
static char *hostfile_names(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[1024], *out = calloc(1, 1);
    size_t len = 0;

    if (!f || !out) {
        if (f)
            fclose(f);
        free(out);
        return NULL;
    }
    while (fgets(line, sizeof(line), f)) {
        char *w = line + strspn(line, " \t");
        size_t n = strcspn(w, " \t\r\n#");
        char *grown;

        if (!n)
            continue;
        if (!(grown = realloc(out, len + n + 2))) {
            free(out);
            out = NULL;
            break;
        }
        out = grown;
        if (len)
            out[len++] = ',';
        memcpy(out + len, w, n);
        out[len += n] = '\0';
    }
    fclose(f);
    return out;
}

static void run_spawn(fmx_glue_t *g, struct req *r)
{
    struct spawn_req *q = (struct spawn_req *)r;
    int rc;

    if (q->refuse) {
        spawn_finish(q, q->refuse, NULL);
        return;
    }
    if (!g->host.spawn) {
        spawn_finish(q, PMIX_ERR_NOT_SUPPORTED, NULL);
        return;
    }
    for (uint32_t i = 0; q->hostfiles && i < q->s.napps; i++) {
        if (!q->hostfiles[i])
            continue;
        if (!(q->s.apps[i].hosts = hostfile_names(q->hostfiles[i]))) {
            fmx_log(FMX_LOG_ERROR, "glue", "%s:%u: PMIx_Spawn: cannot read PMIX_HOSTFILE %s: %s",
                    q->who.nspace, q->who.rank, q->hostfiles[i], strerror(errno));
            spawn_finish(q, PMIX_ERR_BAD_PARAM, NULL);
            return;
        }
    }
    q->id = ++g->req_seq;
    if ((rc = g->host.spawn(g->host_arg, q->id, &q->s))) {
        spawn_finish(q, fmx_glue_status(rc), NULL);
        return;
    }
    q->next = g->spawns;
    g->spawns = q;
}

void fmx_glue_spawned(fmx_glue_t *g, uint64_t id, int status, const char *text)
{
    struct spawn_req **at = &g->spawns, *q;

    while (*at && (*at)->id != id)
        at = &(*at)->next;
    if (!(q = *at))
        return;
    *at = q->next;
    if (status) /* pmixrun said why on the terminal */
        fmx_debug("glue", "spawn %llu failed: %s", (unsigned long long)id, text);
    spawn_finish(q, status ? PMIX_ERR_JOB_FAILED_TO_LAUNCH : PMIX_SUCCESS, status ? NULL : text);
}

static void cancel_spawn(fmx_glue_t *g, struct req *r)
{
    struct spawn_req *q = (struct spawn_req *)r;

    if (!fmx_glue_pmix_alive(g))
        q->cb = NULL;
    spawn_finish(q, PMIX_ERR_UNREACH, NULL);
}

void fmx_glue_spawn_stop(fmx_glue_t *g)
{
    struct spawn_req *q;

    while ((q = g->spawns)) {
        g->spawns = q->next;
        spawn_finish(q, PMIX_ERR_UNREACH, NULL);
    }
}

static const struct req_ops spawn_ops = {
    .needs_engine = 0, .run = run_spawn, .cancel = cancel_spawn};

static char **copy_strings(char *const *v, const char *first)
{
    size_t n = 0, k = 0;
    char **out;

    while (v && v[n])
        n++;
    if (!(out = calloc(n + 2, sizeof(*out))))
        return NULL;
    if (first && !(out[k++] = strdup(first)))
        goto fail;
    for (size_t i = first ? 1 : 0; i < n; i++) /* first replaces argv[0] */
        if (!(out[k++] = strdup(v[i])))
            goto fail;
    return out;
fail:
    while (k)
        free(out[--k]);
    free(out);
    return NULL;
}

static const char *info_string(const pmix_info_t *i)
{
    return i->value.type == PMIX_STRING ? i->value.data.string : NULL;
}

/* A job attribute: PMIX_MAPBY, what cannot be honoured refused. */
static void job_attr(struct spawn_req *q, const pmix_info_t *i)
{
    static const char *const fill[] = {"slot", "core",    "hwthread", "socket",  "package",
                                       "numa", "l3cache", "l2cache",  "l1cache", "board"};
    const char *v = info_string(i);

    if (!PMIX_CHECK_KEY(i, PMIX_MAPBY) || !v)
        return;
    if (!strncasecmp(v, "node", 4)) {
        q->s.by_node = 1;
        return;
    }
    for (size_t k = 0; k < sizeof(fill) / sizeof(*fill); k++)
        if (!strncasecmp(v, fill[k], strlen(fill[k])))
            return;
    fmx_log(FMX_LOG_ERROR, "glue",
            "%s:%u: PMIx_Spawn: PMIX_MAPBY %s is not supported (node or slot)", q->who.nspace,
            q->who.rank, v);
    q->refuse = PMIX_ERR_NOT_SUPPORTED;
}

static int copy_app(struct spawn_req *q, uint32_t k, const pmix_app_t *a)
{
    fmx_spawn_app_t *o = &q->s.apps[k];
    const char *cmd = a->cmd && *a->cmd ? a->cmd : a->argv ? a->argv[0] : NULL;

    if (!cmd || !*cmd || a->maxprocs <= 0) {
        q->refuse = PMIX_ERR_BAD_PARAM;
        return 0;
    }
    o->np = (uint32_t)a->maxprocs;
    if (!(o->argv = copy_strings(a->argv, cmd)) || !(o->env = copy_strings(a->env, NULL)) ||
        (a->cwd && *a->cwd && !(o->wdir = strdup(a->cwd))))
        return -ENOMEM;
    for (size_t i = 0; i < a->ninfo; i++) {
        const pmix_info_t *in = &a->info[i];
        const char *v = info_string(in);

        if (PMIX_CHECK_KEY(in, PMIX_HOST) && v) {
            free(o->hosts);
            if (!(o->hosts = strdup(v)))
                return -ENOMEM;
        } else if (PMIX_CHECK_KEY(in, PMIX_HOSTFILE) && v) {
            free(q->hostfiles[k]);
            if (!(q->hostfiles[k] = strdup(v)))
                return -ENOMEM;
        } else if (PMIX_CHECK_KEY(in, PMIX_WDIR) && v) {
            free(o->wdir);
            if (!(o->wdir = strdup(v)))
                return -ENOMEM;
        } else if (PMIX_CHECK_KEY(in, PMIX_ADD_HOST) || PMIX_CHECK_KEY(in, PMIX_ADD_HOSTFILE)) {
            fmx_log(FMX_LOG_ERROR, "glue", "%s:%u: PMIx_Spawn: %s: the job's nodes cannot grow",
                    q->who.nspace, q->who.rank, in->key);
            q->refuse = PMIX_ERR_NOT_SUPPORTED;
        } else {
            job_attr(q, in); /* some clients pass the job's attributes with an application */
        }
    }
    return 0;
}

pmix_status_t fmx_glue_up_spawn(const pmix_proc_t *proc, const pmix_info_t job_info[], size_t ninfo,
                                const pmix_app_t apps[], size_t napps, pmix_spawn_cbfunc_t cbfunc,
                                void *cbdata)
{
    fmx_glue_t *g = fmx_glue_current;
    const struct glue_nspace *e = fmx_glue_proc_nspace(g, proc);
    struct spawn_req *q;

    if (!e)
        return PMIX_ERR_NOT_SUPPORTED; /* a tool, or a process of no namespace of the job */
    if (!napps || napps > 1024)
        return PMIX_ERR_BAD_PARAM;
    if (!(q = calloc(1, sizeof(*q))) || !(q->s.apps = calloc(napps, sizeof(*q->s.apps))) ||
        !(q->hostfiles = calloc(napps, sizeof(*q->hostfiles)))) {
        if (q)
            free(q->s.apps);
        free(q);
        return PMIX_ERR_NOMEM;
    }
    q->base.ops = &spawn_ops;
    q->who = *proc;
    q->s.napps = (uint32_t)napps;
    q->s.parent = e->base + proc->rank;
    for (size_t i = 0; i < ninfo; i++)
        job_attr(q, &job_info[i]);
    for (size_t k = 0; k < napps; k++)
        if (copy_app(q, (uint32_t)k, &apps[k])) {
            spawn_finish(q, PMIX_ERR_NOMEM, NULL);
            return PMIX_ERR_NOMEM;
        }
    q->cb = cbfunc;
    q->cbdata = cbdata;
    fmx_glue_post(g, &q->base);
    return PMIX_SUCCESS;
}
