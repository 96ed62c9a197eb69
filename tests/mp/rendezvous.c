/* File-based address exchange (see rendezvous.h). */
#include "rendezvous.h"
#include "fmx_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int write_addr(const char *dir, uint32_t rank, const uint8_t *addr, size_t len)
{
    char tmp[4096], final[4096];
    FILE *f;

    snprintf(tmp, sizeof(tmp), "%s/.addr.%u.tmp", dir, rank);
    snprintf(final, sizeof(final), "%s/addr.%u", dir, rank);
    if (!(f = fopen(tmp, "w")))
        return -errno;
    for (size_t i = 0; i < len; i++)
        fprintf(f, "%02x", addr[i]);
    fputc('\n', f);
    if (fclose(f))
        return -EIO;
    return rename(tmp, final) ? -errno : 0;
}

static int read_addr(const char *dir, uint32_t rank, void **out, size_t *outlen)
{
    char path[4096], hex[2048];
    size_t n = 0;
    uint8_t *buf;
    FILE *f;

    snprintf(path, sizeof(path), "%s/addr.%u", dir, rank);
    if (!(f = fopen(path, "r")))
        return -ENOENT;
    if (!fgets(hex, sizeof(hex), f)) {
        fclose(f);
        return -EIO;
    }
    fclose(f);
    hex[strcspn(hex, "\n")] = '\0';
    buf = malloc(strlen(hex) / 2 + 1);
    if (!buf)
        return -ENOMEM;
    for (; hex[2 * n] && hex[2 * n + 1]; n++) {
        unsigned v;
        if (sscanf(hex + 2 * n, "%2x", &v) != 1) {
            free(buf);
            return -EIO;
        }
        buf[n] = (uint8_t)v;
    }
    *out = buf;
    *outlen = n;
    return 0;
}

int rdv_exchange(const char *dir, uint32_t rank, uint32_t size, const void *addr, size_t len,
                 int timeout_ms, void ***addrs, size_t **lens)
{
    uint64_t deadline = fmx_now_ns() + (uint64_t)timeout_ms * 1000000u;
    void **a = calloc(size, sizeof(*a));
    size_t *l = calloc(size, sizeof(*l));
    uint32_t have = 0;
    int rc;

    if (!a || !l) {
        free(a);
        free(l);
        return -ENOMEM;
    }
    if ((rc = write_addr(dir, rank, addr, len))) {
        free(a);
        free(l);
        return rc;
    }
    while (have < size) {
        for (uint32_t i = 0; i < size; i++)
            if (!a[i] && read_addr(dir, i, &a[i], &l[i]) == 0)
                have++;
        if (have == size)
            break;
        if (fmx_now_ns() > deadline) {
            rdv_free(size, a, l);
            return -ETIMEDOUT;
        }
        nanosleep(&(struct timespec){0, 5000000}, NULL);
    }
    *addrs = a;
    *lens = l;
    return 0;
}

void rdv_free(uint32_t size, void **addrs, size_t *lens)
{
    for (uint32_t i = 0; addrs && i < size; i++)
        free(addrs[i]);
    free(addrs);
    free(lens);
}

int rdv_join(fmx_transport_t *tp, const char *dir, uint32_t rank, uint32_t size, int timeout_ms)
{
    uint8_t addr[4096];
    size_t len = sizeof(addr), *lens;
    void **addrs;
    int rc;

    if ((rc = tp->ops->get_addr(tp, addr, &len)) ||
        (rc = rdv_exchange(dir, rank, size, addr, len, timeout_ms, &addrs, &lens)))
        return rc;
    rc = tp->ops->add_peers(tp, size, (const void *const *)addrs, lens);
    rdv_free(size, addrs, lens);
    return rc;
}
