/* Allocation sources and the placement of a job's ranks (alloc.h). */
#include "alloc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int valid_host(const char *h)
{
    if (!*h || strlen(h) > 253)
        return 0;
    for (; *h; h++)
        if (!isalnum((unsigned char)*h) && !strchr("-._", *h))
            return 0;
    return 1;
}

/* Parses "slots=N" style values: a positive integer below 2^20. */
static int parse_count(const char *s, uint32_t *out)
{
    char *end;
    unsigned long v;

    if (!isdigit((unsigned char)*s))
        return -1;
    v = strtoul(s, &end, 10);
    if (*end || v == 0 || v > (1u << 20))
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static int parse_line(fmx_jobmap_t *map, char *line, const char *path, int lineno, fmx_error_t *err)
{
    char *save, *host = strtok_r(line, " \t\r\n", &save), *tok;
    uint32_t slots = 0, max_slots = 0;

    if (!host)
        return 0;
    if (!valid_host(host)) {
        fmx_errprintf(err, "%s:%d: \"%s\" is not a host name", path, lineno, host);
        return -EINVAL;
    }
    while ((tok = strtok_r(NULL, " \t\r\n", &save))) {
        uint32_t *dst = NULL;
        const char *val = strchr(tok, '=');

        if (!strncmp(tok, "slots=", 6) || !strncmp(tok, "slot=", 5) || !strncmp(tok, "cpu=", 4))
            dst = &slots;
        else if (!strncmp(tok, "max_slots=", 10) || !strncmp(tok, "max-slots=", 10))
            dst = &max_slots;
        if (!dst) {
            fmx_errprintf(err, "%s:%d: unknown attribute \"%s\" (expected slots=N or max_slots=N)",
                          path, lineno, tok);
            return -EINVAL;
        }
        if (parse_count(val + 1, dst)) {
            fmx_errprintf(err, "%s:%d: \"%s\" needs a positive number", path, lineno, tok);
            return -EINVAL;
        }
    }
    if (max_slots && slots > max_slots) {
        fmx_errprintf(err, "%s:%d: slots=%u exceeds max_slots=%u", path, lineno, slots, max_slots);
        return -EINVAL;
    }
    return fmx_jobmap_add_node(map, host, host, slots ? slots : 1);
}

int fmx_alloc_hostfile(fmx_jobmap_t *map, const char *path, fmx_error_t *err)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    int lineno = 0, rc = 0;

    if (!f) {
        fmx_errprintf(err, "cannot open hostfile %s: %s", path, strerror(errno));
        return -errno;
    }
    while (rc == 0 && fgets(line, sizeof(line), f)) {
        char *hash = strchr(line, '#');

        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            fmx_errprintf(err, "%s:%d: line longer than %zu characters", path, lineno,
                          sizeof(line) - 2);
            rc = -EINVAL;
            break;
        }
        if (hash)
            *hash = '\0';
        rc = parse_line(map, line, path, lineno, err);
    }
    fclose(f);
    if (rc == 0 && map->nnodes == 0) {
        fmx_errprintf(err, "%s: no hosts in the hostfile", path);
        rc = -EINVAL;
    }
    return rc;
}

int fmx_alloc_hostlist(fmx_jobmap_t *map, const char *spec, fmx_error_t *err)
{
    char *copy = strdup(spec), *save, *item;
    int rc = 0;

    if (!copy)
        return -ENOMEM;
    for (item = strtok_r(copy, ",", &save); item && !rc; item = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(item, ':');
        uint32_t slots = 1;

        if (colon) {
            *colon = '\0';
            if (parse_count(colon + 1, &slots)) {
                fmx_errprintf(err, "--host %s: \"%s\" is not a slot count", spec, colon + 1);
                rc = -EINVAL;
                break;
            }
        }
        if (!valid_host(item)) {
            fmx_errprintf(err, "--host %s: \"%s\" is not a host name", spec, item);
            rc = -EINVAL;
            break;
        }
        rc = fmx_jobmap_add_node(map, item, item, slots);
    }
    free(copy);
    if (rc == 0 && map->nnodes == 0) {
        fmx_errprintf(err, "--host \"%s\" names no host", spec);
        rc = -EINVAL;
    }
    return rc;
}

int fmx_alloc_local(fmx_jobmap_t *map, uint32_t count, uint32_t slots, fmx_error_t *err)
{
    char host[256], name[300];

    if (gethostname(host, sizeof(host)))
        snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = '\0';
    for (uint32_t i = 0; i < count; i++) {
        if (count == 1)
            snprintf(name, sizeof(name), "%s", host);
        else
            snprintf(name, sizeof(name), "%s-v%u", host, i);
        if (fmx_jobmap_add_node(map, "localhost", name, slots)) {
            fmx_errprintf(err, "out of memory");
            return -ENOMEM;
        }
    }
    return 0;
}

