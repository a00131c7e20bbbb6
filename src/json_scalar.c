/* json_scalar.c - the strings and numbers of the strict JSON reader (json_decode.c holds
 * the grammar around them and the rules the reader keeps). */
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "json_decode.h"

#define EXACT_DIGITS 15 /* every integer of up to 15 digits survives a double */
static int hex4(reader *r, const char *q)
{
    int v = 0, i;
    if (r->end - q < 4)
        kd_json_fail(r, "truncated \\u escape");
    for (i = 0; i < 4; i++) {
        char c = q[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            kd_json_fail(r, "invalid \\u escape");
    }
    return v;
}

static void add_utf8(luaL_Buffer *b, unsigned long c)
{
    if (c < 0x80) {
        luaL_addchar(b, (char)c);
    } else if (c < 0x800) {
        luaL_addchar(b, (char)(0xC0 | (c >> 6)));
        luaL_addchar(b, (char)(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
        luaL_addchar(b, (char)(0xE0 | (c >> 12)));
        luaL_addchar(b, (char)(0x80 | ((c >> 6) & 0x3F)));
        luaL_addchar(b, (char)(0x80 | (c & 0x3F)));
    } else {
        luaL_addchar(b, (char)(0xF0 | (c >> 18)));
        luaL_addchar(b, (char)(0x80 | ((c >> 12) & 0x3F)));
        luaL_addchar(b, (char)(0x80 | ((c >> 6) & 0x3F)));
        luaL_addchar(b, (char)(0x80 | (c & 0x3F)));
    }
}

/* Pushes the string starting at the opening quote. */
void kd_json_read_string(reader *r)
{
    const char *q = r->p + 1, *start = q;
    luaL_Buffer b;
    int escaped = 0;
    /* First pass: find the end and check the bytes; strings without escapes are pushed as is. */
    for (;;) {
        unsigned char c;
        if (q >= r->end) {
            r->p = q;
            kd_json_fail(r, "unterminated string");
        }
        c = (unsigned char)*q;
        if (c == '"')
            break;
        if (c < 0x20) {
            r->p = q;
            kd_json_fail(r, "control character in string");
        }
        if (c == '\\') {
            escaped = 1;
            q += 2;
        } else {
            q++;
        }
    }
    if (!escaped) {
        lua_pushlstring(r->L, start, (size_t)(q - start));
        r->p = q + 1;
        return;
    }
    luaL_buffinit(r->L, &b);
    for (q = start; *q != '"';) {
        if (*q != '\\') {
            const char *run = q;
            while (*q != '\\' && *q != '"')
                q++;
            luaL_addlstring(&b, run, (size_t)(q - run));
            continue;
        }
        r->p = q;
        switch (q[1]) {
        case '"':
            luaL_addchar(&b, '"');
            break;
        case '\\':
            luaL_addchar(&b, '\\');
            break;
        case '/':
            luaL_addchar(&b, '/');
            break;
        case 'b':
            luaL_addchar(&b, '\b');
            break;
        case 'f':
            luaL_addchar(&b, '\f');
            break;
        case 'n':
            luaL_addchar(&b, '\n');
            break;
        case 'r':
            luaL_addchar(&b, '\r');
            break;
        case 't':
            luaL_addchar(&b, '\t');
            break;
        case 'u': {
            unsigned long c = (unsigned long)hex4(r, q + 2);
            q += 4;
            if (c >= 0xDC00 && c <= 0xDFFF)
                kd_json_fail(r, "lone low surrogate in \\u escape");
            if (c >= 0xD800 && c <= 0xDBFF) {
                unsigned long lo;
                if (r->end - q < 8 || q[2] != '\\' || q[3] != 'u')
                    kd_json_fail(r, "lone high surrogate in \\u escape");
                lo = (unsigned long)hex4(r, q + 4);
                if (lo < 0xDC00 || lo > 0xDFFF)
                    kd_json_fail(r, "lone high surrogate in \\u escape");
                c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
                q += 6;
            }
            add_utf8(&b, c);
            break;
        }
        default:
            kd_json_fail(r, "invalid escape in string");
        }
        q += 2;
    }
    luaL_pushresult(&b);
    r->p = q + 1;
}

#define MAX_NUMBER_TEXT 512

/* Pushes the number at r->p, checked against the JSON grammar. */
void kd_json_read_number(reader *r)
{
    const char *q = r->p, *digits;
    int is_float = 0, nonzero = 0;
    char text[MAX_NUMBER_TEXT];
    size_t len;
    double v;
    char *stop;
    if (*q == '-')
        q++;
    digits = q;
    if (q < r->end && *q == '0') {
        q++;
    } else if (q < r->end && *q >= '1' && *q <= '9') {
        while (q < r->end && *q >= '0' && *q <= '9')
            nonzero |= *q++ != '0';
    } else {
        kd_json_fail(r, "invalid number");
    }
    if (q < r->end && *q == '.') {
        is_float = 1;
        q++;
        if (q >= r->end || *q < '0' || *q > '9')
            kd_json_fail(r, "invalid number (no digit after '.')");
        while (q < r->end && *q >= '0' && *q <= '9')
            nonzero |= *q++ != '0';
    }
    if (q < r->end && (*q == 'e' || *q == 'E')) {
        is_float = 1;
        q++;
        if (q < r->end && (*q == '+' || *q == '-'))
            q++;
        if (q >= r->end || *q < '0' || *q > '9')
            kd_json_fail(r, "invalid number (no digit in the exponent)");
        while (q < r->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (!is_float && (size_t)(q - digits) > EXACT_DIGITS) {
        lua_pushlstring(r->L, r->p, (size_t)(q - r->p)); /* a long integer at the end of text */
        r->p = q;
        return;
    }
    len = (size_t)(q - r->p);
    if (len >= MAX_NUMBER_TEXT)
        kd_json_fail(r, "number too long");
    memcpy(text, r->p, len);
    text[len] = '\0';
    {
        /* strtod follows the C locale's decimal point; JSON's is always '.'. */
        char point = localeconv()->decimal_point[0];
        if (point != '.') {
            char *dot = strchr(text, '.');
            if (dot)
                *dot = point;
        }
    }
    v = strtod(text, &stop);
    if (isinf(v) || isnan(v))
        kd_json_fail(r, "number out of range");
    if (v == 0 && nonzero)
        kd_json_fail(r, "number out of range (underflows to 0)");
    r->p = q;
    r->float_literal = is_float && v == floor(v);
#if LUA_VERSION_NUM >= 503
    if (v == floor(v) && v >= -9223372036854775808.0 && v < 9223372036854775808.0) {
        lua_pushinteger(r->L, (lua_Integer)v);
        return;
    }
#endif
    lua_pushnumber(r->L, (lua_Number)v);
}
