/* fadefs_main.c — the `fadefs` command: options, store checks, mount,
 * daemonising and clean unmount.
 *
 * Order matters: the store is opened (and refused with a one-line reason if
 * it is not usable) and the mount is made before the shell gets its exit
 * status.  Without -f the work happens in a forked child that reports
 * success or its reason back through a pipe; the parent prints the reason
 * and exits with the child's status.  The child is the daemon: forking
 * after opening SQLite or starting threads would not be safe, so it does
 * all of that itself.
 */
#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "fs/fs.h"

#define FADEFS_VERSION "0.1.0"

static const char usage_text[] =
"NAME\n"
"    fadefs - mount a FADE-compressed store as a filesystem\n"
"\n"
"SYNOPSIS\n"
"    fadefs [options] STORE MOUNTPOINT\n"
"    fusermount3 -u MOUNTPOINT\n"
"\n"
"DESCRIPTION\n"
"    fadefs serves the files kept in the directory STORE at MOUNTPOINT.\n"
"    File data is split into fixed-size blocks kept in append-only segment\n"
"    files; an SQLite index in STORE holds the directory tree, attributes,\n"
"    extended attributes and the block map.  Writes land at once as raw\n"
"    blocks and are queued for background compression with FADE, a learned\n"
"    lossless codec; reads decode only the blocks they touch.\n"
"\n"
"    Compression: coder threads at idle priority take blocks that have not\n"
"    been rewritten for `cold' seconds, oldest first, and replace each raw\n"
"    payload with its FADE block, unless the block is all zeros (it becomes\n"
"    a hole), looks incompressible to a quick entropy probe, or would not\n"
"    save min_saving (it stays raw and is not tried again with the same\n"
"    preset).  A block rewritten while it is coded keeps the new data.  The\n"
"    queue is on disk: after an unmount or a crash the next mount goes on.\n"
"    A read of a compressed block decodes it once on the reader's thread\n"
"    (a coded 256K block takes a fraction of a second of CPU with the\n"
"    default preset mix, 11-14 s with primed-match) and keeps it in the\n"
"    block cache; a file read in order gets its next blocks decoded ahead.\n"
"    fadefs-stat(1) shows the ratio, the blocks by state and the coders'\n"
"    progress, and pauses or resumes them; every regular file also has the\n"
"    read-only xattrs user.fadefs.stored_bytes, user.fadefs.ratio and\n"
"    user.fadefs.blocks.  fadefsck(8) checks an unmounted store.\n"
"\n"
"    An empty STORE is made into a new store at the first mount.  A STORE\n"
"    that holds anything else, a store of a newer format, or a store that\n"
"    is already mounted is refused with a one-line reason.\n"
"\n"
"    fsync(2) and fdatasync(2) return only when the file's data and\n"
"    metadata are on stable storage.  After a crash, a new mount shows a\n"
"    consistent tree in which every fsync'd file is intact.  Unlinked\n"
"    files still open at a crash are deleted at the next mount.\n"
"\n"
"    The filesystem is unmounted with `fusermount3 -u MOUNTPOINT', or by\n"
"    sending SIGTERM or SIGINT to the daemon; both commit pending data.\n"
"\n"
"OPTIONS\n"
"    -h, --help          print this help and exit\n"
"    -V, --version       print versions and exit\n"
"    -f                  stay in the foreground; errors go to stderr\n"
"    -d, -o debug        foreground, and log every request (implies -f)\n"
"    -s                  serve requests from a single thread\n"
"    -o block_size=N     block size of a NEW store: a power of two from\n"
"                        4K to 64M (suffixes K, M); default 256K.  An\n"
"                        existing store keeps the size it was made with\n"
"    -o cache_size=N     memory for decoded blocks (suffixes K, M, G);\n"
"                        default 64M, 0 disables the cache\n"
"    -o dirty_size=N     unwritten data kept per open file before it is\n"
"                        committed (suffixes K, M); default 4M\n"
"    -o compress=on|off  background compression (default on).  off: blocks\n"
"                        stay raw and queued; coded blocks still read\n"
"    -o preset=NAME      codec preset for new compressed blocks (default\n"
"                        mix; `fade --help' lists them): larger ones\n"
"                        compress better and make cold reads slower.\n"
"                        Blocks kept raw by another preset are tried again\n"
"    -o streams=N        sub-streams per compressed block (default: the\n"
"                        preset's choice, one per block for mix): more\n"
"                        decode faster with the network presets, fewer\n"
"                        compress better\n"
"    -o coders=N         coder threads (default one per CPU).  They run at\n"
"                        idle priority: file operations always come first\n"
"    -o cold=SECONDS     a block is compressed once it has not been\n"
"                        rewritten for this long (default 5)\n"
"    -o min_saving=PCT   keep a block raw unless coding saves at least this\n"
"                        much (default 12.5)\n"
"    -o allow_other      let other users see the files (needs\n"
"                        user_allow_other in /etc/fuse.conf unless root)\n"
"    -o OPT[,OPT...]     other FUSE mount options, see below.\n"
"                        default_permissions is always on: the kernel\n"
"                        checks access against modes and owners\n"
"\n"
"EXIT STATUS\n"
"    0  mounted (without -f), or unmounted cleanly (with -f)\n"
"    1  the store or the mount point could not be used\n"
"    2  bad command line or -o option\n"
"\n"
"EXAMPLES\n"
"    mkdir -p /data /mnt/fade && fadefs /data /mnt/fade\n"
"    fadefs -f -o block_size=1M,cache_size=256M /data /mnt/fade\n"
"    fadefs -o preset=max /data /mnt/fade                 # smaller, much slower\n"
"    fadefs-stat --wait /mnt/fade                         # until all is coded\n"
"\n"
"SEE ALSO\n"
"    fadefs-stat(1), fadefsck(8), fade(1), fusermount3(1)\n"
"\n"
"Logging: syslog (facility daemon) when in the background, stderr with -f.\n"
"\n"
"FUSE options:\n";

