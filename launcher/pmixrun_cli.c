/* pmixrun's command line (mpirun's options and meanings), the job map built from it, the check
 * of the program, and the job description every pmixd receives. */
#include "pmixrun.h"
#include "slurm_alloc.h"

#include "alloc.h"

#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

void pmixrun_die(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "pmixrun: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    exit(1);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: pmixrun [options] PROGRAM [ARGS...]\n"
            "  -n, -np N             number of ranks (default: one per slot)\n"
            "  -N, --npernode N      ranks per node\n"
            "  --hostfile FILE       hosts, Open MPI syntax: \"node-1 slots=2\"\n"
            "  -H, --host LIST       hosts: \"h1:2,h2\"\n"
            "  --vnodes K            split this host (or each host given) into K virtual\n"
            "                        nodes, one pmixd each\n"
            "  --oversubscribe       allow more ranks than slots\n"
            "  --enable-recovery     a rank that fails does not end the job: the others are\n"
            "                        told (PMIX_ERR_PROC_ABORTED) and go on; the job's status\n"
            "                        is the first failure's\n"
            "  -x NAME[=VALUE]       export a variable to every rank\n"
            "  --wdir DIR            working directory of the ranks\n"
            "  --tag-output          prefix each output line with [job,rank]\n"
            "  --bind-to core|none   bind each rank to one core (default none)\n"
            "  --timeout SECONDS     end the job after this long\n"
            "  --launch-agent CMD    starts pmixd on other hosts (default: ssh)\n"
            "  --connect PORT        use the pmixd already serving on every host at PORT\n"
            "                        (pmixd --listen PORT --secret-file FILE) instead\n"
            "                        (default: FMX_CONNECT, unless --launch-agent is given)\n"
            "  --secret-file FILE    the secret those daemons know (or FMX_SECRET_FILE)\n"
            "  --version, --help\n");
}

static uint32_t parse_u32(const char *opt, const char *s)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);

    if (!*s || *end || v == 0 || v > UINT32_MAX / 2)
        pmixrun_die("%s needs a positive number, not \"%s\"", opt, s);
    return (uint32_t)v;
}

