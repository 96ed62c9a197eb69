/* The store ranks read the job's data from (libpmix's GDS), chosen by FMX_GDS (FMX_PMIX_GDS,
 * its older name): "fmx" by default, the project's own component (pmix_glue/gds/), which the
 * server and the ranks load from gds/ beside pmixd, or ../lib/fmx/gds/ when installed (not
 * there: "hash", and a debug line says so); "hash"; "ds21" or "ds12" (libpmix's shared-memory
 * stores). Ranks are told "fmx,hash": one whose libpmix cannot load the component reads
 * through hash, asking the server.
 *
 * libpmix 4.2.2 writes a peer's direct-modex answer into its shared-memory stores (ds21, ds12)
 * key by key, and asks its host for the same peer twice now and then; a rank that reads that
 * peer during the second write can find one key and not the next (OpenPMIx's own dmodex
 * example, 40 ranks on 2 daemons, sanitizer build: 8 of 40 runs had ranks failing a Get with
 * NOT-FOUND; with hash, 0 of 40). With hash every Get the rank cannot answer from its own
 * cache goes to the server. */
#include "glue_internal.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define COMPONENT_PATH_VAR "PMIX_MCA_mca_base_component_path"

static const char *chosen = "hash";

const char *fmx_glue_gds(void)
{
    return chosen;
}

/* The directory holding pmix_mca_gds_fmx.so, into dir, and the file, into file (PATH_MAX + 64
 * bytes); 0 or -ENOENT (tried says where). */
static int find_component(char *dir, size_t len, char *file, char *tried, size_t tlen)
{
    static const char *const where[] = {"/gds", "/../lib/fmx/gds"};
    char self[PATH_MAX];

    if (fmx_self_dir(self, sizeof(self)))
        return -ENOENT;
    tried[0] = '\0';
    for (size_t i = 0; i < sizeof(where) / sizeof(*where); i++) {
        snprintf(dir, len, "%s%s", self, where[i]);
        snprintf(file, PATH_MAX + 64, "%s/pmix_mca_gds_fmx.so", dir);
        if (!access(file, R_OK))
            return 0;
        snprintf(tried + strlen(tried), tlen - strlen(tried), "%s%s", tried[0] ? ", " : "", file);
    }
    return -ENOENT;
}

int fmx_glue_prepare(const char *tmpdir, fmx_error_t *err)
{
    static const char *const known[] = {"hash", "ds21", "ds12", "fmx"};
    const char *want = getenv("FMX_GDS");
    int asked;
    char dir[PATH_MAX + 32], file[PATH_MAX + 64], tried[2 * PATH_MAX + 160], *path;
    const char *had = getenv(COMPONENT_PATH_VAR);
    size_t i;

    if (!want || !*want)
        want = getenv("FMX_PMIX_GDS");
    asked = want && *want;
    if (!asked)
        want = "fmx";
    for (i = 0; i < sizeof(known) / sizeof(*known) && strcmp(want, known[i]); i++)
        ;
    if (i == sizeof(known) / sizeof(*known)) {
        fmx_errprintf(err, "FMX_GDS=%s: not one of hash, ds21, ds12, fmx", want);
        return -EINVAL;
    }
    chosen = known[i];
    if (strcmp(chosen, "fmx"))
        return 0;
    if (find_component(dir, sizeof(dir), file, tried, sizeof(tried))) {
        if (!asked) {
            fmx_debug("glue", "the fmx GDS component is not installed (looked for %s): hash",
                      tried);
            chosen = "hash";
            return 0;
        }
        fmx_errprintf(err, "FMX_GDS=fmx: the component is not installed (looked for %s)", tried);
        return -ENOENT;
    }
    /* mapped until the process ends, though libpmix unloads its components at
     * PMIx_server_finalize: a sanitizer's leak report at exit then names the component's
     * frames, which an address in an unmapped range would not */
    (void)dlopen(file, RTLD_LAZY | RTLD_NODELETE);
    /* the store's files: this daemon's directory, which its ranks read too */
    if (setenv("FMX_GDS_DIR", tmpdir, 1)) {
        fmx_errprintf(err, "out of memory");
        return -ENOMEM;
    }
    if (had && strstr(had, dir))
        return 0;
    /* libpmix's own component directory stays in the path: the variable replaces it */
    if (asprintf(&path, "%s:%s%s%s", dir, FMX_PMIX_COMPONENT_DIR, had ? ":" : "", had ? had : "") <
            0 ||
        setenv(COMPONENT_PATH_VAR, path, 1)) {
        fmx_errprintf(err, "out of memory");
        return -ENOMEM;
    }
    free(path);
    return 0;
}

int fmx_glue_gds_env(char **e)
{
    char *entry;

    for (size_t i = 0; e[i]; i++) {
        if (strncmp(e[i], "PMIX_GDS_MODULE=", 16))
            continue;
        if (asprintf(&entry, "PMIX_GDS_MODULE=%s", strcmp(chosen, "fmx") ? chosen : "fmx,hash") < 0)
            return -ENOMEM;
        free(e[i]);
        e[i] = entry;
    }
    return 0;
}
