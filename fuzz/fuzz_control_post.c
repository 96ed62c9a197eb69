/* libFuzzer target for the control messages read once a connection is someone's: the framing
 * without the pre-authentication limit, the job description a pmixd takes from pmixrun (JOB,
 * fmx_jobspec_unpack, with the job map it carries), and the fields of every other message either
 * side decodes (HELLO, CHALLENGE, ADDR, ADDRS, IO, EXIT, ABORT, LOG, ERROR), unpacked as the
 * daemon and the launcher unpack them, and a spawn (SPAWN, NSPACE: fmx_spawn_unpack). Nothing
 * may crash or leak; a job description that unpacks must be one whose map is usable (its own
 * namespace present, self a node), a spawn one whose applications each have a program and
 * processes, and whose placement names an application for every rank. */
#include "control.h"
#include "fmx_spawn.h"
#include "jobspec.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void job(fmx_pack_t *b)
{
    fmx_jobspec_t js;
    fmx_error_t err = {{0}};

    if (fmx_jobspec_unpack(&js, b, "pmixrun", &err))
        return;
    if (!fmx_jobspec_nspace(&js) || js.self >= js.map.nnodes || !js.argc || !js.argv[0])
        __builtin_trap();
    fmx_jobspec_free(&js);
}

static void spawn(fmx_pack_t *b)
{
    fmx_spawn_t s;
    fmx_error_t err = {{0}};
    uint32_t size;

    if (fmx_spawn_unpack(&s, b, &err))
        return;
    size = fmx_spawn_size(&s);
    if (!size || !s.napps)
        __builtin_trap();
    for (uint32_t i = 0; i < s.napps; i++)
        if (!s.apps[i].argv || !s.apps[i].argv[0] || !s.apps[i].np || !s.apps[i].env)
            __builtin_trap();
    for (uint32_t r = 0; s.app_of && r < size; r++)
        if (s.app_of[r] >= s.napps)
            __builtin_trap();
    fmx_spawn_free(&s);
}

static void fields(uint16_t type, fmx_pack_t *b)
{
    size_t n = 0;
    char *text = NULL;

    switch (type) {
    case FMX_CTL_HELLO:
        fmx_unpack_bytes(b, &n);
        fmx_unpack_u32(b);
        text = fmx_unpack_str(b);
        break;
    case FMX_CTL_CHALLENGE:
    case FMX_CTL_ADDR:
    case FMX_CTL_AUTH_OK:
        fmx_unpack_bytes(b, &n);
        break;
    case FMX_CTL_ADDRS:
        while (!b->err && b->pos < b->len)
            fmx_unpack_bytes(b, &n);
        break;
    case FMX_CTL_IO:
        fmx_unpack_u32(b);
        fmx_unpack_u32(b);
        fmx_unpack_bytes(b, &n);
        break;
    case FMX_CTL_EXIT:
        fmx_unpack_u32(b);
        fmx_unpack_u32(b);
        break;
    case FMX_CTL_ABORT:
        fmx_unpack_u32(b);
        fmx_unpack_u32(b);
        text = fmx_unpack_str(b);
        break;
    case FMX_CTL_LOG:
        fmx_unpack_u32(b);
        text = fmx_unpack_str(b);
        break;
    case FMX_CTL_ERROR:
        text = fmx_unpack_str(b);
        break;
    default:
        break;
    }
    if (text && strlen(text) > b->len)
        __builtin_trap();
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int devnull = -1;
    fmx_error_t err = {{0}};
    fmx_pack_t body;
    uint16_t type;
    fmx_conn_t *c;

    if (devnull < 0)
        devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (!(c = fmx_conn_adopt(dup(devnull), "pmixrun", data, size)))
        return 0;
    while (fmx_conn_next(c, &type, &body, &err) == 1) {
        if (type == FMX_CTL_JOB)
            job(&body);
        else if (type == FMX_CTL_SPAWN || type == FMX_CTL_NSPACE)
            spawn(&body);
        else
            fields(type, &body);
    }
    fmx_conn_free(c);
    return 0;
}
