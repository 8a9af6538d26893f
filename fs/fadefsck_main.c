/* fadefsck_main.c — the `fadefsck` command: the offline checker of an
 * unmounted store.
 *
 * It opens the store read-only (the shared lock keeps a mount out, and a
 * mounted store is refused), asks index/ to check the database and how its
 * tables agree (idx_r_check_index), then reads every payload in segment
 * order, so that each segment file is read front to back at disk speed, and
 * checks it against its row with the codec's header parser; --full also
 * decodes every block.  Each problem is one line on stdout naming the file
 * by its path.  Exit status as e2fsck's: 0, 4, 8, 16.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "codec/fade.h"
#include "index/idx.h"

#define FADEFSCK_VERSION "0.1.0"

enum {
    EXIT_CLEAN    = 0,
    EXIT_PROBLEMS = 4,
    EXIT_OPERR    = 8,
    EXIT_USAGE    = 16,
};

static const char usage_text[] =
"NAME\n"
"    fadefsck - check a fadefs store that is not mounted\n"
"\n"
"SYNOPSIS\n"
"    fadefsck [-f] [-v] STORE\n"
"    fadefsck -h | -V\n"
"\n"
"DESCRIPTION\n"
"    fadefsck checks the store in the directory STORE (the one given to\n"
"    fadefs) without changing it.  It opens the store read-only and\n"
"    refuses one that is mounted.\n"
"\n"
"    First it checks the index: SQLite's integrity_check of the database;\n"
"    block rows of missing inodes or of anything but regular files; block\n"
"    rows past the end of their file or holding more than a block; unknown\n"
"    codecs; compression queue entries of blocks that do not exist;\n"
"    directory entries naming missing inodes; link counts against the\n"
"    directory entries; the totals row and each segment's live bytes\n"
"    against the block map; segment files that are missing or too short.\n"
"\n"
"    Then it reads every block's payload, segment by segment, checking the\n"
"    record header and the CRC32C of the payload, and that the codec block\n"
"    it holds has the codec and length that the index says.  With --full\n"
"    it also decodes every block (which checks the CRC32C of the decoded\n"
"    bytes); that runs the FADE model, so it is much slower.\n"
"\n"
"    Every problem is one line on standard output: the file by its path\n"
"    (or `inode N' for a file that no directory names, `store' for the\n"
"    store as a whole), the block and its byte range where one is\n"
"    concerned, and what is wrong.  A summary line ends the output.\n"
"    Inodes with no link and no name (files unlinked while open at a\n"
"    crash) are counted but are not problems: the next mount deletes them.\n"
"\n"
"OPTIONS\n"
"    -f, --full          also decode every block\n"
"    -v, --verbose       show progress on standard error even when it is\n"
"                        not a terminal (it is shown on a terminal anyway)\n"
"    -h, --help          print this help and exit\n"
"    -V, --version       print versions and exit\n"
"\n"
"EXIT STATUS\n"
"    0   no problems found\n"
"    4   problems found (also: a database too damaged to open)\n"
"    8   operational error: the store cannot be opened (missing, not a\n"
"        store, mounted or in use, newer format) or reading failed for a\n"
"        reason that is not damage (out of memory)\n"
"    16  usage error\n"
"\n"
"EXAMPLES\n"
"    fusermount3 -u /mnt/fade && fadefsck /data\n"
"    fadefsck --full -v /data 2>progress.log\n";

struct fsck {
    const char    *store;
    struct idx    *x;
    struct idx_rd *r;
    uint32_t       bs;
    int            full;
    int            progress;
    int            progress_len;   /* characters of the progress line shown */
    uint64_t       problems;
    uint64_t       blocks_done, bytes_done, blocks_total, bytes_total;
    uint8_t       *pay, *raw;
    size_t         pay_cap, pay_max;
    fade_ctx      *fctx;
    double         t0, t_shown;
    char           opmsg[256];     /* why the check stopped, for EXIT_OPERR */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Bytes of a name as text: every problem stays one line whatever names hold. */
static size_t escape(char *out, size_t cap, const char *name, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 5 < cap; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (ch >= 0x20 && ch < 0x7f && ch != '\\')
            out[o++] = (char)ch;
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", ch);
    }
    out[o] = 0;
    return o;
}

