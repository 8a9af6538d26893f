/* fade_main.c — the `fade` command: compress, decompress and benchmark
 * files in the container format (codec/FORMAT.md).
 *
 * Output goes to a temporary file next to OUT that is renamed over OUT
 * only when everything succeeded, so a failed or interrupted run never
 * leaves a partial OUT behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "codec/block.h"
#include "codec/container.h"
#include "codec/fade.h"
#include "codec/peak.h"

/* Exit statuses (documented in --help). */
enum {
    EXIT_OK = 0,
    EXIT_DATA = 1,      /* input is not a valid fade file, or bench mismatch */
    EXIT_USAGE = 2,
    EXIT_SYS = 3,       /* I/O error, out of memory, unsupported machine */
};

struct opts {
    struct fc_opts fc;
    int quiet;
    int verbose;
    int force;
};

static void usage_short(FILE *f)
{
    fprintf(f,
            "usage: fade c|d [-m PRESET] [-b SIZE] [-s N] [-t N] [--isa ISA] [-qvf] IN OUT\n"
            "       fade bench [options] FILE...\n"
            "       fade --help | --version\n");
}

static void help(void)
{
    printf("NAME\n"
           "    fade - compress files with the FADE learned lossless codec\n"
           "\n"
           "SYNOPSIS\n"
           "    fade c [OPTIONS] IN OUT\n"
           "    fade d [OPTIONS] IN OUT\n"
           "    fade bench [OPTIONS] FILE...\n"
           "    fade --help\n"
           "    fade --version\n"
           "\n"
           "DESCRIPTION\n"
           "    FADE codes bytes with a small neural network that learns the data\n"
           "    while it codes it; the decoder repeats the same computation bit for\n"
           "    bit, so no model is stored in the file.  The input is cut into blocks\n"
           "    that are coded independently (and in parallel with -t); a block that\n"
           "    the model cannot shrink is stored as it is.\n"
           "\n"
           "    c      Compress IN into the container OUT.\n"
           "    d      Decompress the container IN into OUT, checking every block's\n"
           "           CRC32C and the container's framing and index.\n"
           "    bench  For each FILE: compress and decompress in memory, verify the\n"
           "           round trip, and print one line: bytes, compressed bytes,\n"
           "           ratio, compress and decompress speed (KB/s, 1000 bytes),\n"
           "           the model's arithmetic rate while compressing (GFLOP/s)\n"
           "           and its share of this machine's FMA peak (measured first),\n"
           "           blocks coded with the model / all blocks, and ok/MISMATCH.\n"
           "\n"
           "    IN or OUT may be '-' for standard input or output.  OUT is written\n"
           "    to a temporary file in the same directory and renamed at the end,\n"
           "    so a failed run leaves no partial OUT.  (Standard output cannot be\n"
           "    taken back: there, check the exit status.)\n"
           "\n"
           "OPTIONS\n"
           "    -m, --model PRESET   model preset (default: %s), one of:\n"
           "                        ", fade_preset_default());
    /* the names, wrapped under the option's text */
    size_t col = 24;
    for (unsigned i = 0; fade_preset_at(i); i++) {
        const char *name = fade_preset_at(i)->name;
        if (col + 1 + strlen(name) > 78) {
            printf("\n                        ");
            col = 24;
        }
        col += (size_t)printf(" %s", name);
    }
    printf("\n"
           "                         mix codes with context models, a match model\n"
           "                         and learned mixers, and runs the tiny network\n"
           "                         beside them only where it pays; max runs it\n"
           "                         on every byte, with tables four times larger\n"
           "                         (best ratio, some 50 KB/s, up to 0.8 GB of\n"
           "                         memory); mix1 .. mix4 and max1 .. max4 are\n"
           "                         earlier versions, kept for old files.  The\n"
           "                         network-only presets (tiny .. paper, primed,\n"
           "                         *-match) get stronger and slower in turn.\n"
           "                         Decompression uses the\n"
           "                         model each block names; -m, -b and -s only\n"
           "                         matter when compressing.\n"
           "    -b, --block SIZE     raw bytes per block (default 16M for mix and max,\n"
           "                         1M for the others); suffixes K and M\n"
           "                         (powers of 1024); at most 64M.  Bigger blocks\n"
           "                         compress better; smaller ones decode faster at\n"
           "                         random offsets.\n"
           "    -s, --streams N      sub-streams per block (default: one per %u KiB of\n"
           "                         block, within the preset's limit; one per block\n"
           "                         for mix and max).  More streams step the\n"
           "                         network fewer times but give each stream less\n"
           "                         data to learn from.\n"
           "    -t, --threads N      threads (default 1).  Several blocks are coded at\n"
           "                         once, one thread each; threads left over work\n"
           "                         inside a block.  Output does not depend on N.\n"
           "        --isa ISA        arithmetic path: auto, scalar, avx2, avx512\n"
           "                         (default auto).  All give identical bytes.\n"
           "    -f, --force          overwrite OUT if it exists; allow compressed\n"
           "                         output to a terminal.\n"
           "    -q, --quiet          no progress line, no summary.\n"
           "    -v, --verbose        progress line even when stderr is not a\n"
           "                         terminal, and a summary line at the end.\n"
           "    -h, --help           this text.\n"
           "    -V, --version        print the version.\n"
           "\n"
           "EXIT STATUS\n"
           "    0  success\n"
           "    1  the input is not a valid fade file (foreign, truncated, corrupt,\n"
           "       unknown model, newer format) or a benchmark round trip failed\n"
           "    2  usage error, or OUT exists without -f\n"
           "    3  system error: cannot read or write, out of memory, ISA not\n"
           "       available on this machine\n"
           "\n"
           "EXAMPLES\n"
           "    fade c notes.txt notes.txt.fade\n"
           "    fade d notes.txt.fade notes.txt\n"
           "    tar cf - dir | fade c -t 4 -b 4M - dir.tar.fade\n"
           "    fade d dir.tar.fade - | tar xf -\n"
           "    fade bench -m tiny -b 256K corpus/*.txt\n",
           BLK_STREAM_TARGET >> 10);
}

