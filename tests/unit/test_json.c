/* JSON parser and builder. */
#include <stdlib.h>

#include "protocol/errors.h"
#include "test.h"
#include "util/json.h"

static char *roundtrip(const char *in)
{
    gr_json_t *v = NULL;
    char err[128];
    if (gr_json_parse(in, strlen(in), &v, err, sizeof err) != 0) return NULL;
    gr_jsonb_t b;
    gr_jsonb_init(&b);
    gr_jsonb_value(&b, v);
    gr_json_free(v);
    return gr_jsonb_take(&b, NULL);
}

GR_TEST(json_parse_znode)
{
    const char *s = "{\"version\":3,\"partitions\":{\"0\":[1,2],\"1\":[2,1]},\"adding_replicas\":{},"
                    "\"topic_id\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"big\":9223372036854775807,\"neg\":-5,"
                    "\"d\":1.5e3,\"t\":true,\"f\":false,\"n\":null}";
    gr_json_t *v;
    char err[128];
    CHECK_EQ(gr_json_parse(s, strlen(s), &v, err, sizeof err), 0);
    CHECK_EQ(gr_json_int(gr_json_get(v, "version"), -1), 3);
    const gr_json_t *p0 = gr_json_get(gr_json_get(v, "partitions"), "0");
    CHECK_EQ(p0->len, 2);
    CHECK_EQ(gr_json_int(gr_json_at(p0, 1), -1), 2);
    CHECK_EQ(gr_json_int(gr_json_get(v, "big"), 0), INT64_MAX);
    CHECK_EQ(gr_json_int(gr_json_get(v, "neg"), 0), -5);
    CHECK(gr_json_is(gr_json_get(v, "d"), GR_JSON_DOUBLE) && gr_json_get(v, "d")->d == 1500.0);
    CHECK(gr_json_get(v, "t")->b && !gr_json_get(v, "f")->b);
    CHECK(gr_json_is(gr_json_get(v, "n"), GR_JSON_NULL));
    CHECK(strcmp(gr_json_str(gr_json_get(v, "topic_id"), ""), "AAAAAAAAAAAAAAAAAAAAAA") == 0);
    CHECK(gr_json_get(v, "missing") == NULL);
    gr_json_free(v);
}

GR_TEST(json_strings_and_escapes)
{
    const char *s = "\"a\\\"b\\\\c\\/\\n\\t\\u00e9\\ud83d\\ude00\\u0000z\"";
    gr_json_t *v;
    char err[128];
    CHECK_EQ(gr_json_parse(s, strlen(s), &v, err, sizeof err), 0);
    CHECK_EQ(v->len, 16);
    CHECK_MEM(v->s, "a\"b\\c/\n\t\xc3\xa9\xf0\x9f\x98\x80\0z", 16);
    gr_json_free(v);
    char *r = roundtrip("{\"k\\n\":\"\\u0001x\\\"\"}");
    CHECK(r && strcmp(r, "{\"k\\n\":\"\\u0001x\\\"\"}") == 0);
    free(r);
}

GR_TEST(json_roundtrip)
{
    const char *cases[] = {
        "{}", "[]", "[1,-2,3.5,true,false,null,\"x\"]", "{\"a\":{\"b\":[{}]},\"c\":\"\"}",
        "-9223372036854775808", "0", "\"\"",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *r = roundtrip(cases[i]);
        CHECK(r && strcmp(r, cases[i]) == 0);
        if (r && strcmp(r, cases[i])) fprintf(stderr, "  %s -> %s\n", cases[i], r);
        free(r);
    }
    char *r = roundtrip("  { \"a\" : [ 1 , 2 ] }  ");
    CHECK(r && strcmp(r, "{\"a\":[1,2]}") == 0);
    free(r);
    r = roundtrip("1e400");      /* huge: a double (inf) -> null, never a crash */
    CHECK(r != NULL);
    free(r);
    r = roundtrip("99999999999999999999");   /* beyond int64: a double */
    CHECK(r && strchr(r, 'e'));
    free(r);
}

GR_TEST(json_malformed)
{
    const char *bad[] = {
        "", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\"}", "{a:1}", "[1 2]", "\"abc", "\"\\x\"", "tru", "nul",
        "01", "-", "1.", "1e", "+1", "\"\\ud800\"", "\"\\udc00\"", "\"a\nb\"", "[1]x", "{\"a\":1}}",
        "\"\\u12\"", "NaN",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gr_json_t *v = (gr_json_t *)1;
        char err[128] = "";
        int rc = gr_json_parse(bad[i], strlen(bad[i]), &v, err, sizeof err);
        CHECK_EQ(rc, GR_EPARSE);
        CHECK(v == NULL);
        CHECK(strncmp(err, "offset ", 7) == 0);
        if (rc != GR_EPARSE) fprintf(stderr, "  accepted: %s\n", bad[i]);
    }
    /* Depth limit. */
    char deep[200];
    memset(deep, '[', sizeof deep);
    gr_json_t *v;
    char err[128];
    CHECK_EQ(gr_json_parse(deep, sizeof deep, &v, err, sizeof err), GR_EPARSE);
    CHECK(strstr(err, "deep") != NULL);
    /* Not NUL-terminated input stops at len. */
    CHECK_EQ(gr_json_parse("[1]]]", 3, &v, err, sizeof err), 0);
    gr_json_free(v);
}

GR_TEST(json_builder)
{
    gr_jsonb_t b;
    gr_jsonb_init(&b);
    gr_jsonb_obj_begin(&b);
    gr_jsonb_key(&b, "version");
    gr_jsonb_str(&b, "1");
    gr_jsonb_key(&b, "list");
    gr_jsonb_arr_begin(&b);
    gr_jsonb_int(&b, 1);
    gr_jsonb_double(&b, 2.0);
    gr_jsonb_bool(&b, true);
    gr_jsonb_null(&b);
    gr_jsonb_obj_begin(&b);
    gr_jsonb_obj_end(&b);
    gr_jsonb_arr_end(&b);
    gr_jsonb_key(&b, "s");
    gr_jsonb_str(&b, NULL);
    gr_jsonb_obj_end(&b);
    size_t len;
    char *s = gr_jsonb_take(&b, &len);
    CHECK(strcmp(s, "{\"version\":\"1\",\"list\":[1,2.0,true,null,{}],\"s\":null}") == 0);
    CHECK_EQ(len, strlen(s));
    free(s);
}