/* The path of ino through the directory entries, built from the leaf up;
 * `inode N` where the chain breaks (an orphan, a missing directory). */
static void path_of(struct fsck *f, uint64_t ino, char *out, size_t cap)
{
    char buf[8192], name[256], esc[4 * 255 + 1];
    size_t pos = sizeof buf - 1;
    buf[pos] = 0;
    uint64_t cur = ino;
    /* Entries can form a cycle in a damaged store: stop after a depth no
     * real tree reaches. */
    for (int depth = 0; cur != IDX_ROOT_INO; depth++) {
        uint64_t dir;
        size_t len;
        if (depth == 4096 ||
            idx_r_entry_of(f->r, cur, &dir, name, sizeof name, &len) != 0) {
            char head[48];
            int n = depth == 4096 ? snprintf(head, sizeof head, "...")
                                  : snprintf(head, sizeof head, "inode %" PRIu64, cur);
            if (pos < (size_t)n)
                pos = 0;
            else
                memcpy(buf + (pos -= (size_t)n), head, (size_t)n);
            snprintf(out, cap, "%s", buf + pos);
            return;
        }
        size_t n = escape(esc, sizeof esc, name, len < sizeof name ? len : sizeof name);
        if (pos < n + 1) {
            snprintf(out, cap, ".../%s", buf + pos);
            return;
        }
        pos -= n;
        memcpy(buf + pos, esc, n);
        buf[--pos] = '/';
        cur = dir;
    }
    snprintf(out, cap, "%s", pos == sizeof buf - 1 ? "/" : buf + pos);
}

static void progress_clear(struct fsck *f)
{
    if (f->progress_len) {
        fprintf(stderr, "\r%*s\r", f->progress_len, "");
        f->progress_len = 0;
    }
}

static void progress_show(struct fsck *f, int force)
{
    double t = now_s();
    if (!f->progress || (!force && t - f->t_shown < 0.25))
        return;
    f->t_shown = t;
    double mb = (double)f->bytes_done / 1e6, el = t - f->t0;
    int n = fprintf(stderr, "\rfadefsck: %" PRIu64 "/%" PRIu64 " blocks, %.1f/%.1f MB, "
                    "%.1f MB/s%s ", f->blocks_done, f->blocks_total, mb,
                    (double)f->bytes_total / 1e6, el > 0 ? mb / el : 0.0,
                    f->full ? " (decoding)" : "");
    if (n > 1)
        f->progress_len = n - 1;
    fflush(stderr);
}

/* One problem line: where (path, block, byte range), then what. */
__attribute__((format(printf, 5, 6)))
static int problem(struct fsck *f, uint64_t ino, uint64_t blkno, uint32_t raw_len,
                   const char *fmt, ...)
{
    char where[8192], what[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (ino)
        path_of(f, ino, where, sizeof where);
    else
        snprintf(where, sizeof where, "store");
    progress_clear(f);
    if (blkno == IDX_CHK_NO_BLOCK) {
        printf("%s: %s\n", where, what);
    } else if (blkno <= UINT64_MAX / f->bs - 1) {
        uint64_t a = blkno * f->bs, len = raw_len && raw_len <= f->bs ? raw_len : f->bs;
        printf("%s: block %" PRIu64 " (bytes %" PRIu64 "-%" PRIu64 "): %s\n", where,
               blkno, a, a + len - 1, what);
    } else {
        printf("%s: block %" PRIu64 ": %s\n", where, blkno, what);
    }
    f->problems++;
    return 0;
}

static int on_index_problem(void *arg, const struct idx_problem *p)
{
    return problem(arg, p->ino, p->blkno, p->raw_len, "%s", p->text);
}

static const char *codec_name(uint32_t c)
{
    return c == FADE_CODEC_RAW ? "raw" : c == FADE_CODEC_FADE ? "fade" : "unknown";
}

__attribute__((format(printf, 3, 4)))
static int operr(struct fsck *f, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->opmsg, sizeof f->opmsg, fmt, ap);
    va_end(ap);
    return rc;
}

