/* A node's PMI-1 / PMI-2 server (pmi_server.h): requests to replies, barriers on the engine. */
#include "pmi_server.h"

#include "pmi_kvs.h"
#include "pmi_proto.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct conn {
    fmx_pmi_conn_t *p;
    uint32_t rank;
    int state; /* enum fmx_pmi_rank_state */
    int in_barrier;
    int closed; /* end of file or a protocol error: no more input */
    char *wait_key; /* a PMI-2 info-getnodeattr with wait=TRUE, until the key is put */
    uint64_t wait_until_ns; /* ... or until then (fmx_now_ns) */
};

struct fmx_pmi_server {
    fmx_pmi_job_t job; /* with its own copies of the arrays and strings */
    fmx_pmi_host_t host;
    void *arg;
    fmx_engine_t *eng;
    struct conn *conns;
    fmx_pmi_kvs_t *kvs, *nodeattr;
    uint32_t entered; /* local ranks in the current barrier */
    int fence_waits; /* every local rank entered; the engine is not there yet */
    uint32_t cur; /* the connection whose request is being handled */
    char line[512];
};

static void say(fmx_pmi_server_t *s, void (*fn)(void *, uint32_t, const char *), const char *fmt,
                ...) __attribute__((format(printf, 3, 4)));
static void say(fmx_pmi_server_t *s, void (*fn)(void *, uint32_t, const char *), const char *fmt,
                ...)
{
    va_list ap;
    /* a warning goes out as the rank's own line; a failure names the rank */
    int n = fn == s->host.warn
        ? snprintf(s->line, sizeof(s->line), "PMI: ")
        : snprintf(s->line, sizeof(s->line), "rank %u: PMI: ", s->conns[s->cur].rank);

    va_start(ap, fmt);
    vsnprintf(s->line + n, sizeof(s->line) - (size_t)n, fmt, ap);
    va_end(ap);
    for (char *c = s->line; *c; c++) /* keys and commands come from the rank: one line */
        if ((unsigned char)*c < ' ' || *c == 0x7f)
            *c = '?';
    if (fn)
        fn(s->arg, s->conns[s->cur].rank, s->line);
}

/* A reply to the current connection; one that cannot be framed fails the job. */
static void reply(fmx_pmi_server_t *s, uint32_t i, const char *cmd, const char *const *kv)
{
    int rc = fmx_pmi_reply(s->conns[i].p, cmd, kv);

    if (rc) {
        uint32_t was = s->cur;
        s->cur = i;
        say(s, s->host.fail, "cannot send reply %s: %s", cmd, fmx_strerror(rc));
        s->cur = was;
        return;
    }
    s->host.output(s->arg, i);
}

#define REPLY(s, i, cmd, ...) reply(s, i, cmd, (const char *const[]){__VA_ARGS__, NULL})

static int v2(const fmx_pmi_server_t *s)
{
    return fmx_pmi_conn_version(s->conns[s->cur].p) == 2;
}

/* An error reply: PMI-1 "NAME rc=-1 msg=WORDS_JOINED", PMI-2 "NAME;rc=-1;errmsg=words;". */
static void refuse(fmx_pmi_server_t *s, const char *cmd, const char *why)
{
    char msg[160];

    snprintf(msg, sizeof(msg), "%s", why);
    if (!v2(s))
        for (char *c = msg; *c; c++)
            if (*c == ' ')
                *c = '_';
    REPLY(s, s->cur, cmd, "rc", "-1", v2(s) ? "errmsg" : "msg", msg);
}

/* ---- barriers ---- */

static void barrier_out(fmx_pmi_server_t *s, int ok)
{
    s->entered = 0;
    for (uint32_t i = 0; i < s->job.nlocal; i++) {
        struct conn *c = &s->conns[i];

        if (!c->in_barrier)
            continue;
        c->in_barrier = 0;
        if (c->closed)
            continue;
        if (fmx_pmi_conn_version(c->p) == 2)
            REPLY(s, i, "kvs-fence-response", "rc", ok ? "0" : "-1");
        else if (ok)
            REPLY(s, i, "barrier_out", "rc", "0");
    }
}