/* "123", "64K", "1M" (powers of 1024) -> bytes; -1 on error. */
static long long parse_size(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *s == '-')
        return -1;
    unsigned long long mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1ull << 10, end++;
    else if (*end == 'm' || *end == 'M')
        mul = 1ull << 20, end++;
    if (*end == 'i' && end[1] == 'B')
        end += 2;
    else if (*end == 'B' && mul > 1)
        end++;
    if (*end || v > (1ull << 40) / mul)
        return -1;
    return (long long)(v * mul);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- progress line ---- */

struct progress {
    const char *name;
    double t0, last;
    int shown;
};

static void progress_cb(void *arg, uint64_t done, uint64_t total)
{
    struct progress *p = arg;
    double t = now_s();
    if (t - p->last < 0.25)
        return;
    p->last = t;
    double rate = t > p->t0 ? (double)done / 1000.0 / (t - p->t0) : 0;
    if (total)
        fprintf(stderr, "\rfade: %s: %5.1f%%  %8.1f KB/s ", p->name,
                100.0 * (double)done / (double)total, rate);
    else
        fprintf(stderr, "\rfade: %s: %" PRIu64 " KiB  %8.1f KB/s ", p->name, done >> 10, rate);
    p->shown = 1;
}

static void progress_end(struct progress *p)
{
    if (p->shown)
        fprintf(stderr, "\r\033[K");
}

/* ---- c / d ---- */

/* The temporary output being written, for the signal handler: the one
 * piece of global state in the command, because a handler has no other
 * way to learn it.  Set before the handler can need it, cleared after the
 * rename. */
static char g_tmp_path[PATH_MAX];
static volatile sig_atomic_t g_tmp_live;

static void on_signal(int sig)
{
    if (g_tmp_live)
        unlink(g_tmp_path);          /* async-signal-safe */
    signal(sig, SIG_DFL);
    raise(sig);
}

static void catch_signals(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        signal(sigs[i], on_signal);
}

static int exit_for(int err)
{
    switch (err) {
    case FADE_E_CORRUPT:
    case FADE_E_TRUNCATED:
    case FADE_E_CHECKSUM:
    case FADE_E_UNKNOWN_MODEL:
    case FADE_E_VERSION:
    case FADE_E_NOT_FADE:
        return EXIT_DATA;
    case FADE_E_INVAL:
        return EXIT_USAGE;
    default:
        return EXIT_SYS;
    }
}

static void report_error(const char *in, const char *out, int err, const struct fc_stats *st)
{
    if (err == FADE_E_IO) {
        fprintf(stderr, "fade: %s: %s error: %s\n", st->err_output ? out : in,
                st->err_output ? "write" : "read", strerror(st->err_errno));
    } else if (err == FADE_E_NOT_FADE || err == FADE_E_TRUNCATED) {
        fprintf(stderr, "fade: %s: %s\n", in, fade_strerror(err));
    } else if (st->err_block >= 0) {
        fprintf(stderr, "fade: %s: %s block %" PRId64 ": %s\n", in,
                err == FADE_E_UNKNOWN_MODEL || err == FADE_E_VERSION ? "cannot decode" : "corrupt",
                st->err_block, err == FADE_E_CORRUPT ? "invalid data" : fade_strerror(err));
    } else if (err == FADE_E_CORRUPT) {
        fprintf(stderr, "fade: %s: corrupt container\n", in);
    } else {
        fprintf(stderr, "fade: %s: %s\n", in, fade_strerror(err));
    }
}