int fmx_alloc_split(fmx_jobmap_t *map, uint32_t count, fmx_error_t *err)
{
    fmx_jobmap_t split = {0};
    char name[300];
    int rc = 0;

    for (uint32_t i = 0; i < map->nnodes && !rc; i++) {
        const fmx_node_t *n = &map->nodes[i];
        uint32_t slots = n->slots ? (n->slots / count ? n->slots / count : 1) : 0;

        for (uint32_t k = 0; k < count && !rc; k++) {
            snprintf(name, sizeof(name), "%s-v%u", n->name, k);
            rc = fmx_jobmap_add_node(&split, n->host, name, slots);
        }
    }
    if (rc) {
        fmx_jobmap_free(&split);
        fmx_errprintf(err, "out of memory");
        return -ENOMEM;
    }
    fmx_jobmap_free(map);
    *map = split;
    return 0;
}

int fmx_place_blocks(fmx_jobmap_t *map, const char *nspace, uint32_t np, uint32_t npernode,
                     int oversubscribe, fmx_error_t *err)
{
    uint64_t capacity = 0, left;
    uint32_t *count, *node_of, rank = 0;
    int rc;

    for (uint32_t i = 0; i < map->nnodes; i++)
        capacity += npernode ? npernode : map->nodes[i].slots;
    if (np == 0)
        np = (uint32_t)(capacity < UINT32_MAX ? capacity : UINT32_MAX);
    if (np > capacity && (npernode || !oversubscribe)) {
        if (npernode)
            fmx_errprintf(err, "%u ranks do not fit %u nodes at %u per node (-N)", np, map->nnodes,
                          npernode);
        else
            fmx_errprintf(err,
                          "%u ranks but only %llu slots on %u node%s: add slots in the "
                          "hostfile (slots=N) or --host (host:N), or pass --oversubscribe",
                          np, (unsigned long long)capacity, map->nnodes,
                          map->nnodes == 1 ? "" : "s");
        return -EINVAL;
    }
    count = calloc(map->nnodes, sizeof(*count));
    node_of = malloc((np ? np : 1) * sizeof(*node_of));
    if (!count || !node_of) {
        free(count);
        free(node_of);
        fmx_errprintf(err, "out of memory");
        return -ENOMEM;
    }
    /* fill slots node by node, then spread what is left evenly */
    left = np;
    for (uint32_t i = 0; i < map->nnodes; i++) {
        uint32_t cap = npernode ? npernode : map->nodes[i].slots;
        count[i] = (uint32_t)(left < cap ? left : cap);
        left -= count[i];
    }
    for (uint32_t i = 0; left; i = (i + 1) % map->nnodes, left--)
        count[i]++;
    for (uint32_t i = 0; i < map->nnodes; i++)
        for (uint32_t k = 0; k < count[i]; k++)
            node_of[rank++] = i;
    rc = fmx_jobmap_add_nspace(map, nspace, np, node_of, err);
    free(count);
    free(node_of);
    return rc;
}

/* The length of the list's next name, less a ":slots" (Open MPI's host info carries them). */
static size_t name_len(const char *p)
{
    size_t len = strcspn(p, ",");
    const char *colon = memchr(p, ':', len);

    return colon ? (size_t)(colon - p) : len;
}

/* Whether the len bytes at p are the node's name or its host. */
static int names_node(const fmx_node_t *node, const char *p, size_t len)
{
    return (strlen(node->name) == len && !strncmp(p, node->name, len)) ||
        (strlen(node->host) == len && !strncmp(p, node->host, len));
}

/* The next name of the comma-separated list after p. */
static const char *next_name(const char *p)
{
    p += strcspn(p, ",");
    return p + (*p == ',');
}

/* Whether node i is named in the comma-separated list (by its name or its host). */
static int named(const fmx_node_t *node, const char *hosts)
{
    for (const char *p = hosts; *p; p = next_name(p))
        if (names_node(node, p, name_len(p)))
            return 1;
    return 0;
}

/* The first name in the list that matches no node, copied into out; 0 when all match. */
static int unknown_name(const fmx_jobmap_t *map, const char *hosts, char *out, size_t cap)
{
    for (const char *p = hosts; *p; p = next_name(p)) {
        size_t len = name_len(p);
        int found = 0;

        for (uint32_t i = 0; i < map->nnodes && !found; i++)
            found = names_node(&map->nodes[i], p, len);
        if (!found && len) {
            snprintf(out, cap, "%.*s", (int)len, p);
            return 1;
        }
    }
    return 0;
}

static uint32_t sum(const uint32_t *v, uint32_t n)
{
    uint32_t t = 0;

    while (n)
        t += v[--n];
    return t;
}

