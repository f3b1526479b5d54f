/*
 * data_dirs.h - the directories a node started by this process may read
 * files below (wc.file, `floret node --data-dir`), handed to the nodes that
 * `floret local` and the embedded word count start through the environment
 * variable FLORET_DATA_DIRS (colon-separated), which `floret node` reads.
 * Depends on nothing but the C library.
 */
#ifndef FLORET_DATA_DIRS_H
#define FLORET_DATA_DIRS_H

#include <stdbool.h>

/*
 * Add a directory to $FLORET_DATA_DIRS: path itself when it names a
 * directory and of_file is false, else the directory of the regular file
 * it names (resolved with realpath). A path that does not exist, is of
 * another kind, or whose directory has a colon in its name is skipped.
 * Returns false only when out of memory.
 */
bool cli_data_dir_add(const char *path, bool of_file);

#endif