static int cmd_code(int decode, const char *in, const char *out, struct opts *o)
{
    int in_fd = strcmp(in, "-") == 0 ? 0 : open(in, O_RDONLY | O_CLOEXEC);
    if (in_fd < 0) {
        fprintf(stderr, "fade: %s: %s\n", in, strerror(errno));
        return EXIT_SYS;
    }
    int to_stdout = strcmp(out, "-") == 0;
    if (to_stdout && !decode && isatty(1) && !o->force) {
        fprintf(stderr, "fade: refusing to write compressed data to a terminal (use -f)\n");
        if (in_fd)
            close(in_fd);
        return EXIT_USAGE;
    }
    char tmp[PATH_MAX];
    int out_fd = 1;
    if (!to_stdout) {
        struct stat sb;
        if (!o->force && lstat(out, &sb) == 0) {
            fprintf(stderr, "fade: %s: already exists (use -f to overwrite)\n", out);
            if (in_fd)
                close(in_fd);
            return EXIT_USAGE;
        }
        if (snprintf(tmp, sizeof tmp, "%s.fadetmp.XXXXXX", out) >= (int)sizeof tmp) {
            fprintf(stderr, "fade: %s: name too long\n", out);
            if (in_fd)
                close(in_fd);
            return EXIT_USAGE;
        }
        memcpy(g_tmp_path, tmp, sizeof tmp);
        catch_signals();
        out_fd = mkstemp(g_tmp_path);
        memcpy(tmp, g_tmp_path, sizeof tmp);
        g_tmp_live = out_fd >= 0;
        if (out_fd < 0) {
            fprintf(stderr, "fade: %s: %s\n", out, strerror(errno));
            if (in_fd)
                close(in_fd);
            return EXIT_SYS;
        }
        /* mkstemp makes 0600; give the file the usual umask-derived mode. */
        mode_t um = umask(0);
        umask(um);
        if (fchmod(out_fd, 0666 & ~um) != 0) {
            /* Not fatal: the data is still right. */
        }
    }

    struct progress pr = {.name = in, .t0 = now_s()};
    struct fc_opts fo = o->fc;
    if (!o->quiet && (o->verbose || isatty(2))) {
        fo.progress = progress_cb;
        fo.progress_arg = &pr;
    }
    struct fc_stats st;
    double t0 = now_s();
    int rc = decode ? fc_decode_fd(in_fd, out_fd, &fo, &st) : fc_encode_fd(in_fd, out_fd, &fo, &st);
    double dt = now_s() - t0;
    progress_end(&pr);
    int status = EXIT_OK;
    if (rc < 0) {
        report_error(in, out, rc, &st);
        status = exit_for(rc);
    }
    if (!to_stdout) {
        if (status == EXIT_OK && fsync(out_fd) != 0) {
            fprintf(stderr, "fade: %s: %s\n", out, strerror(errno));
            status = EXIT_SYS;
        }
        if (close(out_fd) != 0 && status == EXIT_OK) {
            fprintf(stderr, "fade: %s: %s\n", out, strerror(errno));
            status = EXIT_SYS;
        }
        if (status == EXIT_OK && rename(tmp, out) != 0) {
            fprintf(stderr, "fade: %s: %s\n", out, strerror(errno));
            status = EXIT_SYS;
        }
        if (status != EXIT_OK)
            unlink(tmp);
        g_tmp_live = 0;
    }
    if (in_fd)
        close(in_fd);
    if (status == EXIT_OK && o->verbose && !o->quiet) {
        uint64_t raw = decode ? st.out_bytes : st.in_bytes;
        uint64_t packed = decode ? st.in_bytes : st.out_bytes;
        fprintf(stderr, "fade: %s: %" PRIu64 " -> %" PRIu64 " bytes, ratio %.3f, %.2f s, %.1f KB/s\n",
                in, st.in_bytes, st.out_bytes, packed ? (double)raw / (double)packed : 0.0, dt,
                dt > 0 ? (double)raw / 1000.0 / dt : 0.0);
    }
    return status;
}

/* ---- bench ---- */

