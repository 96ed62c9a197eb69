/* The event loop (common/fmx_loop.h): descriptor callbacks with their events, timers in due
 * order and removable, a callback removing another descriptor that was also ready, signals
 * through the signalfd, and the hooks bounding the wait and running after it. */
#include "fmx_loop.h"
#include "../tap.h"

#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

struct seen {
    int reads[2], writes, order[4], norder, signals, afters;
    int pa[2], pb[2];
};

static void on_read(fmx_loop_t *l, int fd, unsigned ev, void *arg)
{
    struct seen *s = arg;
    char c;

    if (!(ev & FMX_LOOP_IN) || read(fd, &c, 1) != 1)
        return;
    s->reads[fd == s->pa[0] ? 0 : 1]++;
    /* the first of the two ready descriptors to run takes the other out: it must not run */
    fmx_loop_del_fd(l, fd == s->pa[0] ? s->pb[0] : s->pa[0]);
}

static void on_write(fmx_loop_t *l, int fd, unsigned ev, void *arg)
{
    struct seen *s = arg;

    (void)fd;
    if (ev & FMX_LOOP_OUT)
        s->writes++;
    fmx_loop_set_events(l, fd, 0);
}

static void timer_a(fmx_loop_t *l, void *arg)
{
    struct seen *s = arg;

    (void)l;
    s->order[s->norder++] = 1;
}

static void timer_b(fmx_loop_t *l, void *arg)
{
    struct seen *s = arg;

    s->order[s->norder++] = 2;
    fmx_loop_stop(l);
}

static void timer_never(fmx_loop_t *l, void *arg)
{
    struct seen *s = arg;

    (void)l;
    s->order[s->norder++] = 9;
}

static void on_signal(fmx_loop_t *l, const struct signalfd_siginfo *si, void *arg)
{
    struct seen *s = arg;

    if (si->ssi_signo == SIGUSR1)
        s->signals++;
    fmx_loop_stop(l);
}

static int before_zero(fmx_loop_t *l, void *arg)
{
    (void)l;
    (void)arg;
    return 0;
}

/* A before hook that ends the loop and allows any wait (-1), as pmixrun's does once no daemon
 * is left. */
static int before_stop(fmx_loop_t *l, void *arg)
{
    (void)arg;
    fmx_loop_stop(l);
    return -1;
}

static void after(fmx_loop_t *l, void *arg)
{
    struct seen *s = arg;

    (void)l;
    s->afters++;
}

int main(void)
{
    struct seen s;
    fmx_loop_t *l;
    fmx_error_t err = {{0}};
    int sig = SIGUSR1;
    uint64_t t0, never;

    memset(&s, 0, sizeof(s));
    plan(10);
    if (fmx_loop_create(&l) || pipe(s.pa) || pipe(s.pb))
        return 1;
    fmx_loop_add_fd(l, s.pa[0], FMX_LOOP_IN, on_read, &s);
    fmx_loop_add_fd(l, s.pb[0], FMX_LOOP_IN, on_read, &s);
    fmx_loop_add_fd(l, s.pa[1], FMX_LOOP_OUT, on_write, &s);
    ok(fmx_loop_add_fd(l, s.pa[0], FMX_LOOP_IN, on_read, &s) == -EEXIST,
       "a descriptor is registered once");
    (void)!write(s.pa[1], "x", 1);
    (void)!write(s.pb[1], "y", 1);
    fmx_loop_once(l, 1000);
    ok(s.reads[0] + s.reads[1] == 1,
       "of two ready descriptors, one removed by the other's "
       "callback does not run (%d, %d)",
       s.reads[0], s.reads[1]);
    ok(s.writes == 1, "a writable descriptor is reported writable");
    fmx_loop_once(l, 0);
    ok(s.writes == 1, "events set to 0 are no longer reported");

    never = fmx_loop_add_timer(l, 20, timer_never, &s);
    fmx_loop_add_timer(l, 60, timer_b, &s);
    fmx_loop_add_timer(l, 30, timer_a, &s);
    fmx_loop_del_timer(l, never);
    t0 = fmx_now_ns();
    fmx_loop_run(l);
    ok(s.norder == 2 && s.order[0] == 1 && s.order[1] == 2,
       "timers fire in due order, a "
       "removed one never");
    ok(fmx_now_ns() - t0 >= 59000000ull, "the loop slept until the last timer was due");

    ok(fmx_loop_signals(l, &sig, 1, on_signal, &s, NULL, &err) == 0, "signals through signalfd");
    raise(SIGUSR1);
    fmx_loop_once(l, 1000);
    ok(s.signals == 1, "a blocked signal reaches its callback");

    fmx_loop_add_hooks(l, before_zero, after, &s);
    t0 = fmx_now_ns();
    fmx_loop_add_timer(l, 5000, timer_never, &s);
    fmx_loop_once(l, -1);
    ok(s.afters == 1 && fmx_now_ns() - t0 < 2000000000ull,
       "a before hook that allows no wait bounds it; the after hook ran");
    fmx_loop_destroy(l);

    /* a hook that stops the loop: it ends now, not when the next timer is due (5 s) */
    fmx_loop_create(&l);
    fmx_loop_add_hooks(l, before_stop, NULL, NULL);
    fmx_loop_add_timer(l, 5000, timer_never, &s);
    t0 = fmx_now_ns();
    fmx_loop_run(l);
    ok(fmx_now_ns() - t0 < 1000000000ull, "a before hook that stops the loop ends it at once");
    fmx_loop_destroy(l);
    return done_testing();
}
