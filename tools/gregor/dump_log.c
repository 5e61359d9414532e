/* gregor dump-log FILE...: decodes segment files offline, like Kafka's
 * kafka-dump-log: .log (record batches, with --records every record), .index
 * and .timeindex; --verify checks CRCs, offset continuity and that every
 * index entry points at a batch holding its offset. Needs no broker. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "protocol/errors.h"
#include "protocol/record_batch.h"
#include "protocol/records.h"

struct dump_opts {
    bool records;
    bool verify;
    bool quiet;
    bool json;
};

/* One segment's file mapped, and what the dump found in it. */
struct dump {
    const struct dump_opts *o;
    const char *path;
    const uint8_t *data;
    size_t size;
    int64_t base_offset;    /* from the file name; 0 if it is not NNNN...N.ext */
    long problems;
    gr_jsonb_t *jb;         /* --json: the document being built */
};

/* A batch's place in the .log, for checking indexes against it. */
struct batch_loc {
    int64_t position, base, last, max_ts;
};

static const char *codec_name(int c)
{
    static const char *const names[] = {"none", "gzip", "snappy", "lz4", "zstd"};
    return c >= 0 && c < 5 ? names[c] : "unknown";
}

/* A problem in the file: a line on stderr, and in the JSON document. */
static void problem(struct dump *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct dump *d, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    d->problems++;
    if (d->o->verify)
        gr_errorf("%s: %s", d->path, msg);
    else
        gr_warnf("%s: %s", d->path, msg);
}

static bool map_file(const char *path, const uint8_t **data, size_t *size)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        gr_errorf("cannot open %s: %s", path, strerror(errno));
        return false;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        gr_errorf("%s: not a regular file", path);
        close(fd);
        return false;
    }
    *size = (size_t)st.st_size;
    *data = NULL;
    if (*size) {
        void *m = mmap(NULL, *size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            gr_errorf("cannot map %s: %s", path, strerror(errno));
            close(fd);
            return false;
        }
        *data = m;
    }
    close(fd);
    return true;
}

static void unmap_file(const uint8_t *data, size_t size)
{
    if (data)
        munmap((void *)data, size);
}

