/* json_decode.h - the reader shared by json_decode.c (values, arrays, objects, the entry point)
 * and json_scalar.c (strings and numbers). Private to those two files. */
#ifndef KOODRIVE_JSON_DECODE_H
#define KOODRIVE_JSON_DECODE_H
#include <lua.h>

typedef struct {
    lua_State *L;
    const char *s, *p, *end;
    int array_mt, floats; /* stack indexes */
    int depth, max_depth;
    int float_literal; /* set by read_number for the container to record */
} reader;

/* Raises "<what> at character N" (never returns). */
int kd_json_fail(reader *r, const char *what);

/* Push the string starting at the opening quote at r->p / the number at r->p, and move r->p
 * past it. */
void kd_json_read_string(reader *r);
void kd_json_read_number(reader *r);

#endif
