/* Writes the fuzz targets' starting inputs, made with the project's own encoders so that they
 * follow the current formats: seedgen DIR writes DIR/control_pre/, DIR/control_post/,
 * DIR/hostfile/ and DIR/chunk/. Run at build time; nothing lands in the source tree. */
#include "alloc.h"
#include "auth.h"
#include "control.h"
#include "fmx_spawn.h"
#include "jobspec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void put(const char *dir, const char *sub, const char *name, const void *b, size_t n)
{
    char path[1024];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, sub);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
    if (!(f = fopen(path, "wb")) || fwrite(b, 1, n, f) != n) {
        perror(path);
        exit(1);
    }
    fclose(f);
}

/* A control message as it crosses the wire: u32 length, u16 type, 2 pad, body (control.c). */
static void frame(const char *dir, const char *sub, const char *name, uint16_t type, fmx_pack_t *p)
{
    size_t n = 8 + p->len;
    uint8_t *b = calloc(1, n);

    b[0] = (uint8_t)p->len, b[1] = (uint8_t)(p->len >> 8), b[2] = (uint8_t)(p->len >> 16);
    b[3] = (uint8_t)(p->len >> 24), b[4] = (uint8_t)type, b[5] = (uint8_t)(type >> 8);
    memcpy(b + 8, p->data, p->len);
    put(dir, sub, name, b, n);
    free(b);
    fmx_pack_free(p);
    fmx_pack_init(p);
}

