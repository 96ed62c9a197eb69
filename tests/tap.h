/* A tiny TAP producer for the unit tests: plan(), ok(), diag(), done_testing(). The exit
 * status is non-zero when any test failed or the plan was not met. Header-only. */
#ifndef FMX_TAP_H
#define FMX_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int tap_planned = -1, tap_run, tap_failed;

static inline void plan(int n)
{
    tap_planned = n;
    printf("1..%d\n", n);
}

static inline void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void diag(const char *fmt, ...)
{
    va_list ap;

    printf("# ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

static inline int ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline int ok(int cond, const char *fmt, ...)
{
    va_list ap;

    tap_run++;
    if (!cond)
        tap_failed++;
    printf("%s %d - ", cond ? "ok" : "not ok", tap_run);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    return cond;
}

static inline int done_testing(void)
{
    if (tap_planned < 0)
        printf("1..%d\n", tap_run);
    else if (tap_planned != tap_run)
        printf("# planned %d tests but ran %d\n", tap_planned, tap_run);
    if (tap_failed)
        printf("# failed %d of %d\n", tap_failed, tap_run);
    return tap_failed || (tap_planned >= 0 && tap_planned != tap_run);
}

#endif
