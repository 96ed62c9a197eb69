/* libFuzzer target for the engine's frame decoder: any byte string must decode to an error or
 * to a frame whose block table can be walked entirely inside the input. */
#include "frame.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fmx_error_t err = {{0}};
    fmx_frame_t f;
    fmx_block_iter_t it;
    fmx_block_ref_t b;
    size_t seen = 0;

    if (fmx_frame_decode(data, size, &f, &err) != 0)
        return 0;
    if (f.type != FMX_FRAME_BLOCKS)
        return 0;
    fmx_block_iter_init(&it, &f);
    while (fmx_block_iter_next(&it, &b)) {
        /* touch every byte the decoder vouched for */
        for (uint32_t i = 0; i < b.len; i++)
            seen += b.data[i];
        if (b.pos >= f.nmembers)
            __builtin_trap();
    }
    if (it.data_off != f.payload_len)
        __builtin_trap();
    return (int)(seen & 0);
}
