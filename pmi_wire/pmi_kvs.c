/* The node's PMI key-value space (pmi_kvs.h): an open-addressing hash table of owned strings,
 * and the list of this node's puts since the last barrier. */
#include "pmi_kvs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct slot {
    char *key, *value;
};

struct fmx_pmi_kvs {
    struct slot *slots;
    size_t cap, count; /* cap: a power of two */
    uint32_t *pending; /* slot indices of this node's puts since the last barrier */
    size_t npending, pendcap;
};

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */

    while (*s)
        h = (h ^ (uint8_t)*s++) * 1099511628211ull;
    return h;
}

fmx_pmi_kvs_t *fmx_pmi_kvs_new(void)
{
    fmx_pmi_kvs_t *k = calloc(1, sizeof(*k));

    if (k && !(k->slots = calloc(k->cap = 64, sizeof(*k->slots)))) {
        free(k);
        return NULL;
    }
    return k;
}

void fmx_pmi_kvs_free(fmx_pmi_kvs_t *k)
{
    if (!k)
        return;
    for (size_t i = 0; i < k->cap; i++) {
        free(k->slots[i].key);
        free(k->slots[i].value);
    }
    free(k->slots);
    free(k->pending);
    free(k);
}

static size_t find(const fmx_pmi_kvs_t *k, const char *key)
{
    size_t i = hash(key) & (k->cap - 1);

    while (k->slots[i].key && strcmp(k->slots[i].key, key))
        i = (i + 1) & (k->cap - 1);
    return i;
}

static int grow(fmx_pmi_kvs_t *k)
{
    struct slot *old = k->slots;
    size_t oldcap = k->cap;
    struct slot *fresh = calloc(oldcap * 2, sizeof(*fresh));

    if (!fresh)
        return -ENOMEM;
    k->slots = fresh;
    k->cap = oldcap * 2;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].key)
            k->slots[find(k, old[i].key)] = old[i];
    /* pending holds slot indices: find them again */
    for (size_t i = 0; i < k->npending; i++)
        k->pending[i] = (uint32_t)find(k, old[k->pending[i]].key);
    free(old);
    return 0;
}

static int mark_pending(fmx_pmi_kvs_t *k, size_t slot)
{
    for (size_t i = 0; i < k->npending; i++)
        if (k->pending[i] == slot)
            return 0;
    if (k->npending == k->pendcap) {
        size_t cap = k->pendcap ? k->pendcap * 2 : 64;
        uint32_t *p = realloc(k->pending, cap * sizeof(*p));

        if (!p)
            return -ENOMEM;
        k->pending = p;
        k->pendcap = cap;
    }
    k->pending[k->npending++] = (uint32_t)slot;
    return 0;
}

static int put_n(fmx_pmi_kvs_t *k, const char *key, size_t klen, const char *value, size_t vlen,
                 int pending)
{
    char *kc, *vc;
    size_t i;

    if ((k->count + 1) * 2 > k->cap && grow(k))
        return -ENOMEM;
    if (!(kc = strndup(key, klen)) || !(vc = strndup(value, vlen))) {
        free(kc);
        return -ENOMEM;
    }
    i = find(k, kc);
    if (k->slots[i].key) {
        free(kc);
        free(k->slots[i].value);
        k->slots[i].value = vc;
    } else {
        k->slots[i] = (struct slot){kc, vc};
        k->count++;
    }
    return pending ? mark_pending(k, i) : 0;
}

int fmx_pmi_kvs_put(fmx_pmi_kvs_t *k, const char *key, const char *value, int pending)
{
    return put_n(k, key, strlen(key), value, strlen(value), pending);
}

const char *fmx_pmi_kvs_get(const fmx_pmi_kvs_t *k, const char *key)
{
    return k->slots[find(k, key)].value;
}

size_t fmx_pmi_kvs_count(const fmx_pmi_kvs_t *k)
{
    return k->count;
}

static void be32(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static size_t rd32(const uint8_t *p)
{
    return (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
}

int fmx_pmi_kvs_pending_pack(fmx_pmi_kvs_t *k, uint8_t **blob, size_t *len)
{
    size_t n = 0, at = 0;
    uint8_t *b;

    for (size_t i = 0; i < k->npending; i++) {
        const struct slot *s = &k->slots[k->pending[i]];
        n += 8 + strlen(s->key) + strlen(s->value);
    }
    if (!(b = malloc(n ? n : 1)))
        return -ENOMEM;
    for (size_t i = 0; i < k->npending; i++) {
        const struct slot *s = &k->slots[k->pending[i]];
        size_t kl = strlen(s->key), vl = strlen(s->value);

        be32(b + at, kl);
        be32(b + at + 4, vl);
        memcpy(b + at + 8, s->key, kl);
        memcpy(b + at + 8 + kl, s->value, vl);
        at += 8 + kl + vl;
    }
    k->npending = 0;
    *blob = b;
    *len = n;
    return 0;
}

int fmx_pmi_kvs_unpack(fmx_pmi_kvs_t *k, const uint8_t *blob, size_t len)
{
    size_t at = 0;

    while (at < len) {
        size_t kl, vl;

        if (len - at < 8)
            return -EBADMSG;
        kl = rd32(blob + at);
        vl = rd32(blob + at + 4);
        at += 8;
        if (kl == 0 || kl > len - at || vl > len - at - kl ||
            memchr(blob + at, 0, kl + vl)) /* keys and values are text */
            return -EBADMSG;
        int rc = put_n(k, (const char *)blob + at, kl, (const char *)blob + at + kl, vl, 0);
        if (rc)
            return rc;
        at += kl + vl;
    }
    return 0;
}