struct main_opts {
    char *store;
    char *block_size, *cache_size, *dirty_size;
    char *compress, *preset, *streams, *coders, *cold, *min_saving;
    int n_nonopt;
};

static const struct fuse_opt main_spec[] = {
    { "block_size=%s", offsetof(struct main_opts, block_size), 0 },
    { "cache_size=%s", offsetof(struct main_opts, cache_size), 0 },
    { "dirty_size=%s", offsetof(struct main_opts, dirty_size), 0 },
    { "compress=%s", offsetof(struct main_opts, compress), 0 },
    { "preset=%s", offsetof(struct main_opts, preset), 0 },
    { "streams=%s", offsetof(struct main_opts, streams), 0 },
    { "coders=%s", offsetof(struct main_opts, coders), 0 },
    { "cold=%s", offsetof(struct main_opts, cold), 0 },
    { "min_saving=%s", offsetof(struct main_opts, min_saving), 0 },
    FUSE_OPT_END
};

/* The first non-option is the store; the second (the mount point) is left
 * for fuse_parse_cmdline. */
static int main_proc(void *data, const char *arg, int key,
                     struct fuse_args *outargs)
{
    struct main_opts *o = data;
    (void)outargs;
    if (key == FUSE_OPT_KEY_NONOPT && !o->store) {
        o->store = strdup(arg);
        return o->store ? 0 : -1;
    }
    return 1;
}

/* Parses "123", "4K", "1M", "2G".  0 on success. */
static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *s == '-')
        return -1;
    unsigned shift = 0;
    switch (*end) {
    case 0: break;
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    default: return -1;
    }
    if (*end == 'i' || *end == 'B')
        end += *end == 'i' && end[1] == 'B' ? 2 : 1;
    if (*end || (shift && v > (ULLONG_MAX >> shift)))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

/* A decimal number of at most `max` (with a fraction when frac); 0 = ok. */
static int parse_num(const char *s, double max, int frac, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0 && v <= max) ||
        (!frac && v != (double)(uint64_t)v))
        return -1;
    *out = v;
    return 0;
}

