/* A PMI client of the project's own that speaks the wire protocol directly over PMI_FD, to
 * check what a library would never send. Every rank runs the same scenario:
 *   errors    PMI-1: refused requests get error replies (a key or value too long, a missing or
 *             foreign key, an unknown command, spawn), then put / barrier / get of every peer,
 *             PMI_process_mapping, finalize; exits non-zero on any unexpected reply
 *   errors2   the same in PMI-2 framing
 *   garbage   rank 0 sends a line without cmd=        longline  rank 0 sends 2000 bytes, no '\n'
 *   eofmid    rank 0 ends its connection mid-request   badlen    rank 0: a bad PMI-2 length field
 *   abort     rank 1 sends abort exitcode=7 (the others wait in a barrier)
 *   nofinalize  rank 1 exits 0 after init without finalize
 *   close     rank 1 closes its connection after init and runs on
 *   killmid   rank 1 is killed (SIGKILL) while the others wait in a barrier
 *   nodeattr  PMI-2: rank 0 waits (wait=TRUE) for a node attribute no rank puts: the daemon
 *             must answer rc=-1 once the job's timeout (FMX_TIMEOUT_MS) has passed
 * Scenarios that break the protocol then wait for the daemon to end the job. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int fd = -1, rank = -1, size = 0, checks = 0, v2 = 0;
static char in[70000];
static size_t inlen;

static void fail(const char *what, const char *got)
{
    fprintf(stderr, "pmi_wire rank %d: %s (got '%s')\n", rank, what, got ? got : "");
    exit(1);
}

static void put_bytes(const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w <= 0)
            fail("write to PMI_FD failed", NULL);
        s += w;
        n -= (size_t)w;
    }
}

static void send_msg(const char *body)
{
    if (v2) {
        char head[24];
        snprintf(head, sizeof(head), "%-6zu", strlen(body));
        put_bytes(head, 6);
    }
    put_bytes(body, strlen(body));
}

/* The next reply, NUL-terminated (PMI-1: without its '\n'); NULL at end of file. */
static char *recv_msg(void)
{
    static char msg[70000];

    for (;;) {
        size_t need = 0;
        if (v2 && inlen >= 6)
            need = 6 + (size_t)atoi(in) <= inlen ? 6 + (size_t)atoi(in) : 0;
        if (!v2) {
            char *nl = memchr(in, '\n', inlen);
            need = nl ? (size_t)(nl - in) + 1 : 0;
        }
        if (need) {
            size_t off = v2 ? 6 : 0, len = need - off - (v2 ? 0 : 1);
            memcpy(msg, in + off, len);
            msg[len] = 0;
            memmove(in, in + need, inlen - need);
            inlen -= need;
            return msg;
        }
        ssize_t n = read(fd, in + inlen, sizeof(in) - inlen);
        if (n <= 0)
            return NULL;
        inlen += (size_t)n;
    }
}

/* Sends body and checks that the reply contains every fragment in want (NULL-terminated). */
static char *expect(const char *body, const char *const *want)
{
    char *r;

    send_msg(body);
    if (!(r = recv_msg()))
        fail("no reply", body);
    for (; *want; want++)
        if (!strstr(r, *want)) {
            fprintf(stderr, "pmi_wire rank %d: to '%s' want '%s'\n", rank, body, *want);
            fail("unexpected reply", r);
        }
    checks++;
    return r;
}
#define EXPECT(body, ...) expect(body, (const char *const[]){__VA_ARGS__, NULL})

static void wait_for_end(void)
{
    /* the daemon ends the job; a reply here would mean the request was accepted */
    char *r = recv_msg();
    if (r)
        fail("a reply to a request that breaks the protocol", r);
    sleep(60);
    exit(2);
}

/* PMI-2's init as MPICH does it: the version, then fullinit. */
static void init2(void)
{
    char buf[128];

    v2 = 0;
    EXPECT("cmd=init pmi_version=2 pmi_subversion=0\n", "cmd=response_to_init", "rc=0",
           "pmi_version=2");
    v2 = 1;
    snprintf(buf, sizeof(buf), "cmd=fullinit;pmirank=%d;threaded=FALSE;", rank);
    EXPECT(buf, "cmd=fullinit-response;", "rc=0;");
}

