/* libFuzzer target for the hostfile parser (alloc.c, Open MPI's syntax) and the --host list:
 * any bytes must give a map or a one-line error naming file:line, never a crash or a leak; a
 * map that parses has a name for every node. */
#include "alloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    fmx_jobmap_t map;
    fmx_error_t err = {{0}};
    char *spec;

    if (fd < 0) {
        fd = memfd_create("hostfile", MFD_CLOEXEC);
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
        return 0;
    memset(&map, 0, sizeof(map));
    if (fmx_alloc_hostfile(&map, path, &err) == 0) {
        for (uint32_t i = 0; i < map.nnodes; i++)
            if (!map.nodes[i].host || !*map.nodes[i].host)
                __builtin_trap();
    } else if (!strstr(err.text, path)) {
        __builtin_trap(); /* the error names the file (and line) */
    }
    fmx_jobmap_free(&map);
    /* the same bytes as a --host list */
    if ((spec = malloc(size + 1))) {
        memcpy(spec, data, size);
        spec[size] = '\0';
        memset(&map, 0, sizeof(map));
        fmx_alloc_hostlist(&map, spec, &err);
        fmx_jobmap_free(&map);
        free(spec);
    }
    return 0;
}
