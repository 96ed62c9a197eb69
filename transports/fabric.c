/* A daemon's fabric (fmx_fabric.h): the transport chosen for its job and opened on a thread. */
#include "fmx_fabric.h"

#include "fmx_backend.h"
#include "fmx_crypto.h"
#include "fmx_mem.h"
#include "fmx_pair.h"
#include "fmx_standin.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fmx_fabric {
    fmx_transport_t *tp;
    fmx_mem_fabric_t *solo; /* the transport of a job with one daemon */
    const char *backend;
    pthread_t opener;
    int opening; /* the thread runs or is not joined yet */
    int done[2]; /* the thread writes a byte when it is done */
    int rc;
    fmx_error_t err;
    uint8_t key[32];
};

static int warm;

static void *open_thread(void *arg)
{
    fmx_fabric_t *f = arg;

    f->rc = fmx_transport_open_named(f->backend, fmx_backend_open, &f->tp, &f->err);
    if (f->rc == 0 && (!f->tp->ops->set_key || !f->tp->ops->rejected)) {
        fmx_errprintf(&f->err, "the %s transport cannot authenticate its messages", f->backend);
        f->rc = -ENOTSUP;
    } else if (f->rc == 0 && (f->rc = f->tp->ops->set_key(f->tp, f->key, sizeof(f->key)))) {
        fmx_errprintf(&f->err, "cannot set up message authentication on the %s transport: %s",
                      f->backend, fmx_strerror(f->rc));
    }
    fmx_wipe(f->key, sizeof(f->key));
    (void)!write(f->done[1], "", 1);
    return NULL;
}

int fmx_fabric_open(uint32_t members, const uint8_t key[32], fmx_fabric_t **out, fmx_error_t *err)
{
    fmx_fabric_t *f = calloc(1, sizeof(*f));
    int rc;

    if (!f || pipe2(f->done, O_CLOEXEC | O_NONBLOCK)) {
        free(f);
        fmx_errprintf(err, "cannot start opening the fabric: %s", strerror(errno));
        return -ENOMEM;
    }
    f->backend = fmx_transport_from_env();
    if (members == 1) {
        if ((rc = fmx_mem_fabric_create(1, 0, &f->solo))) {
            fmx_errprintf(err, "cannot make the one-daemon transport: %s", fmx_strerror(rc));
            fmx_fabric_close(f);
            return rc;
        }
        f->tp = fmx_mem_endpoint(f->solo, 0);
        (void)!write(f->done[1], "", 1);
        *out = f;
        return 0;
    }
    memcpy(f->key, key, sizeof(f->key));
    if (!warm)
        fmx_backend_defaults_apply(f->backend); /* until the thread is joined, no setenv */
    if ((rc = pthread_create(&f->opener, NULL, open_thread, f))) {
        fmx_errprintf(err, "cannot start a thread: %s", strerror(rc));
        fmx_backend_defaults_clear();
        fmx_fabric_close(f);
        return -rc;
    }
    f->opening = 1;
    *out = f;
    return 0;
}

int fmx_fabric_quick(uint32_t members)
{
    fmx_error_t err = {{0}};

    if (members == 1 || warm)
        return 1;
    /* a failure to load is reported when the endpoint is opened */
    return fmx_backend_load(fmx_transport_from_env(), 0, &err) == 0 && fmx_standin_loaded() > 0;
}

int fmx_fabric_fd(const fmx_fabric_t *f)
{
    return f->done[0];
}

static void join(fmx_fabric_t *f)
{
    if (!f->opening)
        return;
    pthread_join(f->opener, NULL);
    f->opening = 0;
    fmx_backend_defaults_clear();
}

int fmx_fabric_ready(fmx_fabric_t *f, fmx_transport_t **tp, fmx_error_t *err)
{
    char c;

    (void)!read(f->done[0], &c, 1);
    join(f);
    if (f->rc) {
        *err = f->err;
        return f->rc;
    }
    *tp = f->tp;
    return 0;
}

void fmx_fabric_close(fmx_fabric_t *f)
{
    if (!f)
        return;
    join(f);
    /* a daemon closes once every rank of the job has ended (or the job was ended): no peer
     * needs what may still be in flight, such as a start-up reachability answer */
    if (f->tp && f->tp->ops->quiet)
        f->tp->ops->quiet(f->tp);
    fmx_transport_close(f->tp);
    fmx_mem_fabric_destroy(f->solo);
    close(f->done[0]);
    close(f->done[1]);
    free(f);
}

int fmx_fabric_warm_up(fmx_error_t *err)
{
    const char *name = fmx_transport_from_env();
    int rc;

    fmx_backend_defaults_apply(name);
    rc = fmx_backend_load(name, 1, err);
    fmx_backend_defaults_clear();
    warm = rc == 0;
    return rc;
}

int fmx_fabric_warm(void)
{
    return warm;
}

int fmx_fabric_env_entry(const char *entry)
{
    return fmx_backend_defaults_entry(entry);
}
