/* Transport backends as modules loaded by name: fmx-NAME.so beside the executable (build tree)
 * or in ../lib/fmx (installed), exporting fmx_NAME_open and fmx_NAME_warm with the signatures
 * of fmx_ofi.h. A daemon whose job fits on one node never loads one (linking libfabric alone
 * costs a process 0.2 s on Debian 12). Also the settings a backend's library should start up
 * with where the user set none. */
#ifndef FMX_BACKEND_H
#define FMX_BACKEND_H

#include "fmx_transport.h"

/* Loads the module, once per process and name, and with warm set also starts its library up
 * (a resident daemon does this at start so that the jobs it forks pay neither). */
int fmx_backend_load(const char *name, int warm, fmx_error_t *err);
/* An endpoint of the named backend (spec: the backend's own selector, NULL for its default). */
int fmx_backend_open(const char *name, const char *spec, fmx_transport_t **out, fmx_error_t *err);

/* The settings a daemon gives the named backend's library where the user set none (load.c says
 * which and why): apply before the library starts up, clear once it has (it reads them only
 * then); fmx_backend_defaults_entry("NAME=value") tells an environment entry that is one of
 * them while applied, so that a daemon's children do not inherit it. Not thread-safe: setenv. */
void fmx_backend_defaults_apply(const char *name);
void fmx_backend_defaults_clear(void);
int fmx_backend_defaults_entry(const char *entry);

#endif