static int memfd_of(const char *name, const void *data, size_t len)
{
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, (const uint8_t *)data + done, len - done);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            close(fd);
            return -1;
        }
        done += (size_t)w;
    }
    if (lseek(fd, 0, SEEK_SET) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int bench_file(const char *path, struct opts *o, double peak)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        fprintf(stderr, "fade: %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return EXIT_SYS;
    }
    size_t n = (size_t)sb.st_size;
    uint8_t *orig = n ? mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
    close(fd);
    if (n && orig == MAP_FAILED) {
        fprintf(stderr, "fade: %s: %s\n", path, strerror(errno));
        return EXIT_SYS;
    }
    int in = memfd_of("in", orig, n);
    int packed = memfd_create("packed", MFD_CLOEXEC);
    int back = memfd_create("back", MFD_CLOEXEC);
    int status = EXIT_OK;
    if (in < 0 || packed < 0 || back < 0) {
        fprintf(stderr, "fade: bench: %s\n", strerror(errno));
        status = EXIT_SYS;
    }
    struct progress pr = {.name = path, .t0 = now_s()};
    struct fc_opts fo = o->fc;
    if (!o->quiet && (o->verbose || isatty(2))) {
        fo.progress = progress_cb;
        fo.progress_arg = &pr;
    }
    struct fc_stats cs = {0}, ds = {0};
    double tc = 0, td = 0;
    if (status == EXIT_OK) {
        double t0 = now_s();
        int rc = fc_encode_fd(in, packed, &fo, &cs);
        tc = now_s() - t0;
        progress_end(&pr);
        if (rc < 0) {
            report_error(path, "(memory)", rc, &cs);
            status = exit_for(rc);
        }
    }
    if (status == EXIT_OK && lseek(packed, 0, SEEK_SET) != 0)
        status = EXIT_SYS;
    if (status == EXIT_OK) {
        pr.t0 = now_s();
        pr.shown = 0;
        double t0 = now_s();
        int rc = fc_decode_fd(packed, back, &fo, &ds);
        td = now_s() - t0;
        progress_end(&pr);
        if (rc < 0) {
            report_error(path, "(memory)", rc, &ds);
            status = EXIT_DATA;
        }
    }
    int same = 0;
    if (status == EXIT_OK) {
        struct stat bs;
        if (fstat(back, &bs) == 0 && (size_t)bs.st_size == n) {
            uint8_t *b = n ? mmap(NULL, n, PROT_READ, MAP_PRIVATE, back, 0) : NULL;
            if (!n)
                same = 1;
            else if (b != MAP_FAILED) {
                same = memcmp(b, orig, n) == 0;
                munmap(b, n);
            }
        }
        if (!same)
            status = EXIT_DATA;
    }
    if (status == EXIT_OK || status == EXIT_DATA) {
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        double ratio = cs.out_bytes ? (double)n / (double)cs.out_bytes : 0;
        double gf = tc > 0 ? cs.flops / tc * 1e-9 : 0.0;
        printf("%-34s %10zu %10" PRIu64 " %7.3f %9.1f %9.1f %8.3f %6.2f %5" PRIu64 "/%-5" PRIu64 " %s\n",
               base, n, cs.out_bytes, ratio, tc > 0 ? (double)n / 1000.0 / tc : 0.0,
               td > 0 ? (double)n / 1000.0 / td : 0.0, gf, peak > 0 ? 100.0 * gf / peak : 0.0,
               cs.n_fade_blocks, cs.n_blocks, same ? "ok" : "MISMATCH");
        fflush(stdout);
    }
    if (in >= 0)
        close(in);
    if (packed >= 0)
        close(packed);
    if (back >= 0)
        close(back);
    if (n)
        munmap(orig, n);
    return status;
}

static int cmd_bench(char **files, int n_files, struct opts *o)
{
    const char *preset = o->fc.preset ? o->fc.preset : fade_preset_default();
    uint32_t threads = o->fc.n_threads ? o->fc.n_threads : 1;
    printf("# fade %s bench: preset %s, block %u, streams %s, threads %u, isa %s\n",
           fade_version(), preset,
           o->fc.block_size ? o->fc.block_size : fc_default_block(fade_preset_find(preset)),
           o->fc.n_streams ? "fixed" : "auto", threads,
           fade_isa_name(o->fc.isa == FADE_ISA_AUTO ? fade_isa_best() : o->fc.isa));
    if (o->fc.n_streams)
        printf("# streams per block: %u\n", o->fc.n_streams);
    /* The yardstick: this machine's FMA rate for the same ISA and thread
     * count, measured now (an idle machine gives the true peak). */
    double peak = 0;
    if (fade_peak_gflops(o->fc.isa, threads, 0.3, &peak) == 0)
        printf("# FMA peak measured: %.1f GFLOP/s (%u threads)\n", peak, threads);
    printf("%-34s %10s %10s %7s %9s %9s %8s %6s %11s %s\n", "# file", "bytes", "fade", "ratio",
           "c KB/s", "d KB/s", "GFLOP/s", "%peak", "fade/blks", "check");
    int worst = EXIT_OK;
    for (int i = 0; i < n_files; i++) {
        int s = bench_file(files[i], o, peak);
        if (s > worst)
            worst = s;
    }
    return worst;
}

