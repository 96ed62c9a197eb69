/* Little-endian packing of lengths, bytes and strings, and the cursor that reads them back
 * checking every length (fmx_pack.h). */
#include "fmx_pack.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int fmx_grow(uint8_t **buf, size_t *cap, size_t need)
{
    size_t ncap = *cap ? *cap : 256;
    uint8_t *n;

    while (ncap < need)
        ncap *= 2;
    if (ncap == *cap)
        return 0;
    if (!(n = realloc(*buf, ncap)))
        return -ENOMEM;
    *buf = n;
    *cap = ncap;
    return 0;
}

void fmx_put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

uint32_t fmx_get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void fmx_pack_init(fmx_pack_t *p)
{
    memset(p, 0, sizeof(*p));
}

void fmx_pack_free(fmx_pack_t *p)
{
    free(p->data);
    memset(p, 0, sizeof(*p));
}

static void put(fmx_pack_t *p, const void *b, size_t n)
{
    if (p->err || fmx_grow(&p->data, &p->cap, p->len + n)) {
        p->err = 1;
        return;
    }
    if (n)
        memcpy(p->data + p->len, b, n);
    p->len += n;
}

void fmx_pack_raw(fmx_pack_t *p, const void *b, size_t n)
{
    put(p, b, n);
}

void fmx_pack_u32(fmx_pack_t *p, uint32_t v)
{
    uint8_t b[4];

    fmx_put_le32(b, v);
    put(p, b, 4);
}

void fmx_pack_bytes(fmx_pack_t *p, const void *b, size_t n)
{
    if (n > UINT32_MAX) {
        p->err = 1;
        return;
    }
    fmx_pack_u32(p, (uint32_t)n);
    put(p, b, n);
}

void fmx_pack_str(fmx_pack_t *p, const char *s)
{
    fmx_pack_bytes(p, s ? s : "", s ? strlen(s) : 0);
}

void fmx_unpack_init(fmx_pack_t *p, const void *data, size_t len)
{
    memset(p, 0, sizeof(*p));
    p->data = (uint8_t *)data;
    p->len = len;
}

uint32_t fmx_unpack_u32(fmx_pack_t *p)
{
    uint32_t v;

    if (p->err || p->len - p->pos < 4) {
        p->err = 1;
        return 0;
    }
    v = fmx_get_le32(p->data + p->pos);
    p->pos += 4;
    return v;
}

const void *fmx_unpack_bytes(fmx_pack_t *p, size_t *n)
{
    uint32_t len = fmx_unpack_u32(p);
    const void *b;

    if (p->err || p->len - p->pos < len) {
        p->err = 1;
        *n = 0;
        return NULL;
    }
    b = p->data + p->pos;
    p->pos += len;
    *n = len;
    return b;
}

char *fmx_unpack_str(fmx_pack_t *p)
{
    size_t n;
    const char *b = fmx_unpack_bytes(p, &n);
    char *s;

    if (!b || memchr(b, '\0', n) || !(s = malloc(n + 1))) {
        p->err = 1;
        return NULL;
    }
    memcpy(s, b, n);
    s[n] = '\0';
    return s;
}

char **fmx_unpack_strings(fmx_pack_t *p, uint32_t n)
{
    char **v = calloc((size_t)n + 1, sizeof(*v));

    for (uint32_t i = 0; v && i < n; i++)
        if (!(v[i] = fmx_unpack_str(p))) {
            while (i)
                free(v[--i]);
            free(v);
            return NULL;
        }
    return v;
}
