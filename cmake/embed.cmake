# embed.cmake - turn a file into a C array, for assets served by the floret
# binary itself (the dashboard page): cmake -DIN=FILE -DOUT=FILE.c
# -DNAME=symbol -P embed.cmake. Depends on CMake only.
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" n)
math(EXPR bytes "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," arr "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" arr "${arr}")
file(WRITE "${OUT}" "/* Generated from ${IN} by cmake/embed.cmake; do not edit. */\n#include <stddef.h>\nconst unsigned char ${NAME}[] = {\n${arr}0x00};\nconst size_t ${NAME}_len = ${bytes};\n")
