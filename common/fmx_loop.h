/* The daemons' event loop (pmixd and pmixrun alike): file descriptors with callbacks, one-shot
 * timers, signals read through one signalfd, and hooks that run around every poll (to bound its
 * wait and to progress what has no descriptor). Single-threaded; callbacks may add or remove
 * anything, including themselves. Owns no descriptor it is given. */
#ifndef FMX_LOOP_H
#define FMX_LOOP_H

#include "fmx_common.h"

#include <signal.h>
#include <stdint.h>

enum { FMX_LOOP_IN = 1, FMX_LOOP_OUT = 2 };

typedef struct fmx_loop fmx_loop_t;
struct signalfd_siginfo;

/* events: what poll reported (FMX_LOOP_IN for readable, hang-up and error too; FMX_LOOP_OUT) */
typedef void (*fmx_loop_fd_f)(fmx_loop_t *l, int fd, unsigned events, void *arg);
typedef void (*fmx_loop_timer_f)(fmx_loop_t *l, void *arg);
typedef void (*fmx_loop_signal_f)(fmx_loop_t *l, const struct signalfd_siginfo *si, void *arg);
/* Before each poll: the longest wait it allows in ms (-1: no limit, 0: do not sleep). */
typedef int (*fmx_loop_before_f)(fmx_loop_t *l, void *arg);
/* After each poll and its callbacks. */
typedef void (*fmx_loop_after_f)(fmx_loop_t *l, void *arg);

int fmx_loop_create(fmx_loop_t **out);
/* Closes the signalfd it made, nothing else; accepts NULL. */
void fmx_loop_destroy(fmx_loop_t *l);

/* One registration per descriptor; fd < 0 is accepted and never reported. */
int fmx_loop_add_fd(fmx_loop_t *l, int fd, unsigned events, fmx_loop_fd_f cb, void *arg);
void fmx_loop_set_events(fmx_loop_t *l, int fd, unsigned events);
void fmx_loop_del_fd(fmx_loop_t *l, int fd);

/* A one-shot timer ms from now; returns its id (never 0), or 0 when out of memory. */
uint64_t fmx_loop_add_timer(fmx_loop_t *l, uint64_t ms, fmx_loop_timer_f cb, void *arg);
/* Removes a timer that has not fired; ids of fired or removed timers are ignored. */
void fmx_loop_del_timer(fmx_loop_t *l, uint64_t id);

int fmx_loop_add_hooks(fmx_loop_t *l, fmx_loop_before_f before, fmx_loop_after_f after, void *arg);

/* Blocks sigs (n of them) in this thread and delivers them to cb through a signalfd; once per
 * loop. The mask blocked is written to *blocked when it is not NULL (children unblock it). */
int fmx_loop_signals(fmx_loop_t *l, const int *sigs, int n, fmx_loop_signal_f cb, void *arg,
                     sigset_t *blocked, fmx_error_t *err);

/* One poll and what it makes ready, waiting at most max_ms (-1: as long as nothing is due). */
void fmx_loop_once(fmx_loop_t *l, int max_ms);
/* fmx_loop_once until fmx_loop_stop. */
void fmx_loop_run(fmx_loop_t *l);
void fmx_loop_stop(fmx_loop_t *l);

#endif
