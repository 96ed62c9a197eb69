/* fmx_crypto.h over libcrypto. */
#include "fmx_crypto.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

int fmx_hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen,
                    uint8_t out[FMX_HMAC_LEN])
{
    unsigned int len = FMX_HMAC_LEN;

    if (klen > INT32_MAX)
        return -EINVAL;
    /* an empty key is a valid HMAC key, but HMAC() reads a NULL one as "reuse the last" */
    if (!HMAC(EVP_sha256(), klen ? key : "", (int)klen, msg, mlen, out, &len) ||
        len != FMX_HMAC_LEN)
        return -EIO;
    return 0;
}

int fmx_same_bytes(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

void fmx_wipe(void *p, size_t n)
{
    OPENSSL_cleanse(p, n);
}
