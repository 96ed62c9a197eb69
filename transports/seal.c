/* fmx_seal.h: per-sender keys, one-time Poly1305 keys from ChaCha20, replay windows. */
#include "fmx_seal.h"

#include "fmx_crypto.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

struct window {
    uint64_t top; /* the highest number accepted, 0 before the first */
    uint64_t seen[FMX_SEAL_WINDOW / 64]; /* bit i: number top - i was accepted */
};

struct fmx_seal {
    uint32_t self, members;
    uint8_t (*keys)[FMX_SEAL_KEY]; /* per sender */
    uint64_t *sent, *sent_bulk; /* per receiver: the last number used */
    struct window *win; /* per sender */
    EVP_CIPHER *chacha;
    EVP_CIPHER_CTX *stream;
    EVP_MAC *poly;
    EVP_MAC_CTX *mac;
};

int fmx_seal_key_from_secret(const void *secret, size_t len, uint8_t key[FMX_SEAL_KEY])
{
    static const char label[] = "fmx-fabric-key";

    return fmx_hmac_sha256(secret, len, label, sizeof(label) - 1, key);
}

void fmx_seal_destroy(fmx_seal_t *s)
{
    if (!s)
        return;
    if (s->keys)
        fmx_wipe(s->keys, (size_t)s->members * FMX_SEAL_KEY);
    free(s->keys);
    free(s->sent);
    free(s->sent_bulk);
    free(s->win);
    EVP_CIPHER_CTX_free(s->stream);
    EVP_CIPHER_free(s->chacha);
    EVP_MAC_CTX_free(s->mac);
    EVP_MAC_free(s->poly);
    free(s);
}

int fmx_seal_create(const uint8_t key[FMX_SEAL_KEY], uint32_t self, uint32_t members,
                    fmx_seal_t **out)
{
    fmx_seal_t *s = calloc(1, sizeof(*s));
    uint8_t label[19] = "fmx-seal-sender";

    if (!s || self >= members)
        goto fail;
    s->self = self;
    s->members = members;
    s->keys = calloc(members, FMX_SEAL_KEY);
    s->sent = calloc(members, sizeof(*s->sent));
    s->sent_bulk = calloc(members, sizeof(*s->sent_bulk));
    s->win = calloc(members, sizeof(*s->win));
    s->chacha = EVP_CIPHER_fetch(NULL, "ChaCha20", NULL);
    s->stream = EVP_CIPHER_CTX_new();
    s->poly = EVP_MAC_fetch(NULL, "POLY1305", NULL);
    s->mac = s->poly ? EVP_MAC_CTX_new(s->poly) : NULL;
    if (!s->keys || !s->sent || !s->sent_bulk || !s->win || !s->chacha || !s->stream || !s->mac)
        goto fail;
    for (uint32_t i = 0; i < members; i++) {
        label[15] = (uint8_t)(i >> 24);
        label[16] = (uint8_t)(i >> 16);
        label[17] = (uint8_t)(i >> 8);
        label[18] = (uint8_t)i;
        if (fmx_hmac_sha256(key, FMX_SEAL_KEY, label, sizeof(label), s->keys[i]))
            goto fail;
    }
    *out = s;
    return 0;
fail:
    fmx_seal_destroy(s);
    return -ENOMEM;
}

uint64_t fmx_seal_next(fmx_seal_t *s, uint32_t to, int bulk)
{
    return bulk ? FMX_SEAL_BULK | ++s->sent_bulk[to] : ++s->sent[to];
}

/* Poly1305 of the segments under the one-time key of (from -> to, q). */
static int compute(fmx_seal_t *s, uint32_t from, uint32_t to, uint64_t q, const fmx_seg_t *segs,
                   size_t n, uint8_t tag[FMX_SEAL_TAG])
{
    static const uint8_t zero[32];
    uint8_t iv[16] = {0}, otk[32];
    size_t len = 0;
    int outl = 0, ok;

    /* the 16-byte IV is the block counter (0) and the 96-bit nonce: receiver, number */
    memcpy(iv + 4, &to, 4);
    memcpy(iv + 8, &q, 8);
    ok = EVP_EncryptInit_ex(s->stream, s->chacha, NULL, s->keys[from], iv) == 1 &&
        EVP_EncryptUpdate(s->stream, otk, &outl, zero, sizeof(zero)) == 1 && outl == 32 &&
        EVP_MAC_init(s->mac, otk, sizeof(otk), NULL) == 1;
    for (size_t i = 0; ok && i < n; i++)
        ok = !segs[i].len || EVP_MAC_update(s->mac, segs[i].base, segs[i].len) == 1;
    ok = ok && EVP_MAC_final(s->mac, tag, &len, FMX_SEAL_TAG) == 1 && len == FMX_SEAL_TAG;
    fmx_wipe(otk, sizeof(otk));
    return ok ? 0 : -EIO;
}

int fmx_seal_sign(fmx_seal_t *s, uint32_t to, uint64_t q, const fmx_seg_t *segs, size_t n,
                  uint8_t tag[FMX_SEAL_TAG])
{
    if (to >= s->members || !q)
        return -EINVAL;
    return compute(s, s->self, to, q, segs, n, tag);
}

/* Whether q is new for w; records it when it is. */
static int fresh(struct window *w, uint64_t q)
{
    uint64_t back;

    if (q > w->top) {
        uint64_t shift = q - w->top;

        if (shift >= FMX_SEAL_WINDOW) {
            memset(w->seen, 0, sizeof(w->seen));
        } else {
            for (uint64_t k = 0; k < shift; k++) { /* shift the bitmap up by one, shift times */
                for (size_t i = FMX_SEAL_WINDOW / 64 - 1; i > 0; i--)
                    w->seen[i] = w->seen[i] << 1 | w->seen[i - 1] >> 63;
                w->seen[0] <<= 1;
            }
        }
        w->top = q;
        w->seen[0] |= 1;
        return 1;
    }
    back = w->top - q;
    if (back >= FMX_SEAL_WINDOW || (w->seen[back / 64] >> (back % 64) & 1))
        return 0;
    w->seen[back / 64] |= 1ull << (back % 64);
    return 1;
}

int fmx_seal_verify(fmx_seal_t *s, uint32_t from, uint64_t q, const fmx_seg_t *segs, size_t n,
                    const uint8_t tag[FMX_SEAL_TAG])
{
    uint8_t want[FMX_SEAL_TAG];
    int rc;

    if (from >= s->members || !q || q == FMX_SEAL_BULK)
        return -EINVAL;
    if ((rc = compute(s, from, s->self, q, segs, n, want)))
        return rc;
    if (!fmx_same_bytes(want, tag, FMX_SEAL_TAG))
        return -EBADMSG;
    if (!(q & FMX_SEAL_BULK) && !fresh(&s->win[from], q))
        return -EALREADY;
    return 0;
}
