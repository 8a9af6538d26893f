/* test_fs_tree.c — the namespace and metadata of a real mount: mkdir/rmdir,
 * readdir under concurrent change, rename in all its forms, hard and
 * symbolic links, attributes, statfs, user xattrs, name limits, odd
 * bytes in names, and kernel-cached attributes that other ops change. */
#include "tests/fs/fs_test.h"

#include <dirent.h>
#include <linux/fs.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <time.h>

TestSuite(fs_tree, .fini = fsT_down, .timeout = 120);

static int fsT_renameat2(const char *a, const char *b, unsigned flags)
{
    return (int)syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, flags);
}

/* Sorted names of a directory (without . and ..) joined by '/'. */
static char *fsT_list(const char *dir, int *count)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "opendir %s: %s", dir, strerror(errno));
    char **names = NULL;
    int n = 0, seen_dot = 0, seen_dotdot = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0) { seen_dot++; continue; }
        if (strcmp(e->d_name, "..") == 0) { seen_dotdot++; continue; }
        names = realloc(names, sizeof *names * (size_t)(n + 1));
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    cr_expect_eq(seen_dot, 1, "%s: '.' listed %d times", dir, seen_dot);
    cr_expect_eq(seen_dotdot, 1, "%s: '..' listed %d times", dir, seen_dotdot);
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *t = names[j]; names[j] = names[j - 1]; names[j - 1] = t;
        }
    size_t len = 1;
    for (int i = 0; i < n; i++)
        len += strlen(names[i]) + 1;
    char *s = calloc(1, len);
    for (int i = 0; i < n; i++) {
        strcat(s, names[i]);
        if (i + 1 < n)
            strcat(s, "/");
        free(names[i]);
    }
    free(names);
    if (count)
        *count = n;
    return s;
}

static void fsT_expect_content(const char *path, const char *want)
{
    size_t len;
    uint8_t *d = fsT_read_file(path, &len);
    cr_assert_eq(len, strlen(want), "%s: %zu bytes, want %zu", path, len, strlen(want));
    cr_assert_eq(memcmp(d, want, len), 0, "%s: wrong content", path);
    free(d);
}

Test(fs_tree, mkdir_rmdir)
{
    fsT_up("mkdir");
    cr_assert_eq(mkdir(fsT_p("d"), 0755), 0, "mkdir: %s", strerror(errno));
    errno = 0;
    cr_assert_eq(mkdir(fsT_p("d"), 0755), -1);
    cr_assert_eq(errno, EEXIST);
    cr_assert_eq(mkdir(fsT_p("d/e"), 0700), 0);
    struct stat st, root0, root1;
    cr_assert_eq(stat(fsT_p("d"), &st), 0);
    cr_assert(S_ISDIR(st.st_mode));
    cr_assert_eq(st.st_nlink, 3, "dir with one subdir has nlink %lu", (unsigned long)st.st_nlink);
    cr_assert_eq(stat(fsT_p("d/e"), &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0700 & ~022);
    fsT_write_file(fsT_p("d/e/f"), "x", 1, 0644);

    errno = 0;
    cr_assert_eq(rmdir(fsT_p("d")), -1);
    cr_assert(errno == ENOTEMPTY || errno == EEXIST, "rmdir non-empty: %s", strerror(errno));
    errno = 0;
    cr_assert_eq(rmdir(fsT_p("d/e/f")), -1);
    cr_assert_eq(errno, ENOTDIR);
    errno = 0;
    cr_assert_eq(unlink(fsT_p("d/e")), -1);
    cr_assert(errno == EISDIR || errno == EPERM, "unlink of a dir: %s", strerror(errno));
    errno = 0;
    cr_assert_eq(mkdir(fsT_p("nope/x"), 0755), -1);
    cr_assert_eq(errno, ENOENT);
    errno = 0;
    cr_assert_eq(mkdir(fsT_p("d/e/f/x"), 0755), -1);
    cr_assert_eq(errno, ENOTDIR);

    cr_assert_eq(stat(fsT_m.mnt, &root0), 0);
    cr_assert_eq(unlink(fsT_p("d/e/f")), 0);
    cr_assert_eq(rmdir(fsT_p("d/e")), 0);
    cr_assert_eq(stat(fsT_p("d"), &st), 0);
    cr_assert_eq(st.st_nlink, 2);
    cr_assert_eq(rmdir(fsT_p("d")), 0);
    errno = 0;
    cr_assert_eq(stat(fsT_p("d"), &st), -1);
    cr_assert_eq(errno, ENOENT);
    cr_assert_eq(stat(fsT_m.mnt, &root1), 0);
    cr_assert_eq(root1.st_nlink, root0.st_nlink - 1);

    /* Many entries in one directory, listed exactly once each. */
    cr_assert_eq(mkdir(fsT_p("many"), 0755), 0);
    for (int i = 0; i < 500; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "many/entry-%04d", i);
        fsT_write_file(fsT_p(rel), rel, strlen(rel), 0644);
    }
    int n;
    char *l = fsT_list(fsT_p("many"), &n);
    cr_assert_eq(n, 500);
    free(l);
    fsT_remount();
    l = fsT_list(fsT_p("many"), &n);
    cr_assert_eq(n, 500, "after remount: %d entries", n);
    free(l);
    fsT_expect_content(fsT_p("many/entry-0123"), "many/entry-0123");
}