static void fence_done(void *arg, fmx_fence_result_t *res)
{
    fmx_pmi_server_t *s = arg;
    size_t at = 0;
    int rc = res->status;

    for (uint32_t i = 0; rc == 0 && i < res->count; at += res->lens[i++])
        if (res->members[i] != s->job.self && /* our puts are here already */
            (rc = fmx_pmi_kvs_unpack(s->kvs, res->data + at, res->lens[i])) == -EBADMSG) {
            snprintf(s->line, sizeof(s->line),
                     "PMI barrier: member %u sent a malformed list "
                     "of puts",
                     res->members[i]);
            s->host.fail(s->arg, UINT32_MAX, s->line);
        }
    if (res->status && res->status != -ECANCELED) {
        snprintf(s->line, sizeof(s->line), "PMI barrier failed: %s", res->error);
        s->host.fail(s->arg, UINT32_MAX, s->line);
    }
    free(res->data);
    barrier_out(s, rc == 0);
}

static void start_fence(fmx_pmi_server_t *s)
{
    static const char key[] = FMX_PMI_KEY_PREFIX "barrier";
    fmx_fence_args_t a = {.members = s->job.members,
                          .count = s->job.nmembers,
                          .key = key,
                          .keylen = sizeof(key) - 1,
                          .collect = 1,
                          .timeout_ms = s->job.timeout_ms};
    uint8_t *blob = NULL;
    size_t len = 0;
    int rc;

    if (s->job.nmembers > 1 && !s->eng) { /* the daemons are still exchanging addresses */
        s->fence_waits = 1;
        return;
    }
    rc = fmx_pmi_kvs_pending_pack(s->kvs, &blob, &len);
    if (s->job.nmembers <= 1) { /* this node alone: its puts are all there are */
        free(blob);
        barrier_out(s, rc == 0);
        return;
    }
    a.blob = blob;
    a.len = len;
    rc = rc ? rc : fmx_fence_start(s->eng, &a, fence_done, s);
    free(blob);
    if (rc) {
        snprintf(s->line, sizeof(s->line), "PMI barrier could not start: %s", fmx_strerror(rc));
        s->host.fail(s->arg, UINT32_MAX, s->line);
        barrier_out(s, 0);
    }
}

void fmx_pmi_server_set_engine(fmx_pmi_server_t *s, fmx_engine_t *eng)
{
    s->eng = eng;
    if (eng && s->fence_waits) {
        s->fence_waits = 0;
        start_fence(s);
    }
}

static void enter_barrier(fmx_pmi_server_t *s, const char *cmd)
{
    struct conn *c = &s->conns[s->cur];

    if (c->in_barrier) {
        say(s, s->host.fail, "%s while already in a barrier", cmd);
        return;
    }
    c->in_barrier = 1;
    if (++s->entered == s->job.nlocal)
        start_fence(s);
}

/* ---- requests ---- */

/* cmd: the reply's name; the request's is m->cmd */
static int check_key(fmx_pmi_server_t *s, const fmx_pmi_msg_t *m, const char *cmd, const char *key)
{
    if (!key || !*key) {
        refuse(s, cmd, "no key");
        say(s, s->host.warn, "%s without a key", m->cmd);
        return -1;
    }
    if (strlen(key) > FMX_PMI_KEYLEN_MAX) {
        refuse(s, cmd, "key too long");
        say(s, s->host.warn, "%s of a key of %zu bytes (at most %d)", m->cmd, strlen(key),
            FMX_PMI_KEYLEN_MAX);
        return -1;
    }
    return 0;
}

static void do_put(fmx_pmi_server_t *s, const fmx_pmi_msg_t *m, const char *cmd, fmx_pmi_kvs_t *kvs,
                   int pending)
{
    const char *key = fmx_pmi_get(m, "key"), *value = fmx_pmi_get(m, "value");
    size_t max = v2(s) ? FMX_PMI2_VALLEN_MAX : FMX_PMI1_VALLEN_MAX;

    if (check_key(s, m, cmd, key))
        return;
    if (!value) {
        refuse(s, cmd, "no value");
        say(s, s->host.warn, "%s of key %s without a value", m->cmd, key);
        return;
    }
    if (strlen(value) > max) {
        refuse(s, cmd, "value too long");
        say(s, s->host.warn, "%s of key %s: a value of %zu bytes (at most %zu)", m->cmd, key,
            strlen(value), max);
        return;
    }
    if (fmx_pmi_kvs_put(kvs, key, value, pending)) {
        refuse(s, cmd, "out of memory");
        return;
    }
    REPLY(s, s->cur, cmd, "rc", "0");
}

