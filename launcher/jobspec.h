/* The job as pmixrun describes it to every pmixd (the JOB control message): its namespace, the
 * job map (nodes and every namespace's placement), the command, exported environment, working
 * directory and options. */
#ifndef FMX_JOBSPEC_H
#define FMX_JOBSPEC_H

#include "control.h"
#include "fmx_jobmap.h"

#define FMX_JOB_TAG_OUTPUT 0x1u
#define FMX_JOB_OVERSUBSCRIBED 0x2u /* some host runs more ranks than it has slots */
#define FMX_JOB_BIND_CORE 0x4u /* --bind-to core */

typedef struct fmx_jobspec {
    char *nspace; /* the job's namespace, one of map's */
    uint32_t self; /* the receiving daemon's node index */
    fmx_jobmap_t map;
    uint32_t argc;
    char **argv;
    uint32_t nenv;
    char **env; /* "NAME=value", exported to every rank */
    uint32_t ndenv;
    char **denv; /* "NAME=value": the launcher's FI_* and FMX_* settings, for every daemon */
    char *wdir;
    uint32_t flags;
    uint32_t timeout_ms; /* default deadline of fences and direct modex; 0: the engine's */
} fmx_jobspec_t;

/* The job's own namespace in the map (never NULL in a job that was unpacked or filled). */
static inline const fmx_nspace_map_t *fmx_jobspec_nspace(const fmx_jobspec_t *js)
{
    return fmx_jobmap_nspace(&js->map, js->nspace);
}

void fmx_jobspec_pack(const fmx_jobspec_t *js, fmx_pack_t *p);
/* Fills js from a JOB message; on error says what was malformed, naming `from`. */
int fmx_jobspec_unpack(fmx_jobspec_t *js, fmx_pack_t *p, const char *from, fmx_error_t *err);
void fmx_jobspec_free(fmx_jobspec_t *js);

#endif
