/* Packing a spawn (fmx_spawn.h): the applications, then what the launcher decided. */
#include "fmx_spawn.h"

#include <stdlib.h>
#include <string.h>

#define MAX_APPS 1024u
#define MAX_STRINGS (1u << 16)
#define MAX_PROCS (1u << 24)

uint32_t fmx_spawn_size(const fmx_spawn_t *s)
{
    uint64_t n = 0;

    for (uint32_t i = 0; i < s->napps; i++)
        n += s->apps[i].np;
    return n <= MAX_PROCS ? (uint32_t)n : 0;
}

static void pack_strings(fmx_pack_t *p, char *const *v)
{
    uint32_t n = 0;

    while (v && v[n])
        n++;
    fmx_pack_u32(p, n);
    for (uint32_t i = 0; i < n; i++)
        fmx_pack_str(p, v[i]);
}

static void free_strings(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

/* A count, then that many strings (pack_strings). */
static char **unpack_strings(fmx_pack_t *p)
{
    uint32_t n = fmx_unpack_u32(p);

    return p->err || n > MAX_STRINGS ? NULL : fmx_unpack_strings(p, n);
}

/* "" crosses for NULL */
static char *unpack_opt(fmx_pack_t *p)
{
    char *s = fmx_unpack_str(p);

    if (s && !*s) {
        free(s);
        return NULL;
    }
    return s;
}

void fmx_spawn_pack(const fmx_spawn_t *s, fmx_pack_t *p)
{
    uint32_t size = fmx_spawn_size(s);

    fmx_pack_u32(p, s->napps);
    for (uint32_t i = 0; i < s->napps; i++) {
        const fmx_spawn_app_t *a = &s->apps[i];

        pack_strings(p, a->argv);
        pack_strings(p, a->env);
        fmx_pack_str(p, a->wdir ? a->wdir : "");
        fmx_pack_str(p, a->hosts ? a->hosts : "");
        fmx_pack_u32(p, a->np);
    }
    fmx_pack_u32(p, (uint32_t)s->by_node);
    fmx_pack_u32(p, s->parent);
    fmx_pack_str(p, s->nspace ? s->nspace : "");
    fmx_pack_bytes(p, s->app_of, s->app_of ? (size_t)size * sizeof(*s->app_of) : 0);
}

int fmx_spawn_unpack(fmx_spawn_t *s, fmx_pack_t *p, fmx_error_t *err)
{
    const char *what = "its applications";
    const void *app_of;
    uint32_t size;
    size_t len = 0;

    memset(s, 0, sizeof(*s));
    s->napps = fmx_unpack_u32(p);
    if (p->err || !s->napps || s->napps > MAX_APPS ||
        !(s->apps = calloc(s->napps, sizeof(*s->apps))))
        goto bad;
    for (uint32_t i = 0; i < s->napps; i++) {
        fmx_spawn_app_t *a = &s->apps[i];

        a->argv = unpack_strings(p);
        a->env = unpack_strings(p);
        a->wdir = unpack_opt(p);
        a->hosts = unpack_opt(p);
        a->np = fmx_unpack_u32(p);
        if (p->err || !a->argv || !a->argv[0] || !*a->argv[0] || !a->env || !a->np) {
            what = "an application (no program, or no processes)";
            goto bad;
        }
    }
    if (!(size = fmx_spawn_size(s))) {
        what = "its size";
        goto bad;
    }
    s->by_node = fmx_unpack_u32(p) != 0;
    s->parent = fmx_unpack_u32(p);
    s->nspace = unpack_opt(p);
    app_of = fmx_unpack_bytes(p, &len);
    what = "its placement";
    if (p->err || (len && len != (size_t)size * sizeof(uint32_t)))
        goto bad;
    if (len) {
        if (!(s->app_of = malloc(len)))
            goto bad;
        memcpy(s->app_of, app_of, len);
        for (uint32_t r = 0; r < size; r++)
            if (s->app_of[r] >= s->napps)
                goto bad;
    }
    return 0;
bad:
    fmx_errprintf(err, "malformed spawn request: %s", what);
    fmx_spawn_free(s);
    return -EPROTO;
}

void fmx_spawn_free(fmx_spawn_t *s)
{
    for (uint32_t i = 0; s->apps && i < s->napps; i++) {
        free_strings(s->apps[i].argv);
        free_strings(s->apps[i].env);
        free(s->apps[i].wdir);
        free(s->apps[i].hosts);
    }
    free(s->apps);
    free(s->nspace);
    free(s->app_of);
    memset(s, 0, sizeof(*s));
}