/* --full: decodes one payload that passed the header checks. */
static int decode_one(struct fsck *f, const struct idx_bloc *loc)
{
    if (loc->codec == FADE_CODEC_FADE && !f->fctx) {
        /* Default parameters: the block names its own model.  A context is
         * big, so it is made only when the first FADE block comes. */
        struct fade_ctx_params p = { 0 };
        int e = fade_ctx_create(&f->fctx, &p);
        if (e)
            return operr(f, -ENOMEM, "cannot create a FADE context: %s",
                         fade_strerror(e));
    }
    ssize_t n = fade_block_decode(f->fctx, f->raw, f->bs, f->pay, loc->len);
    if (n == FADE_E_NOMEM)
        return operr(f, -ENOMEM, "out of memory decoding a block");
    if (n == FADE_E_UNKNOWN_MODEL) {
        struct fade_block_info info;
        fade_block_info(f->pay, loc->len, &info);
        return problem(f, loc->ino, loc->blkno, loc->raw_len,
                       "block names model %016" PRIx64 ", which this build does "
                       "not know", info.model_id);
    }
    if (n < 0)
        return problem(f, loc->ino, loc->blkno, loc->raw_len,
                       "block does not decode: %s", fade_strerror((int)n));
    if ((uint64_t)n != loc->raw_len)
        return problem(f, loc->ino, loc->blkno, loc->raw_len,
                       "block decodes to %zd bytes, the row says %u", n, loc->raw_len);
    return 0;
}

static int check_payload(void *arg, const struct idx_bloc *loc)
{
    struct fsck *f = arg;
    int rc = 0;
    f->blocks_done++;
    f->bytes_done += loc->len;
    if (loc->len == 0 || loc->len > f->pay_max) {
        rc = problem(f, loc->ino, loc->blkno, loc->raw_len,
                     "payload length %u is impossible for a block of at most %u "
                     "bytes", loc->len, f->bs);
        goto out;
    }
    if (loc->len > f->pay_cap) {
        uint8_t *p = realloc(f->pay, loc->len);
        if (!p)
            return operr(f, -ENOMEM, "out of memory");
        f->pay = p;
        f->pay_cap = loc->len;
    }
    int e = idx_r_payload_read(f->r, loc, f->pay, f->pay_cap);
    if (e == -ENOMEM || e == -EMFILE || e == -ENFILE)
        return operr(f, e, "cannot read payloads: %s", strerror(-e));
    if (e == -EIO) {
        rc = problem(f, loc->ino, loc->blkno, loc->raw_len,
                     "payload record in segment %016" PRIx64 " at %" PRIu64
                     " is damaged (header, length or CRC32C differ from the row)",
                     loc->seg, loc->off);
        goto out;
    }
    if (e) {
        rc = problem(f, loc->ino, loc->blkno, loc->raw_len,
                     "payload in segment %016" PRIx64 " at %" PRIu64
                     " cannot be read: %s", loc->seg, loc->off,
                     e == -ENOENT || e == -ESTALE ? "segment file missing"
                                                  : strerror(-e));
        goto out;
    }
    struct fade_block_info info;
    e = fade_block_info(f->pay, loc->len, &info);
    if (e < 0) {
        rc = problem(f, loc->ino, loc->blkno, loc->raw_len,
                     "payload is not a valid block: %s", fade_strerror(e));
    } else if (info.codec != loc->codec) {
        rc = problem(f, loc->ino, loc->blkno, loc->raw_len,
                     "payload is a %s block, the row says %s", codec_name(info.codec),
                     codec_name(loc->codec));
    } else if (info.raw_len != loc->raw_len) {
        rc = problem(f, loc->ino, loc->blkno, loc->raw_len,
                     "payload holds %u bytes, the row says %u", info.raw_len,
                     loc->raw_len);
    } else if (info.block_len != loc->len) {
        rc = problem(f, loc->ino, loc->blkno, loc->raw_len,
                     "block is %zu bytes, the payload %u", info.block_len, loc->len);
    } else if (f->full && loc->raw_len <= f->bs) {
        rc = decode_one(f, loc);
    }
out:
    progress_show(f, 0);
    return rc;
}

