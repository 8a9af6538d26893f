/* mount.c — runs the fadefs daemon on temporary mounts for the tests and
 * tools (see mount.h); libc only, because every test binary links it. */
#include "tests/common/mount.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FST_DEFAULT_TIMEOUT_MS 20000u

static int fst_snprintf(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fst_snprintf(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -EINVAL;
    if ((size_t)n >= cap)
        return -ENAMETOOLONG;
    return 0;
}

static uint64_t fst_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void fst_sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000u, (long)(ms % 1000u) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int fst_is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int fst_is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* ---- locations ---- */

int fst_build_dir(char *out, size_t cap)
{
    const char *bin = getenv("FADEFS_BIN");
    if (bin && *bin) {
        const char *slash = strrchr(bin, '/');
        if (!slash)
            return fst_snprintf(out, cap, ".");
        return fst_snprintf(out, cap, "%.*s", (int)(slash - bin), bin);
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        /* build/tests/fs/test_x or build/tools/fsmodel: the build folder is
         * what comes before the last "/tests/" or "/tools/". */
        char *cut = NULL;
        for (char *p = strstr(exe, "/tests/"); p; p = strstr(p + 1, "/tests/"))
            cut = p;
        if (!cut)
            for (char *p = strstr(exe, "/tools/"); p; p = strstr(p + 1, "/tools/"))
                cut = p;
        if (cut) {
            *cut = '\0';
            return fst_snprintf(out, cap, "%s", exe);
        }
    }
    const char *b = getenv("BUILD");
    return fst_snprintf(out, cap, "%s", b && *b ? b : "build");
}

int fst_fadefs_path(char *out, size_t cap)
{
    const char *bin = getenv("FADEFS_BIN");
    if (bin && *bin)
        return fst_snprintf(out, cap, "%s", bin);
    char b[PATH_MAX];
    int rc = fst_build_dir(b, sizeof b);
    if (rc)
        return rc;
    return fst_snprintf(out, cap, "%s/fadefs", b);
}

int fst_tool_path(const char *name, char *out, size_t cap)
{
    char b[PATH_MAX];
    int rc = fst_build_dir(b, sizeof b);
    if (rc)
        return rc;
    /* With $FADEFS_BIN pointing elsewhere the tools still live beside the
     * test binary. */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *cut = NULL;
        for (char *p = strstr(exe, "/tests/"); p; p = strstr(p + 1, "/tests/"))
            cut = p;
        if (cut) {
            *cut = '\0';
            return fst_snprintf(out, cap, "%s/tools/%s", exe, name);
        }
    }
    return fst_snprintf(out, cap, "%s/tools/%s", b, name);
}

int fst_repo_root(char *out, size_t cap)
{
    char b[PATH_MAX], probe[PATH_MAX + 32];
    if (fst_build_dir(b, sizeof b) == 0) {
        char real[PATH_MAX];
        if (realpath(b, real)) {
            char *slash = strrchr(real, '/');
            if (slash && slash != real) {
                *slash = '\0';
                snprintf(probe, sizeof probe, "%s/Makefile", real);
                if (fst_is_file(probe))
                    return fst_snprintf(out, cap, "%s", real);
            }
        }
    }
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        return -errno;
    for (;;) {
        char fsdir[PATH_MAX + 8];
        snprintf(probe, sizeof probe, "%s/Makefile", cwd);
        snprintf(fsdir, sizeof fsdir, "%s/fs", cwd);
        if (fst_is_file(probe) && fst_is_dir(fsdir))
            return fst_snprintf(out, cap, "%s", cwd);
        char *slash = strrchr(cwd, '/');
        if (!slash || slash == cwd)
            return -ENOENT;
        *slash = '\0';
    }
}

int fst_corpus_dir(char *out, size_t cap)
{
    const char *c = getenv("FADE_CORPUS");
    if (c && *c) {
        if (!fst_is_dir(c))
            return -ENOENT;
        return fst_snprintf(out, cap, "%s", c);
    }
    char root[PATH_MAX], p[PATH_MAX + 32];
    int rc = fst_repo_root(root, sizeof root);
    if (rc)
        return rc;
    snprintf(p, sizeof p, "%s/../shared/corpus", root);
    char real[PATH_MAX];
    if (!realpath(p, real) || !fst_is_dir(real))
        return -ENOENT;
    return fst_snprintf(out, cap, "%s", real);
}

/* ---- utilities ---- */

