/* fadefs_stat_main.c — the `fadefs-stat` command: what background
 * compression did to a mounted store or one file, in the shape of btrfs
 * compsize, and the switch that pauses or resumes it.  It asks the daemon
 * through the xattr user.fadefs.stat (fs_stat.h), so it needs nothing but
 * a path inside the mount and works for any user who can stat it.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "fs/fs_stat.h"
#include "codec/fade.h"

static const char usage_text[] =
"NAME\n"
"    fadefs-stat - compression statistics of a fadefs mount or file\n"
"\n"
"SYNOPSIS\n"
"    fadefs-stat [--json] [--wait [--interval S]] PATH\n"
"    fadefs-stat --pause | --resume MOUNTPOINT\n"
"\n"
"DESCRIPTION\n"
"    PATH is a fadefs mount point or anything inside it.  For a regular\n"
"    file the report covers that file; for a directory, the whole store.\n"
"    It shows logical bytes (file data held in blocks; holes excluded),\n"
"    stored bytes (their payloads in the store), the ratio of the two, and\n"
"    the blocks by state: raw (waiting for the compressor), queued,\n"
"    compressed, kept raw (not worth coding: the probe found them\n"
"    incompressible or coding saved less than min_saving) and failed\n"
"    (unreadable or uncodable; fadefsck tells more).  One row per codec and\n"
"    model, and a TOTAL row, as btrfs compsize prints them.\n"
"\n"
"    The pipeline line tells the compressor's state: idle (nothing\n"
"    queued), waiting (queued blocks are not cold yet), working, paused,\n"
"    or off (-o compress=off), with its counters since the mount (seen,\n"
"    compressed, kept raw, holes, raced: rewritten while being coded,\n"
"    failed) and the coders' throughput over the last 30 s.\n"
"\n"
"    Segment files also hold the payloads that compressed blocks replaced\n"
"    until compaction reclaims them, so the store's size on disk (shown\n"
"    for a store) may lag behind its stored bytes.\n"
"\n"
"OPTIONS\n"
"    -j, --json          one JSON object instead of the table\n"
"    -w, --wait          wait until nothing is queued (for a file: none of\n"
"                        its blocks), printing progress on stderr, then\n"
"                        report; fails at once if compression is off\n"
"    -i, --interval S    seconds between progress lines when stderr is\n"
"                        not a terminal (default 5)\n"
"        --pause         stop the coders of the mount (blocks stay queued)\n"
"        --resume        start them again\n"
"    -h, --help          this text\n"
"    -V, --version       print the version\n"
"\n"
"EXIT STATUS\n"
"    0  success\n"
"    1  PATH is not on a fadefs mount, or the daemon refused\n"
"    2  bad command line\n"
"\n"
"EXAMPLES\n"
"    fadefs-stat /mnt/fade\n"
"    fadefs-stat --wait /mnt/fade && fadefs-stat --json /mnt/fade/big.log\n"
"    fadefs-stat --pause /mnt/fade      # the same as:\n"
"    setfattr -n user.fadefs.compress -v off /mnt/fade\n";

static int fetch(const char *path, struct fs_stat_report *r)
{
    static char buf[FS_STAT_TEXT_MAX];
    ssize_t n = getxattr(path, FS_XATTR_STAT, buf, sizeof buf);
    if (n < 0) {
        int e = errno;
        if (e == ENODATA || e == ENOTSUP)
            fprintf(stderr, "fadefs-stat: %s: not on a fadefs mount\n", path);
        else
            fprintf(stderr, "fadefs-stat: %s: %s\n", path, strerror(e));
        return -1;
    }
    if (fs_stat_parse(buf, (size_t)n, r) != 0) {
        fprintf(stderr, "fadefs-stat: %s: the daemon's report is not one this "
                "fadefs-stat reads\n", path);
        return -1;
    }
    return 0;
}

/* 1.5K, 3.2M, 10.0G: the width and units of compsize and du -h. */
static const char *human(uint64_t v, char *buf, size_t cap)
{
    static const char units[] = "BKMGTPE";
    double d = (double)v;
    int u = 0;
    while (d >= 1024 && u < 6) {
        d /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, cap, "%" PRIu64 "B", v);
    else
        snprintf(buf, cap, d < 10 ? "%.1f%c" : "%.0f%c", d, units[u]);
    return buf;
}

static int perc(uint64_t stored, uint64_t logical)
{
    return logical ? (int)((stored * 100 + logical / 2) / logical) : 100;
}

static const char *row_kind(const struct fs_stat_row *w)
{
    if (w->kept == FS_KEPT_FAILED)
        return "failed";
    if (w->kept == FS_KEPT_RAW)
        return "kept-raw";
    return w->codec == FADE_CODEC_RAW ? "raw" : w->codec == FADE_CODEC_FADE ? "fade" : "?";
}

