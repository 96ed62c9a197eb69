/* libfabric's quick start (standin.c says what and why): call fmx_standin_prepare with the
 * directory holding the stand-in libraries before loading anything linked to libfabric; if that
 * load then fails, fmx_standin_release and load again without them. */
#ifndef FMX_STANDIN_H
#define FMX_STANDIN_H

/* Loads the stand-ins found in dir where no PSM device exists; returns how many were loaded. */
int fmx_standin_prepare(const char *dir);
void fmx_standin_release(void);
/* How many stand-ins this process has loaded. */
int fmx_standin_loaded(void);

#endif
