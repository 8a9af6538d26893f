/* mount.h — helpers that run the fadefs daemon on a real mount for the
 * filesystem tests and tools: temporary store/mount folders, start, wait
 * until live, unmount, kill -9, clean up; and where the build and the
 * corpus are.
 *
 * This file is linked into every test binary (codec ones too) and into the
 * tools, so it depends on libc only: no criterion, no FUSE, no SQLite.
 * Every function returns 0 or a negative errno unless it says otherwise.
 * The daemon inherits nothing but its argv: stdin is /dev/null and its
 * stdout/stderr go to a log file in the temporary folder (m->log), which a
 * caller may print when something fails.
 */
#ifndef FADEFS_TESTS_MOUNT_H
#define FADEFS_TESTS_MOUNT_H

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#define FST_FUSE_SUPER_MAGIC 0x65735546

/* Returned by fst_mount_start when this machine cannot mount at all (no
 * fadefs binary, no /dev/fuse, or the placeholder daemon): tests skip.
 * Any other failure is a real failure. */
#define FST_ENOMOUNT (-ENOSYS)

struct fst_mount {
    char  dir[PATH_MAX];    /* the temporary folder holding everything */
    char  store[PATH_MAX];  /* dir/store: the backing store */
    char  mnt[PATH_MAX];    /* dir/mnt: the mount point */
    char  log[PATH_MAX];    /* dir/fadefs.log: the daemon's stdout+stderr */
    char  bin[PATH_MAX];    /* the fadefs binary */
    char  why[3 * PATH_MAX]; /* last failure, one line */
    pid_t pid;              /* daemon pid while it runs, else 0 */
    int   live;             /* 1 while mounted */
    int   last_status;      /* wait status of the last reaped daemon */
    unsigned timeout_ms;    /* how long to wait for mount/unmount (default 20 s) */
};

/* ---- locations ---- */
/* The build folder: dirname of $FADEFS_BIN if set, else the part of
 * /proc/self/exe before "/tests/" or "/tools/", else $BUILD, else "build". */
int fst_build_dir(char *out, size_t cap);
/* The fadefs binary: $FADEFS_BIN, else <build>/fadefs. */
int fst_fadefs_path(char *out, size_t cap);
/* A tool binary: <build>/tools/<name>. */
int fst_tool_path(const char *name, char *out, size_t cap);
/* The repository root: the parent of the build folder if it holds a
 * Makefile, else the first folder above the cwd that holds Makefile+fs/. */
int fst_repo_root(char *out, size_t cap);
/* The corpus: $FADE_CORPUS, else <root>/../shared/corpus.  -ENOENT if
 * neither is a folder. */
int fst_corpus_dir(char *out, size_t cap);

/* ---- small utilities ---- */
/* mkdtemp under $TMPDIR (or /tmp) named fst-<tag>-XXXXXX. */
int fst_mkdtemp(const char *tag, char *out, size_t cap);
/* Removes a tree without crossing into other mounts (a live or dead mount
 * below is left alone and makes this return -EBUSY). */
int fst_rm_rf(const char *path);
/* 1 if path is the root of a FUSE mount listed in /proc/self/mountinfo,
 * 0 if not; never touches the mount itself, so a hung daemon cannot hang
 * the caller. */
int fst_is_fuse_mounted(const char *path);
/* Detaches whatever is mounted on path (fusermount3 -u [-z], then
 * umount2).  lazy=1 also works on a dead mount. */
int fst_unmount_path(const char *path, int lazy);
/* Closes this process's descriptors that point below path (an aborted
 * test leaves them open, and they would keep the daemon alive after the
 * unmount).  Returns how many were closed. */
int fst_close_fds_under(const char *path);
/* Lazily detaches every FUSE mount strictly below dir. */
int fst_unmount_under(const char *dir);
/* 1 if FUSE can be used here (/dev/fuse opens read-write), else 0 with a
 * reason in why. */
int fst_fuse_usable(char *why, size_t cap);
/* Runs argv (argv[0] a path) to completion with stdout+stderr captured in
 * out (NUL-terminated, truncated to cap-1).  *status gets the wait status.
 * After timeout_ms the child is killed and -ETIMEDOUT returned. */
int fst_run_capture(char *const argv[], unsigned timeout_ms, char *out,
                    size_t cap, int *status);
/* Reads a whole small file into a malloc'd NUL-terminated buffer. */
int fst_read_text(const char *path, char **out, size_t *len);

/* ---- a mount ---- */
/* Makes the temporary folder with store/ and mnt/ and finds the binary
 * ($FADEFS_BIN or <build>/fadefs).  Nothing runs yet. */
int  fst_mount_init(struct fst_mount *m, const char *tag);
/* Copies the fadefs binary into the temporary folder and uses the copy,
 * so that a long run is not disturbed by a rebuild of the binary. */
int  fst_mount_pin_binary(struct fst_mount *m);
/* Starts `fadefs -f [extra args] store mnt` and waits until mnt is a live
 * FUSE mount.  extra is NULL or a NULL-terminated argv fragment such as
 * {"-o", "x=y", NULL}.  Returns FST_ENOMOUNT when this machine cannot
 * mount (see above), -ECHILD if the daemon exited first, -ETIMEDOUT if the
 * mount never appeared; m->why says more. */
int  fst_mount_start(struct fst_mount *m, const char *const *extra);
/* Unmounts (fusermount3 -u, retrying while busy) and reaps the daemon.
 * Returns 0 only if the daemon then exited with status 0; -ECHILD if it
 * exited otherwise (crash, sanitizer report), -ETIMEDOUT if it had to be
 * killed. */
int  fst_mount_stop(struct fst_mount *m);
/* fst_mount_stop then fst_mount_start with the same store. */
int  fst_mount_restart(struct fst_mount *m, const char *const *extra);
/* Sends sig to the daemon and waits for it to exit by itself (SIGTERM and
 * SIGINT must unmount cleanly).  Returns 0 if it exited with status 0 and
 * left no mount behind; -ETIMEDOUT (then killed), -ECHILD or -EBUSY. */
int  fst_mount_signal(struct fst_mount *m, int sig);
/* SIGKILLs the daemon, reaps it and lazily detaches the dead mount. */
int  fst_mount_kill(struct fst_mount *m);
/* Stops whatever still runs (kill if unmount fails) and, unless
 * $FST_KEEP is set, removes the temporary folder. */
void fst_mount_fini(struct fst_mount *m);
/* Joins m->mnt and rel into out. */
int  fst_path(const struct fst_mount *m, const char *rel, char *out, size_t cap);
/* Prints the daemon log (last bytes) to stderr, prefixed by a title. */
void fst_mount_dump_log(const struct fst_mount *m, const char *title);

#endif