static int64_t base_from_name(const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    int64_t v = 0;
    int i = 0;
    for (; i < 20 && isdigit((unsigned char)b[i]); i++)
        v = v * 10 + (b[i] - '0');
    return i == 20 && b[20] == '.' ? v : 0;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const uint8_t *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* Bytes as text: printable ASCII as is, the rest as \xNN. */
static void put_escaped(const uint8_t *p, int32_t len)
{
    if (len < 0) {
        fputs("null", stdout);
        return;
    }
    for (int32_t i = 0; i < len; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
            putchar(p[i]);
        else
            printf("\\x%02x", p[i]);
    }
}

/* ---- .log ----------------------------------------------------------------- */

struct rec_ctx {
    struct dump *d;
    const gr_batch_header_t *h;
    int64_t position;
    int64_t expect;         /* next record offset */
    int32_t seen;
};

static void json_bytes(gr_jsonb_t *jb, gr_bytes_t b)
{
    if (b.len < 0)
        gr_jsonb_null(jb);
    else
        gr_jsonb_strn(jb, (const char *)b.ptr, (size_t)b.len);
}

static int on_record(const gr_record_t *r, void *arg)
{
    struct rec_ctx *c = arg;
    struct dump *d = c->d;
    if (r->offset != c->expect && d->o->verify)
        problem(d, "position %" PRId64 ": record offset %" PRId64 ", expected %" PRId64, c->position, r->offset,
                c->expect);
    c->expect = r->offset + 1;
    c->seen++;
    if (!d->o->records || d->o->quiet)
        return 0;
    gr_header_iter_t it;
    gr_record_header_t h;
    if (d->jb) {
        gr_jsonb_t *jb = d->jb;
        gr_jsonb_obj_begin(jb);
        gr_jsonb_key(jb, "offset");
        gr_jsonb_int(jb, r->offset);
        gr_jsonb_key(jb, "timestamp");
        gr_jsonb_int(jb, r->timestamp);
        gr_jsonb_key(jb, "key");
        json_bytes(jb, r->key);
        gr_jsonb_key(jb, "value");
        json_bytes(jb, r->value);
        gr_jsonb_key(jb, "headers");
        gr_jsonb_arr_begin(jb);
        for (gr_records_headers_init(r, &it); gr_records_header_next(&it, &h);) {
            gr_jsonb_obj_begin(jb);
            gr_jsonb_key(jb, "key");
            gr_jsonb_strn(jb, h.key.ptr, (size_t)h.key.len);
            gr_jsonb_key(jb, "value");
            json_bytes(jb, h.value);
            gr_jsonb_obj_end(jb);
        }
        gr_jsonb_arr_end(jb);
        gr_jsonb_obj_end(jb);
        return 0;
    }
    printf("| offset: %" PRId64 " %s: %" PRId64 " keySize: %d valueSize: %d headers: [", r->offset,
           c->h->attributes & GR_BATCH_ATTR_LOG_APPEND_TIME ? "LogAppendTime" : "CreateTime", r->timestamp,
           r->key.len, r->value.len);
    int i = 0;
    for (gr_records_headers_init(r, &it); gr_records_header_next(&it, &h); i++) {
        if (i)
            putchar(',');
        put_escaped((const uint8_t *)h.key.ptr, h.key.len);
        putchar('=');
        put_escaped(h.value.ptr, h.value.len);
    }
    fputs("] key: ", stdout);
    put_escaped(r->key.ptr, r->key.len);
    fputs(" payload: ", stdout);
    put_escaped(r->value.ptr, r->value.len);
    putchar('\n');
    return 0;
}

static void print_batch(struct dump *d, const gr_batch_header_t *h, int64_t pos, int64_t size, bool crc_ok)
{
    int64_t last = h->base_offset + h->last_offset_delta;
    int32_t last_seq = h->base_sequence < 0 ? -1 : h->base_sequence + h->last_offset_delta;
    const char *ts_type = h->attributes & GR_BATCH_ATTR_LOG_APPEND_TIME ? "LogAppendTime" : "CreateTime";
    const char *codec = codec_name(h->attributes & GR_BATCH_ATTR_CODEC_MASK);
    if (d->jb) {
        gr_jsonb_t *jb = d->jb;
        gr_jsonb_key(jb, "base_offset"); gr_jsonb_int(jb, h->base_offset);
        gr_jsonb_key(jb, "last_offset"); gr_jsonb_int(jb, last);
        gr_jsonb_key(jb, "count"); gr_jsonb_int(jb, h->records_count);
        gr_jsonb_key(jb, "base_sequence"); gr_jsonb_int(jb, h->base_sequence);
        gr_jsonb_key(jb, "producer_id"); gr_jsonb_int(jb, h->producer_id);
        gr_jsonb_key(jb, "producer_epoch"); gr_jsonb_int(jb, h->producer_epoch);
        gr_jsonb_key(jb, "partition_leader_epoch"); gr_jsonb_int(jb, h->leader_epoch);
        gr_jsonb_key(jb, "is_transactional"); gr_jsonb_bool(jb, h->attributes & GR_BATCH_ATTR_TRANSACTIONAL);
        gr_jsonb_key(jb, "is_control"); gr_jsonb_bool(jb, h->attributes & GR_BATCH_ATTR_CONTROL);
        gr_jsonb_key(jb, "position"); gr_jsonb_int(jb, pos);
        gr_jsonb_key(jb, "timestamp_type"); gr_jsonb_str(jb, ts_type);
        gr_jsonb_key(jb, "base_timestamp"); gr_jsonb_int(jb, h->base_timestamp);
        gr_jsonb_key(jb, "max_timestamp"); gr_jsonb_int(jb, h->max_timestamp);
        gr_jsonb_key(jb, "size"); gr_jsonb_int(jb, size);
        gr_jsonb_key(jb, "magic"); gr_jsonb_int(jb, h->magic);
        gr_jsonb_key(jb, "compresscodec"); gr_jsonb_str(jb, codec);
        gr_jsonb_key(jb, "crc"); gr_jsonb_int(jb, h->crc);
        gr_jsonb_key(jb, "is_valid"); gr_jsonb_bool(jb, crc_ok);
        return;
    }
    printf("baseOffset: %" PRId64 " lastOffset: %" PRId64 " count: %d baseSequence: %d lastSequence: %d "
           "producerId: %" PRId64 " producerEpoch: %d partitionLeaderEpoch: %d isTransactional: %s "
           "isControl: %s position: %" PRId64 " %s: %" PRId64 " size: %" PRId64 " magic: %d compresscodec: %s "
           "crc: %" PRIu32 " isvalid: %s\n",
           h->base_offset, last, h->records_count, h->base_sequence, last_seq, h->producer_id, h->producer_epoch,
           h->leader_epoch, h->attributes & GR_BATCH_ATTR_TRANSACTIONAL ? "true" : "false",
           h->attributes & GR_BATCH_ATTR_CONTROL ? "true" : "false", pos, ts_type, h->max_timestamp, size,
           h->magic, codec, h->crc, crc_ok ? "true" : "false");
}

/* Walks the batches of a .log. With `locs`, collects where each batch is
 * (and prints nothing: used to check an index against its .log). Returns
 * the number of batches. */
static long walk_log(struct dump *d, struct batch_loc **locs, bool print)
{
    size_t pos = 0;
    long n = 0, cap = 0;
    int64_t prev_last = -1;
    while (pos < d->size) {
        gr_batch_header_t h;
        size_t avail = d->size - pos;
        int64_t size = gr_batch_parse_header(d->data + pos, avail, &h);
        if (size < 0 || (size_t)size > avail) {
            if (print)
                problem(d, "position %zu: %s; %zu bytes that are not a whole batch at the end", pos,
                        size == GR_ECORRUPT ? "bad magic" : size < 0 ? "bad batch header" : "truncated batch", avail);
            break;
        }
        int64_t last = h.base_offset + h.last_offset_delta;
        if (locs) {
            if (n == cap) {
                cap = cap ? cap * 2 : 256;
                *locs = realloc(*locs, (size_t)cap * sizeof(**locs));
            }
            (*locs)[n] = (struct batch_loc){(int64_t)pos, h.base_offset, last, h.max_timestamp};
        }
        n++;
        if (!print) {
            pos += (size_t)size;
            continue;
        }
        bool crc_ok = gr_batch_crc_ok(d->data + pos, (size_t)size);
        bool emit_json = d->jb && !d->o->quiet;
        if (emit_json)
            gr_jsonb_obj_begin(d->jb);
        if (!d->o->quiet)
            print_batch(d, &h, (int64_t)pos, size, crc_ok);
        if (!crc_ok)
            problem(d, "position %zu: batch %" PRId64 "..%" PRId64 ": CRC mismatch (stored %" PRIu32 ")", pos,
                    h.base_offset, last, h.crc);
        if (h.records_count != h.last_offset_delta + 1)
            problem(d, "position %zu: %d records but lastOffsetDelta %d", pos, h.records_count, h.last_offset_delta);
        if (prev_last < 0 && h.base_offset < d->base_offset)
            problem(d, "position %zu: base offset %" PRId64 " is below the segment's base offset %" PRId64, pos,
                    h.base_offset, d->base_offset);
        if (prev_last >= 0 && h.base_offset <= prev_last)
            problem(d, "position %zu: base offset %" PRId64 " does not follow the previous batch's last offset %" PRId64,
                    pos, h.base_offset, prev_last);
        else if (prev_last >= 0 && h.base_offset != prev_last + 1)
            problem(d, "position %zu: offsets %" PRId64 "..%" PRId64 " are missing", pos, prev_last + 1,
                    h.base_offset - 1);
        prev_last = last;
        /* Records: decoded when asked for, and when verifying (a batch whose
         * CRC is wrong is not decoded: its contents cannot be trusted). */
        if ((d->o->records || d->o->verify) && crc_ok) {
            struct rec_ctx c = {d, &h, (int64_t)pos, h.base_offset, 0};
            if (emit_json && d->o->records) {
                gr_jsonb_key(d->jb, "records");
                gr_jsonb_arr_begin(d->jb);
            }
            int rc = gr_records_decode(d->data + pos, (size_t)size, on_record, &c);
            if (emit_json && d->o->records)
                gr_jsonb_arr_end(d->jb);
            if (rc < 0)
                problem(d, "position %zu: records cannot be decoded: %s", pos, gr_strerror(rc));
            else if (c.seen != h.records_count)
                problem(d, "position %zu: %d records decoded, the header says %d", pos, c.seen, h.records_count);
        }
        if (emit_json)
            gr_jsonb_obj_end(d->jb);
        pos += (size_t)size;
    }
    return n;
}

/* ---- indexes ---------------------------------------------------------------- */

/* The batches of the .log next to an index file; -1 when there is none. */
static long sibling_log(struct dump *d, struct batch_loc **locs)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s", d->path);
    char *dot = strrchr(path, '.');
    if (!dot || (size_t)(dot - path) + 5 >= sizeof(path))
        return -1;
    strcpy(dot, ".log");
    if (access(path, R_OK) != 0)
        return -1;
    struct dump ld = {.o = d->o, .path = path, .base_offset = d->base_offset};
    if (!map_file(path, &ld.data, &ld.size))
        return -1;
    long n = walk_log(&ld, locs, false);
    unmap_file(ld.data, ld.size);
    return n;
}

