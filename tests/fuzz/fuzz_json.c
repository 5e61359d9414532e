/* libFuzzer target: the JSON parser must never crash or leak on any input,
 * and what it accepts must re-serialize to text it accepts again, stably. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/json.h"

static char *serialize(const gr_json_t *v)
{
    gr_jsonb_t b;
    gr_jsonb_init(&b);
    gr_jsonb_value(&b, v);
    return gr_jsonb_take(&b, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gr_json_t *v = NULL, *w = NULL;
    char err[128];
    if (gr_json_parse((const char *)data, size, &v, err, sizeof err) != 0) return 0;
    char *s1 = serialize(v);
    if (!s1) goto done;
    if (gr_json_parse(s1, strlen(s1), &w, err, sizeof err) != 0) abort();
    char *s2 = serialize(w);
    if (!s2 || strcmp(s1, s2) != 0) abort();
    free(s2);
done:
    free(s1);
    gr_json_free(v);
    gr_json_free(w);
    return 0;
}
