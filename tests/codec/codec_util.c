/* codec_util.c — test helpers: corpus lookup, random bytes, temp dirs. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tests/codec/codec_util.h"

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *tu_corpus_dir(char *buf, size_t cap)
{
    const char *env = getenv("FADE_CORPUS");
    if (env && is_dir(env)) {
        snprintf(buf, cap, "%s", env);
        return buf;
    }
    if (is_dir("../shared/corpus")) {
        snprintf(buf, cap, "../shared/corpus");
        return buf;
    }
    /* From the binary: <root>/build/tests/codec/test_x, up to <root>, then ../shared/corpus. */
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        for (int up = 0; up < 6; up++) {
            char *sl = strrchr(exe, '/');
            if (!sl)
                break;
            *sl = 0;
            snprintf(buf, cap, "%s/../shared/corpus", exe);
            if (is_dir(buf))
                return buf;
        }
    }
    return NULL;
}

uint8_t *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    uint8_t *b = malloc(cap);
    while (b) {
        size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (n < cap)
            break;
        uint8_t *nb = realloc(b, cap * 2);
        if (!nb) {
            free(b);
            b = NULL;
            break;
        }
        b = nb;
        cap *= 2;
    }
    if (b && ferror(f)) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b)
        *len = n;
    return b;
}

uint8_t *tu_corpus_slice(const char *name, size_t off, size_t len, size_t *got)
{
    char dir[4096], path[4400];
    if (!tu_corpus_dir(dir, sizeof dir))
        return NULL;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *b = malloc(len ? len : 1);
    if (!b || fseek(f, (long)off, SEEK_SET) != 0) {
        free(b);
        fclose(f);
        return NULL;
    }
    *got = fread(b, 1, len, f);
    fclose(f);
    return b;
}

uint64_t tu_rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

void tu_fill_random(uint8_t *buf, size_t len, uint64_t seed)
{
    uint64_t s = seed ? seed : 1;
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(tu_rnd(&s) >> 56);
}

int tu_mkdtemp(char *buf, size_t cap)
{
    const char *t = getenv("TMPDIR");
    snprintf(buf, cap, "%s/fadetest.XXXXXX", t && *t ? t : "/tmp");
    return mkdtemp(buf) ? 0 : -1;
}

void tu_rmdir_r(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char p[4400];
            snprintf(p, sizeof p, "%s/%s", path, e->d_name);
            struct stat st;
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
                tu_rmdir_r(p);
            else
                unlink(p);
        }
        closedir(d);
    }
    rmdir(path);
}

const char *tu_repo_path(const char *rel, char *buf, size_t cap)
{
    struct stat st;
    if (stat(rel, &st) == 0) {
        snprintf(buf, cap, "%s", rel);
        return buf;
    }
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return NULL;
    exe[n] = 0;
    for (int up = 0; up < 6; up++) {
        char *sl = strrchr(exe, '/');
        if (!sl)
            break;
        *sl = 0;
        snprintf(buf, cap, "%s/%s", exe, rel);
        if (stat(buf, &st) == 0)
            return buf;
    }
    return NULL;
}

uint64_t tu_fnv1a64(const uint8_t *b, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}