/* The batch whose offset range holds `offset`, or NULL. */
static const struct batch_loc *batch_with_offset(const struct batch_loc *b, long n, int64_t offset)
{
    long lo = 0, hi = n - 1;
    while (lo <= hi) {
        long mid = lo + (hi - lo) / 2;
        if (offset < b[mid].base)
            hi = mid - 1;
        else if (offset > b[mid].last)
            lo = mid + 1;
        else
            return &b[mid];
    }
    return NULL;
}

static void index_entry_json(struct dump *d, const char *k1, int64_t v1, const char *k2, int64_t v2)
{
    gr_jsonb_obj_begin(d->jb);
    gr_jsonb_key(d->jb, k1);
    gr_jsonb_int(d->jb, v1);
    gr_jsonb_key(d->jb, k2);
    gr_jsonb_int(d->jb, v2);
    gr_jsonb_obj_end(d->jb);
}

/* .index (time = false) or .timeindex. Entries past the used ones are zero
 * in an active segment's preallocated file: they end the dump. */
static void dump_index(struct dump *d, bool time)
{
    size_t esz = time ? 12 : 8;
    struct batch_loc *locs = NULL;
    long nb = d->o->verify ? sibling_log(d, &locs) : -1;
    if (d->o->verify && nb < 0)
        gr_warnf("%s: no readable .log next to it; checking the entries' order only", d->path);
    if (d->size % esz)
        problem(d, "size %zu is not a multiple of the %zu-byte entry", d->size, esz);
    size_t n = d->size / esz, used = 0;
    int64_t prev_key = -1, prev_off = -1, prev_pos = -1, run_max_ts = -1;
    long bi = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = d->data + i * esz;
        int64_t ts = time ? be64(p) : 0;
        int64_t rel = be32(time ? p + 8 : p);
        int64_t pos = time ? 0 : be32(p + 4);
        /* An all-zero first entry is padding too, unless it is a real
         * offset-index entry: the first batch ends at the base offset. */
        bool zero = ts == 0 && rel == 0 && pos == 0;
        if (zero && i == 0)
            zero = time || !(n == 1 || (nb > 0 && locs[0].last == d->base_offset));
        if (zero) {
            for (size_t j = i; j < n; j++)
                for (size_t k = 0; k < esz; k++)
                    if (d->data[j * esz + k]) {
                        problem(d, "entry %zu: non-zero bytes after the last entry", j);
                        j = n;
                        break;
                    }
            break;
        }
        used++;
        int64_t off = d->base_offset + rel;
        if (!d->o->quiet) {
            if (d->jb)
                (void)(time ? index_entry_json(d, "timestamp", ts, "offset", off)
                     : index_entry_json(d, "offset", off, "position", pos));
            else if (time)
                printf("timestamp: %" PRId64 " offset: %" PRId64 "\n", ts, off);
            else
                printf("offset: %" PRId64 " position: %" PRId64 "\n", off, pos);
        }
        int64_t key = time ? ts : off;
        if (key <= prev_key || (time ? off < prev_off : pos <= prev_pos))
            problem(d, "entry %zu: %s %" PRId64 " after %" PRId64 ": entries must increase", i,
                    time ? "timestamp" : "offset", key, prev_key);
        prev_key = key;
        prev_off = off;
        prev_pos = pos;
        if (nb < 0)
            continue;
        const struct batch_loc *b = batch_with_offset(locs, nb, off);
        if (!b) {
            problem(d, "entry %zu: offset %" PRId64 " is in no batch of the .log", i, off);
            continue;
        }
        if (!time && b->position != pos)
            problem(d, "entry %zu: offset %" PRId64 " is in the batch at position %" PRId64 ", not %" PRId64, i, off,
                    b->position, pos);
        if (time) {
            for (; bi < nb && locs[bi].position <= b->position; bi++)
                if (locs[bi].max_ts > run_max_ts)
                    run_max_ts = locs[bi].max_ts;
            if (ts != b->max_ts || ts < run_max_ts)
                problem(d, "entry %zu: timestamp %" PRId64 " is not the largest timestamp up to offset %" PRId64
                        " (%" PRId64 ")", i, ts, off, run_max_ts);
        }
    }
    if (d->o->verify && !d->problems && !d->jb)
        printf("%s: %zu entries consistent%s\n", d->path, used, nb < 0 ? "" : " with the .log");
    free(locs);
}

