/* Proofs of secrets on the control connection, none of which puts a secret on the wire
 * (HMAC-SHA-256 from libcrypto, fmx_crypto.h; the control traffic itself is not encrypted:
 * keep it on the cluster network).
 *
 * The job's secret S (32 hex digits from pmixrun) is known to pmixrun and the job's daemons
 * only; the fabric key derives from it (fmx_seal.h). A daemon joins the job by answering
 * pmixrun's challenge, a nonce fresh for the job:
 *   launcher -> daemon    CHALLENGE  nonce_j
 *   daemon   -> launcher  HELLO      HMAC(S, "fmx-hello" nonce_j node), node index, host name
 *
 * A pmixd started on its own (a container, a Kubernetes pod: `pmixd --listen PORT
 * --secret-file F`) serves any number of jobs, one forked child per job, and runs a job only
 * for a launcher that knows the contents of F; the launcher, in turn, talks only to daemons
 * that know it. Each side sends a fresh nonce and answers the other's, and S travels hidden
 * under a pad only holders of F can make:
 *   daemon   -> launcher  CHALLENGE  nonce_d
 *   launcher -> daemon    AUTH       nonce_l, HMAC(K, "fmx-launcher" nonce_d nonce_l),
 *                                    node index, S xor HMAC(K, "fmx-job-secret" nonce_d nonce_l)
 *   daemon   -> launcher  AUTH_OK    HMAC(K, "fmx-daemon" nonce_l nonce_d)
 * then the job's own challenge and HELLO on the same connection. */
#ifndef FMX_AUTH_H
#define FMX_AUTH_H

#include "control.h"

#include <stddef.h>
#include <stdint.h>

#define FMX_AUTH_NONCE 32
#define FMX_AUTH_MAC 32
#define FMX_SECRET_MAX 4096
#define FMX_JOB_SECRET_MAX 32 /* bytes of a job's secret, the length of the pad that hides it */

/* The proof a daemon says HELLO with: HMAC(S, "fmx-hello" nonce node). 0 or -EIO. */
int fmx_hello_proof(const char *job_secret, const uint8_t nonce[FMX_AUTH_NONCE], uint32_t node,
                    uint8_t out[FMX_AUTH_MAC]);

/* Reads a secret file: its whole contents without a trailing newline, at least 16 bytes,
 * refused when group or others may read it (as ssh refuses a key). */
int fmx_secret_read(const char *path, uint8_t *key, size_t *klen, fmx_error_t *err);

/* Daemon side, on a fresh connection: challenge, check the launcher's answer, prove itself.
 * Fills *node and job_secret (NUL-terminated, up to jslen bytes). */
int fmx_auth_daemon(fmx_conn_t *c, const uint8_t *key, size_t klen, int timeout_ms, uint32_t *node,
                    char *job_secret, size_t jslen, fmx_error_t *err);

/* The daemon side in two steps, for a service that waits on many strangers at once without
 * blocking on any: the challenge (nd keeps its nonce), then the check of the AUTH message that
 * answers it, which sends AUTH_OK when the launcher knows the secret and an ERROR otherwise. */
int fmx_auth_challenge(fmx_conn_t *c, uint8_t nd[FMX_AUTH_NONCE], fmx_error_t *err);
int fmx_auth_check(fmx_conn_t *c, const uint8_t *key, size_t klen, const uint8_t nd[FMX_AUTH_NONCE],
                   fmx_pack_t *auth, uint32_t *node, char *job_secret, size_t jslen,
                   fmx_error_t *err);

/* Launcher side, on a connection to a listening pmixd. */
int fmx_auth_launcher(fmx_conn_t *c, const uint8_t *key, size_t klen, int timeout_ms, uint32_t node,
                      const char *job_secret, fmx_error_t *err);

#endif
