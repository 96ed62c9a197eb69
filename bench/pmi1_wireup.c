/* wireup (wireup.c) for launchers that speak the PMI-1 wire protocol, such as MPICH's
 * mpiexec.hydra: the same phases over the socket the launcher passes in PMI_FD, with no PMI
 * library in between. Put a B-byte card (hex-encoded: PMI-1 values are text), the barrier
 * that publishes it, Get every peer's card and check each byte, then barriers in a loop.
 * Prints the same line as wireup:
 *   wireup RANK SIZE put_us fence_us get_all_us barrier_us(mean) total_us
 *   pmi1_wireup [CARD_BYTES (default 256)] [BARRIERS (default 20)] */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int fd = -1;
static char inbuf[65536];
static size_t inlen;

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "pmi1_wireup: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(1);
}

static void send_line(const char *line)
{
    size_t len = strlen(line), off = 0;

    while (off < len) {
        ssize_t n = write(fd, line + off, len - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            die("write to PMI_FD", strerror(errno));
        off += (size_t)n;
    }
}

/* One newline-terminated reply from the launcher, without the newline, in `line`. */
static void recv_line(char *line, size_t cap)
{
    for (;;) {
        char *nl = memchr(inbuf, '\n', inlen);

        if (nl) {
            size_t len = (size_t)(nl - inbuf);

            if (len >= cap)
                die("reply longer than expected", NULL);
            memcpy(line, inbuf, len);
            line[len] = '\0';
            memmove(inbuf, nl + 1, inlen - len - 1);
            inlen -= len + 1;
            return;
        }
        if (inlen == sizeof(inbuf))
            die("reply without a newline", NULL);
        ssize_t n = read(fd, inbuf + inlen, sizeof(inbuf) - inlen);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            die("read from PMI_FD", n ? strerror(errno) : "the launcher closed the connection");
        inlen += (size_t)n;
    }
}

/* The value of KEY in a reply "cmd=... key=value ...", copied to out; NULL when absent. */
static char *field(const char *line, const char *key, char *out, size_t cap)
{
    size_t klen = strlen(key);

    for (const char *p = line; (p = strstr(p, key)); p += klen) {
        if ((p == line || p[-1] == ' ') && p[klen] == '=') {
            const char *v = p + klen + 1;
            size_t n = strcspn(v, " ");

            if (n >= cap)
                n = cap - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return out;
        }
    }
    return NULL;
}

/* Sends a command and expects a reply of type WANT with rc=0 (when it carries an rc). */
static void call(const char *cmd, const char *want, char *reply, size_t cap)
{
    char v[64];

    send_line(cmd);
    recv_line(reply, cap);
    if (!field(reply, "cmd", v, sizeof(v)) || strcmp(v, want))
        die("unexpected reply", reply);
    if (field(reply, "rc", v, sizeof(v)) && strcmp(v, "0"))
        die("the launcher refused", reply);
}

static void card_hex(uint32_t rank, char *hex, size_t bytes)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < bytes; i++) {
        uint8_t b = (uint8_t)(rank * 131 + i * 7);

        hex[2 * i] = digits[b >> 4];
        hex[2 * i + 1] = digits[b & 15];
    }
    hex[2 * bytes] = '\0';
}

int main(int argc, char **argv)
{
    size_t bytes = argc > 1 ? strtoul(argv[1], NULL, 10) : 256;
    int barriers = argc > 2 ? atoi(argv[2]) : 20;
    const char *sfd = getenv("PMI_FD"), *srank = getenv("PMI_RANK"), *ssize = getenv("PMI_SIZE");
    char reply[8192], kvs[256], cmd[8192], *mine, *want, *got;
    uint32_t rank, size;
    int bad = 0;
    double t0, t1, t2, t3, t4;

    if (!sfd || !srank || !ssize)
        die("PMI_FD, PMI_RANK and PMI_SIZE are not all set: start me with a PMI-1 launcher", NULL);
    fd = atoi(sfd);
    rank = (uint32_t)strtoul(srank, NULL, 10);
    size = (uint32_t)strtoul(ssize, NULL, 10);
    mine = malloc(2 * bytes + 1);
    want = malloc(2 * bytes + 1);
    got = malloc(2 * bytes + 64);
    if (!mine || !want || !got || 2 * bytes + 200 > sizeof(cmd))
        die("card too large for one PMI-1 line", NULL);
    call("cmd=init pmi_version=1 pmi_subversion=1\n", "response_to_init", reply, sizeof(reply));
    call("cmd=get_maxes\n", "maxes", reply, sizeof(reply));
    if (field(reply, "vallen_max", kvs, sizeof(kvs)) && strtoul(kvs, NULL, 10) < 2 * bytes)
        die("the launcher's vallen_max is smaller than the hex card", reply);
    call("cmd=get_my_kvsname\n", "my_kvsname", reply, sizeof(reply));
    if (!field(reply, "kvsname", kvs, sizeof(kvs)))
        die("no kvsname in", reply);

    t0 = now_us();
    card_hex(rank, mine, bytes);
    snprintf(cmd, sizeof(cmd), "cmd=put kvsname=%s key=card%u value=%s\n", kvs, rank,
             bytes ? mine : "-");
    call(cmd, "put_result", reply, sizeof(reply));
    t1 = now_us();
    call("cmd=barrier_in\n", "barrier_out", reply, sizeof(reply));
    t2 = now_us();
    for (uint32_t r = 0; r < size; r++) {
        snprintf(cmd, sizeof(cmd), "cmd=get kvsname=%s key=card%u\n", kvs, r);
        call(cmd, "get_result", reply, sizeof(reply));
        card_hex(r, want, bytes);
        if (!field(reply, "value", got, 2 * bytes + 64) || strcmp(got, bytes ? want : "-"))
            bad++;
    }
    t3 = now_us();
    for (int i = 0; i < barriers; i++)
        call("cmd=barrier_in\n", "barrier_out", reply, sizeof(reply));
    t4 = now_us();
    printf("wireup %u %u %.1f %.1f %.1f %.1f %.1f\n", rank, size, t1 - t0, t2 - t1, t3 - t2,
           barriers ? (t4 - t3) / barriers : 0.0, t4 - t0);
    fflush(stdout);
    if (bad)
        fprintf(stderr, "pmi1_wireup: rank %u: %d wrong card(s)\n", rank, bad);
    call("cmd=finalize\n", "finalize_ack", reply, sizeof(reply));
    free(mine);
    free(want);
    free(got);
    return bad ? 1 : 0;
}