static const char *job_attr(fmx_pmi_server_t *s, const char *key, char *num)
{
    if (!strcmp(key, "PMI_process_mapping"))
        return s->job.process_mapping;
    if (!strcmp(key, "universeSize")) {
        sprintf(num, "%u", s->job.size);
        return num;
    }
    return NULL;
}

/* How long a wait=TRUE info-getnodeattr waits for its key: the job's timeout, else the
 * engine's default (the same bound as a barrier's; 60 s before the engine is up). */
static uint64_t wait_ms(const fmx_pmi_server_t *s)
{
    if (s->job.timeout_ms)
        return s->job.timeout_ms;
    return s->eng ? fmx_engine_default_timeout_ms(s->eng) : 60000;
}

uint64_t fmx_pmi_server_deadline(const fmx_pmi_server_t *s)
{
    uint64_t due = 0;

    for (uint32_t i = 0; i < s->job.nlocal; i++)
        if (s->conns[i].wait_key && (!due || s->conns[i].wait_until_ns < due))
            due = s->conns[i].wait_until_ns;
    return due;
}

void fmx_pmi_server_expire(fmx_pmi_server_t *s, uint64_t now_ns)
{
    for (uint32_t i = 0; i < s->job.nlocal; i++) {
        struct conn *c = &s->conns[i];

        if (!c->wait_key || c->wait_until_ns > now_ns)
            continue;
        s->cur = i;
        say(s, s->host.warn,
            "info-getnodeattr of \"%s\" (wait=TRUE): no rank of this node put it "
            "within %llu ms",
            c->wait_key, (unsigned long long)wait_ms(s));
        free(c->wait_key);
        c->wait_key = NULL;
        refuse(s, "info-getnodeattr-response", "not put on this node in time");
    }
}

/* A wait=TRUE info-getnodeattr answered once its key is put. */
static void wake_nodeattr(fmx_pmi_server_t *s, const char *key, const char *value)
{
    for (uint32_t i = 0; i < s->job.nlocal; i++) {
        struct conn *c = &s->conns[i];

        if (c->wait_key && !strcmp(c->wait_key, key)) {
            free(c->wait_key);
            c->wait_key = NULL;
            REPLY(s, i, "info-getnodeattr-response", "rc", "0", "found", "TRUE", "value", value);
        }
    }
}

static void unsupported(fmx_pmi_server_t *s, const fmx_pmi_msg_t *m, const char *cmd)
{
    refuse(s, cmd, "not supported by this process manager");
    say(s, s->host.warn, "%s is not supported (yet): '%s'", m->cmd, m->text);
}

/* An error reply named after the request (PMI-1: NAME_result, PMI-2: NAME-response). */
static void unknown(fmx_pmi_server_t *s, const fmx_pmi_msg_t *m, const char *suffix)
{
    char name[80];

    snprintf(name, sizeof(name), "%.60s%s", m->cmd, suffix);
    refuse(s, name, "unknown command");
    say(s, s->host.warn, "unknown command '%s'", m->text);
}

static void on_init(fmx_pmi_server_t *s, const fmx_pmi_msg_t *m)
{
    const char *v = fmx_pmi_get(m, "pmi_version");
    struct conn *c = &s->conns[s->cur];

    if (v && !strcmp(v, "1")) {
        REPLY(s, s->cur, "response_to_init", "pmi_version", "1", "pmi_subversion", "1", "rc", "0");
    } else if (v && !strcmp(v, "2")) {
        REPLY(s, s->cur, "response_to_init", "pmi_version", "2", "pmi_subversion", "0", "rc", "0");
        fmx_pmi_conn_set_version(c->p, 2);
    } else {
        REPLY(s, s->cur, "response_to_init", "pmi_version", "1", "pmi_subversion", "1", "rc", "-1");
        say(s, s->host.warn, "init asks for PMI version %s (1 and 2 are spoken)", v ? v : "none");
        return;
    }
    c->state = FMX_PMI_INITIALIZED;
}

