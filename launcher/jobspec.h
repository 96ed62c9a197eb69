/* The job as pmixrun describes it to every pmixd (the JOB control message): namespace, node
 * map, the command, exported environment, working directory and options. */
#ifndef FMX_JOBSPEC_H
#define FMX_JOBSPEC_H

#include "control.h"
#include "jobmap.h"

#define FMX_JOB_TAG_OUTPUT 0x1u
#define FMX_JOB_OVERSUBSCRIBED 0x2u /* some host runs more ranks than it has slots */
#define FMX_JOB_BIND_CORE 0x4u /* --bind-to core */

typedef struct fmx_jobspec {
    char *nspace;
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

void fmx_jobspec_pack(const fmx_jobspec_t *js, fmx_pack_t *p);
/* Fills js from a JOB message; on error says what was malformed, naming `from`. */
int fmx_jobspec_unpack(fmx_jobspec_t *js, fmx_pack_t *p, const char *from, fmx_error_t *err);
void fmx_jobspec_free(fmx_jobspec_t *js);

#endif
