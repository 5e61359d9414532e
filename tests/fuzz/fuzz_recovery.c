/* libFuzzer: log recovery over an arbitrary .log file.  The input becomes
 * segment 0 of a fresh log directory; the log is opened with recovery point
 * 0, and everything gr_log_read then serves must be whole batches with a
 * valid CRC and increasing offsets: recovery must never let a corrupt byte
 * through, whatever the file holds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocol/record_batch.h"
#include "storage/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char tmpl[] = "/tmp/gr-fuzz-recovery-XXXXXX";
    char *dir = mkdtemp(tmpl);
    if (!dir) abort();
    char path[256];
    snprintf(path, sizeof path, "%s/00000000000000000000.log", dir);
    FILE *f = fopen(path, "w");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) abort();

    gr_log_config_t cfg;
    gr_log_config_default(&cfg);
    cfg.segment_index_bytes = 64 * 1024;
    cfg.index_interval_bytes = 128;     /* exercise the index on small inputs */
    gr_log_t *log;
    if (gr_log_open(dir, &cfg, 0, -1, &log) != 0) abort();
    int64_t offset = gr_log_start_offset(log), end = gr_log_end_offset(log);
    uint8_t *buf = malloc(size + 1);
    for (;;) {
        gr_log_slice_t s;
        if (gr_log_read(log, offset, INT64_MAX, 1 << 20, true, &s) != 0) abort();
        if (s.len == 0) break;
        if (s.len > (int64_t)size || pread(s.file->fd, buf, (size_t)s.len, s.pos) != s.len) abort();
        int64_t at = 0;
        while (at < s.len) {
            gr_batch_header_t h;
            int64_t bsize = gr_batch_parse_header(buf + at, (size_t)(s.len - at), &h);
            if (bsize < 0 || at + bsize > s.len) abort();
            if (!gr_batch_crc_ok(buf + at, (size_t)bsize)) abort();
            if (h.base_offset + h.last_offset_delta < offset) abort();
            offset = h.base_offset + h.last_offset_delta + 1;
            at += bsize;
        }
        gr_file_release(s.file);
    }
    if (offset != end) abort();         /* everything up to the end was served */
    /* Appending after recovery still works. */
    uint8_t b[GR_BATCH_HEADER_SIZE] = {0};
    b[11] = GR_BATCH_HEADER_SIZE - 12;
    b[16] = 2;
    b[60] = 1;
    gr_batch_update_crc(b, sizeof b);
    gr_append_info_t info;
    if (gr_log_append(log, b, sizeof b, 0, -1, 0, &info) != 0 || info.base_offset != end) abort();
    free(buf);
    gr_log_destroy_files(log);
    gr_log_release(log);
    rmdir(dir);
    return 0;
}
