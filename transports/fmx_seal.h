/* Message authentication for a transport's traffic: every message between the daemons of a job
 * carries a 16-byte tag that only holders of the job's fabric key can make, and a sequence
 * number that the receiver accepts once.
 *
 * Construction (as ChaCha20-Poly1305 authenticates, without encrypting): each sender s has a key
 * of its own, K_s = HMAC-SHA-256(K, "fmx-seal-sender" s); a message from s to r with sequence
 * number q gets a one-time Poly1305 key, the first 32 bytes of the ChaCha20 keystream under K_s
 * with nonce (r, q), and its tag is Poly1305 of the message under that key. Numbers are per
 * (sender, receiver), start at 1 and never repeat, so no one-time key serves twice; numbers with
 * the top bit set (FMX_SEAL_BULK) are a second space, for bulk data whose number and tag travel
 * in a message that was itself checked. The receiver keeps, per sender, the highest number seen
 * and which of the FMX_SEAL_WINDOW below it were: a replay, or a number older than that, is
 * refused. libcrypto (OpenSSL 3) does the arithmetic. */
#ifndef FMX_SEAL_H
#define FMX_SEAL_H

#include "fmx_transport.h"

#define FMX_SEAL_KEY 32
#define FMX_SEAL_TAG 16
#define FMX_SEAL_BULK (1ull << 63)
#define FMX_SEAL_WINDOW 256

typedef struct fmx_seal fmx_seal_t;

/* The state of member `self` of `members`, under the job's fabric key. 0 or -errno. */
int fmx_seal_create(const uint8_t key[FMX_SEAL_KEY], uint32_t self, uint32_t members,
                    fmx_seal_t **out);
void fmx_seal_destroy(fmx_seal_t *s);

/* A fresh sequence number for a message to `to`, in the bulk space or not. */
uint64_t fmx_seal_next(fmx_seal_t *s, uint32_t to, int bulk);
/* The tag of segs[0..n) concatenated, sent to `to` under sequence number q. 0 or -EIO. */
int fmx_seal_sign(fmx_seal_t *s, uint32_t to, uint64_t q, const fmx_seg_t *segs, size_t n,
                  uint8_t tag[FMX_SEAL_TAG]);
/* Checks a message that claims to come from `from` with number q: 0 when the tag is right and,
 * for a number outside the bulk space, the number was not seen before (it is then recorded);
 * -EBADMSG for a wrong tag, -EALREADY for a replayed or too old number, -EINVAL for a member
 * that does not exist or the number 0. Time does not depend on where a wrong tag differs. */
int fmx_seal_verify(fmx_seal_t *s, uint32_t from, uint64_t q, const fmx_seg_t *segs, size_t n,
                    const uint8_t tag[FMX_SEAL_TAG]);

/* The job's fabric key from its secret (any length): HMAC-SHA-256(secret, "fmx-fabric-key"). */
int fmx_seal_key_from_secret(const void *secret, size_t len, uint8_t key[FMX_SEAL_KEY]);

#endif