Test(fs_tree, readdir_while_changing)
{
    fsT_up("readdir");
    cr_assert_eq(mkdir(fsT_p("d"), 0755), 0);
    /* 300 stable entries, 300 that get removed, new ones created while an
     * opendir stream is being read.  POSIX: stable entries are returned
     * exactly once; changed ones at most once. */
    char rel[64];
    for (int i = 0; i < 300; i++) {
        snprintf(rel, sizeof rel, "d/stable-%03d", i);
        fsT_write_file(fsT_p(rel), "", 0, 0644);
        snprintf(rel, sizeof rel, "d/gone-%03d", i);
        fsT_write_file(fsT_p(rel), "", 0, 0644);
    }
    int seen[300] = { 0 };
    DIR *d = opendir(fsT_p("d"));
    cr_assert_not_null(d);
    struct dirent *e;
    int k = 0, news = 0;
    while ((e = readdir(d))) {
        int idx;
        if (sscanf(e->d_name, "stable-%d", &idx) == 1) {
            cr_assert(idx >= 0 && idx < 300);
            seen[idx]++;
        }
        if (k++ % 7 == 0 && news < 300) {
            snprintf(rel, sizeof rel, "d/new-%03d", news);
            fsT_write_file(fsT_p(rel), "", 0, 0644);
            snprintf(rel, sizeof rel, "d/gone-%03d", news++);
            unlink(fsT_p(rel));
        }
    }
    /* rewinddir restarts and still sees every stable entry. */
    rewinddir(d);
    int again = 0;
    while ((e = readdir(d)))
        again += strncmp(e->d_name, "stable-", 7) == 0;
    closedir(d);
    for (int i = 0; i < 300; i++)
        cr_assert_eq(seen[i], 1, "stable-%03d returned %d times", i, seen[i]);
    cr_assert_eq(again, 300, "after rewinddir: %d stable entries", again);
}

