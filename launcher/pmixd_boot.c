/* How a pmixd gets its job: HELLO with the secret on the control connection, the JOB back, the
 * launcher's FI_* and FMX_* settings taken; and the hand-over of a job to a fresh process when a
 * resident daemon's libfabric runs under other settings than the job's. */
#include "pmixd.h"

#include "auth.h"
#include "rank_env.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define JOB_TIMEOUT_MS 60000

/* libfabric reads its FI_* settings once, when it starts up, and a resident pmixd started it
 * under its own; a job that brings other settings goes on in a fresh pmixd (this program
 * again, not started up), handed the control connection and what was read from it (the JOB
 * message and anything after it) in a memory file. Returns only on failure. */
static int resume(struct daemon *d, uint32_t node, fmx_error_t *err)
{
    char spec[48], num[16];
    char *argv[] = {"pmixd", "--resume", spec, "--node", num, NULL};
    int mfd = memfd_create("fmx-job", 0), fd = fmx_conn_fd(d->ctl);
    size_t len;
    const void *input = fmx_conn_input(d->ctl, &len);

    fmx_log(FMX_LOG_INFO, "pmixd",
            "the job's FI_* settings differ from this daemon's: serving it from a fresh process");
    if (mfd < 0 || write(mfd, input, len) != (ssize_t)len || lseek(mfd, 0, SEEK_SET) != 0 ||
        fcntl(fd, F_SETFD, 0) || (d->svc_fd >= 0 && fcntl(d->svc_fd, F_SETFD, 0))) {
        fmx_errprintf(err, "cannot hand the job to a fresh pmixd: %s", strerror(errno));
        return -EIO;
    }
    snprintf(spec, sizeof(spec), "%d:%d:%d", fd, mfd, d->svc_fd);
    snprintf(num, sizeof(num), "%u", node);
    execv("/proc/self/exe", argv);
    fmx_errprintf(err, "cannot start a fresh pmixd (/proc/self/exe): %s", strerror(errno));
    return -errno;
}

fmx_conn_t *pmixd_resumed_conn(const char *spec, int *link_fd)
{
    int cfd = -1, mfd = -1, lfd = -1;
    struct stat st;
    fmx_conn_t *c = NULL;
    void *input;

    if (sscanf(spec, "%d:%d:%d", &cfd, &mfd, &lfd) < 2 || fstat(mfd, &st) || st.st_size <= 0)
        return NULL;
    if (lfd >= 0 && fcntl(lfd, F_SETFD, FD_CLOEXEC) == 0)
        *link_fd = lfd;
    if ((input = malloc((size_t)st.st_size)) &&
        read(mfd, input, (size_t)st.st_size) == (ssize_t)st.st_size &&
        (c = fmx_conn_adopt(cfd, "pmixrun", input, (size_t)st.st_size)))
        fcntl(cfd, F_SETFD, FD_CLOEXEC);
    free(input);
    close(mfd);
    return c;
}

/* The job's FI_* and FMX_* settings: set here; 1 when an FI_* one differs from ours. */
static int take_settings(struct daemon *d)
{
    int other_fi = 0;

    for (uint32_t i = 0; i < d->job.ndenv; i++) {
        char *eq = strchr(d->job.denv[i], '=');
        const char *mine;

        *eq = '\0';
        mine = getenv(d->job.denv[i]);
        if (!strncmp(d->job.denv[i], "FI_", 3) && (!mine || strcmp(mine, eq + 1)))
            other_fi = 1;
        setenv(d->job.denv[i], eq + 1, 1);
        *eq = '=';
    }
    fmx_log_level_reload(); /* the job's FMX_DEBUG */
    return other_fi;
}

/* pmixrun's challenge, answered by HELLO with the proof of the job's secret (auth.h). */
static int say_hello(struct daemon *d, const char *secret, uint32_t node, fmx_error_t *err)
{
    uint8_t proof[FMX_AUTH_MAC];
    const uint8_t *nonce;
    char hostname[256] = "";
    size_t n = 0;
    fmx_pack_t p;
    int rc;

    if ((rc = fmx_conn_wait(d->ctl, FMX_CTL_CHALLENGE, &p, JOB_TIMEOUT_MS, err))) {
        if (rc == -ETIMEDOUT)
            fmx_errprintf(err, "no challenge from pmixrun within %d ms", JOB_TIMEOUT_MS);
        return rc;
    }
    nonce = fmx_unpack_bytes(&p, &n);
    if (p.err || p.pos != p.len || n != FMX_AUTH_NONCE) {
        fmx_errprintf(err, "pmixrun sent a malformed CHALLENGE message");
        return -EPROTO;
    }
    if ((rc = fmx_hello_proof(secret, nonce, node, proof))) {
        fmx_errprintf(err, "cannot compute the proof of the job's secret (libcrypto)");
        return rc;
    }
    gethostname(hostname, sizeof(hostname) - 1);
    fmx_pack_init(&p);
    fmx_pack_bytes(&p, proof, sizeof(proof));
    fmx_pack_u32(&p, node);
    fmx_pack_str(&p, hostname);
    rc = fmx_conn_send(d->ctl, FMX_CTL_HELLO, &p);
    fmx_pack_free(&p);
    return rc;
}

int pmixd_bootstrap(struct daemon *d, uint32_t node, fmx_error_t *err)
{
    const char *secret = getenv("FMX_JOB_SECRET");
    fmx_pack_t p;
    int rc;

    if (!secret || !*secret) {
        fmx_errprintf(err, "FMX_JOB_SECRET is not set: pmixd is started by pmixrun");
        return -EINVAL;
    }
    rc = d->resumed ? 0 : say_hello(d, secret, node, err); /* a resumed one said it */
    if (!rc && (rc = fmx_conn_wait(d->ctl, FMX_CTL_JOB, &p, JOB_TIMEOUT_MS, err)) == -ETIMEDOUT)
        fmx_errprintf(err, "no job description from pmixrun within %d ms", JOB_TIMEOUT_MS);
    if (rc || (rc = fmx_jobspec_unpack(&d->job, &p, "pmixrun", err)))
        return rc;
    if (take_settings(d) && fmx_fabric_warm()) /* libfabric runs under other settings */
        return resume(d, node, err);
    fmx_debug("pmixd", "node %u: job %s received", node, d->job.nspace);
    if (!(d->cma = fmx_cma_permitted())) {
        fmx_log(FMX_LOG_INFO, "pmixd", "%s", FMX_CMA_NOTE);
        setenv("FI_SHM_DISABLE_CMA", "1", 0);
    }
    return 0;
}
