/* The PMI wire front end without a process: framing and parsing of both protocol versions fed
 * in awkward pieces, reply formatting and its limits, the key-value space and its barrier
 * blobs, PMI_process_mapping for several placements, and a one-node server's requests and
 * barrier driven through its interface alone. */
#include "pmi_kvs.h"
#include "pmi_proto.h"
#include "pmi_server.h"
#include "../tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char seen[16][256];
static int nseen;

static void collect(void *arg, const fmx_pmi_msg_t *m)
{
    char *s = seen[nseen++ % 16];
    int n = snprintf(s, 256, "%d:%s", m->version, m->cmd);

    (void)arg;
    for (uint32_t i = 0; i < m->npairs && n < 250; i++)
        n += snprintf(s + n, 256 - (size_t)n, " %s=%s", m->pairs[i].key, m->pairs[i].value);
}

static int feed(fmx_pmi_conn_t *c, const char *s, size_t step, fmx_error_t *err)
{
    size_t len = strlen(s);
    int rc = 0;

    for (size_t at = 0; !rc && at < len; at += step)
        rc = fmx_pmi_conn_input(c, s + at, len - at < step ? len - at : step, collect, NULL, err);
    return rc;
}

static void framing(void)
{
    fmx_error_t err = {{0}};
    fmx_pmi_conn_t *c = fmx_pmi_conn_new();
    char big[1100];

    nseen = 0;
    ok(feed(c, "cmd=init pmi_version=1 pmi_subversion=1\ncmd=put kvsname=k key=a value=x=y\n", 1,
            &err) == 0 &&
           nseen == 2 && !strcmp(seen[0], "1:init pmi_version=1 pmi_subversion=1") &&
           !strcmp(seen[1], "1:put kvsname=k key=a value=x=y"),
       "PMI-1 lines fed a byte at a time: two requests, '=' inside a value kept");
    nseen = 0;
    ok(feed(c, "mcmd=spawn\nnprocs=2\narg1=a b\nendcmd\n", 7, &err) == 0 && nseen == 1 &&
           !strcmp(seen[0], "1:spawn nprocs=2 arg1=a b"),
       "a multi-line mcmd request up to endcmd is one request: %s", seen[0]);
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    ok(feed(c, big, 100, &err) == -EPROTO && strstr(err.text, "a line over 1024 bytes"),
       "a line over 1024 bytes breaks the framing: %s", err.text);
    fmx_pmi_conn_free(c);

    c = fmx_pmi_conn_new();
    ok(feed(c, "hello world\n", 64, &err) == -EPROTO && strstr(err.text, "'hello world'"),
       "a line without cmd= is refused, quoted: %s", err.text);
    fmx_pmi_conn_free(c);
    c = fmx_pmi_conn_new();
    ok(feed(c, "cmd=get key", 64, &err) == 0 &&
           fmx_pmi_conn_input(c, "", 0, collect, NULL, &err) == -EPROTO &&
           strstr(err.text, "in the middle of a request"),
       "an end of file mid-request: %s", err.text);
    fmx_pmi_conn_free(c);

    c = fmx_pmi_conn_new();
    fmx_pmi_conn_set_version(c, 2);
    nseen = 0;
    ok(feed(c, "29    cmd=kvs-put;key=k;value=a;;b;    17cmd=kvs-fence;x=;", 5, &err) == 0 &&
           nseen == 2 && !strcmp(seen[0], "2:kvs-put key=k value=a;b") &&
           !strcmp(seen[1], "2:kvs-fence x="),
       "PMI-2: lengths padded either side, ';;' for ';', empty values: %s | %s", seen[0], seen[1]);
    ok(feed(c, "1a    cmd=x;", 64, &err) == -EPROTO && strstr(err.text, "length field"),
       "PMI-2: a length field that is no number: %s", err.text);
    fmx_pmi_conn_free(c);
    c = fmx_pmi_conn_new();
    fmx_pmi_conn_set_version(c, 2);
    ok(feed(c, "10    =x;cmd=ab;", 64, &err) == -EPROTO, "PMI-2: a field with no key: %s",
       err.text);
    fmx_pmi_conn_free(c);
}

