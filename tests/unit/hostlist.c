/* Slurm's compressed host and count lists (launcher/hostlist.c): the odd forms each expand to
 * the names and counts Slurm means by them, and what cannot be read is refused naming the part. */
#include "hostlist.h"
#include "../tap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* spec expands to want ("a b c"). */
static void names(const char *spec, const char *want)
{
    fmx_error_t err = {{0}};
    char **v = NULL, got[4096] = "";
    size_t n = 0;
    int rc = fmx_hostlist_expand(spec, &v, &n, &err);

    for (size_t i = 0; !rc && i < n && strlen(got) + strlen(v[i]) + 2 < sizeof(got); i++)
        snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", i ? " " : "", v[i]);
    ok(rc == 0 && !strcmp(got, want), "%s -> %s", spec, rc ? err.text : got);
    if (rc || strcmp(got, want))
        diag("wanted: %s", want);
    fmx_hostlist_free(v, n);
}

/* spec is refused with rc, the message holding part. */
static void refused(const char *spec, int want_rc, const char *part)
{
    fmx_error_t err = {{0}};
    char **v = NULL;
    size_t n = 0;
    int rc = fmx_hostlist_expand(spec, &v, &n, &err);

    ok(rc == want_rc && v == NULL && n == 0 && strstr(err.text, part), "%s refused: %s", spec,
       err.text);
    fmx_hostlist_free(v, n);
}

static void counts(const char *spec, const char *want)
{
    fmx_error_t err = {{0}};
    uint32_t *v = NULL;
    size_t n = 0;
    char got[1024] = "";
    int rc = fmx_counts_expand(spec, &v, &n, &err);

    for (size_t i = 0; !rc && i < n && strlen(got) + 12 < sizeof(got); i++)
        snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%u", i ? " " : "", v[i]);
    ok(rc == 0 && !strcmp(got, want), "%s -> %s", spec, rc ? err.text : got);
    free(v);
}

static void counts_refused(const char *spec, const char *part)
{
    fmx_error_t err = {{0}};
    uint32_t *v = NULL;
    size_t n = 0;
    int rc = fmx_counts_expand(spec, &v, &n, &err);

    ok(rc < 0 && v == NULL && strstr(err.text, part), "%s refused: %s", spec, err.text);
    free(v);
}

int main(void)
{
    plan(31);
    names("node1", "node1");
    names("node[1-4,7],gpu-a[01-02]", "node1 node2 node3 node4 node7 gpu-a01 gpu-a02");
    names("n[08-11]", "n08 n09 n10 n11");
    names("n[8-11]", "n8 n9 n10 n11");
    names("n[001-3]", "n001 n002 n003");
    names("n[098-101]", "n098 n099 n100 n101");
    names("rack[1-2]-node[01-02]", "rack1-node01 rack1-node02 rack2-node01 rack2-node02");
    names("a[1,3]b[5-6]c", "a1b5c a1b6c a3b5c a3b6c");
    names("x[3],y,z[0]", "x3 y z0");
    names("h.example-1_a,h[2-3].example", "h.example-1_a h2.example h3.example");
    names("[1-3]", "1 2 3");
    refused("node[3-1]", -EINVAL, "\"node[3-1]\" in \"node[3-1]\": a range that goes down");
    refused("ok1,node[1-2", -EINVAL, "\"node[1-2\" in \"ok1,node[1-2\": a '[' without its ']'");
    refused("node1]", -EINVAL, "\"node1]\"");
    refused("node[a-b]", -EINVAL, "not NUMBER or NUMBER-NUMBER");
    refused("node[1-]", -EINVAL, "not NUMBER or NUMBER-NUMBER");
    refused("node[]", -EINVAL, "an empty '[]'");
    refused("a,,b", -EINVAL, "\"\" in \"a,,b\": an empty name");
    refused("no de", -EINVAL, "a character no host name has");
    refused("", -EINVAL, "an empty host list");
    refused("n[1-99999999]", -E2BIG, "more than 65536 names");
    refused("a[1-300]b[1-300]", -E2BIG, "more than 65536 names");
    counts("2(x3),1", "2 2 2 1");
    counts("4", "4");
    counts("1,2,3", "1 2 3");
    counts("16(x2),8(x1)", "16 16 8");
    counts_refused("2(x0)", "\"2(x0)\" in \"2(x0)\": not COUNT or COUNT(xTIMES)");
    counts_refused("2(3)", "\"2(3)\"");
    counts_refused("2,,1", "\"\" in \"2,,1\"");
    counts_refused("1(x70000)", "more than 65536 counts");
    counts_refused("x", "\"x\"");
    return done_testing();
}