static void on_abort(fmx_pmi_server_t *s, const fmx_pmi_msg_t *m)
{
    const char *code = fmx_pmi_get(m, "exitcode");
    const char *msg = fmx_pmi_get(m, v2(s) ? "msg" : "message");
    long status = code ? strtol(code, NULL, 10) : 1;

    /* the client waits for no reply: the job ends around it */
    s->host.abort(s->arg, s->conns[s->cur].rank, status ? (int)(status & 0xff) : 1, msg ? msg : "");
}

static void pmi1(fmx_pmi_server_t *s, const fmx_pmi_msg_t *m)
{
    const char *cmd = m->cmd, *key = fmx_pmi_get(m, "key"), *kvs = fmx_pmi_get(m, "kvsname");
    char num[3][16];

    if (!strcmp(cmd, "init")) {
        on_init(s, m);
    } else if (!strcmp(cmd, "get_maxes")) {
        sprintf(num[0], "%d", FMX_PMI_KVSNAME_MAX);
        sprintf(num[1], "%d", FMX_PMI_KEYLEN_MAX);
        sprintf(num[2], "%d", FMX_PMI1_VALLEN_MAX);
        REPLY(s, s->cur, "maxes", "rc", "0", "kvsname_max", num[0], "keylen_max", num[1],
              "vallen_max", num[2]);
    } else if (!strcmp(cmd, "get_appnum")) {
        REPLY(s, s->cur, "appnum", "rc", "0", "appnum", "0");
    } else if (!strcmp(cmd, "get_my_kvsname")) {
        REPLY(s, s->cur, "my_kvsname", "rc", "0", "kvsname", s->job.kvsname);
    } else if (!strcmp(cmd, "get_universe_size")) {
        sprintf(num[0], "%u", s->job.size);
        REPLY(s, s->cur, "universe_size", "rc", "0", "size", num[0]);
    } else if (!strcmp(cmd, "put")) {
        if (kvs && strcmp(kvs, s->job.kvsname)) {
            refuse(s, "put_result", "unknown kvsname");
            say(s, s->host.warn, "put to kvsname %s, not this job's %s", kvs, s->job.kvsname);
            return;
        }
        do_put(s, m, "put_result", s->kvs, 1);
    } else if (!strcmp(cmd, "get")) {
        const char *v;

        if (kvs && strcmp(kvs, s->job.kvsname)) {
            refuse(s, "get_result", "unknown kvsname");
            return;
        }
        if (check_key(s, m, "get_result", key))
            return;
        if (!(v = fmx_pmi_kvs_get(s->kvs, key)) && !(v = job_attr(s, key, num[0])))
            refuse(s, "get_result", "key not found");
        else if (strlen(v) > FMX_PMI1_VALLEN_MAX || strpbrk(v, " \n"))
            refuse(s, "get_result", "value cannot be sent over PMI-1");
        else
            REPLY(s, s->cur, "get_result", "rc", "0", "value", v);
    } else if (!strcmp(cmd, "barrier_in")) {
        enter_barrier(s, cmd);
    } else if (!strcmp(cmd, "finalize")) {
        s->conns[s->cur].state = FMX_PMI_FINALIZED;
        REPLY(s, s->cur, "finalize_ack", "rc", "0");
    } else if (!strcmp(cmd, "abort")) {
        on_abort(s, m);
    } else if (!strcmp(cmd, "publish_name")) {
        unsupported(s, m, "publish_result");
    } else if (!strcmp(cmd, "unpublish_name")) {
        unsupported(s, m, "unpublish_result");
    } else if (!strcmp(cmd, "lookup_name")) {
        unsupported(s, m, "lookup_result");
    } else if (!strcmp(cmd, "spawn")) {
        unsupported(s, m, "spawn_result");
    } else {
        unknown(s, m, "_result");
    }
}

