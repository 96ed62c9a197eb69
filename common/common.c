/* Status text, logging, clock and environment helpers shared by all layers. */
#include "fmx_common.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *fmx_strerror(int status)
{
    switch (status) {
    case 0:
        return "success";
    case FMX_ERR_PROTO:
        return "protocol error";
    case FMX_ERR_ABORTED:
        return "aborted by a peer";
    case FMX_ERR_PEER_LOST:
        return "peer lost";
    default:
        return status < 0 ? strerror(-status) : "unknown status";
    }
}

static int log_level = -1;

void fmx_log_level_reload(void)
{
    log_level = -1;
}

int fmx_log_level(void)
{
    if (log_level < 0)
        log_level = (int)fmx_env_u64("FMX_DEBUG", FMX_LOG_WARN);
    return log_level;
}

void fmx_log(enum fmx_log_level level, const char *who, const char *fmt, ...)
{
    static const char *names[] = {"error", "warning", "info", "debug"};
    char line[1024];
    va_list ap;
    int n;

    if ((int)level > fmx_log_level())
        return;
    if (level == FMX_LOG_DEBUG) /* with a monotonic time, comparable between processes */
        n = snprintf(line, sizeof(line), "fmx[%d] %.6f %s: %s: ", (int)getpid(),
                     (double)fmx_now_ns() / 1e9, who, names[level]);
    else
        n = snprintf(line, sizeof(line), "fmx[%d] %s: %s: ", (int)getpid(), who, names[level]);
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line);
}

uint64_t fmx_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void fmx_errprintf(fmx_error_t *err, const char *fmt, ...)
{
    va_list ap;

    if (!err)
        return;
    va_start(ap, fmt);
    vsnprintf(err->text, sizeof(err->text), fmt, ap);
    va_end(ap);
}

uint64_t fmx_env_u64(const char *name, uint64_t dflt)
{
    const char *s = getenv(name);
    char *end;
    unsigned long long v;

    if (!s || !*s)
        return dflt;
    errno = 0;
    v = strtoull(s, &end, 0);
    if (errno || *end)
        return dflt;
    return (uint64_t)v;
}

int fmx_self_dir(char *out, size_t len)
{
    ssize_t n = readlink("/proc/self/exe", out, len - 1);

    if (n <= 0)
        return n < 0 ? -errno : -ENOENT;
    out[n] = '\0';
    *strrchr(out, '/') = '\0';
    return 0;
}

void fmx_malloc_for_daemons(void)
{
    uint64_t keep = fmx_env_u64("FMX_MALLOC_KEEP_MB", 256);

    if (keep == 0)
        return;
    if (keep > 4096)
        keep = 4096;
    /* glibc's largest mmap threshold is 32 MiB on 64-bit: larger buffers stay mmap'd */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, (int)(keep << 20));
}
