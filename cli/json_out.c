/*
 * json_out.c - escaped JSON strings on stdout for the subcommands that
 * print JSON by hand (json_out.h).
 * Depends on the C library only.
 */
#include "json_out.h"

#include <stdio.h>

void cli_json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}
