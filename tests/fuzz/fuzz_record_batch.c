/* libFuzzer: record batch header parsing and validation on arbitrary bytes.
 * Neither may read outside the input; a batch that validates must agree
 * with its own header. */
#include <stdlib.h>

#include "protocol/errors.h"
#include "protocol/record_batch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gr_batch_header_t h;
    int64_t n = gr_batch_parse_header(data, size, &h);
    if (n >= 0 && (n < GR_BATCH_HEADER_SIZE || h.magic != 2)) abort();
    int rc = gr_batch_validate(data, size, &h);
    if (rc == 0) {
        if ((size_t)n != size || !gr_batch_crc_ok(data, size)) abort();
        if (h.records_count != h.last_offset_delta + 1 || h.records_count <= 0) abort();
    } else if (rc != GR_EPARSE && rc != GR_ECORRUPT && rc != GR_EINVALID_RECORD) {
        abort();
    }
    (void)gr_batch_crc_ok(data, size);
    return 0;
}
