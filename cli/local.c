/*
 * local.c - `floret local -n N -- COMMAND`: runs a command inside a private
 * local cluster. Placeholder until the local-cluster engineer lands it.
 * Depends on cli.h and stdio only.
 */
#include <stdio.h>

#include "cli.h"

int cli_local(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "floret local: not built yet\n");
    return 2;
}
