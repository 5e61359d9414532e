#include "protocol/errors.h"

const char *gr_kafka_error_name(int16_t code)
{
    switch (code) {
#define GR_X(name, c) case c: return #name;
        GR_KAFKA_ERRORS(GR_X)
#undef GR_X
    }
    return "UNKNOWN_ERROR_CODE";
}

int16_t gr_error_to_kafka(int err)
{
    switch (err) {
#define GR_X(name, code, wire) case code: return GR_KERR_##wire;
        GR_INTERNAL_ERRORS(GR_X)
#undef GR_X
    }
    return GR_KERR_UNKNOWN_SERVER_ERROR;
}

const char *gr_strerror(int err)
{
    switch (err) {
#define GR_X(name, code, wire) case code: return #name;
        GR_INTERNAL_ERRORS(GR_X)
#undef GR_X
    }
    return "GR_E?";
}
