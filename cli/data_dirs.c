/*
 * data_dirs.c - $FLORET_DATA_DIRS for the nodes this process starts
 * (data_dirs.h).
 * Depends on POSIX (realpath, stat, setenv).
 */
#include "data_dirs.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Whether the colon-separated list has dir as one of its entries. */
static bool listed(const char *list, const char *dir)
{
    size_t n = strlen(dir);
    for (const char *p = list; p && *p; p = strchr(p, ':') ? strchr(p, ':') + 1 : NULL)
        if (strncmp(p, dir, n) == 0 && (p[n] == ':' || p[n] == '\0'))
            return true;
    return false;
}

bool cli_data_dir_add(const char *path, bool of_file)
{
    char real[PATH_MAX];
    struct stat st;
    if (realpath(path, real) == NULL || stat(real, &st) != 0)
        return true;
    if (of_file) {
        if (!S_ISREG(st.st_mode))
            return true;
        char *slash = strrchr(real, '/');
        if (slash == real)
            slash[1] = '\0';  /* a file in / */
        else
            *slash = '\0';
    } else if (!S_ISDIR(st.st_mode)) {
        return true;
    }
    if (strchr(real, ':'))
        return true;
    const char *old = getenv("FLORET_DATA_DIRS");
    if (old && listed(old, real))
        return true;
    size_t len = (old ? strlen(old) + 1 : 0) + strlen(real) + 1;
    char *list = malloc(len);
    if (list == NULL)
        return false;
    snprintf(list, len, "%s%s%s", old && *old ? old : "", old && *old ? ":" : "", real);
    int rc = setenv("FLORET_DATA_DIRS", list, 1);
    free(list);
    return rc == 0;
}
