/* The libfabric transport as a module loaded on demand. Merely linking libfabric costs a
 * process about 0.2 s on Debian 12 (a library it depends on calibrates a clock in its
 * constructor), which a daemon serving a job on one node never needs to pay: pmixd calls this
 * only when its job spans daemons. The module sits next to the executable (build tree) or in
 * ../lib/fmx (installed). */
#include "fmx_transport.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MODULE "fmx-ofi.so"

typedef int (*open_f)(const char *provider, fmx_transport_t **out, fmx_error_t *err);

static open_f open_fn;
static void (*warm_fn)(void);

/* libfabric settings of the daemons' own, each applied only where the user set none, read by
 * libfabric when it starts up. rxm over tcp fills the receive bounce buffers of its default
 * queue depth (1024) at fi_enable: 4 × 17 MB of page faults, 30 ms per daemon, for a few
 * messages per peer (and 17 GB for 256 members on one host, whose memory pressure then resets
 * connections); and it looks at connection requests only every 10 ms by default, which a
 * job's first fence, whose every step meets a new peer, pays once per step (4 daemons: first
 * fence 35-68 ms, 24-42 ms at 200 us; barriers 0.9 ms -> 0.6 ms). */
static const char *const own[][2] = {{"FI_OFI_RXM_MSG_RX_SIZE", "512"},
                                     {"FI_OFI_RXM_CM_PROGRESS_INTERVAL", "200"}};
#define N_OWN (sizeof(own) / sizeof(*own))
static int own_set[N_OWN];

void fmx_ofi_defaults_apply(void)
{
    for (size_t i = 0; i < N_OWN; i++)
        if (!getenv(own[i][0]))
            own_set[i] = !setenv(own[i][0], own[i][1], 0);
}

void fmx_ofi_defaults_clear(void)
{
    for (size_t i = 0; i < N_OWN; i++)
        if (own_set[i] && !unsetenv(own[i][0]))
            own_set[i] = 0;
}

int fmx_ofi_defaults_entry(const char *entry)
{
    for (size_t i = 0; i < N_OWN; i++) {
        size_t n = strlen(own[i][0]);

        if (own_set[i] && !strncmp(entry, own[i][0], n) && entry[n] == '=')
            return 1;
    }
    return 0;
}

static int load(fmx_error_t *err)
{
    char self[PATH_MAX], path[PATH_MAX + 64], tried[2 * PATH_MAX + 200] = "";
    const char *where[] = {"/", "/../lib/fmx/"};

    if (open_fn)
        return 0;
    if (fmx_self_dir(self, sizeof(self))) {
        fmx_errprintf(err, "cannot find my own executable to load " MODULE);
        return -ENOENT;
    }
    for (size_t i = 0; i < sizeof(where) / sizeof(*where); i++) {
        void *h;

        snprintf(path, sizeof(path), "%s%s" MODULE, self, where[i]);
        if (access(path, R_OK))
            continue;
        /* never closed: libfabric keeps threads and handlers for the life of the process */
        if (!(h = dlopen(path, RTLD_NOW | RTLD_LOCAL))) {
            fmx_errprintf(err, "cannot load the libfabric transport %s: %s", path, dlerror());
            return -ELIBACC;
        }
        if (!(open_fn = (open_f)dlsym(h, "fmx_ofi_open")) ||
            !(warm_fn = (void (*)(void))dlsym(h, "fmx_ofi_warm"))) {
            open_fn = NULL;
            fmx_errprintf(err, "%s lacks fmx_ofi_open or fmx_ofi_warm", path);
            return -ELIBBAD;
        }
        return 0;
    }
    for (size_t i = 0; i < sizeof(where) / sizeof(*where); i++)
        snprintf(tried + strlen(tried), sizeof(tried) - strlen(tried), "%s%s%s" MODULE,
                 i ? ", " : "", self, where[i]);
    fmx_errprintf(err, "the libfabric transport " MODULE " is not installed (looked for %s)",
                  tried);
    return -ENOENT;
}

int fmx_ofi_load_module(int warm, fmx_error_t *err)
{
    int rc = load(err);

    if (rc == 0 && warm)
        warm_fn();
    return rc;
}

int fmx_ofi_open_module(const char *provider, fmx_transport_t **out, fmx_error_t *err)
{
    int rc = load(err);

    return rc ? rc : open_fn(provider, out, err);
}