/* The compression options into fo->sched; 0, or -1 after a message. */
static int parse_sched(const struct main_opts *mo, struct fs_sched_opts *so)
{
    double v;
    so->cold_ns = FS_SCHED_COLD_NS;
    so->min_saving_pm = FS_SCHED_MIN_SAVING;
    if (mo->compress) {
        if (!strcmp(mo->compress, "off"))
            so->off = 1;
        else if (strcmp(mo->compress, "on")) {
            fprintf(stderr, "fadefs: compress=%s: on or off\n", mo->compress);
            return -1;
        }
    }
    if (mo->preset) {
        if (!fade_preset_find(mo->preset)) {
            fprintf(stderr, "fadefs: preset=%s: unknown (fade --help lists them)\n",
                    mo->preset);
            return -1;
        }
        so->preset = mo->preset;
    }
    if (mo->streams) {
        if (parse_num(mo->streams, FADE_BLOCK_MAX_STREAMS, 0, &v) || v < 1) {
            fprintf(stderr, "fadefs: streams=%s: a count from 1 to %u\n", mo->streams,
                    FADE_BLOCK_MAX_STREAMS);
            return -1;
        }
        so->n_streams = (uint32_t)v;
    }
    if (mo->coders) {
        if (parse_num(mo->coders, 256, 0, &v) || v < 1) {
            fprintf(stderr, "fadefs: coders=%s: a count from 1 to 256\n", mo->coders);
            return -1;
        }
        so->n_coders = (uint32_t)v;
    }
    if (mo->cold) {
        if (parse_num(mo->cold, 86400.0 * 365, 1, &v)) {
            fprintf(stderr, "fadefs: cold=%s: seconds, like 5 or 0.5\n", mo->cold);
            return -1;
        }
        so->cold_ns = (int64_t)(v * 1e9);
    }
    if (mo->min_saving) {
        if (parse_num(mo->min_saving, 99.9, 1, &v)) {
            fprintf(stderr, "fadefs: min_saving=%s: a percentage below 100\n",
                    mo->min_saving);
            return -1;
        }
        so->min_saving_pm = (uint32_t)(v * 10 + 0.5);
    }
    return 0;
}

/* The compressor tells the kernel that a file's st_blocks moved: only the
 * attributes go (negative offset), the cached pages stay valid. */
static void notify_attr(void *arg, uint64_t ino)
{
    fuse_lowlevel_notify_inval_inode(arg, (fuse_ino_t)ino, -1, 0);
}

/* fsname= with ',' and '\' escaped for the -o parser. */
static char *fsname_opt(const char *store)
{
    size_t n = strlen(store);
    char *s = malloc(2 * n + 16);
    if (!s)
        return NULL;
    char *p = s + sprintf(s, "-ofsname=");
    for (size_t i = 0; i < n; i++) {
        if (store[i] == ',' || store[i] == '\\')
            *p++ = '\\';
        *p++ = store[i];
    }
    *p = 0;
    return s;
}

/* Daemon start-up report: the child writes one status byte then a reason;
 * the parent prints the reason and exits with the status. */
static void report(int fd, int status, const char *line)
{
    if (fd < 0) {
        if (line && *line)
            fprintf(stderr, "%s\n", line);
        return;
    }
    char st = (char)status;
    ssize_t w = write(fd, &st, 1);
    if (w == 1 && line && *line)
        w = write(fd, line, strlen(line));
    (void)w;
    close(fd);
}

