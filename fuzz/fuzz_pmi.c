/* libFuzzer target for the PMI wire service (pmi_wire/): any bytes from a rank's PMI socket,
 * in any pieces, on either of two connections, in either protocol version, must give replies
 * within the client's limits or a one-line error and a closed connection, never a crash or a
 * leak. Input: records of [flags (bit 0: connection 1; bit 1: end of file), length, bytes]. */
#include "pmi_server.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static fmx_pmi_server_t *srv;

/* Every reply must be one the client can read: a PMI-1 line of at most 1023 bytes, or a
 * PMI-2 message whose length field is its length. */
static void output(void *arg, uint32_t local)
{
    size_t len;
    const char *out = fmx_pmi_server_output(srv, local, &len);

    (void)arg;
    if (len >= 6 && out[0] >= '1' && out[0] <= '9' && memchr(out, ';', len)) {
        size_t body = (size_t)strtoul(out, NULL, 10);
        if (body + 6 > len || body == 0)
            __builtin_trap();
    } else {
        const char *nl = memchr(out, '\n', len);
        if (!nl || nl - out + 1 > 1023)
            __builtin_trap();
    }
    fmx_pmi_server_consumed(srv, local, len);
}

static void abort_cb(void *arg, uint32_t rank, int status, const char *msg)
{
    (void)arg;
    (void)rank;
    (void)status;
    if (!msg)
        __builtin_trap();
}

static void text_cb(void *arg, uint32_t rank, const char *text)
{
    (void)arg;
    (void)rank;
    if (!text || !*text || strchr(text, '\n'))
        __builtin_trap(); /* one line */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint32_t ranks[2] = {0, 1}, members[1] = {0};
    const fmx_pmi_host_t host = {output, abort_cb, text_cb, text_cb};
    const fmx_pmi_job_t job = {.kvsname = "fuzz-job",
                               .size = 2,
                               .local_ranks = ranks,
                               .nlocal = 2,
                               .members = members,
                               .nmembers = 1,
                               .process_mapping = "(vector,(0,1,2))"};
    int closed[2] = {0, 0};

    if (fmx_pmi_server_create(&job, &host, NULL, &srv))
        return 0;
    for (size_t at = 0; at + 2 <= size;) {
        uint32_t c = data[at] & 1;
        int eof = data[at] & 2;
        size_t len = data[at + 1];

        at += 2;
        if (len > size - at)
            len = size - at;
        if (!closed[c] && fmx_pmi_server_input(srv, c, data + at, eof ? 0 : len))
            closed[c] = 1;
        if (eof)
            closed[c] = 1;
        at += eof ? 0 : len;
    }
    fmx_pmi_server_destroy(srv);
    srv = NULL;
    return 0;
}
