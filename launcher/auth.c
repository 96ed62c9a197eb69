/* The secret handshake of auth.h. */
#include "auth.h"

#include "fmx_crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

int fmx_secret_read(const char *path, uint8_t *key, size_t *klen, fmx_error_t *err)
{
    struct stat st;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        fmx_errprintf(err, "cannot open the secret file %s: %s", path, strerror(errno));
        return -errno;
    }
    if (fstat(fd, &st) || (st.st_mode & 077)) {
        fmx_errprintf(err, "the secret file %s may be read by group or others (chmod 600 it)",
                      path);
        close(fd);
        return -EPERM;
    }
    n = read(fd, key, FMX_SECRET_MAX);
    close(fd);
    while (n > 0 && (key[n - 1] == '\n' || key[n - 1] == '\r'))
        n--;
    if (n < 16) {
        fmx_errprintf(err, "the secret file %s holds %s (want at least 16 bytes)", path,
                      n < 0 ? strerror(errno) : "too little");
        return -EINVAL;
    }
    *klen = (size_t)n;
    return 0;
}

/* HMAC(K, label nonce_a nonce_b); fails only when libcrypto does. */
static int proof(const uint8_t *key, size_t klen, const char *label, const uint8_t *a,
                 const uint8_t *b, uint8_t out[FMX_AUTH_MAC])
{
    uint8_t msg[16 + 2 * FMX_AUTH_NONCE];
    size_t l = strlen(label);

    memcpy(msg, label, l);
    memcpy(msg + l, a, FMX_AUTH_NONCE);
    memcpy(msg + l + FMX_AUTH_NONCE, b, FMX_AUTH_NONCE);
    return fmx_hmac_sha256(key, klen, msg, l + 2 * FMX_AUTH_NONCE, out);
}

int fmx_hello_proof(const char *job_secret, const uint8_t nonce[FMX_AUTH_NONCE], uint32_t node,
                    uint8_t out[FMX_AUTH_MAC])
{
    uint8_t msg[9 + FMX_AUTH_NONCE + 4];

    memcpy(msg, "fmx-hello", 9);
    memcpy(msg + 9, nonce, FMX_AUTH_NONCE);
    msg[9 + FMX_AUTH_NONCE] = (uint8_t)(node >> 24);
    msg[10 + FMX_AUTH_NONCE] = (uint8_t)(node >> 16);
    msg[11 + FMX_AUTH_NONCE] = (uint8_t)(node >> 8);
    msg[12 + FMX_AUTH_NONCE] = (uint8_t)node;
    return fmx_hmac_sha256(job_secret, strlen(job_secret), msg, sizeof(msg), out);
}

/* Hides (or reveals) a job secret of up to FMX_JOB_SECRET_MAX bytes in place: xor with
 * HMAC(K, "fmx-job-secret" nonce_d nonce_l), fresh for every handshake. */
static int pad_secret(const uint8_t *key, size_t klen, const uint8_t *nd, const uint8_t *nl,
                      uint8_t *s, size_t len)
{
    uint8_t pad[FMX_AUTH_MAC];
    int rc = proof(key, klen, "fmx-job-secret", nd, nl, pad);

    for (size_t i = 0; i < len && i < sizeof(pad); i++)
        s[i] ^= pad[i];
    fmx_wipe(pad, sizeof(pad));
    return rc;
}

static int nonce(uint8_t out[FMX_AUTH_NONCE], fmx_error_t *err)
{
    if (getrandom(out, FMX_AUTH_NONCE, 0) != FMX_AUTH_NONCE) {
        fmx_errprintf(err, "getrandom: %s", strerror(errno));
        return -EIO;
    }
    return 0;
}

static void send_error(fmx_conn_t *c, const char *text)
{
    fmx_pack_t p;

    fmx_pack_init(&p);
    fmx_pack_str(&p, text);
    fmx_conn_send(c, FMX_CTL_ERROR, &p);
    fmx_pack_free(&p);
    fmx_conn_flush_blocking(c, 1000);
}

int fmx_auth_challenge(fmx_conn_t *c, uint8_t nd[FMX_AUTH_NONCE], fmx_error_t *err)
{
    fmx_pack_t p;
    int rc;

    if ((rc = nonce(nd, err)))
        return rc;
    fmx_pack_init(&p);
    fmx_pack_bytes(&p, nd, FMX_AUTH_NONCE);
    rc = fmx_conn_send(c, FMX_CTL_CHALLENGE, &p);
    fmx_pack_free(&p);
    if (rc)
        fmx_errprintf(err, "%s: cannot send the challenge: %s", fmx_conn_peer(c), strerror(-rc));
    return rc;
}