int fst_mkdtemp(const char *tag, char *out, size_t cap)
{
    const char *t = getenv("TMPDIR");
    if (!t || !*t)
        t = "/tmp";
    int rc = fst_snprintf(out, cap, "%s/fst-%s-XXXXXX", t, tag ? tag : "x");
    if (rc)
        return rc;
    if (!mkdtemp(out))
        return -errno;
    char real[PATH_MAX];
    if (realpath(out, real))
        return fst_snprintf(out, cap, "%s", real);
    return 0;
}

static int fst_rm_cb(const char *p, const struct stat *st, int type, struct FTW *f)
{
    (void)st; (void)f;
    /* Keep going on errors: remove whatever can be removed. */
    if (type == FTW_DP || type == FTW_D || unlink(p) != 0)
        rmdir(p);
    return 0;
}

int fst_rm_rf(const char *path)
{
    /* FTW_MOUNT: never descend into a mount below (live mounts would be
     * emptied through the filesystem, dead ones fail every call). */
    if (nftw(path, fst_rm_cb, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) != 0 &&
        errno != ENOENT)
        return -errno;
    return access(path, F_OK) == 0 ? -EBUSY : 0;
}

/* Undoes the octal escapes (\040 etc.) of /proc/self/mountinfo in place. */
static void fst_unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r; ) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' &&
            r[2] <= '7' && r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 4;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
}

int fst_is_fuse_mounted(const char *path)
{
    char want[PATH_MAX];
    if (!realpath(path, want)) {
        /* A dead FUSE mount fails realpath with ENOTCONN: compare as is. */
        if (fst_snprintf(want, sizeof want, "%s", path))
            return 0;
    }
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return 0;
    char *line = NULL;
    size_t lcap = 0;
    int found = 0;
    while (getline(&line, &lcap, f) > 0) {
        /* id parent maj:min root mountpoint opts [optional...] - fstype src super */
        char *save = NULL, *tok;
        int i = 0;
        char *mp = NULL;
        for (tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save), i++) {
            if (i == 4)
                mp = tok;
            if (strcmp(tok, "-") == 0) {
                char *fstype = strtok_r(NULL, " ", &save);
                if (mp && fstype && strncmp(fstype, "fuse", 4) == 0) {
                    fst_unescape(mp);
                    if (strcmp(mp, want) == 0)
                        found = 1;
                }
                break;
            }
        }
        if (found)
            break;
    }
    free(line);
    fclose(f);
    return found;
}

int fst_unmount_under(const char *dir)
{
    size_t dlen = strlen(dir);
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return -errno;
    char *line = NULL, *found[32];
    size_t lcap = 0;
    int n = 0;
    while (n < 32 && getline(&line, &lcap, f) > 0) {
        char *save = NULL, *tok, *mp = NULL;
        int i = 0;
        for (tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save), i++) {
            if (i == 4)
                mp = tok;
            if (strcmp(tok, "-") == 0) {
                char *fstype = strtok_r(NULL, " ", &save);
                if (mp && fstype && strncmp(fstype, "fuse", 4) == 0) {
                    fst_unescape(mp);
                    if (strncmp(mp, dir, dlen) == 0 && mp[dlen] == '/')
                        found[n++] = strdup(mp);
                }
                break;
            }
        }
    }
    free(line);
    fclose(f);
    int rc = 0;
    /* Deepest first: a mount inside a mount goes before its parent. */
    for (int i = n - 1; i >= 0; i--) {
        if (found[i] && fst_unmount_path(found[i], 1) != 0)
            rc = -EBUSY;
        free(found[i]);
    }
    return rc;
}

int fst_run_capture(char *const argv[], unsigned timeout_ms, char *out,
                    size_t cap, int *status)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0)
        return -errno;
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(pfd[0]); close(pfd[1]);
        return -e;
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(pfd[1], 1);
        dup2(pfd[1], 2);
        execv(argv[0], argv);
        dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(pfd[1]);
    size_t used = 0;
    if (cap)
        out[0] = '\0';
    uint64_t deadline = fst_now_ms() + timeout_ms;
    int timed_out = 0;
    for (;;) {
        uint64_t now = fst_now_ms();
        if (now >= deadline) {
            timed_out = 1;
            break;
        }
        struct pollfd p = { pfd[0], POLLIN, 0 };
        int pr = poll(&p, 1, (int)(deadline - now));
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0) {
            timed_out = pr == 0;
            break;
        }
        char buf[4096];
        ssize_t n = read(pfd[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (cap > 1 && used < cap - 1) {
            size_t k = (size_t)n < cap - 1 - used ? (size_t)n : cap - 1 - used;
            memcpy(out + used, buf, k);
            used += k;
            out[used] = '\0';
        }
    }
    close(pfd[0]);
    /* The pipe can close before the child exits (or a grandchild can keep
     * it open); wait for the child itself up to the same deadline. */
    int st = 0;
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR)
            return -errno;
        if (timed_out || fst_now_ms() >= deadline) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
            if (status)
                *status = st;
            return -ETIMEDOUT;
        }
        fst_sleep_ms(5);
    }
    if (status)
        *status = st;
    return 0;
}

