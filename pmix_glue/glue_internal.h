/* Shared inside pmix_glue/ only: the one place that includes the PMIx server header. */
#ifndef FMX_GLUE_INTERNAL_H
#define FMX_GLUE_INTERNAL_H

#include "glue.h"

#include <pmix.h>
#include <pmix_server.h>

/* The namespace's info array (register.c); free with PMIX_INFO_FREE(info, n). */
int fmx_glue_job_info(const fmx_glue_job_t *job, pmix_info_t **out, size_t *nout);

#endif