static void pmi2(fmx_pmi_server_t *s, const fmx_pmi_msg_t *m)
{
    const char *cmd = m->cmd, *key = fmx_pmi_get(m, "key");
    struct conn *c = &s->conns[s->cur];
    char num[2][16];

    if (!strcmp(cmd, "fullinit")) {
        const char *r = fmx_pmi_get(m, "pmirank");

        if (r && strtoul(r, NULL, 10) != c->rank) {
            refuse(s, "fullinit-response", "pmirank is not the rank of this connection");
            say(s, s->host.fail, "fullinit as rank %s on rank %u's connection", r, c->rank);
            return;
        }
        sprintf(num[0], "%u", c->rank);
        sprintf(num[1], "%u", s->job.size);
        REPLY(s, s->cur, "fullinit-response", "rc", "0", "pmi-version", "2", "pmi-subversion", "0",
              "rank", num[0], "size", num[1], "appnum", "0", "debugged", "FALSE", "pmiverbose",
              "FALSE");
    } else if (!strcmp(cmd, "job-getid")) {
        REPLY(s, s->cur, "job-getid-response", "rc", "0", "jobid", s->job.kvsname);
    } else if (!strcmp(cmd, "info-getjobattr")) {
        const char *v = key ? job_attr(s, key, num[0]) : NULL;

        if (check_key(s, m, "info-getjobattr-response", key))
            return;
        if (v)
            REPLY(s, s->cur, "info-getjobattr-response", "rc", "0", "found", "TRUE", "value", v);
        else
            REPLY(s, s->cur, "info-getjobattr-response", "rc", "0", "found", "FALSE");
    } else if (!strcmp(cmd, "kvs-put")) {
        do_put(s, m, "kvs-put-response", s->kvs, 1);
    } else if (!strcmp(cmd, "kvs-get")) {
        const char *v;

        if (check_key(s, m, "kvs-get-response", key))
            return;
        if ((v = fmx_pmi_kvs_get(s->kvs, key)))
            REPLY(s, s->cur, "kvs-get-response", "rc", "0", "found", "TRUE", "value", v);
        else
            REPLY(s, s->cur, "kvs-get-response", "rc", "0", "found", "FALSE");
    } else if (!strcmp(cmd, "kvs-fence")) {
        enter_barrier(s, cmd);
    } else if (!strcmp(cmd, "info-putnodeattr")) {
        do_put(s, m, "info-putnodeattr-response", s->nodeattr, 0);
        if (key && fmx_pmi_kvs_get(s->nodeattr, key))
            wake_nodeattr(s, key, fmx_pmi_kvs_get(s->nodeattr, key));
    } else if (!strcmp(cmd, "info-getnodeattr")) {
        const char *v, *wait = fmx_pmi_get(m, "wait");

        if (check_key(s, m, "info-getnodeattr-response", key))
            return;
        if ((v = fmx_pmi_kvs_get(s->nodeattr, key)))
            REPLY(s, s->cur, "info-getnodeattr-response", "rc", "0", "found", "TRUE", "value", v);
        else if (wait && !strcmp(wait, "TRUE")) {
            free(c->wait_key);
            if (!(c->wait_key = strdup(key)))
                refuse(s, "info-getnodeattr-response", "out of memory");
            c->wait_until_ns = fmx_now_ns() + wait_ms(s) * 1000000ull;
        } else
            REPLY(s, s->cur, "info-getnodeattr-response", "rc", "0", "found", "FALSE");
    } else if (!strcmp(cmd, "finalize")) {
        c->state = FMX_PMI_FINALIZED;
        REPLY(s, s->cur, "finalize-response", "rc", "0");
    } else if (!strcmp(cmd, "abort")) {
        on_abort(s, m);
    } else if (!strcmp(cmd, "name-publish") || !strcmp(cmd, "name-unpublish") ||
               !strcmp(cmd, "name-lookup") || !strcmp(cmd, "spawn") ||
               !strcmp(cmd, "job-connect") || !strcmp(cmd, "job-disconnect")) {
        char name[80];

        snprintf(name, sizeof(name), "%s-response", cmd);
        unsupported(s, m, name);
    } else {
        unknown(s, m, "-response");
    }
}

