/* A PMI-2 program linked against Slurm's libpmi2 (Debian's libpmi2-0-dev), which speaks the
 * PMI-2 wire protocol over PMI_FD: job attributes, a card per rank put and fenced, every peer's
 * card got and checked, and a node attribute put by the node's lowest rank that the others wait
 * for. Prints one line per rank and exits non-zero on any difference.
 *   pmi2_client [CARD_BYTES (default 200)] */
#include <slurm/pmi2.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rank = -1;

static void die(const char *what, int rc)
{
    fprintf(stderr, "pmi2_client rank %d: %s failed (%d)\n", rank, what, rc);
    exit(1);
}

static void card(char *buf, int of, int len)
{
    for (int i = 0; i < len; i++)
        buf[i] = "0123456789abcdefghijklmnopqrstuvwxyz"[(of * 7 + i) % 36];
    buf[len] = 0;
}

/* node of each rank from "(vector,(node,count,ppn),...)" */
static int parse_map(const char *map, int size, int *node_of)
{
    const char *p = strstr(map, "(vector");
    int r = 0;

    if (!p)
        return -1;
    p += 7;
    while (r < size && (p = strchr(p, '('))) {
        int node, count, ppn;

        if (sscanf(p, "(%d,%d,%d)", &node, &count, &ppn) != 3 || count <= 0 || ppn <= 0)
            return -1;
        for (int n = 0; n < count; n++)
            for (int k = 0; k < ppn && r < size; k++)
                node_of[r++] = node + n;
        p++;
    }
    return r == size ? 0 : -1;
}

int main(int argc, char **argv)
{
    int spawned, size, appnum, rc, len = argc > 1 ? atoi(argv[1]) : 200, found, vlen;
    char jobid[256], map[PMI2_MAX_VALLEN + 1], key[64], val[PMI2_MAX_VALLEN + 1],
        want[PMI2_MAX_VALLEN + 1];

    if (len < 1 || len > 1000)
        len = 200;
    if ((rc = PMI2_Init(&spawned, &size, &rank, &appnum)))
        die("PMI2_Init", rc);
    if (size < 1 || rank < 0 || rank >= size || spawned)
        die("PMI2_Init's rank and size", 0);
    if ((rc = PMI2_Job_GetId(jobid, sizeof(jobid))))
        die("PMI2_Job_GetId", rc);
    if ((rc = PMI2_Info_GetJobAttr("PMI_process_mapping", map, sizeof(map), &found)) || !found)
        die("PMI2_Info_GetJobAttr(PMI_process_mapping)", rc);
    if ((rc = PMI2_Info_GetJobAttr("universeSize", val, sizeof(val), &found)) || !found ||
        atoi(val) != size)
        die("PMI2_Info_GetJobAttr(universeSize)", rc);
    int *node_of = calloc((size_t)size, sizeof(int)), leader = rank;
    if (!node_of || parse_map(map, size, node_of))
        die("parsing PMI_process_mapping", 0);
    for (int r = 0; r < size; r++)
        if (node_of[r] == node_of[rank] && r < leader)
            leader = r;

    snprintf(key, sizeof(key), "card-%d", rank);
    card(val, rank, len);
    if ((rc = PMI2_KVS_Put(key, val)))
        die("PMI2_KVS_Put", rc);
    if (rank == leader) {
        snprintf(val, sizeof(val), "%d", rank);
        if ((rc = PMI2_Info_PutNodeAttr("fmx-leader", val)))
            die("PMI2_Info_PutNodeAttr", rc);
    }
    if ((rc = PMI2_KVS_Fence()))
        die("PMI2_KVS_Fence", rc);
    for (int r = 0; r < size; r++) {
        snprintf(key, sizeof(key), "card-%d", r);
        card(want, r, len);
        if ((rc = PMI2_KVS_Get(jobid, r, key, val, sizeof(val), &vlen)))
            die("PMI2_KVS_Get", rc);
        if (vlen != len || strcmp(val, want)) {
            fprintf(stderr, "pmi2_client rank %d: rank %d's card is wrong\n", rank, r);
            return 1;
        }
    }
    if ((rc = PMI2_KVS_Get(jobid, PMI2_ID_NULL, "no-such-key", val, sizeof(val), &vlen)) == 0)
        die("PMI2_KVS_Get of a missing key (it succeeded)", 0);
    if ((rc = PMI2_Info_GetNodeAttr("fmx-leader", val, sizeof(val), &found, 1)) || !found ||
        atoi(val) != leader)
        die("PMI2_Info_GetNodeAttr(fmx-leader, wait)", rc);
    if ((rc = PMI2_KVS_Fence()))
        die("the second PMI2_KVS_Fence", rc);
    printf("pmi2 rank %d of %d: %d cards ok, node leader %d\n", rank, size, size, leader);
    if ((rc = PMI2_Finalize()))
        die("PMI2_Finalize", rc);
    free(node_of);
    return 0;
}