static void errors(void)
{
    char buf[2048], key[80], kvs[80] = "", *r;
    const char *sep = v2 ? ";" : " ";

    if (v2) {
        init2();
        r = EXPECT("cmd=job-getid;", "cmd=job-getid-response;", "rc=0;", "jobid=");
        sscanf(strstr(r, "jobid=") + 6, "%70[^;]", kvs);
    } else {
        EXPECT("cmd=init pmi_version=1 pmi_subversion=1\n", "cmd=response_to_init", "rc=0");
        EXPECT("cmd=get_maxes\n", "cmd=maxes", "kvsname_max=64", "keylen_max=64", "vallen_max=866");
        r = EXPECT("cmd=get_my_kvsname\n", "cmd=my_kvsname", "kvsname=");
        sscanf(strstr(r, "kvsname=") + 8, "%70s", kvs);
        EXPECT("cmd=get_universe_size\n", "cmd=universe_size");
        EXPECT("cmd=get_appnum\n", "cmd=appnum", "appnum=0");
    }
    const char *put = v2 ? "cmd=kvs-put;" : "cmd=put kvsname=",
               *put_r = v2 ? "kvs-put-response" : "put_result";
    const char *get_r = v2 ? "kvs-get-response" : "get_result";
    char pre[128];
    snprintf(pre, sizeof(pre), "%s%s%s", put, v2 ? "" : kvs, v2 ? "" : " ");
    /* a key of 65 bytes */
    memset(key, 'k', 65);
    key[65] = 0;
    snprintf(buf, sizeof(buf), "%skey=%s%svalue=x%s", pre, key, sep, v2 ? ";" : "\n");
    EXPECT(buf, put_r, "rc=-1");
    /* a value one byte over the limit */
    int over = v2 ? 1025 : 867;
    int n = snprintf(buf, sizeof(buf), "%skey=big%svalue=", pre, sep);
    memset(buf + n, 'v', (size_t)over);
    snprintf(buf + n + over, sizeof(buf) - (size_t)(n + over), "%s", v2 ? ";" : "\n");
    EXPECT(buf, put_r, "rc=-1");
    /* no value */
    snprintf(buf, sizeof(buf), "%skey=novalue%s", pre, v2 ? ";" : "\n");
    EXPECT(buf, put_r, "rc=-1");
    /* unknown command */
    EXPECT(v2 ? "cmd=bogus;x=1;" : "cmd=bogus x=1\n",
           v2 ? "cmd=bogus-response;" : "cmd=bogus_result", "rc=-1");
    /* a missing key */
    if (v2)
        EXPECT("cmd=kvs-get;jobid=x;srcid=-1;key=no-such-key;", get_r, "rc=0;", "found=FALSE;");
    else {
        snprintf(buf, sizeof(buf), "cmd=get kvsname=%s key=no-such-key\n", kvs);
        EXPECT(buf, get_r, "rc=-1");
        EXPECT("cmd=get kvsname=not-this-job key=PMI_process_mapping\n", get_r, "rc=-1");
        EXPECT("mcmd=spawn\nnprocs=1\nexecname=/bin/true\nendcmd\n", "cmd=spawn_result", "rc=-1");
    }
    /* puts, a barrier, every peer's value */
    snprintf(buf, sizeof(buf), "%skey=wire-%d%svalue=v%d;;x%s", pre, rank, sep, rank * 11,
             v2 ? ";" : "\n");
    if (!v2) /* ';' is an ordinary byte in PMI-1 */
        snprintf(buf, sizeof(buf), "%skey=wire-%d value=v%d;x\n", pre, rank, rank * 11);
    EXPECT(buf, put_r, "rc=0");
    EXPECT(v2 ? "cmd=kvs-fence;" : "cmd=barrier_in\n",
           v2 ? "cmd=kvs-fence-response;" : "cmd=barrier_out");
    for (int p = 0; p < size; p++) {
        char want[64];
        if (v2)
            snprintf(buf, sizeof(buf), "cmd=kvs-get;jobid=%s;srcid=%d;key=wire-%d;", kvs, p, p);
        else
            snprintf(buf, sizeof(buf), "cmd=get kvsname=%s key=wire-%d\n", kvs, p);
        snprintf(want, sizeof(want), v2 ? "value=v%d;;x;" : "value=v%d;x", p * 11);
        EXPECT(buf, get_r, "rc=0", want);
    }
    if (v2) {
        EXPECT("cmd=info-getjobattr;key=PMI_process_mapping;", "found=TRUE;", "value=(vector,(");
        EXPECT("cmd=info-getnodeattr;key=nothing-here;wait=FALSE;", "found=FALSE;");
        EXPECT("cmd=finalize;", "cmd=finalize-response;", "rc=0;");
    } else {
        snprintf(buf, sizeof(buf), "cmd=get kvsname=%s key=PMI_process_mapping\n", kvs);
        EXPECT(buf, get_r, "rc=0", "value=(vector,(");
        EXPECT("cmd=finalize\n", "cmd=finalize_ack");
    }
    printf("pmi_wire rank %d of %d: %d replies as expected (PMI-%d)\n", rank, size, checks,
           v2 ? 2 : 1);
}