static void on_msg(void *arg, const fmx_pmi_msg_t *m)
{
    fmx_pmi_server_t *s = arg;

    if (s->conns[s->cur].closed)
        return;
    if (m->version == 2)
        pmi2(s, m);
    else
        pmi1(s, m);
}

int fmx_pmi_server_input(fmx_pmi_server_t *s, uint32_t local, const void *buf, size_t len)
{
    struct conn *c;
    fmx_error_t err = {{0}};
    int rc;

    if (local >= s->job.nlocal || s->conns[local].closed)
        return -EPROTO;
    c = &s->conns[local];
    s->cur = local;
    rc = fmx_pmi_conn_input(c->p, buf, len, on_msg, s, &err);
    if (rc == -ENOMEM)
        snprintf(err.text, sizeof(err.text), "out of memory");
    if (rc) {
        say(s, s->host.fail, "%s", err.text);
        c->closed = 1;
        return -EPROTO;
    }
    if (len == 0)
        c->closed = 1;
    return 0;
}

const char *fmx_pmi_server_output(fmx_pmi_server_t *s, uint32_t local, size_t *len)
{
    return fmx_pmi_conn_output(s->conns[local].p, len);
}

void fmx_pmi_server_consumed(fmx_pmi_server_t *s, uint32_t local, size_t n)
{
    fmx_pmi_conn_consumed(s->conns[local].p, n);
}

int fmx_pmi_server_state(const fmx_pmi_server_t *s, uint32_t local)
{
    return local < s->job.nlocal ? s->conns[local].state : FMX_PMI_UNUSED;
}

static uint32_t *dup_u32(const uint32_t *a, uint32_t n)
{
    uint32_t *d = malloc((n ? n : 1) * sizeof(*d));

    if (d && n)
        memcpy(d, a, n * sizeof(*d));
    return d;
}

int fmx_pmi_server_create(const fmx_pmi_job_t *job, const fmx_pmi_host_t *host, void *arg,
                          fmx_pmi_server_t **out)
{
    fmx_pmi_server_t *s = calloc(1, sizeof(*s));

    if (!s)
        return -ENOMEM;
    s->job = *job;
    s->host = *host;
    s->arg = arg;
    s->job.kvsname = strdup(job->kvsname);
    s->job.process_mapping = job->process_mapping ? strdup(job->process_mapping) : NULL;
    s->job.local_ranks = dup_u32(job->local_ranks, job->nlocal);
    s->job.members = dup_u32(job->members, job->nmembers);
    s->conns = calloc(job->nlocal ? job->nlocal : 1, sizeof(*s->conns));
    s->kvs = fmx_pmi_kvs_new();
    s->nodeattr = fmx_pmi_kvs_new();
    int ok = s->job.kvsname && (!job->process_mapping || s->job.process_mapping) &&
        s->job.local_ranks && s->job.members && s->conns && s->kvs && s->nodeattr &&
        strlen(job->kvsname) < FMX_PMI_KVSNAME_MAX;

    for (uint32_t i = 0; ok && i < job->nlocal; i++) {
        s->conns[i].rank = job->local_ranks[i];
        ok = (s->conns[i].p = fmx_pmi_conn_new()) != NULL;
    }
    if (!ok) {
        fmx_pmi_server_destroy(s);
        return strlen(job->kvsname) < FMX_PMI_KVSNAME_MAX ? -ENOMEM : -ENAMETOOLONG;
    }
    *out = s;
    return 0;
}

void fmx_pmi_server_destroy(fmx_pmi_server_t *s)
{
    if (!s)
        return;
    for (uint32_t i = 0; s->conns && i < s->job.nlocal; i++) {
        fmx_pmi_conn_free(s->conns[i].p);
        free(s->conns[i].wait_key);
    }
    free(s->conns);
    fmx_pmi_kvs_free(s->kvs);
    fmx_pmi_kvs_free(s->nodeattr);
    free((char *)s->job.kvsname);
    free((char *)s->job.process_mapping);
    free((uint32_t *)s->job.local_ranks);
    free((uint32_t *)s->job.members);
    free(s);
}
