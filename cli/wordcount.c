/*
 * wordcount.c - `floret wordcount FILE...`: the distributed word count.
 * Placeholder so the command links; the real driver comes with the node API.
 * Depends on cli.h and stdio only.
 */
#include <stdio.h>

#include "cli.h"

int cli_wordcount(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "floret wordcount: not built yet\n");
    return 2;
}
