/* Encoding and validating decoding of engine frames (see frame.h for the layout). */
#include "frame.h"

static void put_u64(uint8_t *p, uint64_t v)
{
    fmx_put_u32(p, (uint32_t)v);
    fmx_put_u32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t get_u64(const uint8_t *p)
{
    return (uint64_t)fmx_get_u32(p) | (uint64_t)fmx_get_u32(p + 4) << 32;
}

void fmx_frame_put_header(uint8_t *buf, const fmx_frame_t *f)
{
    fmx_put_u32(buf, FMX_FRAME_MAGIC);
    buf[4] = FMX_FRAME_VERSION;
    buf[5] = f->type;
    buf[6] = f->algo;
    buf[7] = f->flags;
    put_u64(buf + 8, f->sig);
    fmx_put_u32(buf + 16, f->seq);
    fmx_put_u32(buf + 20, f->step);
    fmx_put_u32(buf + 24, f->src);
    fmx_put_u32(buf + 28, f->nmembers);
    fmx_put_u32(buf + 32, f->payload_len);
    fmx_put_u32(buf + 36, f->aux);
}

static int check_blocks(const fmx_frame_t *f, fmx_error_t *err)
{
    uint64_t table = (uint64_t)f->aux * 8u;
    uint64_t sum = 0;

    if (table > f->payload_len) {
        fmx_errprintf(err, "block table of %u entries does not fit a %u-byte payload", f->aux,
                      f->payload_len);
        return FMX_ERR_PROTO;
    }
    for (uint32_t i = 0; i < f->aux; i++) {
        uint32_t pos = fmx_get_u32(f->payload + 8u * i);
        uint32_t len = fmx_get_u32(f->payload + 8u * i + 4);

        if (pos >= f->nmembers) {
            fmx_errprintf(err, "block %u names position %u of a %u-member collective", i, pos,
                          f->nmembers);
            return FMX_ERR_PROTO;
        }
        sum += len;
    }
    if (sum != f->payload_len - table) {
        fmx_errprintf(err, "block lengths sum to %llu bytes but %llu follow the table",
                      (unsigned long long)sum, (unsigned long long)(f->payload_len - table));
        return FMX_ERR_PROTO;
    }
    return 0;
}

int fmx_frame_decode(const void *buf, size_t len, fmx_frame_t *f, fmx_error_t *err)
{
    const uint8_t *p = buf;
    uint32_t magic;

    if (len < FMX_FRAME_HEADER) {
        fmx_errprintf(err, "frame of %zu bytes is shorter than the %u-byte header", len,
                      FMX_FRAME_HEADER);
        return FMX_ERR_PROTO;
    }
    magic = fmx_get_u32(p);
    if (magic != FMX_FRAME_MAGIC || p[4] != FMX_FRAME_VERSION) {
        fmx_errprintf(err, "bad frame magic 0x%08x or version %u", magic, p[4]);
        return FMX_ERR_PROTO;
    }
    f->type = p[5];
    f->algo = p[6];
    f->flags = p[7];
    f->sig = get_u64(p + 8);
    f->seq = fmx_get_u32(p + 16);
    f->step = fmx_get_u32(p + 20);
    f->src = fmx_get_u32(p + 24);
    f->nmembers = fmx_get_u32(p + 28);
    f->payload_len = fmx_get_u32(p + 32);
    f->aux = fmx_get_u32(p + 36);
    f->payload = p + FMX_FRAME_HEADER;
    if ((uint64_t)f->payload_len != (uint64_t)len - FMX_FRAME_HEADER) {
        fmx_errprintf(err, "header announces a %u-byte payload but %zu bytes follow it",
                      f->payload_len, len - FMX_FRAME_HEADER);
        return FMX_ERR_PROTO;
    }
    switch (f->type) {
    case FMX_FRAME_BLOCKS:
        return check_blocks(f, err);
    case FMX_FRAME_TOKEN:
    case FMX_FRAME_ABORT:
    case FMX_FRAME_DMX_REQ:
        return 0;
    case FMX_FRAME_DMX_REP:
        if (f->payload_len < 4) {
            fmx_errprintf(err, "direct modex reply of %u bytes lacks its status", f->payload_len);
            return FMX_ERR_PROTO;
        }
        return 0;
    default:
        fmx_errprintf(err, "unknown frame type %u", f->type);
        return FMX_ERR_PROTO;
    }
}

void fmx_block_iter_init(fmx_block_iter_t *it, const fmx_frame_t *f)
{
    it->frame = f;
    it->index = 0;
    it->data_off = (size_t)f->aux * 8u;
}

int fmx_block_iter_next(fmx_block_iter_t *it, fmx_block_ref_t *out)
{
    const fmx_frame_t *f = it->frame;

    if (it->index >= f->aux)
        return 0;
    out->pos = fmx_get_u32(f->payload + 8u * it->index);
    out->len = fmx_get_u32(f->payload + 8u * it->index + 4);
    out->data = f->payload + it->data_off;
    it->data_off += out->len;
    it->index++;
    return 1;
}
