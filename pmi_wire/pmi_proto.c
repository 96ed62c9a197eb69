/* PMI-1 and PMI-2 framing and parsing of one connection (pmi_proto.h). */
#include "pmi_proto.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_MAX 120

struct fmx_pmi_conn {
    int version;
    char *in; /* bytes not yet parsed */
    size_t inlen, incap;
    char *out; /* replies not yet taken: out[outoff .. outlen) */
    size_t outoff, outlen, outcap;
    char *arena; /* the request being delivered, NULs inserted */
    size_t arenacap;
    fmx_pmi_pair_t pairs[FMX_PMI_MAX_PAIRS + 1];
    char text[TEXT_MAX + 8];
};

const char *fmx_pmi_get(const fmx_pmi_msg_t *m, const char *key)
{
    for (uint32_t i = 0; i < m->npairs; i++)
        if (!strcmp(m->pairs[i].key, key))
            return m->pairs[i].value;
    return NULL;
}

fmx_pmi_conn_t *fmx_pmi_conn_new(void)
{
    fmx_pmi_conn_t *c = calloc(1, sizeof(*c));

    if (c)
        c->version = 1;
    return c;
}

void fmx_pmi_conn_free(fmx_pmi_conn_t *c)
{
    if (!c)
        return;
    free(c->in);
    free(c->out);
    free(c->arena);
    free(c);
}

int fmx_pmi_conn_version(const fmx_pmi_conn_t *c)
{
    return c->version;
}

void fmx_pmi_conn_set_version(fmx_pmi_conn_t *c, int version)
{
    c->version = version;
}

static int reserve(char **buf, size_t *cap, size_t need)
{
    size_t n = *cap ? *cap : 256;
    char *p;

    if (need <= *cap)
        return 0;
    while (n < need)
        n *= 2;
    if (!(p = realloc(*buf, n)))
        return -ENOMEM;
    *buf = p;
    *cap = n;
    return 0;
}

/* A printable, shortened copy of bytes for an error sentence. */
static const char *quote(fmx_pmi_conn_t *c, const char *s, size_t n)
{
    size_t k = n < TEXT_MAX ? n : TEXT_MAX, o = 0;

    while (k && (s[k - 1] == '\n'))
        k--;
    for (size_t i = 0; i < k; i++)
        c->text[o++] = isprint((unsigned char)s[i]) ? s[i] : (s[i] == '\n' ? '|' : '?');
    if (k < n && n > TEXT_MAX)
        o += (size_t)sprintf(c->text + o, "...");
    c->text[o] = 0;
    return c->text;
}

static int add_pair(fmx_pmi_conn_t *c, uint32_t *n, char *key, char *value)
{
    if (*n >= FMX_PMI_MAX_PAIRS)
        return -E2BIG;
    c->pairs[*n].key = key;
    c->pairs[(*n)++].value = value;
    return 0;
}

static int deliver(fmx_pmi_conn_t *c, int version, uint32_t n, fmx_pmi_msg_f cb, void *arg,
                   fmx_error_t *err)
{
    fmx_pmi_msg_t m = {.version = version, .npairs = n - 1, .pairs = c->pairs + 1};

    if (n == 0 || (strcmp(c->pairs[0].key, "cmd") && strcmp(c->pairs[0].key, "mcmd")) ||
        !*c->pairs[0].value) {
        fmx_errprintf(err, "a request without cmd= first: '%s'", c->text);
        return -EPROTO;
    }
    m.cmd = c->pairs[0].value;
    m.text = c->text;
    cb(arg, &m);
    return 0;
}

/* One PMI-1 request in[0..len) (without the final '\n'): space-separated k=v, or, after mcmd=,
 * one k=v per line up to "endcmd". */
static int parse1(fmx_pmi_conn_t *c, size_t len, fmx_pmi_msg_f cb, void *arg, fmx_error_t *err)
{
    int multi = len >= 5 && !memcmp(c->in, "mcmd=", 5);
    uint32_t n = 0;
    char *p, *end;

    if (reserve(&c->arena, &c->arenacap, len + 1))
        return -ENOMEM;
    memcpy(c->arena, c->in, len);
    c->arena[len] = 0;
    quote(c, c->in, len);
    if (memchr(c->arena, 0, len)) {
        fmx_errprintf(err, "a NUL byte in request '%s'", c->text);
        return -EPROTO;
    }
    for (p = c->arena, end = c->arena + len; p < end;) {
        char sep = multi ? '\n' : ' ';
        char *tok = p, *stop = memchr(p, sep, (size_t)(end - p)), *eq;

        if (!stop)
            stop = end;
        *stop = 0;
        p = stop + 1;
        if (!*tok || (multi && !strcmp(tok, "endcmd")))
            continue;
        if ((eq = strchr(tok, '=')))
            *eq = 0;
        if (add_pair(c, &n, tok, eq ? eq + 1 : tok + strlen(tok))) {
            fmx_errprintf(err, "more than %d fields in request '%s'", FMX_PMI_MAX_PAIRS, c->text);
            return -EPROTO;
        }
    }
    if (multi && n && !strcmp(c->pairs[0].key, "mcmd"))
        c->pairs[0].key = "cmd";
    return deliver(c, 1, n, cb, arg, err);
}