Test(fs_tree, rename_forms)
{
    fsT_up("rename");
    fsT_write_file(fsT_p("a"), "AAAA", 4, 0644);
    fsT_write_file(fsT_p("b"), "BB", 2, 0600);
    struct stat sa, sb, st;
    cr_assert_eq(stat(fsT_p("a"), &sa), 0);

    /* Plain rename over an existing file: target replaced, inode moves. */
    cr_assert_eq(rename(fsT_p("a"), fsT_p("b")), 0, "rename: %s", strerror(errno));
    errno = 0;
    cr_assert_eq(stat(fsT_p("a"), &st), -1);
    cr_assert_eq(errno, ENOENT);
    cr_assert_eq(stat(fsT_p("b"), &sb), 0);
    cr_assert_eq(sb.st_ino, sa.st_ino);
    fsT_expect_content(fsT_p("b"), "AAAA");

    /* RENAME_NOREPLACE. */
    fsT_write_file(fsT_p("c"), "C", 1, 0644);
    errno = 0;
    cr_assert_eq(fsT_renameat2(fsT_p("c"), fsT_p("b"), RENAME_NOREPLACE), -1);
    cr_assert_eq(errno, EEXIST, "RENAME_NOREPLACE over a file: %s", strerror(errno));
    fsT_expect_content(fsT_p("b"), "AAAA");
    cr_assert_eq(fsT_renameat2(fsT_p("c"), fsT_p("c2"), RENAME_NOREPLACE), 0,
                 "RENAME_NOREPLACE to a free name: %s", strerror(errno));

    /* RENAME_EXCHANGE of a file and a directory. */
    cr_assert_eq(mkdir(fsT_p("dir"), 0755), 0);
    fsT_write_file(fsT_p("dir/inner"), "in", 2, 0644);
    cr_assert_eq(fsT_renameat2(fsT_p("c2"), fsT_p("dir"), RENAME_EXCHANGE), 0,
                 "RENAME_EXCHANGE: %s", strerror(errno));
    fsT_expect_content(fsT_p("dir"), "C");
    fsT_expect_content(fsT_p("c2/inner"), "in");
    errno = 0;
    cr_assert_eq(fsT_renameat2(fsT_p("c2"), fsT_p("missing"), RENAME_EXCHANGE), -1);
    cr_assert_eq(errno, ENOENT);

    /* Directories: over an empty dir works, over a non-empty one fails,
     * file<->dir mismatches fail, a dir cannot move into itself. */
    cr_assert_eq(mkdir(fsT_p("empty"), 0755), 0);
    cr_assert_eq(rename(fsT_p("c2"), fsT_p("empty")), 0, "dir over empty dir: %s", strerror(errno));
    fsT_expect_content(fsT_p("empty/inner"), "in");
    cr_assert_eq(mkdir(fsT_p("full"), 0755), 0);
    fsT_write_file(fsT_p("full/x"), "", 0, 0644);
    errno = 0;
    cr_assert_eq(rename(fsT_p("empty"), fsT_p("full")), -1);
    cr_assert(errno == ENOTEMPTY || errno == EEXIST, "dir over non-empty dir: %s", strerror(errno));
    errno = 0;
    cr_assert_eq(rename(fsT_p("b"), fsT_p("full")), -1);
    cr_assert_eq(errno, EISDIR);
    errno = 0;
    cr_assert_eq(rename(fsT_p("full"), fsT_p("b")), -1);
    cr_assert_eq(errno, ENOTDIR);
    errno = 0;
    cr_assert_eq(rename(fsT_p("full"), fsT_p("full/sub")), -1);
    cr_assert_eq(errno, EINVAL);

    /* Across directories, with the moved dir's ".." following. */
    cr_assert_eq(rename(fsT_p("empty"), fsT_p("full/moved")), 0);
    fsT_expect_content(fsT_p("full/moved/inner"), "in");
    struct stat full, dotdot;
    cr_assert_eq(stat(fsT_p("full"), &full), 0);
    cr_assert_eq(stat(fsT_p("full/moved/.."), &dotdot), 0);
    cr_assert_eq(full.st_ino, dotdot.st_ino);
    cr_assert_eq(full.st_nlink, 3);

    /* Renaming onto a hard link of itself is a no-op that keeps both. */
    cr_assert_eq(link(fsT_p("b"), fsT_p("b2")), 0);
    cr_assert_eq(rename(fsT_p("b"), fsT_p("b2")), 0);
    cr_assert_eq(stat(fsT_p("b"), &st), 0);
    cr_assert_eq(stat(fsT_p("b2"), &st), 0);

    fsT_remount();
    char *l = fsT_list(fsT_m.mnt, NULL);
    cr_assert_str_eq(l, "b/b2/dir/full");
    free(l);
    fsT_expect_content(fsT_p("full/moved/inner"), "in");
    fsT_expect_content(fsT_p("dir"), "C");
    fsT_expect_content(fsT_p("b"), "AAAA");
}

Test(fs_tree, hard_links)
{
    fsT_up("links");
    fsT_write_file(fsT_p("f"), "data", 4, 0644);
    cr_assert_eq(mkdir(fsT_p("d"), 0755), 0);
    cr_assert_eq(link(fsT_p("f"), fsT_p("d/g")), 0, "link: %s", strerror(errno));
    struct stat a, b;
    cr_assert_eq(stat(fsT_p("f"), &a), 0);
    cr_assert_eq(stat(fsT_p("d/g"), &b), 0);
    cr_assert_eq(a.st_ino, b.st_ino);
    cr_assert_eq(a.st_nlink, 2);
    /* A write through one name is seen through the other. */
    int fd = open(fsT_p("d/g"), O_WRONLY | O_APPEND);
    cr_assert_eq(write(fd, "more", 4), 4);
    close(fd);
    fsT_expect_content(fsT_p("f"), "datamore");
    errno = 0;
    cr_assert_eq(link(fsT_p("d"), fsT_p("d2")), -1);
    cr_assert_eq(errno, EPERM, "hard link to a dir: %s", strerror(errno));
    errno = 0;
    cr_assert_eq(link(fsT_p("f"), fsT_p("d/g")), -1);
    cr_assert_eq(errno, EEXIST);

    fsT_remount();
    cr_assert_eq(stat(fsT_p("f"), &a), 0);
    cr_assert_eq(stat(fsT_p("d/g"), &b), 0);
    cr_assert_eq(a.st_ino, b.st_ino, "hard link split by remount");
    cr_assert_eq(a.st_nlink, 2);
    cr_assert_eq(unlink(fsT_p("f")), 0);
    cr_assert_eq(stat(fsT_p("d/g"), &b), 0);
    cr_assert_eq(b.st_nlink, 1);
    fsT_expect_content(fsT_p("d/g"), "datamore");
}

/* A link's reply carries attributes the kernel keeps for every name of
 * the file; they must include data still in dirty buffers, and the link's
 * ctime must survive the later commit of those buffers. */
