/* The backends linked into a program (tests, benchmarks) rather than loaded as modules: the
 * transport FMX_TRANSPORT names ("ofi" by default, "ucx", "NEAR+FAR"; fmx_pair.h), opened
 * without fmx_backend.h's loader. */
#ifndef FMX_DIRECT_H
#define FMX_DIRECT_H

#include "fmx_transport.h"

/* Opens one linked backend by name: ofi, or ucx where built with it (-ENODATA: not built). */
int fmx_direct_open(const char *name, const char *spec, fmx_transport_t **out, fmx_error_t *err);
/* Opens what FMX_TRANSPORT names. */
int fmx_direct_open_env(fmx_transport_t **out, fmx_error_t *err);

#endif
