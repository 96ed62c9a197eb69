/* Mutual proof of a shared secret between pmixrun and a pmixd that was started on its own
 * (a container, a Kubernetes pod): `pmixd --listen PORT --secret-file F` serves any number of
 * jobs, one forked child per job, and runs a job only for a launcher that knows the contents of
 * F; the launcher, in turn, talks only to daemons that know it. The secret never crosses the
 * wire: each side sends a fresh nonce and answers the other's with HMAC-SHA-256 keyed by the
 * secret. (The control traffic after that is not encrypted; keep it on the cluster network.)
 *
 *   daemon   -> launcher  CHALLENGE  nonce_d
 *   launcher -> daemon    AUTH       nonce_l, HMAC(K, "fmx-launcher" nonce_d nonce_l),
 *                                    node index, job secret
 *   daemon   -> launcher  AUTH_OK    HMAC(K, "fmx-daemon" nonce_l nonce_d)
 * then the normal start-up (HELLO with the job secret, ...) on the same connection. */
#ifndef FMX_AUTH_H
#define FMX_AUTH_H

#include "control.h"

#include <stddef.h>
#include <stdint.h>

#define FMX_AUTH_NONCE 32
#define FMX_AUTH_MAC 32
#define FMX_SECRET_MAX 4096

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
