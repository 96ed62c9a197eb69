/* Small pieces every layer shares: status codes, logging, a monotonic clock and an error-text
 * buffer. Owns no state besides the log level; knows nothing of PMIx, libfabric or the engine. */
#ifndef FMX_COMMON_H
#define FMX_COMMON_H

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Status convention: 0 or a negative errno value. These extra codes stay clear of errno's range. */
enum {
    FMX_ERR_PROTO = -1001, /* a peer sent a frame that does not decode */
    FMX_ERR_ABORTED = -1002, /* a peer aborted the collective */
    FMX_ERR_PEER_LOST = -1003,
};

const char *fmx_strerror(int status);

enum fmx_log_level { FMX_LOG_ERROR = 0, FMX_LOG_WARN = 1, FMX_LOG_INFO = 2, FMX_LOG_DEBUG = 3 };

/* Log level comes from FMX_DEBUG (0..3, default 1 = warnings) on first use. */
int fmx_log_level(void);
/* FMX_DEBUG is read again at the next log call (after a daemon took a job's settings). */
void fmx_log_level_reload(void);
void fmx_log(enum fmx_log_level level, const char *who, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define fmx_debug(who, ...)                                                                        \
    do {                                                                                           \
        if (fmx_log_level() >= FMX_LOG_DEBUG)                                                      \
            fmx_log(FMX_LOG_DEBUG, who, __VA_ARGS__);                                              \
    } while (0)

/* Nanoseconds from CLOCK_MONOTONIC. */
uint64_t fmx_now_ns(void);

/* A user-facing error sentence, filled where an error is first decided. */
typedef struct fmx_error {
    char text[256];
} fmx_error_t;

void fmx_errprintf(fmx_error_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reads an unsigned integer from the environment; returns dflt when unset or malformed. */
uint64_t fmx_env_u64(const char *name, uint64_t dflt);

/* A daemon's malloc keeps freed buffers up to 32 MiB in its heap instead of returning them to
 * the kernel at once: a fence of megabytes allocates and frees buffers of its size at every
 * step, and glibc's defaults (mmap above 128 KiB, or a heap trimmed above a moving threshold)
 * make each one fresh pages, faulted in one by one (P = 2, 16 MiB: 100 ms a fence, 9 ms
 * kept). Freed memory is held up to FMX_MALLOC_KEEP_MB (256) beyond use. Call before any
 * thread starts. */
void fmx_malloc_for_daemons(void);

/* The directory holding the running executable (from /proc/self/exe): 0, or -errno. */
int fmx_self_dir(char *out, size_t len);

#endif