static int run(struct fsck *f)
{
    struct idx_check_counts cnt;
    char msg[512] = "";
    struct idx_opts o = { .read_only = 1 };
    int rc = idx_open(&f->x, f->store, &o, msg, sizeof msg);
    if (rc == -EBUSY) {
        fprintf(stderr, "fadefsck: %s: store is mounted (or in use)\n", f->store);
        return EXIT_OPERR;
    }
    if (rc) {
        fprintf(stderr, "fadefsck: %s: %s\n", f->store, msg[0] ? msg : strerror(-rc));
        return rc == -EUCLEAN ? EXIT_PROBLEMS : EXIT_OPERR;
    }
    f->bs = idx_block_size(f->x);
    f->pay_max = fade_block_bound(f->bs, FADE_BLOCK_MAX_STREAMS);
    rc = idx_rd_open(f->x, &f->r);
    if (rc) {
        fprintf(stderr, "fadefsck: %s: cannot open a reader: %s\n", f->store,
                strerror(-rc));
        return EXIT_OPERR;
    }
    f->raw = f->full ? malloc(f->bs) : NULL;
    if (f->full && !f->raw) {
        fprintf(stderr, "fadefsck: out of memory\n");
        return EXIT_OPERR;
    }
    f->t0 = f->t_shown = now_s();
    rc = idx_r_check_index(f->r, on_index_problem, f);
    if (rc < 0) {
        fprintf(stderr, "fadefsck: %s: checking the index failed: %s\n", f->store,
                strerror(-rc));
        return EXIT_OPERR;
    }
    rc = idx_r_check_counts(f->r, &cnt);
    if (rc == 0) {
        f->blocks_total = cnt.n_blocks;
        f->bytes_total = cnt.payload_bytes;
        progress_show(f, 1);
        rc = idx_r_block_walk(f->r, check_payload, f);
    }
    if (f->progress_len) {
        progress_show(f, 1);
        fputc('\n', stderr);
        f->progress_len = 0;
    }
    if (rc < 0) {
        fprintf(stderr, "fadefsck: %s: %s\n", f->store,
                f->opmsg[0] ? f->opmsg : strerror(-rc));
        return EXIT_OPERR;
    }
    double el = now_s() - f->t0;
    printf("fadefsck: %s: %" PRIu64 " files, %" PRIu64 " blocks, %.1f MB checked%s, "
           "%" PRIu64 " problem%s found, %.2f s\n", f->store, cnt.n_files,
           f->blocks_done, (double)f->bytes_done / 1e6, f->full ? " and decoded" : "",
           f->problems, f->problems == 1 ? "" : "s", el);
    if (cnt.n_orphans)
        printf("fadefsck: %s: %" PRIu64 " unlinked inodes left by a crash (the next "
               "mount deletes them)\n", f->store, cnt.n_orphans);
    return f->problems ? EXIT_PROBLEMS : EXIT_CLEAN;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "full",    no_argument, NULL, 'f' },
        { "verbose", no_argument, NULL, 'v' },
        { "help",    no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    struct fsck f = { 0 };
    int verbose = 0, c;
    while ((c = getopt_long(argc, argv, "fvhV", longopts, NULL)) != -1) {
        switch (c) {
        case 'f': f.full = 1; break;
        case 'v': verbose = 1; break;
        case 'h':
            fputs(usage_text, stdout);
            return fflush(stdout) == 0 ? EXIT_CLEAN : EXIT_OPERR;
        case 'V':
            printf("fadefsck %s (FADE codec %s)\n", FADEFSCK_VERSION, fade_version());
            return fflush(stdout) == 0 ? EXIT_CLEAN : EXIT_OPERR;
        default:
            fprintf(stderr, "Try 'fadefsck --help' for more information.\n");
            return EXIT_USAGE;
        }
    }
    if (argc - optind != 1) {
        fprintf(stderr, "fadefsck: %s\nTry 'fadefsck --help' for more information.\n",
                argc - optind ? "only one STORE at a time" : "no STORE given");
        return EXIT_USAGE;
    }
    f.store = argv[optind];
    f.progress = verbose || isatty(STDERR_FILENO);
    int st = run(&f);
    fade_ctx_free(f.fctx);
    idx_rd_close(f.r);
    idx_close(f.x);
    free(f.pay);
    free(f.raw);
    if (fflush(stdout) != 0 && st < EXIT_OPERR) {
        fprintf(stderr, "fadefsck: cannot write the report: %s\n", strerror(errno));
        st = EXIT_OPERR;
    }
    return st;
}