Test(fs_tree, link_of_file_with_dirty_data)
{
    fsT_up("linkdirty");
    int fd = open(fsT_p("f"), O_RDWR | O_CREAT, 0600);
    cr_assert_geq(fd, 0, "create: %s", strerror(errno));
    cr_assert_eq(ftruncate(fd, 166922), 0, "ftruncate: %s", strerror(errno));
    struct stat before;
    cr_assert_eq(fstat(fd, &before), 0);
    /* Past the end and within one block: stays in a dirty buffer. */
    char buf[4096];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (char)(i * 7 + 1);
    off_t at = 468878;
    cr_assert_eq(pwrite(fd, buf, sizeof buf, at), (ssize_t)sizeof buf);
    off_t want = at + (off_t)sizeof buf;
    cr_assert_eq(link(fsT_p("f"), fsT_p("g")), 0, "link: %s", strerror(errno));
    struct stat a, b;
    cr_assert_eq(lstat(fsT_p("f"), &a), 0);
    cr_assert_eq(lstat(fsT_p("g"), &b), 0);
    cr_expect_eq(a.st_size, want, "size through the old name %lld, want %lld",
                 (long long)a.st_size, (long long)want);
    cr_expect_eq(b.st_size, want, "size through the new name %lld, want %lld",
                 (long long)b.st_size, (long long)want);
    cr_expect_eq(b.st_nlink, 2);
    /* Reads end at the kernel's idea of the size: all of it must be there. */
    int rd = open(fsT_p("g"), O_RDONLY);
    cr_assert_geq(rd, 0);
    char got[sizeof buf];
    cr_expect_eq(pread(rd, got, sizeof got, at), (ssize_t)sizeof got);
    cr_expect_eq(memcmp(got, buf, sizeof buf), 0, "data written before the link");
    close(rd);
    struct timespec linked = b.st_ctim;
    cr_assert_eq(close(fd), 0);
    fsT_remount();
    cr_assert_eq(lstat(fsT_p("g"), &b), 0);
    cr_expect_eq(b.st_size, want);
    cr_expect(b.st_ctim.tv_sec > linked.tv_sec ||
              (b.st_ctim.tv_sec == linked.tv_sec && b.st_ctim.tv_nsec >= linked.tv_nsec),
              "ctime went back from %lld.%09ld to %lld.%09ld after the commit",
              (long long)linked.tv_sec, linked.tv_nsec,
              (long long)b.st_ctim.tv_sec, b.st_ctim.tv_nsec);
}

Test(fs_tree, symlinks)
{
    fsT_up("symlink");
    fsT_write_file(fsT_p("target"), "T", 1, 0644);
    cr_assert_eq(symlink("target", fsT_p("rel")), 0, "symlink: %s", strerror(errno));
    cr_assert_eq(symlink("/nonexistent/dangling", fsT_p("dang")), 0);
    char longt[4000];
    memset(longt, 'x', sizeof longt - 1);
    for (size_t i = 100; i < sizeof longt - 1; i += 100)
        longt[i] = '/';
    longt[sizeof longt - 1] = '\0';
    cr_assert_eq(symlink(longt, fsT_p("long")), 0, "long symlink: %s", strerror(errno));
    errno = 0;
    cr_assert_eq(symlink("x", fsT_p("target")), -1);
    cr_assert_eq(errno, EEXIST);

    for (int pass = 0; pass < 2; pass++) {
        struct stat st;
        cr_assert_eq(lstat(fsT_p("rel"), &st), 0);
        cr_assert(S_ISLNK(st.st_mode));
        cr_assert_eq(st.st_size, 6);
        char buf[4096];
        ssize_t n = readlink(fsT_p("rel"), buf, sizeof buf);
        cr_assert_eq(n, 6);
        cr_assert_eq(memcmp(buf, "target", 6), 0);
        fsT_expect_content(fsT_p("rel"), "T");
        n = readlink(fsT_p("long"), buf, sizeof buf);
        cr_assert_eq(n, (ssize_t)strlen(longt));
        cr_assert_eq(memcmp(buf, longt, (size_t)n), 0);
        errno = 0;
        cr_assert_eq(stat(fsT_p("dang"), &st), -1);
        cr_assert_eq(errno, ENOENT);
        cr_assert_eq(lstat(fsT_p("dang"), &st), 0);
        errno = 0;
        cr_assert_eq(readlink(fsT_p("target"), buf, sizeof buf), -1);
        cr_assert_eq(errno, EINVAL);
        if (pass == 0)
            fsT_remount();
    }
    cr_assert_eq(unlink(fsT_p("rel")), 0);
    fsT_expect_content(fsT_p("target"), "T");
}

