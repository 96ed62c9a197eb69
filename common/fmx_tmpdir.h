/* Private directories under a shared base such as /tmp that outlive no process: the creator
 * holds a lock on DIR/.owner for as long as it lives (the kernel drops it however the process
 * ends, SIGKILL included), and whoever creates the next one removes those whose lock is free. */
#ifndef FMX_TMPDIR_H
#define FMX_TMPDIR_H

#include "fmx_common.h"

#include <stddef.h>

/* Removes directories named PREFIX* directly under base whose creator is gone, then creates
 * base/PREFIXtag.XXXXXX (mode 0700) into out and locks it; the lock fd (close-on-exec) goes to
 * *lock_fd and stays open for the life of the directory. 0, or -errno with err set. */
int fmx_tmpdir_create(const char *base, const char *prefix, const char *tag, char *out, size_t len,
                      int *lock_fd, fmx_error_t *err);
/* Removes path and everything under it (no symlink is followed). */
void fmx_tmpdir_remove(const char *path);

#endif
