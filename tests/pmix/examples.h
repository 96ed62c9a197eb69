/* What OpenPMIx's example programs (shipped by Debian in /usr/share/doc/libpmix-dev/examples,
 * without this header) expect of "examples.h": a lock a callback can release, a release-object
 * wrapper for event handlers, a query's answer, and a macro that silences unused parameters. The
 * project's own. */
#ifndef FMX_PMIX_EXAMPLES_H
#define FMX_PMIX_EXAMPLES_H

#include <pmix.h>
#include <pthread.h>
#include <stdbool.h>

typedef struct {
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    volatile bool active;
    pmix_status_t status;
    int count;
    size_t evhandler_ref;
} mylock_t;

#define DEBUG_CONSTRUCT_LOCK(l)                                                                    \
    do {                                                                                           \
        pthread_mutex_init(&(l)->mutex, NULL);                                                     \
        pthread_cond_init(&(l)->cond, NULL);                                                       \
        (l)->active = true;                                                                        \
        (l)->status = PMIX_SUCCESS;                                                                \
        (l)->count = 0;                                                                            \
        (l)->evhandler_ref = 0;                                                                    \
    } while (0)

#define DEBUG_DESTRUCT_LOCK(l)                                                                     \
    do {                                                                                           \
        pthread_mutex_destroy(&(l)->mutex);                                                        \
        pthread_cond_destroy(&(l)->cond);                                                          \
    } while (0)

#define DEBUG_WAIT_THREAD(l)                                                                       \
    do {                                                                                           \
        pthread_mutex_lock(&(l)->mutex);                                                           \
        while ((l)->active)                                                                        \
            pthread_cond_wait(&(l)->cond, &(l)->mutex);                                            \
        pthread_mutex_unlock(&(l)->mutex);                                                         \
    } while (0)

#define DEBUG_WAKEUP_THREAD(l)                                                                     \
    do {                                                                                           \
        pthread_mutex_lock(&(l)->mutex);                                                           \
        (l)->active = false;                                                                       \
        pthread_cond_broadcast(&(l)->cond);                                                        \
        pthread_mutex_unlock(&(l)->mutex);                                                         \
    } while (0)

typedef struct {
    mylock_t lock;
    pmix_info_t *info;
    size_t ninfo;
    int exit_code; /* fault: the status an event asked the process to exit with */
    bool exit_code_given;
} myrel_t;

#define DEBUG_CONSTRUCT_MYREL(r)                                                                   \
    do {                                                                                           \
        DEBUG_CONSTRUCT_LOCK(&(r)->lock);                                                          \
        (r)->info = NULL;                                                                          \
        (r)->ninfo = 0;                                                                            \
        (r)->exit_code = 0;                                                                        \
        (r)->exit_code_given = false;                                                              \
    } while (0)

#define DEBUG_DESTRUCT_MYREL(r)                                                                    \
    do {                                                                                           \
        DEBUG_DESTRUCT_LOCK(&(r)->lock);                                                           \
        if (NULL != (r)->info)                                                                     \
            PMIX_INFO_FREE((r)->info, (r)->ninfo);                                                 \
    } while (0)

/* What a query's (or an allocation request's) callback hands back. */
typedef struct {
    mylock_t lock;
    pmix_info_t *info;
    size_t ninfo;
} myquery_data_t;

#define DEBUG_CONSTRUCT_MYQUERY(q)                                                                 \
    do {                                                                                           \
        DEBUG_CONSTRUCT_LOCK(&(q)->lock);                                                          \
        (q)->info = NULL;                                                                          \
        (q)->ninfo = 0;                                                                            \
    } while (0)

#define DEBUG_DESTRUCT_MYQUERY(q)                                                                  \
    do {                                                                                           \
        DEBUG_DESTRUCT_LOCK(&(q)->lock);                                                           \
        if (NULL != (q)->info)                                                                     \
            PMIX_INFO_FREE((q)->info, (q)->ninfo);                                                 \
    } while (0)

static inline void examples_hide_unused(int dummy, ...)
{
    (void)dummy;
}
#define EXAMPLES_HIDE_UNUSED_PARAMS(...) examples_hide_unused(0, __VA_ARGS__)

#endif
