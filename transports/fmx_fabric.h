/* A daemon's fabric: which transport a job's daemon uses and how it opens. The only daemon of a
 * job gets a one-member in-process transport at once (libpmix completes every fence among its
 * own clients and nothing crosses a fabric); any other opens the backend named by FMX_TRANSPORT
 * (default "ofi") on a thread of its own, so that loading the backend's library and asking it
 * for an endpoint (a few hundred milliseconds on some machines) overlaps the daemon's other
 * start-up work. */
#ifndef FMX_FABRIC_H
#define FMX_FABRIC_H

#include "fmx_transport.h"

typedef struct fmx_fabric fmx_fabric_t;

/* Starts opening the endpoint of one of `members` daemons; with more than one, every message
 * is authenticated under the job's fabric key (fmx_seal.h), and a backend that cannot do that
 * is refused. The process must not change its environment until fmx_fabric_ready() (the
 * backend's library reads it on the thread). */
int fmx_fabric_open(uint32_t members, const uint8_t key[32], fmx_fabric_t **out, fmx_error_t *err);
/* Loads the backend of a multi-daemon job now if that is quick (libfabric with its stand-ins,
 * fmx_standin.h: milliseconds), and says whether it was: then the endpoint may open while the
 * daemon starts its other libraries. Otherwise loading (a quarter second) holds the dynamic
 * loader's lock that those libraries' plugins need, and is better done after them. */
int fmx_fabric_quick(uint32_t members);
/* Readable once the endpoint is open or failed to open. */
int fmx_fabric_fd(const fmx_fabric_t *f);
/* Waits for the opening to end: the endpoint (owned by the fabric), or the error. */
int fmx_fabric_ready(fmx_fabric_t *f, fmx_transport_t **tp, fmx_error_t *err);
/* Waits for a thread still opening, closes the endpoint without waiting for messages in
 * flight (a daemon closes when its job is over: no peer needs them); accepts NULL. */
void fmx_fabric_close(fmx_fabric_t *f);

/* A resident daemon loads the backend and starts its library up once, under its own settings,
 * for every job it forks; fails when the backend cannot load (a job that needs it says so). */
int fmx_fabric_warm_up(fmx_error_t *err);
/* Whether fmx_fabric_warm_up succeeded in this process (or the one it was forked from). */
int fmx_fabric_warm(void);
/* An environment entry ("NAME=value") that is one of the daemon's own backend settings, not the
 * user's: a daemon's children do not inherit it. */
int fmx_fabric_env_entry(const char *entry);

#endif