static void replies(void)
{
    fmx_pmi_conn_t *c = fmx_pmi_conn_new();
    size_t len;
    const char *out;
    char big[1100];

    ok(fmx_pmi_replyv(c, "get_result", "rc", "0", "value", "v;1", NULL) == 0 &&
           (out = fmx_pmi_conn_output(c, &len)) && len == 30 &&
           !memcmp(out, "cmd=get_result rc=0 value=v;1\n", len),
       "a PMI-1 reply line");
    fmx_pmi_conn_consumed(c, len);
    ok(fmx_pmi_replyv(c, "get_result", "value", "a b", NULL) == -EMSGSIZE &&
           (fmx_pmi_conn_output(c, &len), len == 0),
       "a PMI-1 value with a space cannot be sent, and nothing is left half-written");
    memset(big, 'v', 1000);
    big[1000] = 0;
    ok(fmx_pmi_replyv(c, "get_result", "rc", "0", "value", big, NULL) == -EMSGSIZE,
       "a PMI-1 reply longer than the client's 1023-byte line is refused");
    fmx_pmi_conn_set_version(c, 2);
    ok(fmx_pmi_replyv(c, "kvs-get-response", "rc", "0", "value", "a;b", NULL) == 0 &&
           (out = fmx_pmi_conn_output(c, &len)) && len == 6 + 37 &&
           !memcmp(out, "37    cmd=kvs-get-response;rc=0;value=a;;b;", len),
       "a PMI-2 reply: length, ';' doubled");
    fmx_pmi_conn_free(c);
}

static void kvs(void)
{
    fmx_pmi_kvs_t *a = fmx_pmi_kvs_new(), *b = fmx_pmi_kvs_new();
    uint8_t *blob;
    size_t len;
    char key[32], val[32];
    int good = 1;

    for (int i = 0; i < 500; i++) {
        snprintf(key, sizeof(key), "key-%d", i);
        snprintf(val, sizeof(val), "value-%d", i * 3);
        fmx_pmi_kvs_put(a, key, val, i % 2);
    }
    fmx_pmi_kvs_put(a, "key-1", "again", 1); /* replaced, still pending once */
    ok(fmx_pmi_kvs_count(a) == 500 && !strcmp(fmx_pmi_kvs_get(a, "key-1"), "again") &&
           !fmx_pmi_kvs_get(a, "key-500"),
       "500 keys through several growths, one replaced, a missing one not found");
    ok(fmx_pmi_kvs_pending_pack(a, &blob, &len) == 0 && fmx_pmi_kvs_unpack(b, blob, len) == 0 &&
           fmx_pmi_kvs_count(b) == 250,
       "the pending half travels in one blob");
    for (int i = 1; i < 500; i += 2) {
        snprintf(key, sizeof(key), "key-%d", i);
        snprintf(val, sizeof(val), "value-%d", i * 3);
        good &= !strcmp(fmx_pmi_kvs_get(b, key), i == 1 ? "again" : val);
    }
    ok(good, "every pending key arrives with its latest value");
    ok(fmx_pmi_kvs_unpack(b, blob, len - 1) == -EBADMSG, "a cut blob is refused");
    blob[3] = 0; /* the first key's length 0 */
    ok(fmx_pmi_kvs_unpack(b, blob, len) == -EBADMSG, "a record with an empty key is refused");
    free(blob);
    ok(fmx_pmi_kvs_pending_pack(a, &blob, &len) == 0 && len == 0,
       "packing empties the pending list");
    free(blob);
    fmx_pmi_kvs_free(a);
    fmx_pmi_kvs_free(b);
}

static void mapping(void)
{
    const uint32_t block[4] = {0, 0, 1, 1}, rr[5] = {0, 1, 0, 1, 0}, odd[6] = {0, 0, 1, 2, 2, 2};
    char buf[128];

    ok(fmx_pmi_process_mapping(block, 4, buf, sizeof(buf)) == 0 && !strcmp(buf, "(vector,(0,2,2))"),
       "blocks: %s", buf);
    ok(fmx_pmi_process_mapping(rr, 5, buf, sizeof(buf)) == 0 &&
           !strcmp(buf, "(vector,(0,2,1),(0,2,1),(0,1,1))"),
       "round robin: %s", buf);
    ok(fmx_pmi_process_mapping(odd, 6, buf, sizeof(buf)) == 0 &&
           !strcmp(buf, "(vector,(0,1,2),(1,1,1),(2,1,3))"),
       "uneven nodes: %s", buf);
    ok(fmx_pmi_process_mapping(rr, 5, buf, 20) == -EMSGSIZE, "too long for its room");
}

/* ---- a one-node server with two ranks ---- */

static int outputs, aborted = -1, failed;

static void h_output(void *arg, uint32_t local)
{
    (void)arg;
    (void)local;
    outputs++;
}
static void h_abort(void *arg, uint32_t rank, int status, const char *msg)
{
    (void)arg;
    (void)msg;
    aborted = (int)rank * 1000 + status;
}
static void h_fail(void *arg, uint32_t rank, const char *text)
{
    (void)arg;
    (void)rank;
    (void)text;
    failed++;
}
static void h_warn(void *arg, uint32_t rank, const char *text)
{
    (void)arg;
    (void)rank;
    (void)text;
}

