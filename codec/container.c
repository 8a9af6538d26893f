/* container.c — the `fade` file format (FORMAT.md, "Container"): streaming
 * encode and decode between file descriptors with blocks coded in parallel,
 * and random access to block i through the trailer's index.
 *
 * Sections: I/O helpers · header and trailer · parallel batch runner ·
 * encode · decode · random-access reader.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "codec/block.h"
#include "codec/bytes.h"
#include "codec/container.h"
#include "codec/err.h"

static const uint8_t fc_magic[4] = {0xFA, 0xDE, 0xF1, 0x1E};
static const uint8_t fc_end_magic[4] = {0xFA, 0xDE, 0xE0, 0xF0};

/* Largest frame a valid container has for block size bs: the encoder
 * writes a FADE block only if it is smaller than the raw block. */
#define FC_MAX_FRAME(bs) ((size_t)(bs) + BLK_RAW_HEADER_LEN)

/* ---- I/O helpers ---- */

/* Reads up to n bytes (fewer only at end of input).  Returns the count or
 * FADE_E_IO with errno in st. */
static ssize_t read_full(int fd, void *buf, size_t n, struct fc_stats *st)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (uint8_t *)buf + got, n - got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            st->err_errno = errno;
            st->err_output = 0;
            return FADE_E_IO;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    st->in_bytes += got;
    return (ssize_t)got;
}

/* Reads exactly n bytes: FADE_E_TRUNCATED if the input ends first. */
static int read_exact(int fd, void *buf, size_t n, struct fc_stats *st)
{
    ssize_t r = read_full(fd, buf, n, st);
    if (r < 0)
        return (int)r;
    return (size_t)r == n ? 0 : FADE_E_TRUNCATED;
}

static int write_full(int fd, const void *buf, size_t n, struct fc_stats *st)
{
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, (const uint8_t *)buf + done, n - done);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            st->err_errno = errno;
            st->err_output = 1;
            return FADE_E_IO;
        }
        done += (size_t)w;
    }
    st->out_bytes += n;
    return 0;
}

static ssize_t pread_full(int fd, void *buf, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (uint8_t *)buf + got, n - got, (off_t)(off + got));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return FADE_E_IO;
        }
        if (r == 0)
            return FADE_E_TRUNCATED;
        got += (size_t)r;
    }
    return 0;
}

/* ---- header and trailer ---- */

struct fc_header {
    uint32_t block_size;
    uint64_t model_id;
    uint64_t total_len;     /* FC_LEN_UNKNOWN if not known when written */
};

static void header_put(uint8_t *h, const struct fc_header *hd)
{
    memcpy(h, fc_magic, 4);
    h[4] = FC_VERSION;
    h[5] = 0;
    st_le16(h + 6, 0);
    st_le32(h + 8, hd->block_size);
    st_le64(h + 12, hd->model_id);
    st_le64(h + 20, hd->total_len);
    st_le32(h + 28, fade_crc32c(0, h, 28));
}

/* Parses the n bytes of a header read so far (n < FC_HEADER_LEN means the
 * input ended there). */
static int header_get(const uint8_t *h, size_t n, struct fc_header *hd)
{
    size_t m = n < 4 ? n : 4;
    if (n == 0 || memcmp(h, fc_magic, m) != 0)
        return FADE_E_NOT_FADE;
    FADE_RETURN_IF(n < FC_HEADER_LEN, FADE_E_TRUNCATED);
    FADE_RETURN_IF(h[4] > FC_VERSION, FADE_E_VERSION);
    FADE_CORRUPT_IF(ld_le32(h + 28) != fade_crc32c(0, h, 28));
    FADE_CORRUPT_IF(h[4] == 0 || h[5] != 0 || ld_le16(h + 6) != 0);
    hd->block_size = ld_le32(h + 8);
    hd->model_id = ld_le64(h + 12);
    hd->total_len = ld_le64(h + 20);
    FADE_CORRUPT_IF(hd->block_size == 0 || hd->block_size > FADE_BLOCK_MAX_RAW);
    return 0;
}

