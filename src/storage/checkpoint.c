/* Kafka's offset checkpoint files; format in checkpoint.h.  Topic names
 * never contain spaces (Kafka allows [a-zA-Z0-9._-]), so a line splits on
 * single spaces. */
#include "storage/checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocol/errors.h"
#include "util/log.h"

static int fsync_parent(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash) strcpy(dir, ".");
    else if (slash == path) strcpy(dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return GR_EIO;
    int rc = fsync(fd) < 0 ? GR_EIO : 0;
    close(fd);
    return rc;
}

int gr_checkpoint_write(const char *path, const gr_checkpoint_entry_t *entries, int n)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) return GR_EINVAL;
    FILE *f = fopen(tmp, "we");
    if (!f) goto err;
    fprintf(f, "0\n%d\n", n);
    for (int i = 0; i < n; i++)
        fprintf(f, "%s %d %lld\n", entries[i].topic, entries[i].partition, (long long)entries[i].offset);
    if (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) < 0) {
        fclose(f);
        goto err;
    }
    if (fclose(f) != 0 || rename(tmp, path) < 0) goto err;
    /* The rename itself must reach the disk, or a crash could bring back
     * the old file after we acted on the new one. */
    if (fsync_parent(path) < 0) goto err;
    return 0;
err:
    gr_error("checkpoint %s: write failed: %s", path, strerror(errno));
    unlink(tmp);
    return GR_EIO;
}

void gr_checkpoint_free(gr_checkpoint_entry_t *entries, int n)
{
    if (!entries) return;
    for (int i = 0; i < n; i++) free(entries[i].topic);
    free(entries);
}

/* Reads one '\n'-terminated line and strips the newline; false at EOF or
 * on an unterminated last line (a torn write). */
static bool next_line(FILE *f, char **line, size_t *cap, int *line_no)
{
    ++*line_no;
    ssize_t len = getline(line, cap, f);
    if (len <= 0 || (*line)[len - 1] != '\n') return false;
    (*line)[len - 1] = 0;
    return true;
}

/* Parses a decimal integer that fills the whole string. */
static bool parse_i64(const char *s, int64_t *v)
{
    char *end;
    if (!*s || (*s != '-' && (*s < '0' || *s > '9'))) return false;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || *end) return false;
    *v = x;
    return true;
}

int gr_checkpoint_read(const char *path, gr_checkpoint_entry_t **entries, int *n)
{
    int rc = GR_ECORRUPT, count = 0, line_no = 0;
    int64_t version, expect;
    char *line = NULL;
    size_t cap = 0;
    gr_checkpoint_entry_t *out = NULL;
    *entries = NULL;
    *n = 0;
    FILE *f = fopen(path, "re");
    if (!f) {
        if (errno == ENOENT) return 0;
        gr_error("checkpoint %s: open: %s", path, strerror(errno));
        return GR_EIO;
    }
    if (!next_line(f, &line, &cap, &line_no) || !parse_i64(line, &version) || version != 0) goto err;
    if (!next_line(f, &line, &cap, &line_no) || !parse_i64(line, &expect) || expect < 0 || expect > 10000000) goto err;
    if (expect && !(out = calloc((size_t)expect, sizeof *out))) {
        rc = GR_ENOMEM;
        goto err;
    }
    for (; count < expect; count++) {
        if (!next_line(f, &line, &cap, &line_no)) goto err;
        char *sp1 = strchr(line, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
        if (!sp1 || !sp2 || sp1 == line || strchr(sp2 + 1, ' ')) goto err;
        *sp1 = *sp2 = 0;
        int64_t part, off;
        if (!parse_i64(sp1 + 1, &part) || part < 0 || part > INT32_MAX || !parse_i64(sp2 + 1, &off)) goto err;
        if (!(out[count].topic = strdup(line))) {
            rc = GR_ENOMEM;
            goto err;
        }
        out[count].partition = (int32_t)part;
        out[count].offset = off;
    }
    if (getline(&line, &cap, f) > 0) goto err;    /* trailing lines: not ours */
    free(line);
    fclose(f);
    *entries = out;
    *n = count;
    return 0;
err:
    if (rc == GR_ECORRUPT) gr_warn("checkpoint %s: malformed at line %d", path, line_no);
    free(line);
    fclose(f);
    gr_checkpoint_free(out, count);
    return rc;
}