Test(fs_tree, attributes)
{
    fsT_up("attrs");
    fsT_write_file(fsT_p("f"), "x", 1, 0644);
    cr_assert_eq(chmod(fsT_p("f"), 04751), 0, "chmod: %s", strerror(errno));
    cr_assert_eq(chown(fsT_p("f"), 1234, 5678), 0, "chown: %s", strerror(errno));
    cr_assert_eq(mkdir(fsT_p("d"), 0755), 0);
    cr_assert_eq(chmod(fsT_p("d"), 01777), 0);
    struct timespec ts[2] = { { 1000000000, 123456789 }, { 1500000000, 987654321 } };
    cr_assert_eq(utimensat(AT_FDCWD, fsT_p("f"), ts, 0), 0, "utimensat: %s", strerror(errno));
    struct stat st;
    cr_assert_eq(stat(fsT_p("f"), &st), 0);
    /* chown by root clears set-uid on a regular file in Linux only for
     * non-root callers... the kernel drops it on chown of an executable;
     * record what the mount says and require the remount to keep it. */
    mode_t mode_before = st.st_mode;
    cr_assert_eq(st.st_uid, 1234);
    cr_assert_eq(st.st_gid, 5678);
    cr_assert_eq(st.st_atim.tv_sec, 1000000000);
    cr_assert_eq(st.st_atim.tv_nsec, 123456789);
    cr_assert_eq(st.st_mtim.tv_sec, 1500000000);
    cr_assert_eq(st.st_mtim.tv_nsec, 987654321);
    struct timespec before;
    clock_gettime(CLOCK_REALTIME, &before);
    cr_assert_geq(st.st_ctim.tv_sec, before.tv_sec - 5, "ctime not updated by chmod/chown");

    /* UTIME_OMIT keeps, UTIME_NOW sets to now. */
    struct timespec ts2[2] = { { 0, UTIME_OMIT }, { 0, UTIME_NOW } };
    cr_assert_eq(utimensat(AT_FDCWD, fsT_p("f"), ts2, 0), 0);
    struct stat st2;
    cr_assert_eq(stat(fsT_p("f"), &st2), 0);
    cr_assert_eq(st2.st_atim.tv_sec, 1000000000);
    cr_assert_eq(st2.st_atim.tv_nsec, 123456789);
    cr_assert_geq(st2.st_mtim.tv_sec, before.tv_sec - 1);
    cr_assert_eq(utimensat(AT_FDCWD, fsT_p("f"), ts, 0), 0);

    /* A write updates mtime and ctime. */
    int fd = open(fsT_p("g"), O_WRONLY | O_CREAT, 0600);
    struct timespec old[2] = { { 1000, 0 }, { 1000, 0 } };
    cr_assert_eq(futimens(fd, old), 0);
    cr_assert_eq(write(fd, "abc", 3), 3);
    cr_assert_eq(fsync(fd), 0);
    cr_assert_eq(fstat(fd, &st2), 0);
    close(fd);
    cr_assert_gt(st2.st_mtim.tv_sec, 1000, "write did not update mtime");

    /* Directory mtime follows entry changes. */
    struct timespec dold[2] = { { 2000, 0 }, { 2000, 0 } };
    cr_assert_eq(utimensat(AT_FDCWD, fsT_p("d"), dold, 0), 0);
    fsT_write_file(fsT_p("d/new"), "", 0, 0644);
    cr_assert_eq(stat(fsT_p("d"), &st2), 0);
    cr_assert_gt(st2.st_mtim.tv_sec, 2000, "create did not update the dir mtime");

    fsT_remount();
    cr_assert_eq(stat(fsT_p("f"), &st2), 0);
    cr_assert_eq(st2.st_mode, mode_before, "mode after remount %o, want %o", st2.st_mode, mode_before);
    cr_assert_eq(st2.st_uid, 1234);
    cr_assert_eq(st2.st_gid, 5678);
    cr_assert_eq(st2.st_atim.tv_sec, 1000000000);
    cr_assert_eq(st2.st_atim.tv_nsec, 123456789, "atime ns after remount");
    cr_assert_eq(st2.st_mtim.tv_sec, 1500000000);
    cr_assert_eq(st2.st_mtim.tv_nsec, 987654321, "mtime ns after remount");
    cr_assert_eq(stat(fsT_p("d"), &st2), 0);
    cr_assert_eq(st2.st_mode & 07777, 01777);
}

Test(fs_tree, statfs)
{
    fsT_up("statfs");
    struct statfs sf;
    cr_assert_eq(statfs(fsT_m.mnt, &sf), 0);
    cr_assert_eq((unsigned long)sf.f_type, (unsigned long)FST_FUSE_SUPER_MAGIC);
    cr_assert_gt(sf.f_bsize, 0);
    cr_assert_gt(sf.f_blocks, 0);
    cr_assert_leq(sf.f_bfree, sf.f_blocks);
    cr_assert_leq(sf.f_bavail, sf.f_bfree);
    cr_assert_eq(sf.f_namelen, 255);
    struct statvfs sv;
    cr_assert_eq(statvfs(fsT_m.mnt, &sv), 0);
    cr_assert_eq(sv.f_namemax, 255);
}