static int wait_for_child(int fd)
{
    char st;
    ssize_t n;
    do
        n = read(fd, &st, 1);
    while (n < 0 && errno == EINTR);
    if (n != 1) {
        fprintf(stderr, "fadefs: the daemon died while starting\n");
        return 1;
    }
    char line[1200];
    size_t len = 0;
    while (len < sizeof(line) - 1) {
        n = read(fd, line + len, sizeof(line) - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    line[len] = 0;
    if (len)
        fprintf(stderr, "%s\n", line);
    return st;
}

static int detach_stdio(void)
{
    int fd = open("/dev/null", O_RDWR);
    if (fd < 0)
        return -1;
    if (dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) {
        close(fd);
        return -1;
    }
    if (fd > 2)
        close(fd);
    return 0;
}

int main(int argc, char *argv[])
{
    struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
    struct main_opts mo = { 0 };
    struct fuse_cmdline_opts co = { 0 };
    struct fs_opts fo = { 0 };
    char msg[1024], line[1200];
    char *store_abs = NULL, *fsname = NULL;
    int ret = 2, wfd = -1;

    /* Block buffers (256 KiB by default) come and go at a high rate; served
     * by mmap each one would page-fault afresh.  Keep them in the heap. */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    /* One arena: buffers are allocated by FUSE threads and freed by the
     * writer; per-thread arenas live in 64 MiB heaps that are unmapped and
     * mapped again as the deferred commits come and go, so every buffer
     * page-faulted afresh (a third of the time of a sequential write). */
    mallopt(M_ARENA_MAX, 1);
    if (fuse_opt_parse(&args, &mo, main_spec, main_proc) != 0)
        goto out_args;
    if (fuse_parse_cmdline(&args, &co) != 0) {
        ret = 1;                  /* libfuse said why (bad mount point, ...) */
        goto out_args;
    }
    if (co.show_help) {
        printf("%s", usage_text);
        fuse_cmdline_help();
        fuse_lowlevel_help();
        ret = 0;
        goto out_args;
    }
    if (co.show_version) {
        printf("fadefs %s (FADE codec %s)\n", FADEFS_VERSION, fade_version());
        fuse_lowlevel_version();
        ret = 0;
        goto out_args;
    }
    if (!mo.store || !co.mountpoint) {
        fprintf(stderr, "fadefs: %s\nusage: fadefs [options] STORE MOUNTPOINT "
                "(fadefs --help for more)\n",
                !mo.store ? "no store directory given" : "no mount point given");
        goto out_args;
    }
    if (mo.block_size) {
        uint64_t v;
        if (parse_size(mo.block_size, &v) || v < 4096 || v > FADE_BLOCK_MAX_RAW ||
            (v & (v - 1))) {
            fprintf(stderr, "fadefs: block_size=%s: not a power of two from 4K to 64M\n",
                    mo.block_size);
            goto out_args;
        }
        fo.block_size = (uint32_t)v;
    }
    if (mo.cache_size) {
        if (parse_size(mo.cache_size, &fo.cache_bytes)) {
            fprintf(stderr, "fadefs: cache_size=%s: not a size\n", mo.cache_size);
            goto out_args;
        }
        if (fo.cache_bytes == 0)
            fo.cache_bytes = 1;     /* 0 means default in fs_opts; 1 caches nothing */
    }
    if (mo.dirty_size && parse_size(mo.dirty_size, &fo.dirty_bytes)) {
        fprintf(stderr, "fadefs: dirty_size=%s: not a size\n", mo.dirty_size);
        goto out_args;
    }
    if (parse_sched(&mo, &fo.sched))
        goto out_args;
    ret = 1;
    store_abs = realpath(mo.store, NULL);
    if (!store_abs) {
        fprintf(stderr, "fadefs: %s: %s\n", mo.store, strerror(errno));
        goto out_args;
    }
    struct stat st;
    if (stat(store_abs, &st) || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "fadefs: %s: %s\n", mo.store, strerror(ENOTDIR));
        goto out_args;
    }
    fsname = fsname_opt(store_abs);
    if (!fsname || fuse_opt_add_arg(&args, "-odefault_permissions") ||
        fuse_opt_add_arg(&args, "-osubtype=fadefs") ||
        fuse_opt_add_arg(&args, fsname)) {
        fprintf(stderr, "fadefs: out of memory\n");
        goto out_args;
    }
    fo.store = store_abs;
    fo.foreground = co.foreground;
    fo.debug = co.debug;

    if (!co.foreground) {
        int p[2];
        if (pipe(p)) {
            fprintf(stderr, "fadefs: pipe: %s\n", strerror(errno));
            goto out_args;
        }
        pid_t pid = fork();
        if (pid < 0) {
            fprintf(stderr, "fadefs: fork: %s\n", strerror(errno));
            close(p[0]);
            close(p[1]);
            goto out_args;
        }
        if (pid > 0) {
            close(p[1]);
            ret = wait_for_child(p[0]);
            close(p[0]);
            goto out_args;
        }
        close(p[0]);
        wfd = p[1];
        if (setsid() < 0) {
            report(wfd, 1, "fadefs: setsid failed");
            goto out_args;
        }
        openlog("fadefs", LOG_PID, LOG_DAEMON);
    }

    struct fs_ctx *fs = NULL;
    /* The session first: it rejects bad -o options before a store is made. */
    struct fuse_session *se = fuse_session_new(&args, fs_ops_table(),
                                               sizeof(struct fuse_lowlevel_ops), &fs);
    if (!se) {
        report(wfd, 2, "fadefs: cannot start the FUSE session (bad -o option?)");
        wfd = -1;
        ret = 2;
        goto out_args;
    }
    int e = fs_ctx_open(&fs, &fo, msg, sizeof(msg));
    if (e) {
        snprintf(line, sizeof(line), "fadefs: %s: %s", mo.store, msg);
        report(wfd, 1, line);
        wfd = -1;
        goto out_session;
    }
    /* A shell starts background jobs with SIGINT ignored, and libfuse only
     * takes over signals left at their default; SIGINT and SIGTERM must
     * always unmount cleanly, so give them back their defaults first. */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    if (fuse_set_signal_handlers(se) != 0) {
        report(wfd, 1, "fadefs: cannot install signal handlers");
        wfd = -1;
        goto out_session;
    }
    if (fuse_session_mount(se, co.mountpoint) != 0) {
        snprintf(line, sizeof(line), "fadefs: %s: cannot mount", co.mountpoint);
        report(wfd, 1, line);
        wfd = -1;
        goto out_signals;
    }
    if (wfd >= 0) {
        if (chdir("/") || detach_stdio()) {
            report(wfd, 1, "fadefs: cannot detach from the terminal");
            wfd = -1;
            goto out_unmount;
        }
        report(wfd, 0, NULL);
        wfd = -1;
    } else if (chdir("/")) {
        /* Not fatal: only keeps the daemon from pinning a directory. */
    }
    /* Compression starts with the mount (the coders tell the kernel of
     * changed st_blocks, which needs a live session) and stops before it
     * goes; a failure leaves the mount usable, uncompressed. */
    fs->sched.notify = notify_attr;
    fs->sched.notify_arg = se;
    if (fs_sched_start(fs))
        fs_log(fs, LOG_ERR, "compression not started: blocks stay raw");

    if (co.singlethread) {
        e = fuse_session_loop(se);
    } else {
        struct fuse_loop_config *cfg = fuse_loop_cfg_create();
        if (!cfg) {
            fs_log(fs, LOG_ERR, "out of memory");
            e = -ENOMEM;
        } else {
            fuse_loop_cfg_set_clone_fd(cfg, (unsigned)co.clone_fd);
            if (co.max_idle_threads != UINT_MAX)
                fuse_loop_cfg_set_idle_threads(cfg, co.max_idle_threads);
            fuse_loop_cfg_set_max_threads(cfg, co.max_threads);
            e = fuse_session_loop_mt(se, cfg);
            fuse_loop_cfg_destroy(cfg);
        }
    }
    /* A signal (SIGTERM, SIGINT, SIGHUP) ending the loop is a clean stop. */
    ret = e < 0 ? 1 : 0;
    if (e < 0)
        fs_log(fs, LOG_ERR, "session ended: %s", strerror(-e));

    fs_sched_stop(fs);
out_unmount:
    fuse_session_unmount(se);
out_signals:
    fuse_remove_signal_handlers(se);
out_session:
    fuse_session_destroy(se);
    fs_ctx_close(fs);
out_args:
    if (wfd >= 0)
        report(wfd, 1, NULL);
    free(fsname);
    free(store_abs);
    free(mo.store);
    free(mo.block_size);
    free(mo.cache_size);
    free(mo.dirty_size);
    free(mo.compress);
    free(mo.preset);
    free(mo.streams);
    free(mo.coders);
    free(mo.cold);
    free(mo.min_saving);
    free(co.mountpoint);
    fuse_opt_free_args(&args);
    return ret;
}
