/* The frame decoder: a well-formed frame round-trips field by field; every malformed one is
 * rejected with a sentence saying what was wrong, never read past its end. */
#include "../tap.h"
#include "frame.h"

#include <stdlib.h>
#include <string.h>

/* A BLOCKS frame holding positions 1 ("abc") and 3 ("") of a 4-member fence. */
static size_t build(uint8_t *buf)
{
    fmx_frame_t f = {.type = FMX_FRAME_BLOCKS,
                     .algo = 3,
                     .flags = 0,
                     .sig = 0x1122334455667788ull,
                     .seq = 7,
                     .step = 2,
                     .src = 5,
                     .nmembers = 4,
                     .aux = 2,
                     .payload_len = 19};

    fmx_frame_put_header(buf, &f);
    fmx_put_u32(buf + 40, 1);
    fmx_put_u32(buf + 44, 3);
    fmx_put_u32(buf + 48, 3);
    fmx_put_u32(buf + 52, 0);
    memcpy(buf + 56, "abc", 3);
    return 59;
}

static int rejects(const uint8_t *buf, size_t len, const char *needle, const char *what)
{
    fmx_error_t err = {{0}};
    fmx_frame_t f;
    uint8_t *copy = malloc(len ? len : 1); /* exact size: ASan catches any over-read */
    int rc;

    memcpy(copy, buf, len);
    rc = fmx_frame_decode(copy, len, &f, &err);
    free(copy);
    return ok(rc == FMX_ERR_PROTO && strstr(err.text, needle) != NULL, "%s: \"%s\"", what,
              err.text);
}

int main(void)
{
    uint8_t buf[128];
    size_t len = build(buf);
    fmx_error_t err = {{0}};
    fmx_frame_t f;
    fmx_block_iter_t it;
    fmx_block_ref_t b[3];

    plan(13);
    ok(fmx_frame_decode(buf, len, &f, &err) == 0, "a well-formed frame decodes (%s)", err.text);
    ok(f.type == FMX_FRAME_BLOCKS && f.algo == 3 && f.sig == 0x1122334455667788ull && f.seq == 7 &&
           f.step == 2 && f.src == 5 && f.nmembers == 4 && f.aux == 2 && f.payload_len == 19,
       "every header field round-trips");
    fmx_block_iter_init(&it, &f);
    int n = 0;
    while (n < 3 && fmx_block_iter_next(&it, &b[n]))
        n++;
    ok(n == 2 && b[0].pos == 1 && b[0].len == 3 && !memcmp(b[0].data, "abc", 3) && b[1].pos == 3 &&
           b[1].len == 0,
       "the block table yields (1, \"abc\") and (3, \"\")");

    rejects(buf, 39, "shorter than the 40-byte header", "a frame cut inside its header");
    rejects(buf, len - 1, "announces a 19-byte payload", "a frame cut inside its payload");
    buf[0] ^= 0xff;
    rejects(buf, len, "bad frame magic", "a wrong magic");
    buf[0] ^= 0xff;
    buf[5] = 99;
    rejects(buf, len, "unknown frame type 99", "an unknown type");
    buf[5] = FMX_FRAME_BLOCKS;
    fmx_put_u32(buf + 40, 4);
    rejects(buf, len, "names position 4 of a 4-member", "a block position past the members");
    fmx_put_u32(buf + 40, 1);
    fmx_put_u32(buf + 44, 4);
    rejects(buf, len, "sum to 4 bytes but 3 follow", "block lengths that overrun the data");
    fmx_put_u32(buf + 44, 0xffffffffu);
    fmx_put_u32(buf + 52, 4);
    rejects(buf, len, "block lengths sum", "block lengths that wrap around 32 bits");
    fmx_put_u32(buf + 44, 3);
    fmx_put_u32(buf + 52, 0);
    fmx_put_u32(buf + 36, 0x20000000u);
    rejects(buf, len, "does not fit", "a block count whose table exceeds the payload");

    fmx_frame_t rep = {.type = FMX_FRAME_DMX_REP, .src = 1, .payload_len = 2};
    fmx_frame_put_header(buf, &rep);
    rejects(buf, 42, "lacks its status", "a direct modex reply without status");
    fmx_frame_t tok = {.type = FMX_FRAME_TOKEN, .src = 1};
    fmx_frame_put_header(buf, &tok);
    ok(fmx_frame_decode(buf, 40, &f, &err) == 0 && f.payload_len == 0,
       "a header-only token frame decodes");
    return done_testing();
}