/* The end of a PMI-1 request in in[0..inlen): the offset past its last '\n', or 0 when it
 * is not all there; -EPROTO when it cannot end within the limits. */
static long frame1(fmx_pmi_conn_t *c, fmx_error_t *err)
{
    if (c->inlen >= 5 && !memcmp(c->in, "mcmd=", 5)) {
        for (size_t at = 0; at < c->inlen;) {
            char *nl = memchr(c->in + at, '\n', c->inlen - at);

            if (!nl)
                break;
            if ((size_t)(nl - c->in) - at == 6 && !memcmp(c->in + at, "endcmd", 6))
                return nl - c->in + 1;
            at = (size_t)(nl - c->in) + 1;
        }
        if (c->inlen > FMX_PMI1_MCMD_MAX) {
            fmx_errprintf(err, "a multi-line request over %d bytes without endcmd: '%s'",
                          FMX_PMI1_MCMD_MAX, quote(c, c->in, c->inlen));
            return -EPROTO;
        }
        return 0;
    }
    char *nl = memchr(c->in, '\n', c->inlen < FMX_PMI1_LINE_MAX ? c->inlen : FMX_PMI1_LINE_MAX);

    if (nl)
        return nl - c->in + 1;
    if (c->inlen >= FMX_PMI1_LINE_MAX) {
        fmx_errprintf(err, "a line over %d bytes: '%s'", FMX_PMI1_LINE_MAX,
                      quote(c, c->in, c->inlen));
        return -EPROTO;
    }
    return 0;
}

/* PMI-2: the body's length from the 6-byte field (digits, spaces on either side). */
static long length2(fmx_pmi_conn_t *c, fmx_error_t *err)
{
    long v = 0;
    int digits = 0, after = 0;

    for (int i = 0; i < FMX_PMI2_LEN_FIELD; i++) {
        char ch = c->in[i];

        if (ch == ' ') {
            after = digits > 0;
            continue;
        }
        if (ch < '0' || ch > '9' || after) {
            digits = -1;
            break;
        }
        v = v * 10 + (ch - '0');
        digits++;
    }
    if (digits <= 0 || v <= 0 || v > FMX_PMI2_MSG_MAX) {
        fmx_errprintf(err, "a PMI-2 length field that is not a length up to %d: '%s'",
                      FMX_PMI2_MSG_MAX, quote(c, c->in, c->inlen));
        return -EPROTO;
    }
    return v;
}

/* One PMI-2 body at in + 6, len bytes: k=v; pairs, ";;" standing for ';' in a value. */
static int parse2(fmx_pmi_conn_t *c, size_t len, fmx_pmi_msg_f cb, void *arg, fmx_error_t *err)
{
    const char *s = c->in + FMX_PMI2_LEN_FIELD;
    char *d;
    uint32_t n = 0;
    size_t i = 0;

    if (reserve(&c->arena, &c->arenacap, len + 1))
        return -ENOMEM;
    d = c->arena;
    quote(c, s, len);
    if (memchr(s, 0, len)) {
        fmx_errprintf(err, "a NUL byte in request '%s'", c->text);
        return -EPROTO;
    }
    while (i < len) {
        char *key = d, *value;

        while (i < len && s[i] != '=' && s[i] != ';')
            *d++ = s[i++];
        if (i >= len || s[i] != '=' || d == key) {
            fmx_errprintf(err, "a field that is not key=value; in request '%s'", c->text);
            return -EPROTO;
        }
        *d++ = 0;
        i++;
        value = d;
        while (i < len) {
            if (s[i] == ';' && !(i + 1 < len && s[i + 1] == ';'))
                break;
            if (s[i] == ';')
                i++; /* ";;" */
            *d++ = s[i++];
        }
        *d++ = 0;
        i++; /* the ';' (or the end) */
        if (add_pair(c, &n, key, value)) {
            fmx_errprintf(err, "more than %d fields in request '%s'", FMX_PMI_MAX_PAIRS, c->text);
            return -EPROTO;
        }
    }
    return deliver(c, 2, n, cb, arg, err);
}

int fmx_pmi_conn_input(fmx_pmi_conn_t *c, const void *buf, size_t len, fmx_pmi_msg_f cb, void *arg,
                       fmx_error_t *err)
{
    size_t used = 0;
    int rc = 0;

    if (len == 0) {
        if (c->inlen) {
            fmx_errprintf(err, "the connection ended in the middle of a request: '%s'",
                          quote(c, c->in, c->inlen));
            return -EPROTO;
        }
        return 0;
    }
    if (reserve(&c->in, &c->incap, c->inlen + len))
        return -ENOMEM;
    memcpy(c->in + c->inlen, buf, len);
    c->inlen += len;
    while (rc == 0 && c->inlen > used) {
        long whole;

        /* parse from the start of in: move what was used out of the way first */
        if (used) {
            memmove(c->in, c->in + used, c->inlen - used);
            c->inlen -= used;
            used = 0;
        }
        if (c->version == 2) {
            if (c->inlen < FMX_PMI2_LEN_FIELD)
                break;
            if ((whole = length2(c, err)) < 0)
                return (int)whole;
            if (c->inlen < FMX_PMI2_LEN_FIELD + (size_t)whole)
                break;
            used = FMX_PMI2_LEN_FIELD + (size_t)whole;
            rc = parse2(c, (size_t)whole, cb, arg, err);
        } else {
            if ((whole = frame1(c, err)) <= 0) {
                if (whole < 0)
                    return (int)whole;
                break;
            }
            used = (size_t)whole;
            rc = parse1(c, used - 1, cb, arg, err);
        }
    }
    if (used) {
        memmove(c->in, c->in + used, c->inlen - used);
        c->inlen -= used;
    }
    return rc;
}

