/* A spawn: the applications a running job's process asks to start as a new namespace
 * (PMIx_Spawn, MPI_Comm_spawn and MPI_Comm_spawn_multiple). The PMIx front end fills one from
 * the client's request, its daemon sends it to the launcher (SPAWN), and the launcher, once it
 * has named and placed the namespace, sends it to every daemon (NSPACE) with each rank's
 * application. Plain C: neither PMIx nor the control channel is needed to read it. */
#ifndef FMX_SPAWN_H
#define FMX_SPAWN_H

#include "fmx_common.h"
#include "fmx_pack.h"

#include <stdint.h>

/* The namespaces a job may hold: its own and those it spawns (each daemon registers them all). */
#define FMX_SPAWN_MAX_NSPACES 64

typedef struct fmx_spawn_app {
    char **argv; /* NULL-terminated; argv[0] is the program */
    char **env; /* NULL-terminated "NAME=value", added to the job's */
    char *wdir; /* NULL: the job's */
    char *hosts; /* "n1,n2" (PMIX_HOST), NULL: any of the job's nodes */
    uint32_t np;
} fmx_spawn_app_t;

typedef struct fmx_spawn {
    fmx_spawn_app_t *apps;
    uint32_t napps;
    int by_node; /* PMIX_MAPBY node: ranks round robin over the nodes, else slots filled in turn */
    uint32_t parent; /* the requester, as a global process index (fmx_jobmap_proc) */
    /* set by the launcher: */
    char *nspace;
    uint32_t *app_of; /* [total np]: each rank's application */
} fmx_spawn_t;

/* The ranks asked for in all (0 when that overflows). */
uint32_t fmx_spawn_size(const fmx_spawn_t *s);
void fmx_spawn_pack(const fmx_spawn_t *s, fmx_pack_t *p);
/* 0, or -EPROTO with err saying what was malformed (s is then empty). What follows it in the
 * message is the caller's to read. */
int fmx_spawn_unpack(fmx_spawn_t *s, fmx_pack_t *p, fmx_error_t *err);
void fmx_spawn_free(fmx_spawn_t *s);

#endif
