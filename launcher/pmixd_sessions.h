/* The resident service's side of its jobs' sessions (pmixd_sessions.c): a link to each job
 * child (svclink.h), the session's publish / lookup store, and the relay of one job's request
 * for another's rank's data. */
#ifndef FMX_PMIXD_SESSIONS_H
#define FMX_PMIXD_SESSIONS_H

#include "fmx_loop.h"

#include <sys/types.h>

struct pmixd_sessions;

struct pmixd_sessions *pmixd_sessions_new(fmx_loop_t *loop);
/* Before a job child is forked: the link's two ends (close-on-exec); 0 or -errno. */
int pmixd_sessions_pair(int fds[2]);
/* After: the service's end of the child's link (taken). */
int pmixd_sessions_add(struct pmixd_sessions *s, pid_t pid, int fd);
/* Ends every link. quiet: in a forked child, dropping the service's copy (nothing is sent);
 * else held lookups are answered -ECANCELED. */
void pmixd_sessions_free(struct pmixd_sessions *s, int quiet);

#endif