/* ---- files --------------------------------------------------------------------- */

static bool ends_with(const char *s, const char *sfx)
{
    size_t a = strlen(s), b = strlen(sfx);
    return a >= b && strcmp(s + a - b, sfx) == 0;
}

/* Dumps one file; returns its problem count, or -1 if it could not be read. */
static long dump_file(const struct dump_opts *o, const char *path, gr_jsonb_t *jb)
{
    int kind = ends_with(path, ".log") ? 0 : ends_with(path, ".timeindex") ? 2 : ends_with(path, ".index") ? 1 : -1;
    if (kind < 0) {
        gr_errorf("%s: not a .log, .index or .timeindex file", path);
        return -1;
    }
    struct dump d = {.o = o, .path = path, .base_offset = base_from_name(path), .jb = jb};
    if (!map_file(path, &d.data, &d.size))
        return -1;
    static const char *const kinds[] = {"log", "index", "timeindex"};
    if (jb) {
        gr_jsonb_obj_begin(jb);
        gr_jsonb_key(jb, "file");
        gr_jsonb_str(jb, path);
        gr_jsonb_key(jb, "type");
        gr_jsonb_str(jb, kinds[kind]);
        gr_jsonb_key(jb, "base_offset");
        gr_jsonb_int(jb, d.base_offset);
        gr_jsonb_key(jb, kind == 0 ? "batches" : "entries");
        gr_jsonb_arr_begin(jb);
    } else if (!o->quiet) {
        printf("Dumping %s\n", path);
        if (kind == 0)
            printf("Log starting offset: %" PRId64 "\n", d.base_offset);
    }
    if (kind == 0) {
        long n = walk_log(&d, NULL, true);
        if (o->verify && !d.problems && !jb)
            printf("%s: %ld batches, CRCs and offsets ok\n", path, n);
    } else {
        dump_index(&d, kind == 2);
    }
    if (jb) {
        gr_jsonb_arr_end(jb);
        gr_jsonb_key(jb, "problems");
        gr_jsonb_int(jb, d.problems);
        gr_jsonb_obj_end(jb);
    }
    unmap_file(d.data, d.size);
    return d.problems;
}

