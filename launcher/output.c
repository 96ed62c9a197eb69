/* Ranks' output on pmixrun's terminal, as it arrives from the daemons: passed through, or with
 * --tag-output in whole lines, each prefixed with [job,rank]<stream> (partial lines wait for
 * their end). */
#include "pmixrun.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pmixrun_emit(struct run *r, uint32_t rank, uint32_t stream, const char *buf, size_t n)
{
    FILE *f = stream == 2 ? stderr : stdout;
    uint32_t nsrank = rank;
    const fmx_nspace_map_t *ns;
    char **part;

    if (!(r->job.flags & FMX_JOB_TAG_OUTPUT)) {
        fwrite(buf, 1, n, f);
        fflush(f);
        return;
    }
    ns = fmx_jobmap_proc(&r->job.map, rank, &nsrank); /* for the label only */
    part = &r->partial[2 * rank + (stream == 2)];
    for (size_t start = 0, i = 0; i < n; i++) {
        if (buf[i] != '\n' && i + 1 < n)
            continue;
        size_t len = i - start + (buf[i] == '\n');
        if (buf[i] != '\n') { /* keep the unfinished tail */
            size_t old = *part ? strlen(*part) : 0;
            char *grown = realloc(*part, old + len + 1);
            if (grown) {
                memcpy(grown + old, buf + start, len);
                grown[old + len] = '\0';
                *part = grown;
            }
            break;
        }
        fprintf(f, "[%s,%u]<%s>: %s%.*s", ns ? ns->name : r->job.nspace, nsrank,
                stream == 2 ? "stderr" : "stdout", *part ? *part : "", (int)len, buf + start);
        free(*part);
        *part = NULL;
        start = i + 1;
    }
    fflush(f);
}

void pmixrun_output_free(struct run *r)
{
    for (size_t i = 0; r->partial && i < 2 * (size_t)r->size; i++)
        free(r->partial[i]);
    free(r->partial);
    r->partial = NULL;
}