/* The free slots of node i: its slots less the ranks every namespace and this spawn's earlier
 * applications (extra) put there, but for those that ended (ended, or NULL). */
static uint32_t free_slots(const fmx_jobmap_t *map, uint32_t i, const uint32_t *extra,
                           const uint32_t *ended)
{
    uint64_t used = (uint64_t)extra[i] + fmx_jobmap_node_procs(map, i);

    used -= ended && ended[i] <= used ? ended[i] : 0;
    return map->nodes[i].slots > used ? map->nodes[i].slots - (uint32_t)used : 0;
}

/* One application's np ranks into node_of: on its nodes' free slots, filled node by node or
 * one node after the next (by_node), what does not fit spread in turn when oversubscribing. */
static int place_app(const fmx_jobmap_t *map, uint32_t *extra, const uint32_t *ended,
                     const fmx_spawn_app_t *a, int by_node, int oversubscribe, uint32_t *node_of,
                     fmx_error_t *err)
{
    uint32_t *room = calloc(2 * (size_t)(map->nnodes ? map->nnodes : 1), sizeof(*room));
    uint32_t *count = room + map->nnodes, nsel = 0, rank = 0;
    uint64_t total = 0;
    char bad[128];
    int rc = -EINVAL;

    if (!room) {
        fmx_errprintf(err, "out of memory");
        return -ENOMEM;
    }
    if (a->hosts && *a->hosts && unknown_name(map, a->hosts, bad, sizeof(bad))) {
        fmx_errprintf(err, "spawn: host \"%s\" is not one of the job's nodes", bad);
        goto out;
    }
    for (uint32_t i = 0; i < map->nnodes; i++) {
        if (a->hosts && *a->hosts && !named(&map->nodes[i], a->hosts))
            continue;
        room[i] = free_slots(map, i, extra, ended) + 1; /* 0 marks a node not chosen */
        total += room[i] - 1;
        nsel++;
    }
    if (!a->np || !nsel || (a->np > total && !oversubscribe)) {
        if (!a->np || !nsel)
            fmx_errprintf(err, "spawn: %s",
                          !a->np ? "no processes asked for" : "no node to run on");
        else
            fmx_errprintf(err,
                          "spawn: %u process(es) but %llu free slot(s) on the %u node%s asked for: "
                          "free some, or run the job with --oversubscribe",
                          a->np, (unsigned long long)total, nsel, nsel == 1 ? "" : "s");
        goto out;
    }
    /* how many on each node: free slots first (node by node, or a rank a node in turn), then
     * what is left a rank a node in turn; the ranks then go out in blocks, or in turn */
    for (uint32_t i = 0, left = a->np; left && total; i = (i + 1) % map->nnodes)
        for (uint32_t k = 0; room[i] > 1 && left && (k < 1 || !by_node); k++)
            room[i]--, count[i]++, left--, total--;
    for (uint32_t i = 0, left = a->np - sum(count, map->nnodes); left; i = (i + 1) % map->nnodes)
        if (room[i])
            count[i]++, left--;
    for (uint32_t i = 0; rank < a->np; i = (i + 1) % map->nnodes)
        for (uint32_t k = 0; count[i] && (k < 1 || !by_node); k++)
            node_of[rank++] = i, count[i]--;
    for (uint32_t r = 0; r < a->np; r++)
        extra[node_of[r]]++;
    rc = 0;
out:
    free(room);
    return rc;
}

int fmx_place_spawn(fmx_jobmap_t *map, fmx_spawn_t *s, const uint32_t *ended, int oversubscribe,
                    fmx_error_t *err)
{
    uint32_t size = fmx_spawn_size(s), at = 0;
    uint32_t *extra = calloc(map->nnodes ? map->nnodes : 1, sizeof(*extra));
    uint32_t *node_of = malloc((size ? size : 1) * sizeof(*node_of));
    int rc = 0;

    free(s->app_of);
    s->app_of = malloc((size ? size : 1) * sizeof(*s->app_of));
    if (!extra || !node_of || !s->app_of) {
        fmx_errprintf(err, "out of memory");
        rc = -ENOMEM;
    } else if (!size) {
        fmx_errprintf(err, "spawn: no processes asked for");
        rc = -EINVAL;
    }
    for (uint32_t k = 0; !rc && k < s->napps; k++) {
        rc =
            place_app(map, extra, ended, &s->apps[k], s->by_node, oversubscribe, node_of + at, err);
        for (uint32_t r = 0; !rc && r < s->apps[k].np; r++)
            s->app_of[at++] = k;
    }
    if (!rc)
        rc = fmx_jobmap_add_nspace(map, s->nspace, size, node_of, err);
    free(extra);
    free(node_of);
    return rc;
}