void pmixrun_parse(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {{"np", 1, 0, 'n'},
                                       {"npernode", 1, 0, 'N'},
                                       {"hostfile", 1, 0, 'f'},
                                       {"host", 1, 0, 'H'},
                                       {"vnodes", 1, 0, 'V'},
                                       {"oversubscribe", 0, 0, 'o'},
                                       {"enable-recovery", 0, 0, 'R'},
                                       {"wdir", 1, 0, 'w'},
                                       {"tag-output", 0, 0, 't'},
                                       {"timeout", 1, 0, 'T'},
                                       {"launch-agent", 1, 0, 'L'},
                                       {"version", 0, 0, 'v'},
                                       {"help", 0, 0, 'h'},
                                       {"bind-to", 1, 0, 'B'},
                                       {"connect", 1, 0, 'C'},
                                       {"secret-file", 1, 0, 'S'},
                                       {0, 0, 0, 0}};
    int c;

    /* "-np 4" is a long option spelled with one dash, as mpirun users type it */
    for (int i = 1; i < argc && argv[i][0] == '-'; i++)
        if (!strcmp(argv[i], "-np"))
            argv[i] = "--np";
    while ((c = getopt_long(argc, argv, "+n:N:H:x:h", lo, NULL)) != -1) {
        switch (c) {
        case 'n':
            o->np = parse_u32("-n", optarg);
            break;
        case 'N':
            o->npernode = parse_u32("-N", optarg);
            break;
        case 'f':
            o->hostfile = optarg;
            break;
        case 'H':
            o->hosts = optarg;
            break;
        case 'V':
            o->vnodes = parse_u32("--vnodes", optarg);
            break;
        case 'R':
            o->recovery = 1;
            break;
        case 'o':
            o->oversubscribe = 1;
            break;
        case 'w':
            o->wdir = optarg;
            break;
        case 't':
            o->tag_output = 1;
            break;
        case 'T':
            o->timeout_s = parse_u32("--timeout", optarg);
            break;
        case 'L':
            o->agent = optarg;
            break;
        case 'C':
            o->connect_port = parse_u32("--connect", optarg);
            if (o->connect_port > 65535)
                pmixrun_die("--connect %s: not a port", optarg);
            break;
        case 'S':
            o->secret_file = optarg;
            break;
        case 'B':
            if (!strcmp(optarg, "core"))
                o->bind_core = 1;
            else if (strcmp(optarg, "none"))
                pmixrun_die("--bind-to %s: expected core or none", optarg);
            break;
        case 'x': {
            const char *val = strchr(optarg, '=') ? NULL : getenv(optarg);
            if (!strchr(optarg, '=') && !val)
                pmixrun_die("-x %s: %s is not set here; give -x %s=VALUE", optarg, optarg, optarg);
            if (val ? fmx_env_set_kv(&o->exports, optarg, val) : fmx_env_set(&o->exports, optarg))
                pmixrun_die("out of memory");
            break;
        }
        case 'v':
            printf("pmixrun (fmx) %s\n", VERSION);
            exit(0);
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            exit(2);
        }
    }
    if (optind >= argc) {
        usage(stderr);
        pmixrun_die("no program to run");
    }
    o->argv = argv + optind;
    o->argc = argc - optind;
    /* a container image can make --connect the default: FMX_CONNECT=PORT */
    const char *env_port = getenv("FMX_CONNECT");
    if (!o->connect_port && !o->agent && env_port && *env_port) {
        o->connect_port = parse_u32("FMX_CONNECT", env_port);
        if (o->connect_port > 65535)
            pmixrun_die("FMX_CONNECT=%s: not a port", env_port);
    }
    if (!o->secret_file && o->connect_port)
        o->secret_file = getenv("FMX_SECRET_FILE");
    if (o->connect_port && o->agent)
        pmixrun_die("--connect and --launch-agent exclude each other: the daemons are either "
                    "running already or started for the job");
    if (o->connect_port && !o->secret_file)
        pmixrun_die("--connect needs --secret-file FILE (or FMX_SECRET_FILE): the secret the "
                    "daemons were started with");
    if (o->secret_file && !o->connect_port)
        pmixrun_die("--secret-file is for --connect (daemons that are already running)");
}

/* ---- the job ---- */

void pmixrun_build_map(struct run *r)
{
    static unsigned counter;
    fmx_error_t err = {{0}};
    fmx_jobmap_t *map = &r->job.map;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    char ns[64];
    int rc = 0;

    if (r->o.hostfile)
        rc = fmx_alloc_hostfile(map, r->o.hostfile, &err);
    if (!rc && r->o.hosts)
        rc = fmx_alloc_hostlist(map, r->o.hosts, &err);
    if (rc)
        pmixrun_die("%s", err.text);
    /* inside a Slurm allocation, without hosts given or virtual nodes asked for: its nodes */
    if (map->nnodes == 0 && r->o.vnodes <= 1 && (rc = fmx_alloc_slurm(map, &err)) < 0)
        pmixrun_die("%s", err.text);
    r->slurm = rc == 1;
    if (map->nnodes == 0) {
        uint32_t k = r->o.vnodes ? r->o.vnodes : 1;
        uint32_t slots = (uint32_t)(ncpu > 0 ? ncpu : 1);
        if (r->o.npernode && k == 1)
            pmixrun_die("-N %u places ranks per node, but no hosts were given: use --hostfile or "
                        "--host (or --vnodes K to split this host)",
                        r->o.npernode);
        if (k > 1) /* virtual nodes share the host's cores */
            slots = slots / k ? slots / k : 1;
        fmx_alloc_local(map, k, slots, &err);
    } else if (r->o.vnodes > 1 && fmx_alloc_split(map, r->o.vnodes, &err)) {
        pmixrun_die("%s", err.text); /* each host given split into K */
    }
    snprintf(ns, sizeof(ns), "fmx.%d.%u", (int)getpid(), counter++);
    if (!(r->job.nspace = strdup(ns)))
        pmixrun_die("out of memory");
    if (r->slurm && !r->o.oversubscribe && !r->o.npernode) {
        uint64_t capacity = 0;

        for (uint32_t i = 0; i < map->nnodes; i++)
            capacity += map->nodes[i].slots;
        if (r->o.np > capacity)
            pmixrun_die("%u ranks but the Slurm allocation (job %s) has %llu slots on %u node%s: "
                        "ask salloc or sbatch for more (-n, --ntasks-per-node, -c), or pass "
                        "--oversubscribe",
                        r->o.np, getenv("SLURM_JOB_ID"), (unsigned long long)capacity, map->nnodes,
                        map->nnodes == 1 ? "" : "s");
    }
    if (fmx_place_blocks(map, ns, r->o.np, r->o.npernode, r->o.oversubscribe, &err))
        pmixrun_die("%s", err.text);
    r->ns = fmx_jobspec_nspace(&r->job);
    r->size = r->ns->size;
}

