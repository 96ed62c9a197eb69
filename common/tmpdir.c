/* Private temporary directories that a killed process does not leave behind (fmx_tmpdir.h). */
#include "fmx_tmpdir.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define OWNER ".owner"

void fmx_tmpdir_remove(const char *path)
{
    DIR *dir = opendir(path);
    struct dirent *de;
    char child[4096];

    if (dir) {
        while ((de = readdir(dir))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            snprintf(child, sizeof(child), "%s/%s", path, de->d_name);
            if (de->d_type == DT_DIR)
                fmx_tmpdir_remove(child);
            else
                unlink(child);
        }
        closedir(dir);
    }
    rmdir(path);
}

/* A directory of ours whose owner lock can be taken has no living creator. One without a lock
 * file is still being made (or predates the lock): left alone unless an hour old. */
static int abandoned(const char *path)
{
    char lock[4200];
    struct stat st;
    int fd, gone;

    if (lstat(path, &st) || !S_ISDIR(st.st_mode) || st.st_uid != geteuid())
        return 0;
    if ((size_t)snprintf(lock, sizeof(lock), "%s/%s", path, OWNER) >= sizeof(lock))
        return 0;
    fd = open(lock, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT && st.st_mtime + 3600 < time(NULL);
    gone = flock(fd, LOCK_EX | LOCK_NB) == 0;
    close(fd);
    return gone;
}

static void sweep(const char *base, const char *prefix)
{
    DIR *dir = opendir(base);
    struct dirent *de;
    char path[4096];

    if (!dir)
        return;
    while ((de = readdir(dir)))
        if (!strncmp(de->d_name, prefix, strlen(prefix))) {
            snprintf(path, sizeof(path), "%s/%s", base, de->d_name);
            if (abandoned(path))
                fmx_tmpdir_remove(path);
        }
    closedir(dir);
}

int fmx_tmpdir_create(const char *base, const char *prefix, const char *tag, char *out, size_t len,
                      int *lock_fd, fmx_error_t *err)
{
    char fresh[4096], lock[4096];
    int fd, rc;

    sweep(base, prefix);
    if ((size_t)snprintf(out, len, "%s/%s%s.XXXXXX", base, prefix, tag) >= len) {
        fmx_errprintf(err, "the directory name under %s is too long", base);
        return -ENAMETOOLONG;
    }
    if (!mkdtemp(out)) {
        rc = -errno;
        fmx_errprintf(err, "cannot create a directory under %s: %s", base, strerror(errno));
        out[0] = '\0';
        return rc;
    }
    /* locked before it is given its name, so that no sweeper ever finds it unlocked */
    snprintf(fresh, sizeof(fresh), "%s/" OWNER ".new", out);
    snprintf(lock, sizeof(lock), "%s/" OWNER, out);
    fd = open(fresh, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) || rename(fresh, lock)) {
        rc = -errno;
        fmx_errprintf(err, "cannot lock %s: %s", lock, strerror(errno));
        if (fd >= 0)
            close(fd);
        fmx_tmpdir_remove(out);
        out[0] = '\0';
        return rc;
    }
    *lock_fd = fd;
    return 0;
}