int fmx_auth_check(fmx_conn_t *c, const uint8_t *key, size_t klen, const uint8_t nd[FMX_AUTH_NONCE],
                   fmx_pack_t *p, uint32_t *node, char *job_secret, size_t jslen, fmx_error_t *err)
{
    uint8_t want[FMX_AUTH_MAC], mine[FMX_AUTH_MAC], js[FMX_JOB_SECRET_MAX];
    const uint8_t *nl, *mac, *hidden;
    size_t nlen = 0, mlen = 0, slen = 0;
    fmx_pack_t ok;
    int rc;

    nl = fmx_unpack_bytes(p, &nlen);
    mac = fmx_unpack_bytes(p, &mlen);
    *node = fmx_unpack_u32(p);
    hidden = fmx_unpack_bytes(p, &slen);
    if (p->err || p->pos != p->len || nlen != FMX_AUTH_NONCE || mlen != FMX_AUTH_MAC || !slen ||
        slen > sizeof(js) || slen >= jslen) {
        fmx_errprintf(err, "%s sent a malformed AUTH message", fmx_conn_peer(c));
        send_error(c, "malformed AUTH message");
        return -EPROTO;
    }
    if ((rc = proof(key, klen, "fmx-launcher", nd, nl, want))) {
        fmx_errprintf(err, "cannot compute the handshake's HMAC (libcrypto)");
        send_error(c, "internal error");
        return rc;
    }
    if (!fmx_same_bytes(want, mac, FMX_AUTH_MAC)) {
        fmx_errprintf(err, "%s does not know the secret: refused", fmx_conn_peer(c));
        send_error(c,
                   "refused: the launcher's secret does not match this daemon's "
                   "--secret-file");
        return -EACCES;
    }
    memcpy(js, hidden, slen);
    if ((rc = pad_secret(key, klen, nd, nl, js, slen)) ||
        (rc = proof(key, klen, "fmx-daemon", nl, nd, mine))) {
        fmx_errprintf(err, "cannot compute the handshake's HMAC (libcrypto)");
        return rc;
    }
    if (memchr(js, '\0', slen)) {
        fmx_errprintf(err, "%s sent a job secret with a NUL byte in it", fmx_conn_peer(c));
        send_error(c, "malformed AUTH message");
        return -EPROTO;
    }
    memcpy(job_secret, js, slen);
    job_secret[slen] = '\0';
    fmx_wipe(js, sizeof(js));
    fmx_pack_init(&ok);
    fmx_pack_bytes(&ok, mine, sizeof(mine));
    rc = fmx_conn_send(c, FMX_CTL_AUTH_OK, &ok);
    fmx_pack_free(&ok);
    return rc;
}

int fmx_auth_daemon(fmx_conn_t *c, const uint8_t *key, size_t klen, int timeout_ms, uint32_t *node,
                    char *job_secret, size_t jslen, fmx_error_t *err)
{
    uint8_t nd[FMX_AUTH_NONCE];
    fmx_pack_t p;
    int rc;

    if ((rc = fmx_auth_challenge(c, nd, err)))
        return rc;
    if ((rc = fmx_conn_wait(c, FMX_CTL_AUTH, &p, timeout_ms, err)))
        return rc;
    return fmx_auth_check(c, key, klen, nd, &p, node, job_secret, jslen, err);
}

int fmx_auth_launcher(fmx_conn_t *c, const uint8_t *key, size_t klen, int timeout_ms, uint32_t node,
                      const char *job_secret, fmx_error_t *err)
{
    uint8_t nl[FMX_AUTH_NONCE], mac[FMX_AUTH_MAC], want[FMX_AUTH_MAC];
    uint8_t hidden[FMX_JOB_SECRET_MAX];
    size_t slen = strlen(job_secret);
    const uint8_t *nd, *theirs;
    size_t n = 0;
    fmx_pack_t p;
    int rc;

    if ((rc = fmx_conn_wait(c, FMX_CTL_CHALLENGE, &p, timeout_ms, err)))
        return rc;
    nd = fmx_unpack_bytes(&p, &n);
    if (p.err || p.pos != p.len || n != FMX_AUTH_NONCE) {
        fmx_errprintf(err, "%s sent a malformed CHALLENGE message", fmx_conn_peer(c));
        return -EPROTO;
    }
    if ((rc = nonce(nl, err)))
        return rc;
    if (!slen || slen > sizeof(hidden)) {
        fmx_errprintf(err, "a job secret of %zu bytes cannot be sent (1 to %d)", slen,
                      FMX_JOB_SECRET_MAX);
        return -EINVAL;
    }
    memcpy(hidden, job_secret, slen);
    if ((rc = proof(key, klen, "fmx-launcher", nd, nl, mac)) ||
        (rc = proof(key, klen, "fmx-daemon", nl, nd, want)) ||
        (rc = pad_secret(key, klen, nd, nl, hidden, slen))) {
        fmx_errprintf(err, "cannot compute the handshake's HMAC (libcrypto)");
        return rc;
    }
    fmx_pack_init(&p);
    fmx_pack_bytes(&p, nl, sizeof(nl));
    fmx_pack_bytes(&p, mac, sizeof(mac));
    fmx_pack_u32(&p, node);
    fmx_pack_bytes(&p, hidden, slen);
    rc = fmx_conn_send(c, FMX_CTL_AUTH, &p);
    fmx_pack_free(&p);
    if (rc || (rc = fmx_conn_wait(c, FMX_CTL_AUTH_OK, &p, timeout_ms, err)))
        return rc ? rc : -EIO;
    theirs = fmx_unpack_bytes(&p, &n);
    if (p.err || p.pos != p.len || n != FMX_AUTH_MAC ||
        !fmx_same_bytes(theirs, want, FMX_AUTH_MAC)) {
        fmx_errprintf(err, "%s did not prove that it knows the secret: not using it",
                      fmx_conn_peer(c));
        return -EACCES;
    }
    return 0;
}