Test(fs_tree, user_xattrs)
{
    fsT_up("xattr");
    char *p = fsT_pdup("f");
    fsT_write_file(p, "", 0, 0644);
    cr_assert_eq(setxattr(p, "user.a", "one", 3, 0), 0, "setxattr: %s", strerror(errno));
    uint8_t bin[3000];
    fsT_fill(bin, sizeof bin, 3, 0);
    bin[0] = 0; bin[1000] = 0;
    cr_assert_eq(setxattr(p, "user.bin", bin, sizeof bin, 0), 0);
    cr_assert_eq(setxattr(p, "user.empty", "", 0, 0), 0);
    errno = 0;
    cr_assert_eq(setxattr(p, "user.a", "x", 1, XATTR_CREATE), -1);
    cr_assert_eq(errno, EEXIST);
    errno = 0;
    cr_assert_eq(setxattr(p, "user.none", "x", 1, XATTR_REPLACE), -1);
    cr_assert_eq(errno, ENODATA);
    cr_assert_eq(setxattr(p, "user.a", "three", 5, XATTR_REPLACE), 0);
    cr_assert_eq(mkdir(fsT_p("d"), 0755), 0);
    cr_assert_eq(setxattr(fsT_p("d"), "user.dir", "D", 1, 0), 0);

    for (int pass = 0; pass < 2; pass++) {
        char buf[4096];
        cr_assert_eq(getxattr(p, "user.a", NULL, 0), 5, "size probe");
        cr_assert_eq(getxattr(p, "user.a", buf, sizeof buf), 5);
        cr_assert_eq(memcmp(buf, "three", 5), 0);
        errno = 0;
        cr_assert_eq(getxattr(p, "user.a", buf, 2), -1);
        cr_assert_eq(errno, ERANGE);
        cr_assert_eq(getxattr(p, "user.bin", buf, sizeof buf), (ssize_t)sizeof bin);
        cr_assert_eq(memcmp(buf, bin, sizeof bin), 0, "binary xattr value differs");
        cr_assert_eq(getxattr(p, "user.empty", buf, sizeof buf), 0);
        errno = 0;
        cr_assert_eq(getxattr(p, "user.none", buf, sizeof buf), -1);
        cr_assert_eq(errno, ENODATA);
        ssize_t n = listxattr(p, buf, sizeof buf);
        cr_assert_gt(n, 0);
        int found = 0;
        for (char *q = buf; q < buf + n; q += strlen(q) + 1)
            found += !strcmp(q, "user.a") + !strcmp(q, "user.bin") + !strcmp(q, "user.empty");
        cr_assert_eq(found, 3, "listxattr misses names");
        cr_assert_eq(listxattr(p, NULL, 0), n);
        cr_assert_eq(getxattr(fsT_p("d"), "user.dir", buf, sizeof buf), 1);
        if (pass == 0)
            fsT_remount();
    }
    cr_assert_eq(removexattr(p, "user.a"), 0, "removexattr after remount: %s", strerror(errno));
    errno = 0;
    cr_assert_eq(getxattr(p, "user.a", NULL, 0), -1);
    cr_assert_eq(errno, ENODATA);
    errno = 0;
    cr_assert_eq(removexattr(p, "user.a"), -1);
    cr_assert_eq(errno, ENODATA);
    free(p);
}

Test(fs_tree, name_limits)
{
    fsT_up("names");
    char name[300], rel[320];
    memset(name, 'n', 255);
    name[255] = '\0';
    snprintf(rel, sizeof rel, "%s", name);
    fsT_write_file(fsT_p(rel), "255", 3, 0644);
    cr_assert_eq(mkdir(fsT_p("d"), 0755), 0);
    snprintf(rel, sizeof rel, "d/%s", name);
    cr_assert_eq(mkdir(fsT_p(rel), 0755), 0, "mkdir of a 255-byte name: %s", strerror(errno));

    memset(name, 'm', 256);
    name[256] = '\0';
    errno = 0;
    cr_assert_eq(open(fsT_p(name), O_CREAT | O_WRONLY, 0644), -1);
    cr_assert_eq(errno, ENAMETOOLONG, "256-byte name: %s", strerror(errno));
    errno = 0;
    cr_assert_eq(mkdir(fsT_p(name), 0755), -1);
    cr_assert_eq(errno, ENAMETOOLONG);
    errno = 0;
    cr_assert_eq(symlink("x", fsT_p(name)), -1);
    cr_assert_eq(errno, ENAMETOOLONG);
    errno = 0;
    struct stat st;
    cr_assert_eq(stat(fsT_p(name), &st), -1);
    cr_assert_eq(errno, ENAMETOOLONG, "lookup of a 256-byte name: %s", strerror(errno));
    memset(name, 'n', 255);
    name[255] = '\0';
    char to[300];
    memset(to, 'r', 256);
    to[256] = '\0';
    errno = 0;
    cr_assert_eq(rename(fsT_p(name), fsT_p(to)), -1);
    cr_assert_eq(errno, ENAMETOOLONG);

    fsT_remount();
    fsT_expect_content(fsT_p(name), "255");
    snprintf(rel, sizeof rel, "d/%s", name);
    cr_assert_eq(stat(fsT_p(rel), &st), 0);
    cr_assert(S_ISDIR(st.st_mode));
}

