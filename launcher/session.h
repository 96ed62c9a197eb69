/* A job's session directory on one node, base/fmx.NSPACE.NODE.XXXXXX (base: TMPDIR or /tmp):
 * PMIx's files and the ranks' TMPDIR, with Open MPI's shared-memory segments in shm/ apart from
 * the PMIx session files (which Open MPI's own cleanup deletes while other ranks still use their
 * segments). Removed at exit, and by the next daemon on this host when this one is killed
 * before it could (fmx_tmpdir.h). */
#ifndef FMX_SESSION_H
#define FMX_SESSION_H

#include "fmx_common.h"

typedef struct fmx_session {
    char dir[256];
    char shmdir[300];
    int lock; /* held while dir exists; meaningful once dir is set */
} fmx_session_t;

int fmx_session_create(fmx_session_t *s, const char *nspace, uint32_t node, fmx_error_t *err);
/* Removes what fmx_session_create made; a session never created is left alone. */
void fmx_session_remove(fmx_session_t *s);

#endif
