/* fs_stat.c — the statistics report and the user.fadefs.* xattrs
 * (contract in fs_stat.h).  The report's text format is defined here
 * alone: fs_stat_format writes it, fs_stat_parse reads it. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/fs.h"
#include "fs/fs_stat.h"

static int row_kept(uint64_t kept)
{
    return kept == 0 ? FS_KEPT_NO : kept == IDX_KEPT_FAILED ? FS_KEPT_FAILED
                                                            : FS_KEPT_RAW;
}

int fs_stat_build(struct fs_ctx *fs, uint64_t ino, struct fs_stat_report *out)
{
    struct idx_census_row fixed[FS_STAT_ROWS], *rows = fixed;
    struct idx_attr a;
    memset(out, 0, sizeof(*out));
    /* Data closed before this call counts: its deferred commits land
     * first (one commit, not a sync), so `cp f /mnt && fadefs-stat --wait`
     * waits for f's blocks too. */
    pthread_mutex_lock(&fs->w.lock);
    uint64_t seq = fs->w.async_next;
    pthread_mutex_unlock(&fs->w.lock);
    fs_writer_async_wait(fs, seq);
    int e = fs_getattr(fs, ino, &a);
    if (e)
        return e;
    out->file = S_ISREG(a.mode);
    out->ino = ino;
    out->size = out->file ? a.size : 0;
    uint64_t scope = out->file ? ino : 0;
    struct fs_rd *r;
    if ((e = fs_rd_take(fs, &r)))
        return e;
    int n = idx_r_census(r->rd, scope, rows, FS_STAT_ROWS);
    if (n > FS_STAT_ROWS) {
        /* More groups than a report shows: the totals still count them all. */
        int cap = n;
        rows = malloc((size_t)cap * sizeof(*rows));
        n = rows ? idx_r_census(r->rd, scope, rows, cap) : -ENOMEM;
        if (n > cap)
            n = cap;              /* grew meanwhile: counted next time */
    }
    e = n < 0 ? n : idx_r_queue_count(r->rd, scope, 0, &out->blocks_queued);
    if (!e && !out->file) {
        struct idx_stats st;
        e = idx_r_stats(r->rd, &st);
        out->n_inodes = st.n_inodes;
        out->segment_bytes = st.segment_bytes;
        if (!e && fs->sched.o.cold_ns > 0) {
            struct timespec now;
            clock_gettime(CLOCK_REALTIME, &now);
            int64_t t = (int64_t)now.tv_sec * 1000000000ll + now.tv_nsec;
            e = idx_r_queue_count(r->rd, 0, t - fs->sched.o.cold_ns,
                                  &out->queued_cold);
        } else if (!e) {
            out->queued_cold = out->blocks_queued;
        }
    }
    for (int i = 0; !e && i < n; i++) {
        struct fs_stat_row one, *w = out->n_rows < FS_STAT_ROWS
                                     ? &out->rows[out->n_rows++] : &one;
        w->codec = rows[i].codec;
        w->model = rows[i].model;
        w->kept = row_kept(rows[i].kept);
        w->n_blocks = rows[i].n_blocks;
        w->raw_bytes = rows[i].raw_bytes;
        w->payload_bytes = rows[i].payload_bytes;
        if (!w->model || idx_r_model_name(r->rd, w->model, w->preset,
                                          sizeof w->preset) != 0)
            snprintf(w->preset, sizeof w->preset, "-");
        out->logical_bytes += w->raw_bytes;
        out->stored_bytes += w->payload_bytes;
        if (w->kept == FS_KEPT_RAW)
            out->blocks_kept += w->n_blocks;
        else if (w->kept == FS_KEPT_FAILED)
            out->blocks_failed += w->n_blocks;
        else if (w->codec == FADE_CODEC_RAW)
            out->blocks_raw += w->n_blocks;
        else
            out->blocks_compressed += w->n_blocks;
    }
    fs_rd_give(fs, r);
    if (rows != fixed)
        free(rows);
    if (e)
        return e;
    fs_sched_counts(fs, &out->sched);
    enum fs_sched_state st = out->sched.state;
    /* The coders only know they found nothing cold; the queue tells
     * whether anything is left at all. */
    if (st == FS_SCHED_WAITING && out->blocks_queued == 0)
        st = FS_SCHED_IDLE;
    snprintf(out->state, sizeof out->state, "%s", fs_sched_state_name(st));
    snprintf(out->preset, sizeof out->preset, "%s", fs->sched.preset);
    return 0;
}

/* ---- text form: "key value" lines, then "row ..." lines ---- */

#define U64_FIELDS(X)                                                   \
    X(file) X(ino) X(size) X(n_inodes) X(segment_bytes) X(logical_bytes) \
    X(stored_bytes) X(blocks_raw) X(blocks_queued) X(blocks_compressed)  \
    X(blocks_kept) X(blocks_failed) X(queued_cold)
#define SCHED_FIELDS(X)                                                 \
    X(seen) X(done) X(kept) X(zero) X(raced) X(failed) X(raw_in)         \
    X(coded_out) X(in_flight) X(rate_bps) X(n_coders)

struct put { char *buf; size_t cap, len; int over; };