int fst_unmount_path(const char *path, int lazy)
{
    if (!fst_is_fuse_mounted(path))
        return 0;
    if (access("/usr/bin/fusermount3", X_OK) == 0 ||
        access("/bin/fusermount3", X_OK) == 0) {
        char *argv[5];
        int i = 0;
        argv[i++] = access("/usr/bin/fusermount3", X_OK) == 0
                        ? (char *)"/usr/bin/fusermount3" : (char *)"/bin/fusermount3";
        argv[i++] = lazy ? (char *)"-uz" : (char *)"-u";
        argv[i++] = (char *)path;
        argv[i] = NULL;
        char out[512];
        int st = 0;
        if (fst_run_capture(argv, 10000, out, sizeof out, &st) == 0 &&
            WIFEXITED(st) && WEXITSTATUS(st) == 0 && !fst_is_fuse_mounted(path))
            return 0;
    }
    if (umount2(path, lazy ? MNT_DETACH : 0) != 0 && errno != EINVAL)
        return -errno;
    return fst_is_fuse_mounted(path) ? -EBUSY : 0;
}

int fst_close_fds_under(const char *path)
{
    size_t plen = strlen(path);
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -errno;
    int dfd = dirfd(d), closed = 0;
    struct dirent *e;
    int fds[256], nfds = 0;
    while ((e = readdir(d)) && nfds < 256) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] == '.' || fd == dfd || fd < 3)
            continue;
        char lnk[64], target[PATH_MAX];
        snprintf(lnk, sizeof lnk, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(lnk, target, sizeof target - 1);
        if (n <= 0)
            continue;
        target[n] = '\0';
        if (strncmp(target, path, plen) == 0 && (target[plen] == '/' || target[plen] == '\0'))
            fds[nfds++] = fd;
    }
    closedir(d);
    for (int i = 0; i < nfds; i++)
        if (close(fds[i]) == 0)
            closed++;
    return closed;
}

int fst_fuse_usable(char *why, size_t cap)
{
    int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        if (cap)
            snprintf(why, cap, "/dev/fuse: %s", strerror(errno));
        return 0;
    }
    close(fd);
    return 1;
}