int main(int argc, char **argv)
{
    uint8_t z[32] = {0};
    fmx_pack_t p;
    fmx_error_t err = {{0}};
    fmx_jobspec_t js = {0};
    char *args[] = {"./app", "--flag"}, *env[] = {"OMP_NUM_THREADS=1"},
         *denv[] = {"FI_PROVIDER=tcp"};

    if (argc != 2)
        return 2;
    fmx_pack_init(&p);
    fmx_pack_bytes(&p, z, 32), fmx_pack_bytes(&p, z, 32), fmx_pack_u32(&p, 1);
    fmx_pack_bytes(&p, z, 32);
    frame(argv[1], "control_pre", "auth", FMX_CTL_AUTH, &p);
    fmx_pack_bytes(&p, z, 32);
    frame(argv[1], "control_pre", "challenge", FMX_CTL_CHALLENGE, &p);

    js.nspace = "fmx.1.0";
    if (fmx_alloc_local(&js.map, 2, 2, &err) || fmx_place_blocks(&js.map, js.nspace, 4, 0, 0, &err))
        return 1;
    js.self = 1, js.argc = 2, js.argv = args, js.nenv = 1, js.env = env, js.ndenv = 1;
    js.denv = denv, js.wdir = "/tmp", js.flags = FMX_JOB_TAG_OUTPUT;
    fmx_jobspec_pack(&js, &p);
    frame(argv[1], "control_post", "job", FMX_CTL_JOB, &p);
    fmx_jobmap_free(&js.map);
    fmx_pack_bytes(&p, z, 32), fmx_pack_u32(&p, 1), fmx_pack_str(&p, "node-1");
    frame(argv[1], "control_post", "hello", FMX_CTL_HELLO, &p);
    fmx_pack_u32(&p, 3), fmx_pack_u32(&p, 1), fmx_pack_bytes(&p, "out\n", 4);
    frame(argv[1], "control_post", "io", FMX_CTL_IO, &p);
    fmx_pack_u32(&p, 3), fmx_pack_u32(&p, 7), fmx_pack_str(&p, "aborted");
    frame(argv[1], "control_post", "abort", FMX_CTL_ABORT, &p);
    fmx_pack_bytes(&p, z, 20), fmx_pack_bytes(&p, z, 20);
    frame(argv[1], "control_post", "addrs", FMX_CTL_ADDRS, &p);
    /* a spawn of two applications, as pmixrun sends it placed (NSPACE, without node_of) */
    {
        char *a0[] = {"./child", "x", NULL}, *a1[] = {"./other", NULL}, *e0[] = {"K=v", NULL},
             *e1[] = {NULL};
        fmx_spawn_app_t apps[2] = {{a0, e0, "/tmp", "node-1", 1}, {a1, e1, NULL, NULL, 2}};
        uint32_t app_of[3] = {0, 1, 1};
        fmx_spawn_t sp = {apps, 2, 1, 3, "fmx.1.0.1", app_of};

        fmx_spawn_pack(&sp, &p);
        frame(argv[1], "control_post", "nspace", FMX_CTL_NSPACE, &p);
    }

    static const char hf[] = "# a comment\nnode-1 slots=2\nnode-2 slots=4 max_slots=8\n\nnode-1\n";
    put(argv[1], "hostfile", "hosts", hf, sizeof(hf) - 1);
    put(argv[1], "hostfile", "bad", "node-1 slots=x\n", 15);

    /* mode byte (sign as member 1), then a DATA chunk from member 1 and room for its tag */
    uint8_t ch[1 + 32 + 8 + 16] = {5, 1, 0, 0, 0, 0};
    ch[1 + 16] = 8; /* length 8 */
    ch[1 + 24] = 1; /* sequence number 1 */
    put(argv[1], "chunk", "data", ch, sizeof(ch));
    uint8_t rts[1 + 32 + 24 + 16] = {5, 1, 0, 0, 0, 1};
    rts[1 + 17] = 1; /* a 256-byte message */
    rts[1 + 24] = 2;
    rts[1 + 32 + 7] = 0x80; /* its bulk number */
    put(argv[1], "chunk", "rts", rts, sizeof(rts));
    /* PMI: records of [flags (bit 0: connection 1), length, bytes] (fuzz_pmi.c) */
    static const char *const pmi1[] = {"cmd=init pmi_version=1 pmi_subversion=1\n",
                                       "cmd=get_maxes\n",
                                       "cmd=get_my_kvsname\n",
                                       "cmd=get kvsname=fuzz-job key=PMI_process_mapping\n",
                                       "cmd=put kvsname=fuzz-job key=card-0 value=abcdef\n",
                                       "cmd=barrier_in\n",
                                       "cmd=get kvsname=fuzz-job key=card-1\n",
                                       "mcmd=spawn\nnprocs=1\nendcmd\n",
                                       "cmd=finalize\n"};
    static const char *const pmi2[] = {"cmd=fullinit;pmirank=1;", "cmd=kvs-put;key=k;value=a;;b;",
                                       "cmd=kvs-fence;", "cmd=info-getnodeattr;key=n;wait=TRUE;",
                                       "cmd=abort;isworld=TRUE;"};
    uint8_t rec[4096];
    size_t n = 0;
    for (size_t i = 0; i < sizeof(pmi1) / sizeof(*pmi1); i++) {
        size_t l = strlen(pmi1[i]);
        rec[n++] = (uint8_t)(i % 2 == 1 && i > 5); /* the barrier needs both connections */
        rec[n++] = (uint8_t)l;
        memcpy(rec + n, pmi1[i], l);
        n += l;
    }
    put(argv[1], "pmi", "pmi1", rec, n);
    static const char init2[] = "cmd=init pmi_version=2 pmi_subversion=0\n";
    n = 0;
    rec[n++] = 1;
    rec[n++] = sizeof(init2) - 1;
    memcpy(rec + n, init2, sizeof(init2) - 1);
    n += sizeof(init2) - 1;
    for (size_t i = 0; i < sizeof(pmi2) / sizeof(*pmi2); i++) {
        size_t l = strlen(pmi2[i]);
        rec[n++] = 1;
        rec[n++] = (uint8_t)(l + 6);
        snprintf((char *)rec + n, 8, "%-6zu", l);
        memcpy(rec + n + 6, pmi2[i], l);
        n += l + 6;
    }
    put(argv[1], "pmi", "pmi2", rec, n);
    return 0;
}
