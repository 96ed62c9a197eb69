/* The launcher's SHA-256 and HMAC-SHA-256 against published test vectors (FIPS 180-4 examples,
 * RFC 4231), byte by byte, and a proof made with one key refused with another. */
#include "auth.h"
#include "../tap.h"

#include <stdio.h>
#include <string.h>

static void hex(const uint8_t *b, char *out)
{
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

static void sha_is(const char *msg, size_t len, const char *want)
{
    uint8_t d[32];
    char got[65];

    fmx_sha256(msg, len, d);
    hex(d, got);
    if (!ok(!strcmp(got, want), "sha256 of %zu bytes = %.16s...", len, want))
        diag("got %s", got);
}

static void hmac_is(const uint8_t *key, size_t klen, const char *msg, const char *want,
                    const char *name)
{
    uint8_t d[32];
    char got[65];

    fmx_hmac_sha256(key, klen, msg, strlen(msg), d);
    hex(d, got);
    if (!ok(!strcmp(got, want), "hmac-sha256 %s", name))
        diag("got %s", got);
}

int main(void)
{
    uint8_t k1[20], k6[131];
    char million[1000];

    plan(9);
    sha_is("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha_is("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sha_is("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
           "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    sha_is(
        "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqr"
        "lmnopqrsmnopqrstnopqrstu",
        112, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
    memset(million, 'a', sizeof(million));
    sha_is(million, sizeof(million),
           "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
    memset(k1, 0x0b, sizeof(k1));
    hmac_is(k1, sizeof(k1), "Hi There",
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", "RFC 4231 case 1");
    hmac_is((const uint8_t *)"Jefe", 4, "what do ya want for nothing?",
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", "RFC 4231 case 2");
    memset(k6, 0xaa, sizeof(k6));
    hmac_is(k6, sizeof(k6), "Test Using Larger Than Block-Size Key - Hash Key First",
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            "RFC 4231 case 6 (key longer than a block)");
    uint8_t a[32], b[32];
    fmx_hmac_sha256("secret-one-of-16", 16, "nonce", 5, a);
    fmx_hmac_sha256("secret-one-of-17", 16, "nonce", 5, b);
    ok(memcmp(a, b, 32) != 0, "another key gives another proof");
    return done_testing();
}