static void dump_usage(FILE *out)
{
    fprintf(out,
        "usage: gregor dump-log [options] FILE...\n"
        "\n"
        "Decodes segment files offline (no broker needed), like kafka-dump-log:\n"
        "  NNNN.log        one line per record batch: baseOffset lastOffset count position\n"
        "                  CreateTime/LogAppendTime (the max timestamp) size magic compresscodec crc\n"
        "                  isvalid; with --records every record (offset, timestamp, headers, key,\n"
        "                  payload; compressed batches are decompressed)\n"
        "  NNNN.index      offset -> byte position entries\n"
        "  NNNN.timeindex  timestamp -> offset entries\n"
        "\n"
        "options:\n"
        "      --records      print every record of each batch\n"
        "      --verify       check CRCs, record decoding, offset continuity (no gaps, nothing going\n"
        "                     backwards); for index files, that every entry points at the batch of the\n"
        "                     .log next to it that holds its offset. Exit 1 on any problem\n"
        "  -q, --quiet        print no batches or entries (with --verify: only problems and a summary)\n"
        "      --json         print a JSON array, one object per file\n"
        "  -h, --help         this help\n"
        "\n"
        "Problems are reported one line each on stderr. Exit status: 0 ok, 1 unreadable file or\n"
        "(with --verify) corruption, 2 usage.\n"
        "\n"
        "examples:\n"
        "  gregor dump-log data/orders-0/00000000000000000000.log\n"
        "  gregor dump-log --records data/orders-0/00000000000000000000.log | less\n"
        "  gregor dump-log --verify -q data/orders-0/*.log data/orders-0/*.index data/orders-0/*.timeindex\n");
}