void pmixrun_check_program(const char *prog)
{
    char path[PATH_MAX];
    const char *dirs = getenv("PATH");
    struct stat st;

    if (strchr(prog, '/')) {
        if (stat(prog, &st))
            pmixrun_die("%s: %s", prog, strerror(errno));
        if (!S_ISREG(st.st_mode) || access(prog, X_OK))
            pmixrun_die("%s: not an executable file", prog);
        return;
    }
    for (const char *d = dirs ? dirs : "/usr/bin:/bin"; *d;) {
        size_t len = strcspn(d, ":");
        snprintf(path, sizeof(path), "%.*s/%s", (int)len, len ? d : ".", prog);
        if (!stat(path, &st) && S_ISREG(st.st_mode) && !access(path, X_OK))
            return;
        d += len + (d[len] == ':');
    }
    pmixrun_die("%s: not found in PATH", prog);
}

/* True when some host runs more ranks than its slots (this host: more than its CPUs, summed
 * over its virtual nodes). */
static int oversubscribed(const struct run *r)
{
    const fmx_jobmap_t *m = &r->job.map;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    uint64_t here = 0;

    for (uint32_t i = 0; i < m->nnodes; i++) {
        uint32_t n = fmx_nspace_local_count(r->ns, i);

        if (!strcmp(m->nodes[i].host, "localhost"))
            here += n;
        else if (n > m->nodes[i].slots)
            return 1;
    }
    return ncpu > 0 && here > (uint64_t)ncpu;
}

void pmixrun_fill_job(struct run *r)
{
    char wd[PATH_MAX];
    uint8_t rnd[16];

    r->job.argc = (uint32_t)r->o.argc;
    r->job.argv = r->o.argv;
    r->job.nenv = (uint32_t)r->o.exports.n;
    r->job.env = r->o.exports.v;
    for (char **e = environ; *e; e++)
        if ((!strncmp(*e, "FI_", 3) || !strncmp(*e, "FMX_", 4)) &&
            strncmp(*e, "FMX_JOB_SECRET=", 15) && fmx_env_set(&r->denv, *e))
            pmixrun_die("out of memory");
    r->job.ndenv = (uint32_t)r->denv.n;
    r->job.denv = r->denv.v;
    r->job.wdir = strdup(r->o.wdir ? r->o.wdir : getcwd(wd, sizeof(wd)) ? wd : "/");
    r->job.flags = r->o.tag_output ? FMX_JOB_TAG_OUTPUT : 0;
    if (r->o.bind_core)
        r->job.flags |= FMX_JOB_BIND_CORE;
    if (oversubscribed(r))
        r->job.flags |= FMX_JOB_OVERSUBSCRIBED;
    r->job.timeout_ms = (uint32_t)fmx_env_u64("FMX_TIMEOUT_MS", 0);
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        pmixrun_die("getrandom: %s", strerror(errno));
    for (int i = 0; i < 16; i++)
        sprintf(r->secret + 2 * i, "%02x", rnd[i]);
    if (getrandom(r->hello_nonce, sizeof(r->hello_nonce), 0) != (ssize_t)sizeof(r->hello_nonce))
        pmixrun_die("getrandom: %s", strerror(errno));
}