static int put(fmx_pmi_conn_t *c, const char *s, size_t n)
{
    if (reserve(&c->out, &c->outcap, c->outlen + n))
        return -ENOMEM;
    memcpy(c->out + c->outlen, s, n);
    c->outlen += n;
    return 0;
}

int fmx_pmi_reply(fmx_pmi_conn_t *c, const char *cmd, const char *const *kv)
{
    size_t start = c->outlen, body;
    int v2 = c->version == 2, rc;
    char head[FMX_PMI2_LEN_FIELD + 1];

    if (v2)
        rc = put(c, "      ", FMX_PMI2_LEN_FIELD);
    else
        rc = 0;
    rc = rc ? rc : put(c, "cmd=", 4);
    rc = rc ? rc : put(c, cmd, strlen(cmd));
    for (const char *const *p = kv; !rc && p && p[0] && p[1]; p += 2) {
        const char *v = p[1];

        if (!v2 && strpbrk(v, " \n")) {
            rc = -EMSGSIZE; /* a PMI-1 value ends at a space */
            break;
        }
        rc = put(c, v2 ? ";" : " ", 1);
        rc = rc ? rc : put(c, p[0], strlen(p[0]));
        rc = rc ? rc : put(c, "=", 1);
        for (const char *s = v; !rc && *s; s++)
            rc = *s == ';' && v2 ? put(c, ";;", 2) : put(c, s, 1);
    }
    rc = rc ? rc : put(c, v2 ? ";" : "\n", 1);
    body = c->outlen - start - (v2 ? FMX_PMI2_LEN_FIELD : 0);
    if (!rc && (v2 ? body > FMX_PMI2_MSG_MAX : body > FMX_PMI1_LINE_MAX - 1))
        rc = -EMSGSIZE; /* the client's readline would cut it */
    if (rc) {
        c->outlen = start;
        return rc;
    }
    if (v2) {
        snprintf(head, sizeof(head), "%-6zu", body);
        memcpy(c->out + start, head, FMX_PMI2_LEN_FIELD);
    }
    return 0;
}

int fmx_pmi_replyv(fmx_pmi_conn_t *c, const char *cmd, ...)
{
    const char *kv[2 * 16 + 1];
    int n = 0;
    va_list ap;

    va_start(ap, cmd);
    while (n < 2 * 16 && (kv[n] = va_arg(ap, const char *)))
        n++;
    va_end(ap);
    kv[n] = NULL;
    return fmx_pmi_reply(c, cmd, kv);
}

const char *fmx_pmi_conn_output(const fmx_pmi_conn_t *c, size_t *len)
{
    *len = c->outlen - c->outoff;
    return c->out + c->outoff;
}

void fmx_pmi_conn_consumed(fmx_pmi_conn_t *c, size_t n)
{
    c->outoff += n;
    if (c->outoff >= c->outlen)
        c->outoff = c->outlen = 0;
}

/* ---- PMI_process_mapping ---- */

int fmx_pmi_process_mapping(const uint32_t *node_of, uint32_t size, char *buf, size_t cap)
{
    size_t at;
    uint32_t r = 0;
    int n;

    if ((n = snprintf(buf, cap, "(vector")) < 0 || (size_t)n >= cap)
        return -EMSGSIZE;
    at = (size_t)n;
    while (r < size) {
        /* a block: nodes first, first+1, ... each running ppn consecutive ranks */
        uint32_t first = node_of[r], ppn = 0, count = 0;

        while (r + ppn < size && node_of[r + ppn] == first)
            ppn++;
        for (;;) {
            uint32_t k = 0, at_rank = r + count * ppn;

            while (at_rank + k < size && k < ppn && node_of[at_rank + k] == first + count)
                k++;
            /* a run of the next node must be whole and end there */
            if (k != ppn || (at_rank + k < size && node_of[at_rank + k] == first + count))
                break;
            count++;
        }
        n = snprintf(buf + at, cap - at, ",(%u,%u,%u)", first, count, ppn);
        if (n < 0 || (size_t)n >= cap - at)
            return -EMSGSIZE;
        at += (size_t)n;
        r += count * ppn;
    }
    if (at + 2 > cap)
        return -EMSGSIZE;
    memcpy(buf + at, ")", 2);
    return 0;
}