enum { OPT_RECORDS = GR_OPT_CMD_BASE, OPT_VERIFY };

static const struct option long_opts[] = {
    {"records", no_argument, NULL, OPT_RECORDS},
    {"verify", no_argument, NULL, OPT_VERIFY},
    {"quiet", no_argument, NULL, 'q'},
    {"json", no_argument, NULL, GR_OPT_JSON},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int gr_cmd_dump_log(int argc, char **argv)
{
    struct gr_common co;
    if (!gr_common_init(&co, "gregor dump-log", argc))
        return GR_EXIT_FAIL;
    struct dump_opts o = {0};
    int rc = GR_EXIT_USAGE, c;
    while ((c = gr_next_opt(&co, argc, argv, "qh", long_opts, dump_usage, &rc)) != -1) {
        if (c == GR_OPT_EXIT)
            goto done;
        switch (c) {
        case OPT_RECORDS: o.records = true; break;
        case OPT_VERIFY: o.verify = true; break;
        case 'q': o.quiet = true; break;
        default: goto done;
        }
    }
    o.json = co.json;
    if (optind >= argc) {
        gr_errorf("missing FILE (see gregor dump-log --help)");
        goto done;
    }
    gr_jsonb_t jb;
    gr_jsonb_init(&jb);
    if (o.json)
        gr_jsonb_arr_begin(&jb);
    bool failed = false;
    for (int i = optind; i < argc; i++) {
        long p = dump_file(&o, argv[i], o.json ? &jb : NULL);
        failed |= p < 0 || (o.verify && p > 0);
    }
    if (o.json) {
        gr_jsonb_arr_end(&jb);
        gr_json_output(&jb);
    }
    gr_jsonb_free(&jb);
    rc = failed ? GR_EXIT_FAIL : GR_EXIT_OK;
done:
    gr_common_free(&co);
    return rc;
}
