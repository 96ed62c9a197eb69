/* The engine's wire frame: a fixed 40-byte little-endian header and a payload. Decoding checks
 * every length and index against the buffer, so a truncated or forged frame is an error, never
 * an out-of-bounds read. Owns no state. */
#ifndef FMX_FRAME_H
#define FMX_FRAME_H

#include "fmx_common.h"

#include <stddef.h>
#include <stdint.h>

#define FMX_FRAME_MAGIC 0x31584d46u /* "FMX1" */
#define FMX_FRAME_VERSION 1
#define FMX_FRAME_HEADER 40u
#define FMX_FRAME_MAX_PAYLOAD 0xffffffffu

enum fmx_frame_type {
    FMX_FRAME_BLOCKS = 1, /* fence data: a table of (position, length) then the bytes */
    FMX_FRAME_TOKEN = 2, /* a step of a collective that carries no data */
    FMX_FRAME_ABORT = 3, /* the sender failed the collective; payload is its reason */
    FMX_FRAME_DMX_REQ = 4, /* direct modex request; aux = request id; payload = key */
    FMX_FRAME_DMX_REP = 5, /* direct modex reply; aux = request id; payload = i32 status, blob */
};

typedef struct fmx_frame {
    uint8_t type;
    uint8_t algo;
    uint8_t flags;
    uint64_t sig;
    uint32_t seq;
    uint32_t step;
    uint32_t src; /* sender's member index in the engine group */
    uint32_t nmembers; /* participants in the collective */
    uint32_t aux;
    const uint8_t *payload;
    uint32_t payload_len;
} fmx_frame_t;

typedef struct fmx_block_ref {
    uint32_t pos;
    uint32_t len;
    const uint8_t *data;
} fmx_block_ref_t;

/* Writes the 40-byte header for f (payload_len taken from f) into buf. */
void fmx_frame_put_header(uint8_t *buf, const fmx_frame_t *f);

/* Decodes and validates buf. On success f->payload points into buf. For BLOCKS frames the block
 * table is checked too: positions < nmembers, lengths summing exactly to the payload. */
int fmx_frame_decode(const void *buf, size_t len, fmx_frame_t *f, fmx_error_t *err);

/* Iterates the blocks of a decoded BLOCKS frame; returns 1 while *out is filled. */
typedef struct fmx_block_iter {
    const fmx_frame_t *frame;
    uint32_t index;
    size_t data_off;
} fmx_block_iter_t;

void fmx_block_iter_init(fmx_block_iter_t *it, const fmx_frame_t *f);
int fmx_block_iter_next(fmx_block_iter_t *it, fmx_block_ref_t *out);

static inline void fmx_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t fmx_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#endif
