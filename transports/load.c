/* Backend modules loaded by name (fmx_backend.h), and the settings the daemons give a backend's
 * library where the user set none. */
#include "fmx_backend.h"
#include "fmx_pair.h"
#include "fmx_standin.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int (*open_f)(const char *spec, fmx_transport_t **out, fmx_error_t *err);

#define MAX_MODULES 4

static struct module {
    char name[16];
    open_f open;
    void (*warm)(void);
} modules[MAX_MODULES];
static int nmodules;

/* libfabric (backend "ofi"), read when it starts up. rxm over tcp fills the receive bounce
 * buffers of its default queue depth (1024) at fi_enable: 4 × 17 MB of page faults, 30 ms per
 * daemon, for a few messages per peer (and 17 GB for 256 members on one host, whose memory
 * pressure then resets connections); and it looks at connection requests only every 10 ms by
 * default, which a job's first fence, whose every step meets a new peer, pays once per step
 * (4 daemons: first fence 35-68 ms, 24-42 ms at 200 us; barriers 0.9 ms -> 0.6 ms). Its
 * own buffer pools, 1024 buffers each way of its eager size (16 KiB), are written whole at
 * fi_enable: 4096 B buffers take opening an endpoint from 60 to 18 ms; the transport's eager
 * messages are 4 KiB anyway, and larger ones go by rendezvous. */
static const struct {
    const char *backend, *var, *value;
} own[] = {{"ofi", "FI_OFI_RXM_MSG_RX_SIZE", "512"},
           {"ofi", "FI_OFI_RXM_CM_PROGRESS_INTERVAL", "200"},
           {"ofi", "FI_OFI_RXM_BUFFER_SIZE", "4096"},
           /* UCX: error handling mode PEER (a dead daemon must be noticed) drops shared memory
            * unless these keep it (settings of UCX's transports, read from the environment
            * only); not given where the daemons' UCX has no shared memory (UCX would warn
            * that they are unused) */
           {"ucx", "UCX_POSIX_ERROR_HANDLING", "y"},
           {"ucx", "UCX_SYSV_ERROR_HANDLING", "y"}};
#define N_OWN (sizeof(own) / sizeof(*own))
static int own_set[N_OWN];

/* Whether the daemons' UCX may use shared memory: their transport list names it or is open. */
static int ucx_shared_memory(const char *name)
{
    const char *tls = getenv("FMX_UCX_TLS") ? getenv("FMX_UCX_TLS") : getenv("UCX_TLS");

    if (strstr(name, "ucx:sm"))
        return 1;
    return !tls || tls[0] == '^' || strstr(tls, "all") || strstr(tls, "sm") ||
        strstr(tls, "posix") || strstr(tls, "sysv");
}

void fmx_backend_defaults_apply(const char *name)
{
    char b[2][64];
    const char *c0 = fmx_transport_component(name, 0, b[0], sizeof(b[0]));
    const char *c1 = fmx_transport_component(name, 1, b[1], sizeof(b[1]));

    for (size_t i = 0; i < N_OWN; i++)
        if (((c0 && !strcmp(own[i].backend, c0)) || (c1 && !strcmp(own[i].backend, c1))) &&
            !getenv(own[i].var) && (strcmp(own[i].backend, "ucx") || ucx_shared_memory(name)))
            own_set[i] = !setenv(own[i].var, own[i].value, 0);
}

void fmx_backend_defaults_clear(void)
{
    for (size_t i = 0; i < N_OWN; i++)
        if (own_set[i] && !unsetenv(own[i].var))
            own_set[i] = 0;
}

int fmx_backend_defaults_entry(const char *entry)
{
    for (size_t i = 0; i < N_OWN; i++) {
        size_t n = strlen(own[i].var);

        if (own_set[i] && !strncmp(entry, own[i].var, n) && entry[n] == '=')
            return 1;
    }
    return 0;
}

/* libfabric starts quicker with the stand-ins of fmx_standin.h, kept in standin/ beside the
 * module; should the module not load against them, it is loaded again without. */
static void *open_module(const char *name, const char *path, const char *self, const char *where)
{
    char dir[PATH_MAX + 64];
    void *h;

    if (strcmp(name, "ofi"))
        return dlopen(path, RTLD_NOW | RTLD_LOCAL);
    snprintf(dir, sizeof(dir), "%s%sstandin", self, where);
    if (!fmx_standin_prepare(dir))
        return dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if ((h = dlopen(path, RTLD_NOW | RTLD_LOCAL)))
        return h;
    fmx_log(FMX_LOG_WARN, "ofi", "%s did not load with PSM stand-ins (%s); loading it without",
            path, dlerror());
    fmx_standin_release();
    return dlopen(path, RTLD_NOW | RTLD_LOCAL);
}

static struct module *load(const char *name, fmx_error_t *err)
{
    char self[PATH_MAX], file[64], path[PATH_MAX + 96], tried[2 * PATH_MAX + 256] = "";
    const char *where[] = {"/", "/../lib/fmx/"};
    struct module *m;

    for (int i = 0; i < nmodules; i++)
        if (!strcmp(modules[i].name, name))
            return &modules[i];
    if (strlen(name) >= sizeof(m->name) || strchr(name, '/') || nmodules == MAX_MODULES) {
        fmx_errprintf(err, "no transport backend named '%s'", name);
        return NULL;
    }
    if (fmx_self_dir(self, sizeof(self))) {
        fmx_errprintf(err, "cannot find my own executable to load the %s transport", name);
        return NULL;
    }
    snprintf(file, sizeof(file), "fmx-%s.so", name);
    for (size_t i = 0; i < sizeof(where) / sizeof(*where); i++) {
        char sym[48];
        void *h;

        snprintf(path, sizeof(path), "%s%s%s", self, where[i], file);
        if (access(path, R_OK))
            continue;
        /* never closed: libfabric keeps threads and handlers for the life of the process */
        if (!(h = open_module(name, path, self, where[i]))) {
            fmx_errprintf(err, "cannot load the %s transport %s: %s", name, path, dlerror());
            return NULL;
        }
        m = &modules[nmodules];
        snprintf(sym, sizeof(sym), "fmx_%s_open", name);
        m->open = (open_f)dlsym(h, sym);
        snprintf(sym, sizeof(sym), "fmx_%s_warm", name);
        m->warm = (void (*)(void))dlsym(h, sym);
        if (!m->open || !m->warm) {
            fmx_errprintf(err, "%s lacks fmx_%s_open or fmx_%s_warm", path, name, name);
            return NULL;
        }
        snprintf(m->name, sizeof(m->name), "%s", name);
        nmodules++;
        return m;
    }
    for (size_t i = 0; i < sizeof(where) / sizeof(*where); i++)
        snprintf(tried + strlen(tried), sizeof(tried) - strlen(tried), "%s%s%s%s", i ? ", " : "",
                 self, where[i], file);
    fmx_errprintf(err, "the %s transport %s is not installed (looked for %s)", name, file, tried);
    return NULL;
}

int fmx_backend_load(const char *name, int warm, fmx_error_t *err)
{
    char b[64];

    for (int i = 0; fmx_transport_component(name, i, b, sizeof(b)); i++) {
        struct module *m = load(b, err);

        if (!m)
            return -ENOENT;
        if (warm)
            m->warm();
    }
    return 0;
}

int fmx_backend_open(const char *name, const char *spec, fmx_transport_t **out, fmx_error_t *err)
{
    struct module *m = load(name, err);

    return m ? m->open(spec, out, err) : -ENOENT;
}
