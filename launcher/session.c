/* A job's session directory on one node (session.h). */
#include "session.h"

#include "fmx_tmpdir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fmx_session_create(fmx_session_t *s, const char *nspace, uint32_t node, fmx_error_t *err)
{
    const char *base = getenv("TMPDIR");
    char tag[200];
    int rc;

    snprintf(tag, sizeof(tag), "%s.%u", nspace, node);
    rc = fmx_tmpdir_create(base && *base ? base : "/tmp", "fmx.", tag, s->dir, sizeof(s->dir),
                           &s->lock, err);
    if (rc) {
        s->dir[0] = '\0';
        return rc;
    }
    snprintf(s->shmdir, sizeof(s->shmdir), "%s/shm", s->dir);
    if (mkdir(s->shmdir, 0700)) {
        fmx_errprintf(err, "cannot create %s: %s", s->shmdir, strerror(errno));
        return -errno;
    }
    return 0;
}

void fmx_session_remove(fmx_session_t *s)
{
    if (!s->dir[0])
        return;
    fmx_tmpdir_remove(s->dir);
    if (s->lock >= 0)
        close(s->lock);
    s->dir[0] = '\0';
}