static const char *take(fmx_pmi_server_t *s, uint32_t local)
{
    static char buf[2048];
    size_t len;
    const char *out = fmx_pmi_server_output(s, local, &len);

    memcpy(buf, out, len < sizeof(buf) - 1 ? len : sizeof(buf) - 1);
    buf[len < sizeof(buf) - 1 ? len : sizeof(buf) - 1] = 0;
    fmx_pmi_server_consumed(s, local, len);
    return buf;
}

#define SEND(s, i, text) fmx_pmi_server_input(s, i, text, strlen(text))

/* A PMI-2 message: its length field, then the body. */
static void send2(fmx_pmi_server_t *s, uint32_t i, const char *body)
{
    char buf[512];

    snprintf(buf, sizeof(buf), "%-6zu%s", strlen(body), body);
    SEND(s, i, buf);
}

static void server(void)
{
    const uint32_t ranks[2] = {4, 5}, members[1] = {0};
    fmx_pmi_host_t host = {h_output, h_abort, h_fail, h_warn};
    fmx_pmi_job_t job = {.kvsname = "job-1",
                         .size = 6,
                         .self = 0,
                         .local_ranks = ranks,
                         .nlocal = 2,
                         .members = members,
                         .nmembers = 1,
                         .process_mapping = "(vector,(0,1,6))"};
    fmx_pmi_server_t *s;
    const char *r;

    ok(fmx_pmi_server_create(&job, &host, NULL, &s) == 0, "a server for two local ranks");
    SEND(s, 0, "cmd=init pmi_version=1 pmi_subversion=1\n");
    ok(strstr(take(s, 0), "cmd=response_to_init") && fmx_pmi_server_state(s, 0) == 1, "PMI-1 init");
    SEND(s, 1, "cmd=init pmi_version=2 pmi_subversion=0\n");
    ok(strstr(take(s, 1), "pmi_version=2") && fmx_pmi_server_state(s, 1) == 1,
       "PMI-2 init on the other connection");
    SEND(s, 0, "cmd=put kvsname=job-1 key=a value=1\ncmd=barrier_in\n");
    r = take(s, 0);
    ok(strstr(r, "put_result rc=0") && !strstr(r, "barrier_out"),
       "a put answered, the barrier not before the other rank enters");
    send2(s, 1, "cmd=kvs-put;key=b;value=2;");
    send2(s, 1, "cmd=kvs-fence;");
    r = take(s, 1);
    ok(strstr(r, "kvs-put-response;rc=0;") && strstr(r, "kvs-fence-response;rc=0;"),
       "PMI-2: put, then the fence answered once both ranks entered: %s", r);
    ok(strstr(take(s, 0), "cmd=barrier_out") != NULL, "PMI-1's barrier_out too");
    send2(s, 1, "cmd=kvs-get;srcid=0;key=a;");
    ok(strstr(take(s, 1), "found=TRUE;value=1;") != NULL, "PMI-2 reads PMI-1's put");
    SEND(s, 0, "cmd=get kvsname=job-1 key=b\n");
    ok(strstr(take(s, 0), "get_result rc=0 value=2") != NULL, "and PMI-1 the PMI-2 one");
    SEND(s, 0, "cmd=get kvsname=job-1 key=PMI_process_mapping\n");
    ok(strstr(take(s, 0), "value=(vector,(0,1,6))") != NULL, "PMI_process_mapping pre-put");
    SEND(s, 0, "cmd=get kvsname=job-1 key=zz\n");
    ok(strstr(take(s, 0), "get_result rc=-1") != NULL, "a missing key: rc=-1");
    send2(s, 1, "cmd=info-getnodeattr;key=n;wait=TRUE;");
    ok(!*take(s, 1), "a node attribute asked with wait=TRUE waits");
    SEND(s, 0, "cmd=finalize\n");
    take(s, 0);
    send2(s, 1, "cmd=info-putnodeattr;key=n;value=7;");
    r = take(s, 1);
    ok(strstr(r, "info-putnodeattr-response;rc=0;") &&
           strstr(r, "info-getnodeattr-response;rc=0;found=TRUE;value=7;"),
       "putting it answers the get that waited (one connection here, for brevity)");
    ok(fmx_pmi_server_state(s, 0) == 2, "finalize recorded");
    send2(s, 1, "cmd=abort;isworld=TRUE;msg=bye;");
    ok(aborted == 5001 && failed == 0 && outputs > 0, "PMI-2 abort: rank 5, status 1, no failure");
    fmx_pmi_server_destroy(s);
}

int main(void)
{
    plan(36);
    framing();
    replies();
    kvs();
    mapping();
    server();
    return done_testing();
}
