/* The event loop of fmx_loop.h: a poll set rebuilt before each wait from the registered
 * descriptors, timers kept in a small unsorted array (a daemon has a handful), signals through
 * one signalfd. Entries removed during callbacks are marked and swept before the next poll. */
#include "fmx_loop.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

struct fd_entry {
    int fd; /* -1 once removed */
    unsigned events;
    fmx_loop_fd_f cb;
    void *arg;
};

struct timer {
    uint64_t id, due_ns;
    fmx_loop_timer_f cb;
    void *arg;
};

struct hooks {
    fmx_loop_before_f before;
    fmx_loop_after_f after;
    void *arg;
};

struct fmx_loop {
    struct fd_entry *fds;
    size_t nfds, cap_fds;
    struct timer *timers;
    size_t ntimers, cap_timers;
    uint64_t next_id;
    struct hooks *hooks;
    size_t nhooks;
    struct pollfd *pfd;
    size_t *pfd_entry; /* pfd[i] belongs to fds[pfd_entry[i]] */
    size_t cap_pfd;
    int sigfd;
    fmx_loop_signal_f on_signal;
    void *signal_arg;
    int stop;
};

static int grow(void **v, size_t *cap, size_t need, size_t size)
{
    void *n;
    size_t c = *cap ? *cap : 8;

    if (need <= *cap)
        return 0;
    while (c < need)
        c *= 2;
    if (!(n = realloc(*v, c * size)))
        return -ENOMEM;
    *v = n;
    *cap = c;
    return 0;
}

int fmx_loop_create(fmx_loop_t **out)
{
    fmx_loop_t *l = calloc(1, sizeof(*l));

    if (!l)
        return -ENOMEM;
    l->sigfd = -1;
    l->next_id = 1;
    *out = l;
    return 0;
}

void fmx_loop_destroy(fmx_loop_t *l)
{
    if (!l)
        return;
    if (l->sigfd >= 0)
        close(l->sigfd);
    free(l->fds);
    free(l->timers);
    free(l->hooks);
    free(l->pfd);
    free(l->pfd_entry);
    free(l);
}

static struct fd_entry *find_fd(fmx_loop_t *l, int fd)
{
    for (size_t i = 0; i < l->nfds; i++)
        if (l->fds[i].fd == fd && l->fds[i].cb)
            return &l->fds[i];
    return NULL;
}

int fmx_loop_add_fd(fmx_loop_t *l, int fd, unsigned events, fmx_loop_fd_f cb, void *arg)
{
    if (fd >= 0 && find_fd(l, fd))
        return -EEXIST;
    if (grow((void **)&l->fds, &l->cap_fds, l->nfds + 1, sizeof(*l->fds)))
        return -ENOMEM;
    l->fds[l->nfds++] = (struct fd_entry){.fd = fd, .events = events, .cb = cb, .arg = arg};
    return 0;
}

void fmx_loop_set_events(fmx_loop_t *l, int fd, unsigned events)
{
    struct fd_entry *e = fd >= 0 ? find_fd(l, fd) : NULL;

    if (e)
        e->events = events;
}

void fmx_loop_del_fd(fmx_loop_t *l, int fd)
{
    struct fd_entry *e = fd >= 0 ? find_fd(l, fd) : NULL;

    if (e) {
        e->fd = -1;
        e->cb = NULL;
    }
}

uint64_t fmx_loop_add_timer(fmx_loop_t *l, uint64_t ms, fmx_loop_timer_f cb, void *arg)
{
    if (grow((void **)&l->timers, &l->cap_timers, l->ntimers + 1, sizeof(*l->timers)))
        return 0;
    l->timers[l->ntimers++] = (struct timer){
        .id = l->next_id, .due_ns = fmx_now_ns() + ms * 1000000u, .cb = cb, .arg = arg};
    return l->next_id++;
}

void fmx_loop_del_timer(fmx_loop_t *l, uint64_t id)
{
    for (size_t i = 0; i < l->ntimers; i++)
        if (l->timers[i].id == id) {
            l->timers[i] = l->timers[--l->ntimers];
            return;
        }
}

int fmx_loop_add_hooks(fmx_loop_t *l, fmx_loop_before_f before, fmx_loop_after_f after, void *arg)
{
    struct hooks *h = realloc(l->hooks, (l->nhooks + 1) * sizeof(*h));

    if (!h)
        return -ENOMEM;
    l->hooks = h;
    h[l->nhooks++] = (struct hooks){.before = before, .after = after, .arg = arg};
    return 0;
}

static void read_signals(fmx_loop_t *l, int fd, unsigned events, void *arg)
{
    struct signalfd_siginfo si;

    (void)events;
    (void)arg;
    while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
        l->on_signal(l, &si, l->signal_arg);
}