static void put(struct put *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void put(struct put *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = p->len < p->cap ? p->cap - p->len : 0;
    int n = vsnprintf(p->buf + (room ? p->len : 0), room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= room)
        p->over = 1;
    else
        p->len += (size_t)n;
}

int fs_stat_format(const struct fs_stat_report *r, char *buf, size_t cap)
{
    struct put p = { buf, cap, 0, 0 };
    put(&p, "fadefs-stat %d\n", FS_STAT_FORMAT);
#define PUT_U64(f) put(&p, #f " %" PRIu64 "\n", (uint64_t)r->f);
    U64_FIELDS(PUT_U64)
#undef PUT_U64
#define PUT_SCHED(f) put(&p, "sched_" #f " %" PRIu64 "\n", (uint64_t)r->sched.f);
    SCHED_FIELDS(PUT_SCHED)
#undef PUT_SCHED
    put(&p, "preset %s\nstate %s\n", r->preset, r->state);
    for (int i = 0; i < r->n_rows; i++) {
        const struct fs_stat_row *w = &r->rows[i];
        put(&p, "row %u %016" PRIx64 " %s %d %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
            w->codec, w->model, w->preset, w->kept, w->n_blocks, w->raw_bytes,
            w->payload_bytes);
    }
    return p.over ? -ERANGE : (int)p.len;
}

static int word(const char *s, const char *key, const char **val)
{
    size_t n = strlen(key);
    if (strncmp(s, key, n) || s[n] != ' ')
        return 0;
    *val = s + n + 1;
    return 1;
}

int fs_stat_parse(const char *text, size_t len, struct fs_stat_report *out)
{
    memset(out, 0, sizeof(*out));
    char *copy = malloc(len + 1);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, text, len);
    copy[len] = 0;
    int e = -EINVAL, first = 1;
    for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        const char *v;
        if (first) {
            int fmt;
            if (sscanf(l, "fadefs-stat %d", &fmt) != 1 || fmt != FS_STAT_FORMAT)
                break;
            first = 0;
            e = 0;
            continue;
        }
        if (0) {
        }
#define GET_U64(f) else if (word(l, #f, &v)) out->f = strtoull(v, NULL, 10);
        U64_FIELDS(GET_U64)
#undef GET_U64
#define GET_SCHED(f) else if (word(l, "sched_" #f, &v)) out->sched.f = strtoull(v, NULL, 10);
        SCHED_FIELDS(GET_SCHED)
#undef GET_SCHED
        else if (word(l, "preset", &v))
            snprintf(out->preset, sizeof out->preset, "%s", v);
        else if (word(l, "state", &v))
            snprintf(out->state, sizeof out->state, "%s", v);
        else if (word(l, "row", &v) && out->n_rows < FS_STAT_ROWS) {
            struct fs_stat_row *w = &out->rows[out->n_rows];
            if (sscanf(v, "%u %" SCNx64 " %31s %d %" SCNu64 " %" SCNu64 " %" SCNu64,
                       &w->codec, &w->model, w->preset, &w->kept, &w->n_blocks,
                       &w->raw_bytes, &w->payload_bytes) == 7)
                out->n_rows++;
        }
    }
    free(copy);
    return e;
}

/* ---- the xattrs ---- */

static int give(const char *val, size_t n, char *buf, size_t cap, size_t *len)
{
    *len = n;
    if (cap == 0)
        return 0;
    if (cap < n)
        return -ERANGE;
    memcpy(buf, val, n);
    return 0;
}

int fs_stat_xattr(struct fs_ctx *fs, uint64_t ino, const char *name, char *buf,
                  size_t cap, size_t *len)
{
    const char *what = name + strlen(FS_XATTR_PREFIX);
    int is_stat = !strcmp(name, FS_XATTR_STAT);
    if (!strcmp(name, FS_XATTR_COMPRESS)) {
        struct fs_sched_counts c;
        fs_sched_counts(fs, &c);
        const char *v = c.state == FS_SCHED_OFF || c.state == FS_SCHED_PAUSED
                        ? "off" : "on";
        return give(v, strlen(v), buf, cap, len);
    }
    if (!is_stat && strcmp(what, "stored_bytes") && strcmp(what, "ratio") &&
        strcmp(what, "blocks"))
        return -ENODATA;
    struct fs_stat_report *r = malloc(sizeof(*r));
    char *text = malloc(FS_STAT_TEXT_MAX);
    int e = !r || !text ? -ENOMEM : fs_stat_build(fs, ino, r);
    if (!e && !is_stat && !r->file)
        e = -ENODATA;             /* the per-file values exist for files only */
    int n = 0;
    if (!e) {
        if (is_stat)
            n = fs_stat_format(r, text, FS_STAT_TEXT_MAX);
        else if (!strcmp(what, "stored_bytes"))
            n = snprintf(text, FS_STAT_TEXT_MAX, "%" PRIu64, r->stored_bytes);
        else if (!strcmp(what, "ratio"))
            n = snprintf(text, FS_STAT_TEXT_MAX, "%.3f", r->stored_bytes
                         ? (double)r->logical_bytes / (double)r->stored_bytes : 1.0);
        else
            n = snprintf(text, FS_STAT_TEXT_MAX,
                         "{\"raw\":%" PRIu64 ",\"queued\":%" PRIu64
                         ",\"compressed\":%" PRIu64 ",\"kept_raw\":%" PRIu64
                         ",\"failed\":%" PRIu64 "}", r->blocks_raw, r->blocks_queued,
                         r->blocks_compressed, r->blocks_kept, r->blocks_failed);
        e = n < 0 ? n : give(text, (size_t)n, buf, cap, len);
    }
    free(text);
    free(r);
    return e;
}

int fs_stat_xattr_set(struct fs_ctx *fs, int is_root, const char *name,
                      const char *val, size_t len)
{
    if (!is_root || strcmp(name, FS_XATTR_COMPRESS))
        return -EPERM;
    if (len == 2 && !memcmp(val, "on", 2))
        return fs_sched_pause(fs, 0);
    if (len == 3 && !memcmp(val, "off", 3))
        return fs_sched_pause(fs, 1);
    return -EINVAL;
}