static void print_table(const char *path, const struct fs_stat_report *r)
{
    char a[16], b[16];
    uint64_t blocks = 0;
    for (int i = 0; i < r->n_rows; i++)
        blocks += r->rows[i].n_blocks;
    if (r->file)
        printf("%s: %" PRIu64 " bytes in %" PRIu64 " blocks\n", path, r->size, blocks);
    else
        printf("%s: %" PRIu64 " inodes, %" PRIu64 " blocks; segment files %s on disk\n",
               path, r->n_inodes, blocks, human(r->segment_bytes, a, sizeof a));
    printf("%-9s %-14s %5s %11s %13s %8s\n", "Type", "Model", "Perc", "Disk Usage",
           "Uncompressed", "Blocks");
    printf("%-9s %-14s %4d%% %11s %13s %8" PRIu64 "\n", "TOTAL", "",
           perc(r->stored_bytes, r->logical_bytes),
           human(r->stored_bytes, a, sizeof a), human(r->logical_bytes, b, sizeof b),
           blocks);
    for (int i = 0; i < r->n_rows; i++) {
        const struct fs_stat_row *w = &r->rows[i];
        printf("%-9s %-14s %4d%% %11s %13s %8" PRIu64 "\n", row_kind(w),
               w->codec == FADE_CODEC_RAW ? "" : w->preset,
               perc(w->payload_bytes, w->raw_bytes),
               human(w->payload_bytes, a, sizeof a), human(w->raw_bytes, b, sizeof b),
               w->n_blocks);
    }
    printf("Ratio %.3f (logical / stored); blocks: %" PRIu64 " raw, %" PRIu64
           " queued, %" PRIu64 " compressed, %" PRIu64 " kept raw, %" PRIu64 " failed\n",
           r->stored_bytes ? (double)r->logical_bytes / (double)r->stored_bytes : 1.0,
           r->blocks_raw, r->blocks_queued, r->blocks_compressed, r->blocks_kept,
           r->blocks_failed);
    const struct fs_sched_counts *c = &r->sched;
    printf("Pipeline: %s, preset %s, %" PRIu64 " coders, %" PRIu64 " in flight",
           r->state, r->preset, c->n_coders, c->in_flight);
    if (!r->file)
        printf(", %" PRIu64 " of the queued cold", r->queued_cold);
    printf("\nSince mount: %" PRIu64 " seen, %" PRIu64 " compressed (%s -> %s), %"
           PRIu64 " kept raw, %" PRIu64 " holes, %" PRIu64 " raced, %" PRIu64
           " failed; %.1f KB/s\n", c->seen, c->done, human(c->raw_in, a, sizeof a),
           human(c->coded_out, b, sizeof b), c->kept, c->zero, c->raced, c->failed,
           c->rate_bps / 1000.0);
}

static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", (unsigned char)*s);
        else
            putchar(*s);
    }
    putchar('"');
}

