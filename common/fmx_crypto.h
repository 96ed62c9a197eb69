/* The few cryptographic pieces fmx uses, all from OpenSSL's libcrypto: HMAC-SHA-256 (the
 * launcher's handshake, key derivation) and a comparison whose time does not depend on where
 * two byte strings differ. Message authentication on the fabric is transports/fmx_seal.h. */
#ifndef FMX_CRYPTO_H
#define FMX_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define FMX_HMAC_LEN 32

/* HMAC-SHA-256 of msg under key: 0, or -EIO when libcrypto fails. */
int fmx_hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen,
                    uint8_t out[FMX_HMAC_LEN]);
/* 1 when a and b hold the same n bytes; takes the same time wherever they differ. */
int fmx_same_bytes(const void *a, const void *b, size_t n);
/* Overwrites n bytes of secret material so that the compiler cannot drop the store. */
void fmx_wipe(void *p, size_t n);

#endif