Test(fs_tree, odd_bytes_in_names)
{
    fsT_up("oddnames");
    static const char *const names[] = {
        " lead space", "trail space ", "new\nline", "tab\there", "back\\slash",
        "quote\"'`", "-dash", "...", "..x", ".hidden", "\x01\x02\x7f",
        "\xff\xfe invalid utf8 \xc3", "utf8 \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
        "semi;colon|pipe&amp*star?q[br]", "%s%n%x", "UPPER", "upper",
    };
    const int n = (int)(sizeof names / sizeof names[0]);
    for (int i = 0; i < n; i++) {
        fsT_write_file(fsT_p(names[i]), names[i], strlen(names[i]), 0644);
    }
    for (int pass = 0; pass < 2; pass++) {
        int count;
        char *l = fsT_list(fsT_m.mnt, &count);
        free(l);
        cr_assert_eq(count, n, "pass %d: %d entries, want %d", pass, count, n);
        DIR *d = opendir(fsT_m.mnt);
        struct dirent *e;
        int found[32] = { 0 };
        while ((e = readdir(d)))
            for (int i = 0; i < n; i++)
                if (strcmp(e->d_name, names[i]) == 0)
                    found[i]++;
        closedir(d);
        for (int i = 0; i < n; i++) {
            cr_assert_eq(found[i], 1, "name %d listed %d times (pass %d)", i, found[i], pass);
            fsT_expect_content(fsT_p(names[i]), names[i]);
        }
        if (pass == 0)
            fsT_remount();
    }
}

static int ts_after(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec > b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec > b->tv_nsec);
}

static void tick(void)
{
    struct timespec d = { 0, 20 * 1000 * 1000 };
    nanosleep(&d, NULL);
}

/* The kernel keeps names and attributes for an hour: every attribute that
 * an op changes on an inode other than the one it replies about must
 * still be fresh at the next stat (the kernel drops its copy itself). */
