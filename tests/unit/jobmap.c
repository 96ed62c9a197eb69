/* The job map (common/fmx_jobmap.h) and its placement and transport in the launcher: any
 * rank-to-node placement, several namespaces, each node's ranks listed ascending; block
 * placement filling slots and spreading what is left; a job description that carries two
 * namespaces across pack/unpack, and one placing a rank on a node that does not exist refused. */
#include "alloc.h"
#include "jobspec.h"
#include "../tap.h"

#include <stdlib.h>
#include <string.h>

static int same(const uint32_t *a, const uint32_t *b, uint32_t n)
{
    return !memcmp(a, b, n * sizeof(*a));
}

/* A spawn of one application. */
static int spawn(fmx_jobmap_t *map, const char *ns, uint32_t np, const char *hosts, int by_node,
                 int oversubscribe, fmx_error_t *err)
{
    fmx_spawn_app_t app = {.np = np, .hosts = (char *)hosts};
    fmx_spawn_t s = {.apps = &app, .napps = 1, .nspace = (char *)ns, .by_node = by_node};
    int rc = fmx_place_spawn(map, &s, NULL, oversubscribe, err);

    free(s.app_of);
    return rc;
}

int main(void)
{
    fmx_jobmap_t map = {0};
    fmx_error_t err = {{0}};
    const uint32_t round_robin[7] = {0, 1, 2, 0, 1, 2, 0}, on_two[3] = {2, 2, 0}, bad[1] = {3};
    const fmx_nspace_map_t *ns;

    plan(29);
    fmx_jobmap_add_node(&map, "h0", "n0", 2);
    fmx_jobmap_add_node(&map, "h1", "n1", 2);
    fmx_jobmap_add_node(&map, "h2", "n2", 2);
    fmx_jobmap_add_node(&map, "h0", "n0", 1);
    ok(map.nnodes == 3 && map.nodes[0].slots == 3, "a node named twice adds its slots");
    ok(fmx_jobmap_add_nspace(&map, "rr", 7, round_robin, &err) == 0, "round-robin placement");
    ns = fmx_jobmap_nspace(&map, "rr");
    ok(ns && fmx_nspace_node_of(ns, 4) == 1 && fmx_nspace_node_of(ns, 7) == UINT32_MAX,
       "rank 4 on node 1; rank 7 is no rank of it");
    ok(fmx_nspace_local_count(ns, 0) == 3 &&
           same(fmx_nspace_local_ranks(ns, 0), (uint32_t[]){0, 3, 6}, 3) &&
           same(fmx_nspace_local_ranks(ns, 2), (uint32_t[]){2, 5}, 2),
       "each node's ranks, ascending");
    ok(fmx_jobmap_add_nspace(&map, "spawned", 3, on_two, &err) == 0 &&
           fmx_nspace_local_count(fmx_jobmap_nspace(&map, "spawned"), 1) == 0 &&
           same(fmx_nspace_local_ranks(fmx_jobmap_nspace(&map, "spawned"), 2), (uint32_t[]){0, 1},
                2),
       "a second namespace beside the first, a node running none of it");
    ok(fmx_jobmap_add_nspace(&map, "rr", 1, on_two, &err) == -EEXIST, "a namespace name once");
    ok(fmx_jobmap_add_nspace(&map, "x", 1, bad, &err) == -EINVAL &&
           strstr(err.text, "rank 0 on node 3 of 3"),
       "a rank on a node that does not exist: %s", err.text);

    /* the job description carries the map */
    fmx_jobspec_t js = {.nspace = "rr",
                        .self = 1,
                        .map = map,
                        .argc = 1,
                        .argv = (char *[]){"app", NULL},
                        .wdir = "/"};
    fmx_jobspec_t back;
    fmx_pack_t p, cur;

    fmx_pack_init(&p);
    fmx_jobspec_pack(&js, &p);
    fmx_unpack_init(&cur, p.data, p.len);
    ok(fmx_jobspec_unpack(&back, &cur, "test", &err) == 0, "pack, unpack: %s", err.text);
    ok(back.map.nnodes == 3 && back.map.nnspaces == 2 && !strcmp(back.map.nodes[2].host, "h2") &&
           same(fmx_jobspec_nspace(&back)->node_of, round_robin, 7) &&
           fmx_jobmap_nspace(&back.map, "spawned")->size == 3,
       "both namespaces and every node arrive");
    fmx_jobspec_free(&back);
    /* the last node index of the second namespace ("spawned", then 12 bytes of indices): 0 -> 64 */
    uint8_t *at = memmem(p.data, p.len, "spawned", 7);
    ok(at && at[7] == 12 && at[7 + 4 + 8] == 0,
       "the second namespace's placement is where expected");
    at[7 + 4 + 8] = 64;
    fmx_unpack_init(&cur, p.data, p.len);
    ok(fmx_jobspec_unpack(&back, &cur, "test", &err) == -EPROTO,
       "a rank on node 64 of 3 is "
       "refused: %s",
       err.text);
    fmx_pack_free(&p);
    fmx_jobmap_free(&map);

    /* block placement */
    fmx_jobmap_add_node(&map, "a", "a", 2);
    fmx_jobmap_add_node(&map, "b", "b", 1);
    ok(fmx_place_blocks(&map, "j", 4, 0, 0, &err) == -EINVAL && strstr(err.text, "--oversubscribe"),
       "more ranks than slots, said how to allow it");
    ok(fmx_place_blocks(&map, "j", 5, 0, 1, &err) == 0, "oversubscribed");
    ns = fmx_jobmap_nspace(&map, "j");
    ok(same(ns->node_of, (uint32_t[]){0, 0, 0, 1, 1}, 5),
       "slots filled in turn, what is left spread: blocks of 3 and 2");
    ok(fmx_place_blocks(&map, "k", 0, 1, 0, &err) == 0 && fmx_jobmap_nspace(&map, "k")->size == 2,
       "-N 1 without -n: one per node");
    fmx_jobmap_free(&map);

    /* hosts split into virtual nodes (--vnodes with hosts given) */
    fmx_jobmap_add_node(&map, "a", "a", 4);
    fmx_jobmap_add_node(&map, "b", "b", 1);
    ok(fmx_alloc_split(&map, 2, &err) == 0 && map.nnodes == 4 &&
           !strcmp(map.nodes[1].name, "a-v1") && !strcmp(map.nodes[1].host, "a") &&
           map.nodes[1].slots == 2 && !strcmp(map.nodes[3].host, "b") && map.nodes[3].slots == 1,
       "two hosts split in 2: a-v0, a-v1 on a with 2 slots each, b's one slot on each of its 2");
    fmx_jobmap_free(&map);

    /* a spawn's placement into a running job: the slots the job leaves free first */
    fmx_jobmap_add_node(&map, "a", "a", 2);
    fmx_jobmap_add_node(&map, "b", "b", 2);
    fmx_jobmap_add_node(&map, "c", "hc", 1);
    ok(fmx_place_blocks(&map, "job", 3, 0, 0, &err) == 0, "the job: a a b");
    ok(spawn(&map, "s1", 2, NULL, 0, 0, &err) == 0 &&
           same(fmx_jobmap_nspace(&map, "s1")->node_of, (uint32_t[]){1, 2}, 2),
       "a spawn of 2 takes the free slots: b, c");
    ok(spawn(&map, "s2", 1, NULL, 0, 0, &err) == -EINVAL && strstr(err.text, "0 free slot(s)") &&
           strstr(err.text, "--oversubscribe"),
       "no slot left: refused, saying so (%s)", err.text);
    ok(spawn(&map, "s3", 3, "a,hc", 0, 1, &err) == 0 &&
           same(fmx_jobmap_nspace(&map, "s3")->node_of, (uint32_t[]){0, 0, 2}, 3),
       "PMIX_HOST-like list by name and host, oversubscribed: spread over a and c only, in blocks");
    ok(spawn(&map, "s3n", 3, "a:2,hc", 1, 1, &err) == 0 &&
           same(fmx_jobmap_nspace(&map, "s3n")->node_of, (uint32_t[]){0, 2, 0}, 3),
       "mapped by node (and a host's \":slots\" ignored): a, c, a");
    ok(spawn(&map, "s4", 1, "a,nosuch", 0, 1, &err) == -EINVAL && strstr(err.text, "\"nosuch\""),
       "a host that is not the job's is named (%s)", err.text);
    ok(spawn(&map, "s5", 0, NULL, 0, 1, &err) == -EINVAL, "zero processes refused");

    fmx_jobmap_free(&map);

    /* two applications (MPI_Comm_spawn_multiple): the second takes what the first left */
    fmx_jobmap_add_node(&map, "a", "a", 2);
    fmx_jobmap_add_node(&map, "b", "b", 2);
    ok(fmx_place_blocks(&map, "job", 1, 0, 0, &err) == 0, "the job: a");
    {
        fmx_spawn_app_t apps[2] = {{.np = 2}, {.np = 1}};
        fmx_spawn_t sp = {.apps = apps, .napps = 2, .nspace = "m"};

        ok(fmx_place_spawn(&map, &sp, NULL, 0, &err) == 0 &&
               same(fmx_jobmap_nspace(&map, "m")->node_of, (uint32_t[]){0, 1, 1}, 3) &&
               same(sp.app_of, (uint32_t[]){0, 0, 1}, 3),
           "apps of 2 and 1: a b | b; app of each rank 0 0 1");
        free(sp.app_of);
    }
    ok(fmx_jobmap_nprocs(&map) == 4 && fmx_jobmap_base(&map, fmx_jobmap_nspace(&map, "m")) == 1,
       "global indices: 4 processes, the spawn's begin at 1");
    {
        uint32_t rank = 0;
        const fmx_nspace_map_t *ns = fmx_jobmap_proc(&map, 2, &rank);

        ok(ns && !strcmp(ns->name, "m") && rank == 1 && !fmx_jobmap_proc(&map, 4, &rank),
           "global index 2 is m's rank 1; 4 is none");
    }
    fmx_jobmap_free(&map);

    /* a spawn after ranks ended: their slots are free again */
    fmx_jobmap_add_node(&map, "a", "a", 2);
    fmx_place_blocks(&map, "job", 2, 0, 0, &err);
    {
        fmx_spawn_app_t app = {.np = 2};
        fmx_spawn_t sp = {.apps = &app, .napps = 1, .nspace = "s7"};
        uint32_t ended[1] = {2};

        ok(fmx_place_spawn(&map, &sp, NULL, 0, &err) == -EINVAL,
           "a full node: a spawn is refused while its ranks run");
        ok(fmx_place_spawn(&map, &sp, ended, 0, &err) == 0 &&
               same(fmx_jobmap_nspace(&map, "s7")->node_of, (uint32_t[]){0, 0}, 2),
           "once both ended, their slots take the spawn without oversubscribing");
        free(sp.app_of);
    }
    fmx_jobmap_free(&map);
    return done_testing();
}
