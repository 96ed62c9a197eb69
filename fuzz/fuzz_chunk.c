/* libFuzzer target for the libfabric transport's check of a received chunk (ofi_chunk.c): what
 * any host that reaches an endpoint can send it. Member 0 of 4 receives; the first input byte
 * chooses the provider tag's sender (bits 0-1) and whether the harness signs the chunk as that
 * member would (bit 2; then the chunk reaches the checks behind the MAC). Unsigned chunks must
 * never be accepted; accepted ones must describe a payload inside the input. */
#include "ofi_internal.h"

#include <stdlib.h>
#include <string.h>

static int no_addr(fmx_transport_t *t, uint32_t peer, char *buf, size_t len)
{
    (void)t, (void)peer, (void)buf, (void)len;
    return -EINVAL;
}

static const fmx_transport_ops_t ops = {.name = "fuzz", .peer_addr = no_addr};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fmx_seal_t *senders[4];
    static const uint8_t key[FMX_SEAL_KEY] = "the job's fabric key, 32 bytes.";
    struct ofi_tp tp;
    const uint8_t *payload;
    uint32_t src, id, from;
    uint64_t length, q;
    size_t plen;
    uint8_t kind, *c;
    int sign, rc;

    if (!senders[0])
        for (uint32_t i = 0; i < 4; i++)
            if (fmx_seal_create(key, i, 4, &senders[i]))
                abort();
    if (size < 1)
        return 0;
    from = data[0] & 3;
    sign = data[0] & 4;
    size--;
    if (!(c = malloc(size ? size : 1)))
        return 0;
    memcpy(c, data + 1, size);
    if (sign && size >= CHUNK_HEADER + FMX_SEAL_TAG) {
        memcpy(&src, c, 4);
        memcpy(&q, c + 24, 8);
        if (src < 4 && q)
            fmx_seal_sign(senders[src], 0, q, &(fmx_seg_t){c, size - FMX_SEAL_TAG}, 1,
                          c + size - FMX_SEAL_TAG);
    }
    memset(&tp, 0, sizeof(tp));
    tp.base.ops = &ops;
    tp.npeers = 4;
    tp.peers = calloc(4, sizeof(*tp.peers));
    tp.eager = 4096;
    if (!tp.peers || fmx_chunk_set_key(&tp.base, key, sizeof(key)))
        abort();
    rc = fmx_chunk_check(&tp, from, c, size, &src, &kind, &id, &length, &payload, &plen);
    if (rc == 0 && (!sign || payload < c || payload + plen > c + size || src != from))
        __builtin_trap();
    fmx_seal_destroy(tp.seal);
    free(tp.warned);
    free(tp.peers);
    free(c);
    return 0;
}
