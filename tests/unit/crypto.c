/* fmx_crypto.h's HMAC-SHA-256 against published vectors (RFC 4231), and the fabric's message
 * authentication (fmx_seal.h) between members 0, 1 and 2 of a job: what one signs the addressee
 * accepts once; a changed byte, another key, another addressee, another claimed sender, a replay
 * or a number older than the window are refused; numbers may arrive out of order within it. */
#include "fmx_crypto.h"
#include "fmx_seal.h"
#include "../tap.h"

#include <stdio.h>
#include <string.h>

static void hmac_is(const uint8_t *key, size_t klen, const char *msg, const char *want,
                    const char *name)
{
    uint8_t d[32];
    char got[65];

    fmx_hmac_sha256(key, klen, msg, strlen(msg), d);
    for (int i = 0; i < 32; i++)
        sprintf(got + 2 * i, "%02x", d[i]);
    if (!ok(!strcmp(got, want), "hmac-sha256 %s", name))
        diag("got %s", got);
}

static fmx_seal_t *member(const uint8_t *key, uint32_t self)
{
    fmx_seal_t *s = NULL;

    if (fmx_seal_create(key, self, 3, &s))
        diag("fmx_seal_create failed");
    return s;
}

/* member `from` signs msg for `to`; `by` checks it as coming from `claimed` */
static int roundtrip(fmx_seal_t *from, uint32_t to, uint64_t q, fmx_seal_t *by, uint32_t claimed,
                     const char *msg, const char *arrives)
{
    uint8_t tag[FMX_SEAL_TAG];
    fmx_seg_t s = {msg, strlen(msg)}, a = {arrives, strlen(arrives)};

    if (fmx_seal_sign(from, to, q, &s, 1, tag))
        return -999;
    return fmx_seal_verify(by, claimed, q, &a, 1, tag);
}

int main(void)
{
    uint8_t k1[20], k6[131], key[32], other[32], tag[FMX_SEAL_TAG], tag2[FMX_SEAL_TAG];
    fmx_seal_t *m0, *m1, *m2, *stranger;
    const char *msg = "one fence frame, with its blocks";

    plan(21);
    memset(k1, 0x0b, sizeof(k1));
    hmac_is(k1, sizeof(k1), "Hi There",
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", "RFC 4231 case 1");
    hmac_is((const uint8_t *)"Jefe", 4, "what do ya want for nothing?",
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", "RFC 4231 case 2");
    memset(k6, 0xaa, sizeof(k6));
    hmac_is(k6, sizeof(k6), "Test Using Larger Than Block-Size Key - Hash Key First",
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            "RFC 4231 case 6 (key longer than a block)");
    ok(fmx_same_bytes("abcd", "abcd", 4) && !fmx_same_bytes("abcd", "abce", 4),
       "constant-time comparison tells equal from different");

    fmx_seal_key_from_secret("0123456789abcdef0123456789abcdef", 32, key);
    fmx_seal_key_from_secret("0123456789abcdef0123456789abcdeF", 32, other);
    ok(memcmp(key, other, 32) != 0, "another job secret gives another fabric key");
    m0 = member(key, 0), m1 = member(key, 1), m2 = member(key, 2);
    stranger = member(other, 0);
    if (!m0 || !m1 || !m2 || !stranger)
        return 1;

    ok(roundtrip(m0, 1, fmx_seal_next(m0, 1, 0), m1, 0, msg, msg) == 0,
       "member 1 accepts what member 0 signed for it");
    ok(roundtrip(m0, 1, 2, m1, 0, msg, "one fence frame, with its blockS") == -EBADMSG,
       "a changed byte is refused");
    ok(roundtrip(stranger, 1, 3, m1, 0, msg, msg) == -EBADMSG,
       "a message signed under another job's key is refused");
    ok(roundtrip(m0, 2, 4, m1, 0, msg, msg) == -EBADMSG,
       "a message signed for member 2 is refused by member 1");
    ok(roundtrip(m0, 1, 5, m1, 2, msg, msg) == -EBADMSG,
       "a message of member 0 that claims to come from member 2 is refused");

    ok(fmx_seal_sign(m0, 1, 6, &(fmx_seg_t){msg, strlen(msg)}, 1, tag) == 0 &&
           fmx_seal_verify(m1, 0, 6, &(fmx_seg_t){msg, strlen(msg)}, 1, tag) == 0,
       "number 6 accepted");
    ok(fmx_seal_verify(m1, 0, 6, &(fmx_seg_t){msg, strlen(msg)}, 1, tag) == -EALREADY,
       "the same message again (a replay) is refused");
    fmx_seg_t parts[3] = {{msg, 3}, {msg + 3, 0}, {msg + 3, strlen(msg) - 3}};
    ok(fmx_seal_sign(m0, 1, 7, parts, 3, tag2) == 0 &&
           fmx_seal_verify(m1, 0, 7, &(fmx_seg_t){msg, strlen(msg)}, 1, tag2) == 0,
       "a tag over segments is the tag over their concatenation");

    ok(roundtrip(m0, 1, 300, m1, 0, msg, msg) == 0, "a jump ahead (300) is accepted");
    ok(roundtrip(m0, 1, 299, m1, 0, msg, msg) == 0 && roundtrip(m0, 1, 60, m1, 0, msg, msg) == 0,
       "numbers out of order within the window (299, 60) are accepted");
    ok(roundtrip(m0, 1, 299, m1, 0, msg, msg) == -EALREADY, "299 again is refused");
    ok(roundtrip(m0, 1, 300 - FMX_SEAL_WINDOW, m1, 0, msg, msg) == -EALREADY,
       "a number older than the window is refused (it may have been seen)");
    ok(fmx_seal_sign(m0, 1, 0, &(fmx_seg_t){msg, 1}, 1, tag) == -EINVAL &&
           fmx_seal_verify(m1, 0, 0, &(fmx_seg_t){msg, 1}, 1, tag) == -EINVAL,
       "number 0 is neither signed nor accepted");
    ok(roundtrip(m0, 1, 400, m1, 7, msg, msg) == -EINVAL,
       "a sender that does not exist is refused");

    uint64_t b = fmx_seal_next(m0, 1, 1);
    ok((b & FMX_SEAL_BULK) && roundtrip(m0, 1, b, m1, 0, msg, msg) == 0 &&
           roundtrip(m0, 1, b, m1, 0, msg, msg) == 0,
       "bulk numbers live in a space of their own, checked by the message that carries them");
    ok(roundtrip(m0, 1, b, m1, 0, msg, "another message") == -EBADMSG,
       "bulk data that is not what was signed is refused");

    fmx_seal_destroy(m0), fmx_seal_destroy(m1), fmx_seal_destroy(m2);
    fmx_seal_destroy(stranger);
    return done_testing();
}
