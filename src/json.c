/* json.c - keeps 64-bit integers exact across lua-cjson.
 *
 * lua-cjson 2.1 reads every JSON number through a double, so an id such as
 * 3432423464657862424 would come back as 3432423464657862400. Before decoding, integer
 * literals too long for a double to hold exactly (16 or more digits) are wrapped in quotes,
 * so they reach Lua as strings with every digit intact. Text without such literals is
 * returned unchanged, without a copy. Writing ids is done in Lua (see koodrive/json.lua). */
#include <string.h>

#include "compat.h"
#include "core.h"

#define EXACT_DIGITS 15 /* every integer of up to 15 digits survives a double */

/* Returns the end of the number token starting at p, and whether it is a plain integer. */
static const char *scan_number(const char *p, const char *end, int *integer, size_t *digits)
{
    *integer = 1;
    *digits = 0;
    if (p < end && *p == '-')
        p++;
    while (p < end && *p >= '0' && *p <= '9') {
        p++;
        (*digits)++;
    }
    while (p < end && (*p == '.' || *p == 'e' || *p == 'E' || *p == '+' || *p == '-' ||
                       (*p >= '0' && *p <= '9'))) {
        *integer = 0;
        p++;
    }
    return p;
}

/* Counts the long integer literals outside strings; with out, also writes the text with them quoted. */
static size_t each_long_integer(const char *s, size_t len, luaL_Buffer *out)
{
    const char *p = s, *end = s + len, *copied = s;
    size_t found = 0;
    while (p < end) {
        char c = *p;
        if (c == '"') {
            for (p++; p < end && *p != '"'; p++)
                if (*p == '\\')
                    p++;
            p++;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            int integer;
            size_t digits;
            const char *tok_end = scan_number(p, end, &integer, &digits);
            if (integer && digits > EXACT_DIGITS) {
                found++;
                if (out != NULL) {
                    luaL_addlstring(out, copied, (size_t)(p - copied));
                    luaL_addchar(out, '"');
                    luaL_addlstring(out, p, (size_t)(tok_end - p));
                    luaL_addchar(out, '"');
                    copied = tok_end;
                }
            }
            p = tok_end;
        } else {
            p++;
        }
    }
    if (out != NULL && copied < end)
        luaL_addlstring(out, copied, (size_t)(end - copied));
    return found;
}

/* core.quote_long_integers(text) -> text with long integer literals turned into strings. */
static int global_quote_long_integers(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    luaL_Buffer out;
    if (each_long_integer(s, len, NULL) == 0) {
        lua_settop(L, 1);
        return 1;
    }
    luaL_buffinit(L, &out);
    each_long_integer(s, len, &out);
    luaL_pushresult(&out);
    return 1;
}

void kd_json_open(lua_State *L)
{
    static const luaL_Reg functions[] = {
        { "quote_long_integers", global_quote_long_integers },
        { NULL, NULL },
    };
    luaL_setfuncs(L, functions, 0);
}