int fmx_loop_signals(fmx_loop_t *l, const int *sigs, int n, fmx_loop_signal_f cb, void *arg,
                     sigset_t *blocked, fmx_error_t *err)
{
    sigset_t mask;
    int rc;

    if (l->sigfd >= 0)
        return -EBUSY;
    sigemptyset(&mask);
    for (int i = 0; i < n; i++)
        sigaddset(&mask, sigs[i]);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    if ((l->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
        rc = -errno;
        fmx_errprintf(err, "signalfd: %s", strerror(errno));
        return rc;
    }
    l->on_signal = cb;
    l->signal_arg = arg;
    if (blocked)
        *blocked = mask;
    return fmx_loop_add_fd(l, l->sigfd, FMX_LOOP_IN, read_signals, NULL);
}

/* Drops removed descriptors, keeping the others in order. */
static void sweep(fmx_loop_t *l)
{
    size_t k = 0;

    for (size_t i = 0; i < l->nfds; i++)
        if (l->fds[i].cb)
            l->fds[k++] = l->fds[i];
    l->nfds = k;
}

static int wait_ms(fmx_loop_t *l, int max_ms)
{
    uint64_t now = fmx_now_ns();
    int t = max_ms;

    for (size_t i = 0; i < l->nhooks; i++) {
        int h = l->hooks[i].before ? l->hooks[i].before(l, l->hooks[i].arg) : -1;

        if (h >= 0 && (t < 0 || h < t))
            t = h;
    }
    if (l->stop) /* a hook decided the loop is over: no sleep before it ends */
        return 0;
    for (size_t i = 0; i < l->ntimers; i++) {
        uint64_t due = l->timers[i].due_ns;
        int left = due <= now ? 0 : (int)((due - now + 999999u) / 1000000u);

        if (t < 0 || left < t)
            t = left;
    }
    return t;
}

static void fire_timers(fmx_loop_t *l)
{
    uint64_t now = fmx_now_ns();

    for (size_t i = 0; i < l->ntimers;) {
        if (l->timers[i].due_ns > now) {
            i++;
            continue;
        }
        struct timer t = l->timers[i];

        l->timers[i] = l->timers[--l->ntimers]; /* gone before it runs: it may add another */
        t.cb(l, t.arg);
        i = 0; /* the callback may have changed the array */
    }
}

void fmx_loop_once(fmx_loop_t *l, int max_ms)
{
    size_t n = 0, nfds;
    int t;

    sweep(l);
    t = wait_ms(l, max_ms);
    nfds = l->nfds;
    if (nfds + 1 > l->cap_pfd) {
        size_t cap = 2 * (nfds + 1);
        struct pollfd *p = realloc(l->pfd, cap * sizeof(*p));
        size_t *pe = p ? realloc(l->pfd_entry, cap * sizeof(*pe)) : NULL;

        if (p)
            l->pfd = p;
        if (!pe) {
            fmx_log(FMX_LOG_ERROR, "loop", "out of memory");
            usleep(10000);
            return;
        }
        l->pfd_entry = pe;
        l->cap_pfd = cap;
    }
    for (size_t i = 0; i < nfds; i++) {
        struct fd_entry *e = &l->fds[i];

        if (e->fd < 0)
            continue;
        l->pfd[n] = (struct pollfd){.fd = e->fd,
                                    .events = (short)((e->events & FMX_LOOP_IN ? POLLIN : 0) |
                                                      (e->events & FMX_LOOP_OUT ? POLLOUT : 0))};
        l->pfd_entry[n++] = i;
    }
    if (poll(l->pfd, n, t) < 0 && errno != EINTR)
        fmx_log(FMX_LOG_WARN, "loop", "poll: %s", strerror(errno));
    for (size_t i = 0; i < n; i++) {
        short re = l->pfd[i].revents;
        struct fd_entry *e;
        unsigned ev = (re & (POLLIN | POLLHUP | POLLERR | POLLNVAL) ? FMX_LOOP_IN : 0) |
            (re & POLLOUT ? FMX_LOOP_OUT : 0);

        e = &l->fds[l->pfd_entry[i]]; /* earlier callbacks may have moved the array */
        if (ev && e->cb && e->fd == l->pfd[i].fd)
            e->cb(l, e->fd, ev, e->arg);
    }
    fire_timers(l);
    for (size_t i = 0; i < l->nhooks; i++)
        if (l->hooks[i].after)
            l->hooks[i].after(l, l->hooks[i].arg);
}

void fmx_loop_run(fmx_loop_t *l)
{
    while (!l->stop)
        fmx_loop_once(l, -1);
}

void fmx_loop_stop(fmx_loop_t *l)
{
    l->stop = 1;
}
