/* A quick start for libfabric in the process that loads the ofi backend (fmx_standin.h).
 *
 * Debian's libfabric is linked against libpsm2.so.2 and libpsm_infinipath.so.1, whose load-time
 * constructors calibrate a clock by sleeping for about 100 ms each, on every machine, hardware or
 * not; and its verbs provider reads all of /proc/kallsyms twice (tens of ms) at the first
 * fi_getinfo, whatever FI_PROVIDER says, to learn about peer memory of devices. On a machine with
 * no PSM / Omni-Path device, neither library can do anything, so stand-ins with the same SONAME
 * that report "no device" (transports/standin/gen.py) are loaded first and libfabric binds to
 * them; on a machine with no RDMA device at all, opening /proc/kallsyms fails in this process
 * (the provider then assumes no peer memory, which it could not use anyway). Nothing of this
 * reaches the ranks: they are exec'd, with the environment they would have had.
 * FMX_OFI_QUICK_START=0 turns both off. */
#include "fmx_standin.h"

#include "fmx_common.h"

#include <dlfcn.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* the SONAMEs libfabric may need that have a stand-in */
static const char *const standins[] = {"libpsm2.so.2", "libpsm_infinipath.so.1"};
#define N_STANDINS (sizeof(standins) / sizeof(*standins))

static void *loaded[N_STANDINS];
static int hide_kallsyms;

static int any(const char *pattern)
{
    glob_t g;
    int found = glob(pattern, GLOB_NOSORT, NULL, &g) == 0 && g.gl_pathc > 0;

    if (found)
        globfree(&g);
    return found;
}

/* Device files and sysfs entries of PSM (TrueScale: qib, /dev/ipath) and PSM2 (Omni-Path:
 * hfi1), as the libraries and libfabric's providers look for them. */
static int psm_hardware(void)
{
    return any("/dev/hfi1*") || any("/dev/ipath*") || any("/sys/class/infiniband/hfi1*") ||
        any("/sys/class/infiniband/qib*");
}

static int enabled(void)
{
    const char *s = getenv("FMX_OFI_QUICK_START");

    return !s || strcmp(s, "0") != 0;
}

int fmx_standin_prepare(const char *dir)
{
    char path[PATH_MAX];
    int n = 0;

    if (!enabled())
        return 0;
    hide_kallsyms = !any("/sys/class/infiniband/*");
    if (psm_hardware())
        return 0;
    for (size_t i = 0; i < N_STANDINS; i++) {
        if (loaded[i])
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, standins[i]);
        /* a build for a libfabric that needs no such library has none: nothing to do */
        if (access(path, R_OK))
            continue;
        if ((loaded[i] = dlopen(path, RTLD_NOW | RTLD_LOCAL)))
            n++;
        else
            fmx_log(FMX_LOG_WARN, "ofi", "stand-in %s did not load: %s", path, dlerror());
    }
    if (n)
        fmx_debug("ofi", "%d PSM stand-in libraries loaded from %s (no PSM device here)", n, dir);
    return n;
}

void fmx_standin_release(void)
{
    for (size_t i = 0; i < N_STANDINS; i++) {
        if (loaded[i])
            dlclose(loaded[i]);
        loaded[i] = NULL;
    }
}

int fmx_standin_loaded(void)
{
    int n = 0;

    for (size_t i = 0; i < N_STANDINS; i++)
        n += loaded[i] != NULL;
    return n;
}

/* Exported from the executable (see CMakeLists.txt), so that libfabric's fopen comes here. */
FILE *fopen(const char *path, const char *mode)
{
    static FILE *(*next)(const char *, const char *);

    if (hide_kallsyms && strcmp(path, "/proc/kallsyms") == 0) {
        errno = EACCES;
        return NULL;
    }
    if (!next)
        next = (FILE * (*)(const char *, const char *)) dlsym(RTLD_NEXT, "fopen");
    return next ? next(path, mode) : NULL;
}