Test(fs_tree, cached_attributes_follow_indirect_changes)
{
    fsT_up("cache");
    struct stat a, b;
    cr_assert_eq(mkdir(fsT_p("d"), 0755), 0);
    cr_assert_eq(mkdir(fsT_p("e"), 0755), 0);
    fsT_write_file(fsT_p("f"), "data", 4, 0644);
    cr_assert_eq(link(fsT_p("f"), fsT_p("d/g")), 0);

    /* unlink of another name: nlink and ctime of the inode. */
    cr_assert_eq(stat(fsT_p("f"), &a), 0);
    cr_assert_eq(a.st_nlink, 2);
    tick();
    cr_assert_eq(unlink(fsT_p("d/g")), 0);
    cr_assert_eq(stat(fsT_p("f"), &b), 0);
    cr_assert_eq(b.st_nlink, 1, "nlink after unlinking the other name");
    cr_assert(ts_after(&b.st_ctim, &a.st_ctim), "ctime after unlink of a link");

    /* rename over a name: the victim's other name sees nlink drop. */
    cr_assert_eq(link(fsT_p("f"), fsT_p("e/h")), 0);
    fsT_write_file(fsT_p("x"), "new", 3, 0644);
    cr_assert_eq(stat(fsT_p("e/h"), &a), 0);
    cr_assert_eq(a.st_nlink, 2);
    tick();
    cr_assert_eq(rename(fsT_p("x"), fsT_p("f")), 0);
    cr_assert_eq(stat(fsT_p("e/h"), &b), 0);
    cr_assert_eq(b.st_nlink, 1, "nlink of a renamed-over inode");
    cr_assert(ts_after(&b.st_ctim, &a.st_ctim));
    fsT_expect_content(fsT_p("f"), "new");

    /* Directory link counts and times across mkdir and a cross-dir rename. */
    cr_assert_eq(stat(fsT_p("d"), &a), 0);
    cr_assert_eq(a.st_nlink, 2);
    tick();
    cr_assert_eq(mkdir(fsT_p("d/s"), 0755), 0);
    cr_assert_eq(stat(fsT_p("d"), &b), 0);
    cr_assert_eq(b.st_nlink, 3);
    cr_assert(ts_after(&b.st_mtim, &a.st_mtim));
    cr_assert_eq(stat(fsT_p("d/s"), &a), 0);
    tick();
    cr_assert_eq(rename(fsT_p("d/s"), fsT_p("e/s")), 0);
    cr_assert_eq(stat(fsT_p("d"), &b), 0);
    cr_assert_eq(b.st_nlink, 2);
    cr_assert_eq(stat(fsT_p("e"), &b), 0);
    cr_assert_eq(b.st_nlink, 3);
    cr_assert_eq(stat(fsT_p("e/s"), &b), 0);
    cr_assert(ts_after(&b.st_ctim, &a.st_ctim), "ctime of a moved directory");

    /* Set-group-ID directory: new entries take its group (and subdirs the bit). */
    cr_assert_eq(chown(fsT_p("d"), 0, 4321), 0);
    cr_assert_eq(chmod(fsT_p("d"), 02775), 0);
    cr_assert_eq(stat(fsT_p("d"), &a), 0);
    cr_assert_eq(a.st_mode & 07777, 02775);
    fsT_write_file(fsT_p("d/n"), "", 0, 0644);
    cr_assert_eq(mkdir(fsT_p("d/m"), 0755), 0);
    cr_assert_eq(stat(fsT_p("d/n"), &b), 0);
    cr_assert_eq(b.st_gid, 4321);
    cr_assert_eq(stat(fsT_p("d/m"), &b), 0);
    cr_assert_eq(b.st_gid, 4321);
    cr_assert(b.st_mode & S_ISGID);

    /* truncate(2) by name while a descriptor's attributes are cached. */
    int fd = open(fsT_p("f"), O_RDWR);
    cr_assert_geq(fd, 0);
    cr_assert_eq(fstat(fd, &a), 0);
    cr_assert_eq(a.st_size, 3);
    tick();
    cr_assert_eq(truncate(fsT_p("f"), 1000), 0);
    cr_assert_eq(fstat(fd, &b), 0);
    cr_assert_eq(b.st_size, 1000);
    cr_assert(ts_after(&b.st_mtim, &a.st_mtim));

    /* An xattr change moves ctime. */
    cr_assert_eq(fstat(fd, &a), 0);
    tick();
    cr_assert_eq(fsetxattr(fd, "user.k", "v", 1, 0), 0);
    cr_assert_eq(fstat(fd, &b), 0);
    cr_assert(ts_after(&b.st_ctim, &a.st_ctim), "ctime after setxattr");
    close(fd);

    /* A cached absence ends when the name appears by rename or link. */
    errno = 0;
    cr_assert_eq(stat(fsT_p("nope"), &a), -1);
    cr_assert_eq(errno, ENOENT);
    cr_assert_eq(rename(fsT_p("e/h"), fsT_p("nope")), 0);
    cr_assert_eq(stat(fsT_p("nope"), &a), 0);
    errno = 0;
    cr_assert_eq(stat(fsT_p("e/h"), &a), -1);
    cr_assert_eq(errno, ENOENT);
    cr_assert_eq(link(fsT_p("nope"), fsT_p("e/h")), 0);
    cr_assert_eq(stat(fsT_p("e/h"), &b), 0);
    cr_assert_eq(b.st_nlink, 2);
}

/* st_blocks of a file with dirty blocks counts them whole, and changes
 * when they are committed, with no op to tell the kernel: such attributes
 * are kept only briefly, so a later stat does not show the dirty figure
 * for as long as other attributes are kept. */
Test(fs_tree, st_blocks_settles_after_commit)
{
    fsT_up("blocks");
    int fd = open(fsT_p("small"), O_RDWR | O_CREAT, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "0123456789", 10), 10);
    struct stat st;
    cr_assert_eq(fstat(fd, &st), 0);
    cr_assert_eq(st.st_size, 10);
    long long dirty = (long long)st.st_blocks;
    cr_assert_gt(dirty, 0);
    cr_assert_eq(close(fd), 0);
    long long now = dirty;
    for (int i = 0; i < 100 && now >= 64; i++) {
        struct timespec d = { 0, 100 * 1000 * 1000 };
        nanosleep(&d, NULL);
        cr_assert_eq(stat(fsT_p("small"), &st), 0);
        now = (long long)st.st_blocks;
    }
    cr_assert_lt(now, 64, "st_blocks still %lld (%lld while dirty) 10 s after close",
                 now, dirty);
    cr_assert_gt(now, 0);
}
