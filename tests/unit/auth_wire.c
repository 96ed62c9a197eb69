/* The --connect handshake (auth.h) over a relay that records every byte both ways: the daemon
 * learns the job's secret and the node index, the launcher the daemon's proof, and neither the
 * service secret nor the job's secret is among the recorded bytes; a launcher with another
 * service secret is refused and learns nothing. */
#include "auth.h"
#include "../tap.h"

#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static const char service[] = "a service secret of some length";
static const char job[] = "0123456789abcdef0123456789abcdef";

struct launcher {
    int fd, rc;
    const char *key;
};

static void *launch(void *arg)
{
    struct launcher *l = arg;
    fmx_error_t err = {{0}};
    fmx_conn_t *c = fmx_conn_new(l->fd, "the daemon");

    l->rc = fmx_auth_launcher(c, (const uint8_t *)l->key, strlen(l->key), 5000, 7, job, &err);
    fmx_conn_free(c);
    return NULL;
}

/* Copies bytes between a and b until both close; returns everything that passed. */
static uint8_t *relay(int a, int b, size_t *len)
{
    uint8_t *all = NULL, buf[4096];
    size_t n = 0;
    struct pollfd p[2] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};
    int open = 2;

    while (open && poll(p, 2, 10000) > 0) {
        for (int i = 0; i < 2; i++) {
            ssize_t got;

            if (!(p[i].revents & (POLLIN | POLLHUP)))
                continue;
            got = read(p[i].fd, buf, sizeof(buf));
            if (got <= 0) {
                shutdown(p[1 - i].fd, SHUT_WR);
                p[i].fd = -1;
                open--;
                continue;
            }
            all = realloc(all, n + (size_t)got);
            memcpy(all + n, buf, (size_t)got);
            n += (size_t)got;
            (void)!write(p[1 - i].fd, buf, (size_t)got);
        }
    }
    *len = n;
    return all;
}

/* One handshake: the launcher knows lkey; returns the daemon's status and what crossed. */
static int handshake(const char *lkey, char *learned, uint32_t *node, uint8_t **wire, size_t *len)
{
    int a[2], b[2], st, out[2];
    struct launcher l = {.key = lkey};
    pthread_t t;
    pid_t pid;

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, a) || socketpair(AF_UNIX, SOCK_STREAM, 0, b) ||
        pipe(out))
        return -1;
    if ((pid = fork()) == 0) { /* the daemon */
        char js[64] = "";
        uint32_t n = 0;
        fmx_error_t err = {{0}};
        fmx_conn_t *c;

        close(a[0]), close(a[1]), close(b[0]);
        c = fmx_conn_new(b[1], "the launcher");
        int rc = fmx_auth_daemon(c, (const uint8_t *)service, strlen(service), 5000, &n, js,
                                 sizeof(js), &err);
        dprintf(out[1], "%u %s", n, js);
        fmx_conn_free(c);
        _exit(rc ? 1 : 0);
    }
    close(out[1]);
    close(b[1]);
    l.fd = a[0];
    pthread_create(&t, NULL, launch, &l);
    *wire = relay(a[1], b[0], len);
    pthread_join(t, NULL);
    close(a[1]), close(b[0]);
    waitpid(pid, &st, 0);
    learned[0] = '\0';
    char got[128] = "";
    ssize_t k = read(out[0], got, sizeof(got) - 1);
    close(out[0]);
    if (k > 0) {
        got[k] = '\0';
        sscanf(got, "%u %63s", node, learned);
    }
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 && l.rc == 0 ? 0 : 1;
}

static int contains(const uint8_t *hay, size_t n, const char *needle)
{
    size_t k = strlen(needle);

    for (size_t i = 0; i + k <= n; i++)
        if (!memcmp(hay + i, needle, k))
            return 1;
    return 0;
}

int main(void)
{
    char learned[64];
    uint32_t node = 0;
    uint8_t *wire = NULL;
    size_t len = 0;

    plan(6);
    ok(handshake(service, learned, &node, &wire, &len) == 0, "the handshake succeeds");
    ok(!strcmp(learned, job) && node == 7, "the daemon learns the job's secret and node 7");
    ok(len > 100 && !contains(wire, len, job), "the job's secret is not among the %zu bytes", len);
    ok(!contains(wire, len, service), "nor is the service secret");
    free(wire);
    ok(handshake("another secret, just as long..", learned, &node, &wire, &len) != 0,
       "a launcher with another service secret is refused");
    ok(!learned[0] && !contains(wire, len, job), "and the daemon learns no job secret from it");
    free(wire);
    return done_testing();
}