int main(int argc, char **argv)
{
    const char *s = argc > 1 ? argv[1] : "errors", *e = getenv("PMI_FD");
    char big[2001];

    if (!e || !getenv("PMI_RANK") || !getenv("PMI_SIZE")) {
        fprintf(stderr, "pmi_wire: no PMI_FD, PMI_RANK or PMI_SIZE in the environment\n");
        return 1;
    }
    fd = atoi(e);
    rank = atoi(getenv("PMI_RANK"));
    size = atoi(getenv("PMI_SIZE"));
    if (!strcmp(s, "nodeattr")) {
        init2();
        if (rank == 0) {
            EXPECT("cmd=info-getnodeattr;key=never-put;wait=TRUE;", "info-getnodeattr-response;",
                   "rc=-1;");
            printf("pmi_wire rank 0: the wait for a node attribute no rank puts ended: rc=-1\n");
        }
        EXPECT("cmd=finalize;", "cmd=finalize-response;", "rc=0;");
        return 0;
    }
    if (!strcmp(s, "errors") || !strcmp(s, "errors2")) {
        v2 = !strcmp(s, "errors2");
        errors();
        return 0;
    }
    EXPECT("cmd=init pmi_version=1 pmi_subversion=1\n", "rc=0");
    if (!strcmp(s, "garbage") && rank == 0) {
        send_msg("hello world\n");
        wait_for_end();
    } else if (!strcmp(s, "longline") && rank == 0) {
        memset(big, 'a', 2000);
        big[2000] = 0;
        send_msg(big);
        wait_for_end();
    } else if (!strcmp(s, "eofmid") && rank == 0) {
        send_msg("cmd=put kvsname=x");
        shutdown(fd, SHUT_WR);
        wait_for_end();
    } else if (!strcmp(s, "badlen") && rank == 0) {
        v2 = 0;
        EXPECT("cmd=init pmi_version=2 pmi_subversion=0\n", "rc=0");
        put_bytes("12x456cmd=fullinit;", 19);
        wait_for_end();
    } else if (!strcmp(s, "abort") && rank == 1) {
        send_msg("cmd=abort exitcode=7\n");
        wait_for_end();
    } else if (!strcmp(s, "nofinalize") && rank == 1) {
        return 0;
    } else if (!strcmp(s, "close") && rank == 1) {
        close(fd);
        sleep(60);
        return 2;
    } else if (!strcmp(s, "killmid") && rank == 1) {
        raise(SIGKILL);
    }
    EXPECT("cmd=barrier_in\n", "cmd=barrier_out");
    EXPECT("cmd=finalize\n", "cmd=finalize_ack");
    return 0;
}