int fst_read_text(const char *path, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    for (;;) {
        if (n == cap) {
            char *nb = realloc(buf, cap * 2 + 1);
            if (!nb) {
                free(buf);
                close(fd);
                return -ENOMEM;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            close(fd);
            return -e;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    *out = buf;
    if (len)
        *len = n;
    return 0;
}

/* ---- a mount ---- */

int fst_mount_init(struct fst_mount *m, const char *tag)
{
    memset(m, 0, sizeof *m);
    m->timeout_ms = FST_DEFAULT_TIMEOUT_MS;
    const char *t = getenv("FST_TIMEOUT_MS");
    if (t && atoi(t) > 0)
        m->timeout_ms = (unsigned)atoi(t);
    int rc = fst_fadefs_path(m->bin, sizeof m->bin);
    if (rc)
        return rc;
    rc = fst_mkdtemp(tag, m->dir, sizeof m->dir);
    if (rc)
        return rc;
    if ((rc = fst_snprintf(m->store, sizeof m->store, "%s/store", m->dir)) ||
        (rc = fst_snprintf(m->mnt, sizeof m->mnt, "%s/mnt", m->dir)) ||
        (rc = fst_snprintf(m->log, sizeof m->log, "%s/fadefs.log", m->dir)))
        goto fail;
    if (mkdir(m->store, 0755) != 0 || mkdir(m->mnt, 0755) != 0) {
        rc = -errno;
        goto fail;
    }
    return 0;
fail:
    fst_rm_rf(m->dir);
    m->dir[0] = '\0';
    return rc;
}

int fst_mount_pin_binary(struct fst_mount *m)
{
    char copy[PATH_MAX];
    int rc = fst_snprintf(copy, sizeof copy, "%s/fadefs.bin", m->dir);
    if (rc)
        return rc;
    int in = open(m->bin, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -errno;
    int out = open(copy, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
    if (out < 0) {
        rc = -errno;
        close(in);
        return rc;
    }
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n) {
            n = -1;
            break;
        }
    rc = n < 0 ? -EIO : 0;
    close(in);
    if (close(out) != 0 && rc == 0)
        rc = -EIO;
    if (rc == 0)
        memcpy(m->bin, copy, sizeof m->bin);
    return rc;
}

/* The placeholder daemon says so; a machine where that is all there is
 * cannot mount, which is a skip, not a failure. */
static int fst_log_says_unbuilt(const struct fst_mount *m, off_t from)
{
    char *txt = NULL;
    size_t len = 0;
    if (fst_read_text(m->log, &txt, &len) != 0)
        return 0;
    int r = (size_t)from <= len && strstr(txt + from, "not built yet") != NULL;
    free(txt);
    return r;
}

int fst_mount_start(struct fst_mount *m, const char *const *extra)
{
    m->why[0] = '\0';
    if (m->pid)
        return -EBUSY;
    if (access(m->bin, X_OK) != 0) {
        snprintf(m->why, sizeof m->why, "no fadefs binary at %s", m->bin);
        return FST_ENOMOUNT;
    }
    if (!fst_fuse_usable(m->why, sizeof m->why))
        return FST_ENOMOUNT;
    if (fst_is_fuse_mounted(m->mnt)) {
        snprintf(m->why, sizeof m->why, "%s is already mounted", m->mnt);
        return -EBUSY;
    }
    int logfd = open(m->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (logfd < 0) {
        snprintf(m->why, sizeof m->why, "%s: %s", m->log, strerror(errno));
        return -errno;
    }
    off_t logstart = lseek(logfd, 0, SEEK_END);
    dprintf(logfd, "==== fst: starting %s -f ... %s %s\n", m->bin, m->store, m->mnt);

    const char *argv[64];
    int n = 0;
    argv[n++] = m->bin;
    argv[n++] = "-f";
    for (int i = 0; extra && extra[i] && n < 60; i++)
        argv[n++] = extra[i];
    argv[n++] = m->store;
    argv[n++] = m->mnt;
    argv[n] = NULL;

    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(logfd);
        return -e;
    }
    if (pid == 0) {
        /* Die with the test: a test that crashes must not leave a daemon
         * behind (the dead mount is then detached by the next cleanup). */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(logfd, 1);
        dup2(logfd, 2);
        /* Criterion's pipes and the caller's files must not leak in. */
        if (syscall(SYS_close_range, 3u, ~0u, 0u) != 0)
            for (int fd = 3; fd < 1024; fd++)
                close(fd);
        execv(argv[0], (char *const *)argv);
        dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(logfd);
    m->pid = pid;
    uint64_t deadline = fst_now_ms() + m->timeout_ms;
    unsigned nap = 2;
    for (;;) {
        int st;
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) {
            m->pid = 0;
            m->last_status = st;
            /* It may have mounted and died: never leave a dead mount. */
            fst_unmount_path(m->mnt, 1);
            if (WIFEXITED(st) && WEXITSTATUS(st) != 0 && fst_log_says_unbuilt(m, logstart)) {
                snprintf(m->why, sizeof m->why, "%s is the placeholder (not built yet)", m->bin);
                return FST_ENOMOUNT;
            }
            if (WIFEXITED(st))
                snprintf(m->why, sizeof m->why, "fadefs exited with %d before the mount was live (log: %s)",
                         WEXITSTATUS(st), m->log);
            else
                snprintf(m->why, sizeof m->why, "fadefs died of signal %d before the mount was live (log: %s)",
                         WTERMSIG(st), m->log);
            return -ECHILD;
        }
        if (fst_is_fuse_mounted(m->mnt)) {
            m->live = 1;
            return 0;
        }
        if (fst_now_ms() >= deadline) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
            m->pid = 0;
            m->last_status = st;
            fst_unmount_path(m->mnt, 1);
            snprintf(m->why, sizeof m->why, "mount not live after %u ms (log: %s)",
                     m->timeout_ms, m->log);
            return -ETIMEDOUT;
        }
        fst_sleep_ms(nap);
        if (nap < 50)
            nap *= 2;
    }
}

/* Waits for the daemon to exit by itself until the deadline. */
static int fst_reap(struct fst_mount *m, uint64_t deadline, int *st)
{
    for (;;) {
        pid_t w = waitpid(m->pid, st, WNOHANG);
        if (w == m->pid)
            return 0;
        if (w < 0 && errno != EINTR)
            return -errno;
        if (fst_now_ms() >= deadline)
            return -ETIMEDOUT;
        fst_sleep_ms(5);
    }
}

int fst_mount_stop(struct fst_mount *m)
{
    m->why[0] = '\0';
    if (!m->pid) {
        m->live = 0;
        return fst_unmount_path(m->mnt, 1);
    }
    uint64_t deadline = fst_now_ms() + m->timeout_ms;
    int rc;
    /* EBUSY while something (an fd, a cwd) still holds the mount. */
    while ((rc = fst_unmount_path(m->mnt, 0)) != 0 && fst_now_ms() < deadline)
        fst_sleep_ms(20);
    if (rc != 0) {
        snprintf(m->why, sizeof m->why, "unmount of %s failed: %s; detached lazily",
                 m->mnt, strerror(-rc));
        fst_unmount_path(m->mnt, 1);
    }
    m->live = 0;
    int st = 0;
    int r = fst_reap(m, deadline + 1000, &st);
    if (r == -ETIMEDOUT) {
        kill(m->pid, SIGKILL);
        while (waitpid(m->pid, &st, 0) < 0 && errno == EINTR)
            ;
        m->pid = 0;
        m->last_status = st;
        snprintf(m->why, sizeof m->why, "fadefs did not exit within %u ms of the unmount; killed",
                 m->timeout_ms);
        return -ETIMEDOUT;
    }
    m->pid = 0;
    m->last_status = st;
    if (r != 0)
        return r;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        if (WIFEXITED(st))
            snprintf(m->why, sizeof m->why, "fadefs exited with %d after the unmount (log: %s)",
                     WEXITSTATUS(st), m->log);
        else
            snprintf(m->why, sizeof m->why, "fadefs died of signal %d after the unmount (log: %s)",
                     WTERMSIG(st), m->log);
        return -ECHILD;
    }
    return rc;
}

int fst_mount_restart(struct fst_mount *m, const char *const *extra)
{
    int rc = fst_mount_stop(m);
    if (rc)
        return rc;
    return fst_mount_start(m, extra);
}

int fst_mount_signal(struct fst_mount *m, int sig)
{
    m->why[0] = '\0';
    if (!m->pid)
        return -ESRCH;
    if (kill(m->pid, sig) != 0)
        return -errno;
    int st = 0;
    int r = fst_reap(m, fst_now_ms() + m->timeout_ms, &st);
    if (r == -ETIMEDOUT) {
        snprintf(m->why, sizeof m->why, "fadefs still runs %u ms after signal %d", m->timeout_ms, sig);
        fst_mount_kill(m);
        return -ETIMEDOUT;
    }
    m->pid = 0;
    m->live = 0;
    m->last_status = st;
    if (r != 0)
        return r;
    if (fst_is_fuse_mounted(m->mnt)) {
        snprintf(m->why, sizeof m->why, "fadefs exited on signal %d but left %s mounted", sig, m->mnt);
        fst_unmount_path(m->mnt, 1);
        return -EBUSY;
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        snprintf(m->why, sizeof m->why, "fadefs ended with status 0x%x on signal %d", st, sig);
        return -ECHILD;
    }
    return 0;
}

int fst_mount_kill(struct fst_mount *m)
{
    if (m->pid) {
        kill(m->pid, SIGKILL);
        int st = 0;
        while (waitpid(m->pid, &st, 0) < 0 && errno == EINTR)
            ;
        m->last_status = st;
        m->pid = 0;
    }
    m->live = 0;
    return fst_unmount_path(m->mnt, 1);
}

void fst_mount_fini(struct fst_mount *m)
{
    if (!m->dir[0])
        return;
    if (m->pid && fst_mount_stop(m) != 0)
        fst_mount_kill(m);
    fst_unmount_path(m->mnt, 1);
    /* Mounts a crashed tool left below (their daemons died with it), and a
     * test's own mount of the store (a small tmpfs); EINVAL if none. */
    fst_unmount_under(m->dir);
    umount2(m->store, MNT_DETACH);
    const char *keep = getenv("FST_KEEP");
    if (!keep || !*keep)
        fst_rm_rf(m->dir);
    m->dir[0] = '\0';
}

int fst_path(const struct fst_mount *m, const char *rel, char *out, size_t cap)
{
    return fst_snprintf(out, cap, "%s/%s", m->mnt, rel);
}

void fst_mount_dump_log(const struct fst_mount *m, const char *title)
{
    char *txt = NULL;
    size_t len = 0;
    if (fst_read_text(m->log, &txt, &len) != 0)
        return;
    size_t from = len > 4000 ? len - 4000 : 0;
    fprintf(stderr, "---- %s: fadefs log (%s), last %zu bytes ----\n%s\n----\n",
            title ? title : "", m->log, len - from, txt + from);
    free(txt);
}