/* ---- main ---- */

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'},
        {"block", required_argument, NULL, 'b'},
        {"streams", required_argument, NULL, 's'},
        {"threads", required_argument, NULL, 't'},
        {"isa", required_argument, NULL, 'I'},
        {"force", no_argument, NULL, 'f'},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct opts o = {0};
    int c;
    while ((c = getopt_long(argc, argv, "m:b:s:t:fqvhV", longopts, NULL)) != -1) {
        long long v;
        switch (c) {
        case 'm':
            if (!fade_preset_find(optarg)) {
                fprintf(stderr, "fade: unknown preset '%s' (see fade --help)\n", optarg);
                return EXIT_USAGE;
            }
            o.fc.preset = optarg;
            break;
        case 'b':
            v = parse_size(optarg);
            if (v < 1 || v > (long long)FADE_BLOCK_MAX_RAW) {
                fprintf(stderr, "fade: bad block size '%s' (1 to 64M)\n", optarg);
                return EXIT_USAGE;
            }
            o.fc.block_size = (uint32_t)v;
            break;
        case 's':
            v = parse_size(optarg);
            if (v < 1 || v > (long long)FADE_BLOCK_MAX_STREAMS) {
                fprintf(stderr, "fade: bad stream count '%s' (1 to %u)\n", optarg,
                        FADE_BLOCK_MAX_STREAMS);
                return EXIT_USAGE;
            }
            o.fc.n_streams = (uint32_t)v;
            break;
        case 't':
            v = parse_size(optarg);
            if (v < 1 || v > 256) {
                fprintf(stderr, "fade: bad thread count '%s' (1 to 256)\n", optarg);
                return EXIT_USAGE;
            }
            o.fc.n_threads = (uint32_t)v;
            break;
        case 'I':
            if (fade_isa_parse(optarg, &o.fc.isa) != 0) {
                fprintf(stderr, "fade: unknown ISA '%s' (auto, scalar, avx2, avx512)\n", optarg);
                return EXIT_USAGE;
            }
            if (!fade_isa_available(o.fc.isa) && o.fc.isa != FADE_ISA_AUTO) {
                fprintf(stderr, "fade: ISA %s is not available on this machine\n", optarg);
                return EXIT_SYS;
            }
            break;
        case 'f': o.force = 1; break;
        case 'q': o.quiet = 1; break;
        case 'v': o.verbose = 1; break;
        case 'h': help(); return EXIT_OK;
        case 'V': printf("fade %s\n", fade_version()); return EXIT_OK;
        default: usage_short(stderr); return EXIT_USAGE;
        }
    }
    int n = argc - optind;
    char **a = argv + optind;
    if (n < 1) {
        usage_short(stderr);
        return EXIT_USAGE;
    }
    if (o.fc.n_streams) {
        const struct fade_preset *p = fade_preset_find(o.fc.preset ? o.fc.preset : fade_preset_default());
        if (p && o.fc.n_streams > p->max_streams) {
            fprintf(stderr, "fade: preset %s allows at most %u streams\n", p->name, p->max_streams);
            return EXIT_USAGE;
        }
    }
    if (!strcmp(a[0], "c") || !strcmp(a[0], "d")) {
        if (n != 3) {
            usage_short(stderr);
            return EXIT_USAGE;
        }
        if (strcmp(a[1], "-") && strcmp(a[2], "-")) {
            struct stat s1, s2;
            if (stat(a[1], &s1) == 0 && stat(a[2], &s2) == 0 && s1.st_dev == s2.st_dev &&
                s1.st_ino == s2.st_ino) {
                fprintf(stderr, "fade: %s: input and output are the same file\n", a[1]);
                return EXIT_USAGE;
            }
        }
        return cmd_code(a[0][0] == 'd', a[1], a[2], &o);
    }
    if (!strcmp(a[0], "bench")) {
        if (n < 2) {
            usage_short(stderr);
            return EXIT_USAGE;
        }
        return cmd_bench(a + 1, n - 1, &o);
    }
    fprintf(stderr, "fade: unknown command '%s'\n", a[0]);
    usage_short(stderr);
    return EXIT_USAGE;
}