/* Frame lengths of the blocks, kept for the trailer. */
struct fc_lens {
    uint32_t *v;
    uint64_t n, cap;
};

static int lens_push(struct fc_lens *l, uint32_t len)
{
    if (l->n == l->cap) {
        uint64_t cap = l->cap ? l->cap * 2 : 256;
        uint32_t *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return FADE_E_NOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = len;
    return 0;
}

/* Trailer: n_blocks u64, total u64, n_blocks x u32 block lengths, crc32c
 * u32; then the footer: trailer length u32, end magic. */
static size_t trailer_len(uint64_t n_blocks)
{
    return 16 + 4 * (size_t)n_blocks + 4;
}

static int trailer_write(int fd, const struct fc_lens *l, uint64_t total, struct fc_stats *st)
{
    size_t tl = trailer_len(l->n);
    if (tl > UINT32_MAX)
        return FADE_E_INVAL;
    uint8_t *t = malloc(tl + FC_FOOTER_LEN);
    if (!t)
        return FADE_E_NOMEM;
    st_le64(t, l->n);
    st_le64(t + 8, total);
    for (uint64_t i = 0; i < l->n; i++)
        st_le32(t + 16 + 4 * i, l->v[i]);
    st_le32(t + tl - 4, fade_crc32c(0, t, tl - 4));
    st_le32(t + tl, (uint32_t)tl);
    memcpy(t + tl + 4, fc_end_magic, 4);
    int rc = write_full(fd, t, tl + FC_FOOTER_LEN, st);
    free(t);
    return rc;
}

/* ---- parallel batch runner ----
 * A batch is up to n_workers blocks; each worker codes one block on its own
 * context, the caller's thread takes job 0.  Blocks are written in order
 * after the whole batch is done, so the output never depends on timing. */

struct fc_run;

struct fc_job {
    struct fc_run *run;
    unsigned slot;
    fade_ctx *ctx;
    uint8_t  *in;           /* block (decode) or raw bytes (encode) */
    size_t    in_len;
    size_t    in_cap;
    uint8_t  *out;
    size_t    out_cap;
    ssize_t   result;       /* bytes written to out, or FADE_E_* */
    double    flops;
    int       is_fade;
};

struct fc_run {
    int decode;
    int raw_only;
    const struct fade_preset *preset;   /* for flops (encode) */
    unsigned n_workers;
    struct fc_job *jobs;
    pthread_mutex_t mu;                 /* guards done_base, inflight, calls to progress */
    uint64_t done_base;                 /* raw bytes of finished batches */
    uint64_t *inflight;                 /* raw bytes done per slot in this batch */
    uint64_t total;                     /* 0 if unknown */
    fc_progress_fn progress;
    void *progress_arg;
    int borrowed_ctx;                   /* jobs[0].ctx is the caller's */
    struct fade_ctx_params cp;          /* for contexts made on demand */
};

static void run_report(struct fc_run *run, unsigned slot, uint64_t done)
{
    if (!run->progress)
        return;
    pthread_mutex_lock(&run->mu);
    if (slot < run->n_workers)
        run->inflight[slot] = done;
    uint64_t sum = run->done_base;
    for (unsigned i = 0; i < run->n_workers; i++)
        sum += run->inflight[i];
    run->progress(run->progress_arg, sum, run->total);
    pthread_mutex_unlock(&run->mu);
}

static void job_progress(void *arg, uint64_t done, uint64_t total)
{
    struct fc_job *j = arg;
    (void)total;
    run_report(j->run, j->slot, done);
}

static void job_run(struct fc_job *j)
{
    j->flops = 0;
    j->is_fade = 0;
    if (j->run->decode) {
        /* Contexts are made when the first FADE block needs one, so raw
         * containers never build a model.  (The codec byte was validated
         * by fade_block_info before the job was queued.) */
        if (!j->ctx && j->in_len > 5 && j->in[5] == FADE_CODEC_FADE) {
            int rc = fade_ctx_create(&j->ctx, &j->run->cp);
            if (rc < 0) {
                j->result = rc;
                return;
            }
            fade_ctx_set_progress(j->ctx, job_progress, j);
        }
        j->result = fade_block_decode(j->ctx, j->out, j->out_cap, j->in, j->in_len);
        return;
    }
    if (j->run->raw_only)
        j->result = fade_block_encode_raw(j->out, j->out_cap, j->in, j->in_len);
    else
        j->result = fade_block_encode(j->ctx, j->out, j->out_cap, j->in, j->in_len);
    struct fade_block_info info;
    if (j->result > 0 && fade_block_info(j->out, (size_t)j->result, &info) == 0 &&
        info.codec == FADE_CODEC_FADE) {
        j->is_fade = 1;
        j->flops = blk_flops(j->run->preset, j->in_len, info.n_streams);
    }
}

static void *job_thread(void *arg)
{
    job_run(arg);
    return NULL;
}

/* Runs jobs[0..n) in parallel; results are in the jobs.  A job whose
 * thread cannot be started runs on the caller's thread instead, so the
 * batch always completes. */
static void run_batch(struct fc_run *run, unsigned n)
{
    pthread_t tid[256];
    int started[256] = {0};
    for (unsigned i = 1; i < n; i++)
        started[i] = pthread_create(&tid[i], NULL, job_thread, &run->jobs[i]) == 0;
    job_run(&run->jobs[0]);
    for (unsigned i = 1; i < n; i++) {
        if (started[i])
            pthread_join(tid[i], NULL);
        else
            job_run(&run->jobs[i]);
    }
    if (run->progress) {
        pthread_mutex_lock(&run->mu);
        for (unsigned i = 0; i < n; i++) {
            run->done_base += run->decode ? (uint64_t)(run->jobs[i].result > 0 ? run->jobs[i].result : 0)
                                          : run->jobs[i].in_len;
            run->inflight[i] = 0;
        }
        pthread_mutex_unlock(&run->mu);
        run_report(run, run->n_workers, 0);
    }
}

static void run_free(struct fc_run *run)
{
    if (run->jobs) {
        for (unsigned i = 0; i < run->n_workers; i++) {
            if (!run->borrowed_ctx)
                fade_ctx_free(run->jobs[i].ctx);
            free(run->jobs[i].in);
            free(run->jobs[i].out);
        }
    }
    free(run->jobs);
    free(run->inflight);
    pthread_mutex_destroy(&run->mu);
}

/* Sets up n_workers jobs with buffers for block size bs and contexts
 * sharing the remaining threads. */
static int run_init(struct fc_run *run, int decode, const struct fc_opts *o,
                    unsigned n_workers, uint32_t bs, uint64_t total)
{
    memset(run, 0, sizeof *run);
    pthread_mutex_init(&run->mu, NULL);
    run->decode = decode;
    run->raw_only = o->raw_only;
    run->n_workers = n_workers;
    run->total = total;
    run->progress = o->progress;
    run->progress_arg = o->progress_arg;
    run->jobs = calloc(n_workers, sizeof *run->jobs);
    run->inflight = calloc(n_workers, sizeof *run->inflight);
    if (!run->jobs || !run->inflight)
        return FADE_E_NOMEM;
    uint32_t threads = o->n_threads ? o->n_threads : 1;
    uint32_t inner = threads / n_workers;
    /* A decoder meets the model its blocks name; start it on the default
     * preset, which most containers use: its id is then found without
     * computing another preset's (which regenerates that model's start
     * weights: about 0.2 s for paper), and its model is small. */
    struct fade_ctx_params cp = {
        .preset = decode ? fade_preset_default() : o->preset,
        .n_streams = decode ? 0 : o->n_streams,
        .isa = o->isa,
        .n_threads = inner > 1 ? inner : 0,
    };
    run->cp = cp;
    if (!decode) {
        run->preset = fade_preset_find(o->preset ? o->preset : fade_preset_default());
        if (!run->preset)
            return FADE_E_INVAL;
    }
    run->borrowed_ctx = o->ctx != NULL;
    for (unsigned i = 0; i < n_workers; i++) {
        struct fc_job *j = &run->jobs[i];
        j->run = run;
        j->slot = i;
        j->in_cap = decode ? FC_MAX_FRAME(bs) : bs;
        j->out_cap = decode ? bs : fade_block_bound(bs, 0);
        j->in = malloc(j->in_cap);
        j->out = malloc(j->out_cap);
        if (!j->in || !j->out)
            return FADE_E_NOMEM;
        if (o->ctx) {
            j->ctx = o->ctx;    /* its progress callback stays the caller's */
        } else if (!run->raw_only && !decode) {
            FADE_FORWARD(fade_ctx_create(&j->ctx, &cp));
            fade_ctx_set_progress(j->ctx, job_progress, j);
        }
    }
    return 0;
}

static unsigned workers_for(const struct fc_opts *o, uint64_t n_blocks_hint)
{
    uint32_t t = o->n_threads ? o->n_threads : 1;
    if (o->ctx)
        return 1;
    if (t > 256)
        t = 256;
    if (n_blocks_hint && n_blocks_hint < t)
        t = (uint32_t)n_blocks_hint;
    return t ? t : 1;
}

/* ---- encode ---- */

uint32_t fc_default_block(const struct fade_preset *p)
{
    return p && p->mix && p->one_stream ? FC_DEFAULT_BLOCK_MIX : FC_DEFAULT_BLOCK;
}

int fc_encode_fd(int in_fd, int out_fd, const struct fc_opts *opts, struct fc_stats *st)
{
    struct fc_stats dummy;
    struct fc_opts o = opts ? *opts : (struct fc_opts){0};
    if (!st)
        st = &dummy;
    memset(st, 0, sizeof *st);
    st->err_block = -1;
    const struct fade_preset *p = fade_preset_find(o.preset ? o.preset : fade_preset_default());
    if (!p)
        return FADE_E_INVAL;
    uint32_t bs = o.block_size ? o.block_size : fc_default_block(p);
    if (bs > FADE_BLOCK_MAX_RAW)
        return FADE_E_INVAL;
    struct stat in_st;
    uint64_t total_hint = 0, blocks_hint = 0;
    if (fstat(in_fd, &in_st) == 0 && S_ISREG(in_st.st_mode)) {
        total_hint = (uint64_t)in_st.st_size;
        blocks_hint = (total_hint + bs - 1) / bs;
        if (!blocks_hint)
            blocks_hint = 1;
    }
    /* Header first with the length unknown; patched below if out_fd can
     * seek back. */
    off_t hdr_at = lseek(out_fd, 0, SEEK_CUR);
    struct fc_header hd = {.block_size = bs, .model_id = fade_preset_model_id(p),
                           .total_len = FC_LEN_UNKNOWN};
    uint8_t h[FC_HEADER_LEN];
    header_put(h, &hd);
    FADE_FORWARD(write_full(out_fd, h, sizeof h, st));

    struct fc_run run;
    struct fc_lens lens = {0};
    uint64_t total = 0;
    int rc = run_init(&run, 0, &o, workers_for(&o, blocks_hint), bs, total_hint);
    int eof = 0;
    while (rc == 0 && !eof) {
        unsigned n = 0;
        while (n < run.n_workers && !eof) {
            struct fc_job *j = &run.jobs[n];
            ssize_t r = read_full(in_fd, j->in, bs, st);
            if (r < 0) {
                rc = (int)r;
                break;
            }
            if ((size_t)r < bs)
                eof = 1;
            if (r == 0)
                break;
            j->in_len = (size_t)r;
            n++;
        }
        if (rc || n == 0)
            break;
        run_batch(&run, n);
        for (unsigned i = 0; i < n && rc == 0; i++) {
            struct fc_job *j = &run.jobs[i];
            if (j->result < 0) {
                rc = (int)j->result;
                st->err_block = (int64_t)lens.n;
                break;
            }
            uint8_t fl[4];
            st_le32(fl, (uint32_t)j->result);
            rc = write_full(out_fd, fl, 4, st);
            if (rc == 0)
                rc = write_full(out_fd, j->out, (size_t)j->result, st);
            if (rc == 0)
                rc = lens_push(&lens, (uint32_t)j->result);
            total += j->in_len;
            st->n_blocks++;
            st->n_fade_blocks += (uint64_t)j->is_fade;
            st->flops += j->flops;
        }
    }
    if (rc == 0) {
        uint8_t end[4] = {0};
        rc = write_full(out_fd, end, 4, st);
    }
    if (rc == 0)
        rc = trailer_write(out_fd, &lens, total, st);
    struct stat out_st;
    /* Not with O_APPEND: Linux pwrite() would append instead of patching. */
    int fl = fcntl(out_fd, F_GETFL);
    if (rc == 0 && hdr_at >= 0 && fl >= 0 && !(fl & O_APPEND) && fstat(out_fd, &out_st) == 0 &&
        S_ISREG(out_st.st_mode)) {
        hd.total_len = total;
        header_put(h, &hd);
        if (pwrite(out_fd, h, sizeof h, hdr_at) != (ssize_t)sizeof h) {
            st->err_errno = errno;
            st->err_output = 1;
            rc = FADE_E_IO;
        }
    }
    free(lens.v);
    run_free(&run);
    return rc;
}

/* ---- decode ---- */

/* Reads the end mark's trailer and footer and checks them against what
 * the blocks said; then requires end of input. */
static int read_trailer(int fd, const struct fc_lens *lens, uint64_t total,
                        const struct fc_header *hd, struct fc_stats *st)
{
    uint8_t head[16];
    FADE_FORWARD(read_exact(fd, head, 16, st));
    FADE_CORRUPT_IF(ld_le64(head) != lens->n);
    FADE_CORRUPT_IF(ld_le64(head + 8) != total);
    FADE_CORRUPT_IF(hd->total_len != FC_LEN_UNKNOWN && hd->total_len != total);
    size_t tl = trailer_len(lens->n);
    uint8_t *t = malloc(tl + FC_FOOTER_LEN);
    if (!t)
        return FADE_E_NOMEM;
    memcpy(t, head, 16);
    int rc = read_exact(fd, t + 16, tl + FC_FOOTER_LEN - 16, st);
    if (rc == 0) {
        if (ld_le32(t + tl - 4) != fade_crc32c(0, t, tl - 4) ||
            ld_le32(t + tl) != tl || memcmp(t + tl + 4, fc_end_magic, 4) != 0)
            rc = FADE_CORRUPT();
        for (uint64_t i = 0; rc == 0 && i < lens->n; i++)
            if (ld_le32(t + 16 + 4 * i) != lens->v[i])
                rc = FADE_CORRUPT();
    }
    free(t);
    if (rc == 0) {
        uint8_t extra;
        ssize_t r = read_full(fd, &extra, 1, st);
        if (r < 0)
            rc = (int)r;
        else if (r > 0)
            rc = FADE_CORRUPT();        /* bytes after the footer */
    }
    return rc;
}

int fc_decode_fd(int in_fd, int out_fd, const struct fc_opts *opts, struct fc_stats *st)
{
    struct fc_stats dummy;
    struct fc_opts o = opts ? *opts : (struct fc_opts){0};
    o.raw_only = 0;
    if (!st)
        st = &dummy;
    memset(st, 0, sizeof *st);
    st->err_block = -1;

    uint8_t h[FC_HEADER_LEN];
    ssize_t r = read_full(in_fd, h, sizeof h, st);
    if (r < 0)
        return (int)r;
    struct fc_header hd;
    FADE_FORWARD(header_get(h, (size_t)r, &hd));
    uint32_t bs = hd.block_size;
    uint64_t hint = 0;      /* blocks to expect; 0 = unknown */
    if (hd.total_len != FC_LEN_UNKNOWN)
        hint = hd.total_len ? (hd.total_len + bs - 1) / bs : 1;

    struct fc_run run;
    struct fc_lens lens = {0};
    uint64_t total = 0;
    int rc = run_init(&run, 1, &o, workers_for(&o, hint), bs,
                      hd.total_len != FC_LEN_UNKNOWN ? hd.total_len : 0);
    int ended = 0, short_seen = 0;
    while (rc == 0 && !ended) {
        unsigned n = 0;
        while (n < run.n_workers) {
            struct fc_job *j = &run.jobs[n];
            uint8_t fl[4];
            int64_t i_blk = (int64_t)(lens.n + n);
            rc = read_exact(in_fd, fl, 4, st);
            if (rc)
                break;
            uint32_t len = ld_le32(fl);
            if (len == 0) {
                ended = 1;
                break;
            }
            if (len < BLK_RAW_HEADER_LEN || len > FC_MAX_FRAME(bs)) {
                st->err_block = i_blk;
                rc = FADE_CORRUPT();
                break;
            }
            rc = read_exact(in_fd, j->in, len, st);
            if (rc == 0) {
                /* Framing checks happen here, in order, before decoding:
                 * every block but the last holds exactly bs bytes. */
                struct fade_block_info info;
                rc = fade_block_info(j->in, len, &info);
                if (rc == 0 && (info.raw_len == 0 || info.raw_len > bs || short_seen))
                    rc = FADE_CORRUPT();
                if (rc == 0 && info.raw_len < bs)
                    short_seen = 1;
            }
            if (rc) {
                st->err_block = i_blk;
                break;
            }
            j->in_len = len;
            n++;
        }
        if (n == 0)
            break;
        /* Decode what was read even if reading stopped on an error, so a
         * bad block earlier in the batch is the one reported. */
        run_batch(&run, n);
        for (unsigned i = 0; i < n; i++) {
            struct fc_job *j = &run.jobs[i];
            if (j->result < 0) {
                rc = (int)j->result;
                st->err_block = (int64_t)lens.n;
                break;
            }
            int wr = write_full(out_fd, j->out, (size_t)j->result, st);
            if (wr == 0)
                wr = lens_push(&lens, (uint32_t)j->in_len);
            if (wr) {
                rc = wr;
                break;
            }
            total += (uint64_t)j->result;
            st->n_blocks++;
        }
    }
    if (rc == 0)
        rc = read_trailer(in_fd, &lens, total, &hd, st);
    free(lens.v);
    run_free(&run);
    return rc;
}

/* ---- random-access reader ---- */

struct fc_reader {
    int fd;
    struct fc_header hd;
    uint64_t n_blocks;
    uint64_t total;
    uint64_t *off;      /* file offset of block i's frame length field */
    uint32_t *len;      /* block i's length */
};

int fc_reader_open(struct fc_reader **out, int fd)
{
    if (!out)
        return FADE_E_INVAL;
    *out = NULL;
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        return FADE_E_IO;
    uint64_t size = (uint64_t)sb.st_size;
    uint8_t h[FC_HEADER_LEN];
    size_t hn = size < FC_HEADER_LEN ? (size_t)size : FC_HEADER_LEN;
    if (hn)
        FADE_FORWARD(pread_full(fd, h, hn, 0));
    struct fc_header hd;
    FADE_FORWARD(header_get(h, hn, &hd));
    uint64_t min = FC_HEADER_LEN + 4 + trailer_len(0) + FC_FOOTER_LEN;
    FADE_RETURN_IF(size < min, FADE_E_TRUNCATED);
    uint8_t f[FC_FOOTER_LEN];
    FADE_FORWARD(pread_full(fd, f, FC_FOOTER_LEN, size - FC_FOOTER_LEN));
    FADE_RETURN_IF(memcmp(f + 4, fc_end_magic, 4) != 0, FADE_E_TRUNCATED);
    uint64_t tl = ld_le32(f);
    FADE_CORRUPT_IF(tl < trailer_len(0) || tl > size - FC_HEADER_LEN - 4 - FC_FOOTER_LEN ||
                    (tl - trailer_len(0)) % 4 != 0);
    uint64_t t_at = size - FC_FOOTER_LEN - tl;
    uint8_t *t = malloc(tl);
    if (!t)
        return FADE_E_NOMEM;
    int rc = pread_full(fd, t, tl, t_at);
    struct fc_reader *rd = NULL;
    if (rc == 0 && ld_le32(t + tl - 4) != fade_crc32c(0, t, tl - 4))
        rc = FADE_CORRUPT();
    uint64_t n = rc == 0 ? ld_le64(t) : 0;
    if (rc == 0 && trailer_len(n) != tl)
        rc = FADE_CORRUPT();
    if (rc == 0) {
        rd = calloc(1, sizeof *rd);
        if (rd) {
            rd->off = malloc((n ? n : 1) * sizeof *rd->off);
            rd->len = malloc((n ? n : 1) * sizeof *rd->len);
        }
        if (!rd || !rd->off || !rd->len)
            rc = FADE_E_NOMEM;
    }
    if (rc == 0) {
        rd->fd = fd;
        rd->hd = hd;
        rd->n_blocks = n;
        rd->total = ld_le64(t + 8);
        uint64_t at = FC_HEADER_LEN;
        for (uint64_t i = 0; i < n && rc == 0; i++) {
            uint32_t len = ld_le32(t + 16 + 4 * i);
            if (len < BLK_RAW_HEADER_LEN || len > FC_MAX_FRAME(hd.block_size))
                rc = FADE_CORRUPT();
            rd->off[i] = at;
            rd->len[i] = len;
            at += 4 + (uint64_t)len;
        }
        /* Blocks, end mark, trailer and footer must tile the file, and
         * the lengths must agree with the block size. */
        if (rc == 0 && at + 4 != t_at)
            rc = FADE_CORRUPT();
        if (rc == 0 && (rd->total > n * (uint64_t)hd.block_size ||
                        (n && rd->total <= (n - 1) * (uint64_t)hd.block_size) ||
                        (!n && rd->total != 0)))
            rc = FADE_CORRUPT();
        if (rc == 0 && hd.total_len != FC_LEN_UNKNOWN && hd.total_len != rd->total)
            rc = FADE_CORRUPT();
    }
    free(t);
    if (rc) {
        fc_reader_free(rd);
        return rc;
    }
    *out = rd;
    return 0;
}

void fc_reader_free(struct fc_reader *r)
{
    if (!r)
        return;
    free(r->off);
    free(r->len);
    free(r);
}

uint64_t fc_reader_n_blocks(const struct fc_reader *r)
{
    return r->n_blocks;
}

uint64_t fc_reader_raw_len(const struct fc_reader *r)
{
    return r->total;
}

uint32_t fc_reader_block_size(const struct fc_reader *r)
{
    return r->hd.block_size;
}

ssize_t fc_reader_block(struct fc_reader *r, fade_ctx *ctx, uint64_t i, void *dst, size_t dst_cap)
{
    if (!r || i >= r->n_blocks)
        return FADE_E_INVAL;
    uint32_t len = r->len[i];
    uint8_t *b = malloc((size_t)len + 4);
    if (!b)
        return FADE_E_NOMEM;
    ssize_t rc = pread_full(r->fd, b, (size_t)len + 4, r->off[i]);
    if (rc == 0 && ld_le32(b) != len)
        rc = FADE_CORRUPT();
    uint64_t bs = r->hd.block_size;
    uint64_t want = i + 1 < r->n_blocks ? bs : r->total - i * bs;
    struct fade_block_info info;
    if (rc == 0)
        rc = fade_block_info(b + 4, len, &info);
    if (rc == 0 && info.raw_len != want)
        rc = FADE_CORRUPT();
    if (rc == 0)
        rc = fade_block_decode(ctx, dst, dst_cap, b + 4, len);
    free(b);
    return rc;
}
