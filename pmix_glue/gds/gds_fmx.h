/* What the parts of fmx's GDS component share (gds_fmx.c: the module; gds_job.c: the job's
 * data a rank is given at PMIx_Init). Built against libpmix 4.2.2's internal headers. */
#ifndef FMX_GDS_FMX_H
#define FMX_GDS_FMX_H

#include "src/include/pmix_config.h"

#include "pmix_common.h"
#include "src/include/pmix_globals.h"
#include "src/mca/gds/base/base.h"
#include "src/mca/gds/gds.h"

/* libpmix's own hash module, which the component passes most operations to */
extern pmix_gds_base_module_t *fmx_gds_hash;

/* The directory of the store (FMX_GDS_DIR), or NULL: then nothing is written or read. */
const char *fmx_gds_dir(void);
/* The server: kv of proc into the store; 0, or -1 when it could not be written (a qualified
 * value, a rank not given, no store for the namespace, no space). */
int fmx_gds_put(const char *dir, const pmix_proc_t *proc, const pmix_kval_t *kv);

/* The server, at a rank's PMIx_Init: the reply carrying its namespace's data. The first rank
 * of a namespace here has the per-rank keys of every rank written into the store once; each
 * rank is then sent the job-, session-, node- and app-level keys and its own keys only, not
 * every rank's (which is what hash sends each of them). Anything that cannot go into the store
 * makes every rank of the namespace get hash's whole reply instead. */
pmix_status_t fmx_gds_job_reply(struct pmix_peer_t *peer, pmix_buffer_t *reply);
/* Whether nspace's replies come from fmx_gds_job_reply (which carries the session-, node- and
 * app-level arrays already). */
int fmx_gds_job_known(const char *nspace);
/* The namespace is gone: its replies too. */
void fmx_gds_job_forget(const char *nspace);

#endif