static void print_json(const char *path, const struct fs_stat_report *r)
{
    const struct fs_sched_counts *c = &r->sched;
    printf("{\"path\":");
    json_str(path);
    printf(",\"scope\":\"%s\",\"logical_bytes\":%" PRIu64 ",\"stored_bytes\":%" PRIu64
           ",\"ratio\":%.4f,\"blocks_raw\":%" PRIu64 ",\"blocks_queued\":%" PRIu64
           ",\"blocks_compressed\":%" PRIu64 ",\"blocks_kept_raw\":%" PRIu64
           ",\"blocks_failed\":%" PRIu64, r->file ? "file" : "store",
           r->logical_bytes, r->stored_bytes,
           r->stored_bytes ? (double)r->logical_bytes / (double)r->stored_bytes : 1.0,
           r->blocks_raw, r->blocks_queued, r->blocks_compressed, r->blocks_kept,
           r->blocks_failed);
    if (r->file)
        printf(",\"size\":%" PRIu64, r->size);
    else
        printf(",\"inodes\":%" PRIu64 ",\"segment_bytes\":%" PRIu64
               ",\"queued_cold\":%" PRIu64, r->n_inodes, r->segment_bytes,
               r->queued_cold);
    printf(",\"pipeline\":{\"state\":");
    json_str(r->state);
    printf(",\"preset\":");
    json_str(r->preset);
    printf(",\"coders\":%" PRIu64 ",\"in_flight\":%" PRIu64 ",\"seen\":%" PRIu64
           ",\"done\":%" PRIu64 ",\"kept_raw\":%" PRIu64 ",\"holes\":%" PRIu64
           ",\"raced\":%" PRIu64 ",\"failed\":%" PRIu64 ",\"raw_bytes_in\":%" PRIu64
           ",\"coded_bytes_out\":%" PRIu64 ",\"rate_bytes_per_s\":%" PRIu64 "}",
           c->n_coders, c->in_flight, c->seen, c->done, c->kept, c->zero, c->raced,
           c->failed, c->raw_in, c->coded_out, c->rate_bps);
    printf(",\"rows\":[");
    for (int i = 0; i < r->n_rows; i++) {
        const struct fs_stat_row *w = &r->rows[i];
        printf("%s{\"type\":\"%s\",\"model\":\"%016" PRIx64 "\",\"preset\":", i ? "," : "",
               row_kind(w), w->model);
        json_str(w->preset);
        printf(",\"blocks\":%" PRIu64 ",\"logical_bytes\":%" PRIu64
               ",\"stored_bytes\":%" PRIu64 "}", w->n_blocks, w->raw_bytes,
               w->payload_bytes);
    }
    printf("]}\n");
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* Polls until nothing is queued; 0, or -1 after a message. */
static int wait_empty(const char *path, struct fs_stat_report *r, double interval)
{
    int tty = isatty(2);
    double t0 = now_s(), last = -1e9;
    for (;;) {
        if (fetch(path, r))
            return -1;
        if (!strcmp(r->state, "off") && r->blocks_queued) {
            fprintf(stderr, "fadefs-stat: %s: compression is off in this mount "
                    "(-o compress=off); %" PRIu64 " blocks stay queued\n", path,
                    r->blocks_queued);
            return -1;
        }
        double t = now_s();
        int done = r->blocks_queued == 0;
        if (done || tty || t - last >= interval) {
            char a[16], b[16];
            uint64_t blocks = r->blocks_raw + r->blocks_compressed + r->blocks_kept +
                              r->blocks_failed;
            double per = blocks ? (double)r->logical_bytes / (double)blocks : 0;
            double left = r->sched.rate_bps
                ? (double)r->blocks_queued * per / (double)r->sched.rate_bps : -1;
            fprintf(stderr, "%s%.0fs: %" PRIu64 " blocks queued, %" PRIu64
                    " compressed; stored %s of %s (ratio %.3f); %.1f KB/s; %s",
                    tty ? "\r\033[K" : "", t - t0, r->blocks_queued,
                    r->blocks_compressed, human(r->stored_bytes, a, sizeof a),
                    human(r->logical_bytes, b, sizeof b),
                    r->stored_bytes ? (double)r->logical_bytes / (double)r->stored_bytes : 1.0,
                    r->sched.rate_bps / 1000.0, r->state);
            if (!done && left >= 0)
                fprintf(stderr, ", about %.0f s left", left);
            fputs(tty && !done ? "" : "\n", stderr);
            last = t;
        }
        if (done)
            return 0;
        usleep(tty ? 250000 : 500000);
    }
}

int main(int argc, char **argv)
{
    enum { OPT_PAUSE = 256, OPT_RESUME };
    static const struct option longs[] = {
        { "json", no_argument, NULL, 'j' },
        { "wait", no_argument, NULL, 'w' },
        { "interval", required_argument, NULL, 'i' },
        { "pause", no_argument, NULL, OPT_PAUSE },
        { "resume", no_argument, NULL, OPT_RESUME },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    int json = 0, wait = 0, sw = -1, c;
    double interval = 5;
    while ((c = getopt_long(argc, argv, "jwi:hV", longs, NULL)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case 'w': wait = 1; break;
        case 'i': {
            char *end;
            interval = strtod(optarg, &end);
            if (*end || end == optarg || !(interval > 0 && interval <= 86400)) {
                fprintf(stderr, "fadefs-stat: --interval %s: seconds > 0\n", optarg);
                return 2;
            }
            break;
        }
        case OPT_PAUSE: sw = 1; break;
        case OPT_RESUME: sw = 0; break;
        case 'h': fputs(usage_text, stdout); return 0;
        case 'V': printf("fadefs-stat (FADE codec %s)\n", fade_version()); return 0;
        default:
            fprintf(stderr, "usage: fadefs-stat [--json] [--wait] PATH (--help for more)\n");
            return 2;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "fadefs-stat: %s\nusage: fadefs-stat [--json] [--wait] PATH "
                "(--help for more)\n", optind >= argc ? "no PATH given" : "one PATH only");
        return 2;
    }
    const char *path = argv[optind];
    if (sw >= 0) {
        const char *v = sw ? "off" : "on";
        if (setxattr(path, FS_XATTR_COMPRESS, v, strlen(v), 0) != 0) {
            int e = errno;
            fprintf(stderr, "fadefs-stat: %s: %s\n", path,
                    e == EPERM ? "not the mount point, or compression is off in this mount"
                    : e == ENOTSUP ? "not on a fadefs mount" : strerror(e));
            return 1;
        }
        printf("%s: compression %s\n", path, sw ? "paused" : "resumed");
        return 0;
    }
    struct fs_stat_report *r = malloc(sizeof(*r));
    if (!r) {
        fprintf(stderr, "fadefs-stat: out of memory\n");
        return 1;
    }
    int rc = wait ? wait_empty(path, r, interval) : fetch(path, r);
    if (rc == 0) {
        if (json)
            print_json(path, r);
        else
            print_table(path, r);
    }
    free(r);
    return rc ? 1 : 0;
}
