/* libFuzzer target for what a resident pmixd (pmixd --listen) reads from a connection that has
 * not proven the secret: the control channel's framing, with the service's 16 KiB message
 * limit, and the AUTH message (auth.h). Replies go to /dev/null (sends fail at once). Nothing
 * may crash, leak or be accepted: a random proof must never pass. */
#include "auth.h"
#include "control.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const uint8_t key[] = "the service secret, 32 bytes ...";
static const uint8_t nonce[FMX_AUTH_NONCE] = {1, 2, 3};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int devnull = -1;
    fmx_error_t err = {{0}};
    fmx_pack_t body;
    uint16_t type;
    fmx_conn_t *c;
    int rc;

    if (devnull < 0)
        devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (!(c = fmx_conn_adopt(dup(devnull), "a stranger", data, size)))
        return 0;
    fmx_conn_set_max_message(c, 16384);
    while ((rc = fmx_conn_next(c, &type, &body, &err)) == 1) {
        if (type == FMX_CTL_AUTH) {
            char js[256];
            uint32_t node;

            if (fmx_auth_check(c, key, sizeof(key) - 1, nonce, &body, &node, js, sizeof(js),
                               &err) == 0)
                __builtin_trap(); /* a proof nobody could make was accepted */
            break; /* the service drops a connection whose AUTH failed */
        }
    }
    fmx_conn_free(c);
    return 0;
}
