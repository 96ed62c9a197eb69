/* Slurm's compressed host and count lists (hostlist.h). */
#include "hostlist.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct names {
    char **v;
    size_t n, cap;
};

static int push(struct names *o, const char *s, size_t len)
{
    char *copy;

    if (o->n == FMX_HOSTLIST_MAX)
        return -E2BIG;
    if (o->n == o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 16;
        char **v = realloc(o->v, cap * sizeof(*v));

        if (!v)
            return -ENOMEM;
        o->v = v;
        o->cap = cap;
    }
    if (!(copy = strndup(s, len)))
        return -ENOMEM;
    o->v[o->n++] = copy;
    return 0;
}

static int name_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '.' || c == '_';
}

/* A decimal number of at most 18 digits at s[0..len): 0, or -1. */
static int number(const char *s, size_t len, unsigned long long *v)
{
    if (!len || len > 18)
        return -1;
    *v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        *v = *v * 10 + (unsigned long long)(s[i] - '0');
    }
    return 0;
}

/* Appends the names of one host expression e[0..len) (no comma outside brackets), each after
 * pre (plen bytes); why says what is wrong when it fails. */
static int expand(const char *e, size_t len, const char *pre, size_t plen, struct names *o,
                  const char **why)
{
    const char *lb = memchr(e, '[', len), *rb, *item, *end;
    char buf[512];
    int rc;

    for (const char *c = e; c < (lb ? lb : e + len); c++)
        if (!name_char(*c)) {
            *why = *c == ']' ? "a ']' without its '['" : "a character no host name has";
            return -EINVAL;
        }
    if (plen + (size_t)((lb ? lb : e + len) - e) + 24 > sizeof(buf)) {
        *why = "a name longer than 400 characters";
        return -EINVAL;
    }
    memcpy(buf, pre, plen);
    memcpy(buf + plen, e, (size_t)((lb ? lb : e + len) - e));
    plen += (size_t)((lb ? lb : e + len) - e);
    if (!lb) {
        if (!plen) {
            *why = "an empty name";
            return -EINVAL;
        }
        return push(o, buf, plen);
    }
    if (!(rb = memchr(lb, ']', (size_t)(e + len - lb)))) {
        *why = "a '[' without its ']'";
        return -EINVAL;
    }
    if (rb == lb + 1) {
        *why = "an empty '[]'";
        return -EINVAL;
    }
    for (item = lb + 1; item < rb; item = end + 1) {
        const char *dash;
        unsigned long long lo, hi;
        size_t width;

        if (!(end = memchr(item, ',', (size_t)(rb - item))))
            end = rb;
        dash = memchr(item, '-', (size_t)(end - item));
        width = (size_t)((dash ? dash : end) - item);
        if (number(item, width, &lo) || (dash && number(dash + 1, (size_t)(end - dash - 1), &hi))) {
            *why = "a range that is not NUMBER or NUMBER-NUMBER";
            return -EINVAL;
        }
        if (!dash)
            hi = lo;
        if (hi < lo) {
            *why = "a range that goes down";
            return -EINVAL;
        }
        if (hi - lo >= FMX_HOSTLIST_MAX) {
            *why = "more than 65536 names";
            return -E2BIG;
        }
        for (unsigned long long v = lo; v <= hi; v++) {
            /* the width of the range's first number: [01-10] is 01 ... 10 */
            int k = snprintf(buf + plen, sizeof(buf) - plen, "%0*llu", (int)width, v);

            if ((rc = expand(rb + 1, (size_t)(e + len - rb - 1), buf, plen + (size_t)k, o, why)))
                return rc;
        }
    }
    return 0;
}

void fmx_hostlist_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

int fmx_hostlist_expand(const char *spec, char ***names, size_t *n, fmx_error_t *err)
{
    struct names o = {0};
    const char *p = spec, *why = NULL;
    int rc = 0;

    *names = NULL;
    *n = 0;
    if (!spec || !*spec) {
        fmx_errprintf(err, "an empty host list");
        return -EINVAL;
    }
    while (!rc) {
        const char *q = p;
        int depth = 0;

        /* one expression: up to a comma outside brackets */
        for (; *q && (*q != ',' || depth); q++)
            depth += *q == '[' ? 1 : *q == ']' ? -1 : 0;
        if ((rc = expand(p, (size_t)(q - p), "", 0, &o, &why))) {
            if (rc == -E2BIG && !why)
                why = "more than 65536 names";
            fmx_errprintf(err, "cannot read \"%.*s\" in \"%s\": %s", (int)(q - p), p, spec,
                          rc == -ENOMEM ? "out of memory" : why);
            break;
        }
        if (!*q)
            break;
        p = q + 1;
    }
    if (rc) {
        fmx_hostlist_free(o.v, o.n);
        return rc;
    }
    *names = o.v;
    *n = o.n;
    return 0;
}

int fmx_counts_expand(const char *spec, uint32_t **counts, size_t *n, fmx_error_t *err)
{
    uint32_t *v = NULL;
    size_t k = 0, cap = 0;
    const char *p = spec;

    *counts = NULL;
    *n = 0;
    if (!spec || !*spec) {
        fmx_errprintf(err, "an empty count list");
        return -EINVAL;
    }
    for (;;) {
        const char *end = strchr(p, ','), *open;
        unsigned long long count, times = 1;
        size_t len;

        if (!end)
            end = p + strlen(p);
        open = memchr(p, '(', (size_t)(end - p));
        len = (size_t)((open ? open : end) - p);
        if (number(p, len, &count) || count > UINT32_MAX ||
            (open &&
             (end - open < 4 || strncmp(open, "(x", 2) || end[-1] != ')' ||
              number(open + 2, (size_t)(end - open - 3), &times) || !times))) {
            fmx_errprintf(err, "cannot read \"%.*s\" in \"%s\": not COUNT or COUNT(xTIMES)",
                          (int)(end - p), p, spec);
            free(v);
            return -EINVAL;
        }
        if (times > FMX_HOSTLIST_MAX - k) {
            fmx_errprintf(err, "cannot read \"%.*s\" in \"%s\": more than 65536 counts",
                          (int)(end - p), p, spec);
            free(v);
            return -E2BIG;
        }
        if (k + times > cap) {
            uint32_t *w;

            cap = 2 * (k + (size_t)times);
            if (!(w = realloc(v, cap * sizeof(*v)))) {
                free(v);
                fmx_errprintf(err, "out of memory");
                return -ENOMEM;
            }
            v = w;
        }
        while (times--)
            v[k++] = (uint32_t)count;
        if (!*end)
            break;
        p = end + 1;
    }
    *counts = v;
    *n = k;
    return 0;
}
