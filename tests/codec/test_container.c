/* test_container.c — the container format: round trips through pipes and
 * files, random access through the index, identical output for any thread
 * count, and the right error for foreign, truncated and damaged files. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "codec/bytes.h"
#include "codec/container.h"
#include "codec/fade.h"
#include "tests/codec/codec_util.h"

static char dir[4096];

static void mkdir_setup(void)
{
    cr_assert_eq(tu_mkdtemp(dir, sizeof dir), 0);
}

static void mkdir_teardown(void)
{
    tu_rmdir_r(dir);
}

static void put_file(const char *name, const void *data, size_t len)
{
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    cr_assert(f);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

static uint8_t *get_file(const char *name, size_t *len)
{
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    uint8_t *b = tu_read_file(p, len);
    cr_assert(b, "read %s", p);
    return b;
}

static int open_in(const char *name)
{
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    int fd = open(p, O_RDONLY);
    cr_assert_geq(fd, 0);
    return fd;
}

static int open_out(const char *name)
{
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0);
    return fd;
}

static int encode_file(const char *in, const char *out, const struct fc_opts *o, struct fc_stats *st)
{
    int a = open_in(in), b = open_out(out);
    int rc = fc_encode_fd(a, b, o, st);
    close(a);
    close(b);
    return rc;
}

static int decode_file(const char *in, const char *out, const struct fc_opts *o, struct fc_stats *st)
{
    int a = open_in(in), b = open_out(out);
    int rc = fc_decode_fd(a, b, o, st);
    close(a);
    close(b);
    return rc;
}

/* Test input: text-like bytes with some structure, n bytes. */
static uint8_t *sample(size_t n, uint64_t seed)
{
    uint8_t *b = malloc(n ? n : 1);
    uint64_t s = seed;
    static const char *words[] = {"alpha ", "beta ", "gamma ", "delta\n", "eps ", "zeta, "};
    size_t i = 0;
    while (i < n) {
        const char *w = words[tu_rnd(&s) % 6];
        for (size_t k = 0; w[k] && i < n; k++)
            b[i++] = (uint8_t)w[k];
    }
    return b;
}

static void roundtrip(size_t n, uint32_t bs, uint32_t threads, int raw_only)
{
    uint8_t *src = sample(n, n + bs);
    put_file("in", src, n);
    struct fc_opts o = {.preset = "tiny", .block_size = bs, .n_threads = threads,
                        .raw_only = raw_only};
    struct fc_stats st;
    cr_assert_eq(encode_file("in", "c", &o, &st), 0);
    cr_assert_eq(st.in_bytes, n);
    cr_assert_eq(st.n_blocks, (n + bs - 1) / bs);
    size_t clen;
    uint8_t *c = get_file("c", &clen);
    cr_assert_eq(st.out_bytes, clen);
    /* The header carries the total once the output could seek back. */
    cr_assert_eq(ld_le64(c + 20), n);
    cr_assert_eq(decode_file("c", "d", &o, &st), 0, "decode");
    size_t dlen;
    uint8_t *d = get_file("d", &dlen);
    cr_assert_eq(dlen, n);
    cr_assert(n == 0 || memcmp(d, src, n) == 0);

    /* Random access: every block through the index. */
    int fd = open_in("c");
    struct fc_reader *r;
    cr_assert_eq(fc_reader_open(&r, fd), 0);
    cr_assert_eq(fc_reader_n_blocks(r), (n + bs - 1) / bs);
    cr_assert_eq(fc_reader_raw_len(r), n);
    fade_ctx *ctx;
    struct fade_ctx_params p = {.preset = "tiny"};
    cr_assert_eq(fade_ctx_create(&ctx, &p), 0);
    uint8_t *blk = malloc(bs);
    for (uint64_t i = fc_reader_n_blocks(r); i-- > 0;) {
        ssize_t got = fc_reader_block(r, ctx, i, blk, bs);
        size_t want = i + 1 < fc_reader_n_blocks(r) ? bs : n - i * bs;
        cr_assert_eq(got, (ssize_t)want, "block %lu: %zd", (unsigned long)i, got);
        cr_assert(memcmp(blk, src + i * bs, want) == 0);
    }
    cr_assert_eq(fc_reader_block(r, ctx, fc_reader_n_blocks(r), blk, bs), FADE_E_INVAL);
    free(blk);
    fade_ctx_free(ctx);
    fc_reader_free(r);
    close(fd);
    free(src);
    free(c);
    free(d);
}

TestSuite(container, .init = mkdir_setup, .fini = mkdir_teardown);

Test(container, empty_input)
{
    roundtrip(0, 1000, 1, 0);
}

Test(container, one_byte_and_exact_multiple)
{
    roundtrip(1, 1000, 1, 0);
    roundtrip(3000, 1000, 1, 0);
}

Test(container, several_blocks_raw_only)
{
    roundtrip(10007, 999, 1, 1);
}

Test(container, several_blocks_fade_threads)
{
    roundtrip(4500, 1000, 3, 0);
}

Test(container, thread_count_does_not_change_output)
{
    uint8_t *src = sample(5000, 3);
    put_file("in", src, 5000);
    struct fc_opts o = {.preset = "tiny", .block_size = 1200, .n_threads = 1};
    cr_assert_eq(encode_file("in", "c1", &o, NULL), 0);
    o.n_threads = 4;    /* 4 blocks at once */
    cr_assert_eq(encode_file("in", "c4", &o, NULL), 0);
    o.n_threads = 2;
    o.block_size = 1200;
    size_t l1, l4;
    uint8_t *c1 = get_file("c1", &l1), *c4 = get_file("c4", &l4);
    cr_assert_eq(l1, l4);
    cr_assert(memcmp(c1, c4, l1) == 0);
    free(c1);
    free(c4);
    free(src);
}

struct pipe_feed {
    int fd;
    const uint8_t *data;
    size_t len;
};

static void *feeder(void *arg)
{
    struct pipe_feed *f = arg;
    size_t done = 0;
    while (done < f->len) {
        ssize_t w = write(f->fd, f->data + done, f->len - done);
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    close(f->fd);
    return NULL;
}

struct drain {
    int fd;
    uint8_t *buf;
    size_t len, cap;
};

static void *drainer(void *arg)
{
    struct drain *d = arg;
    for (;;) {
        if (d->len == d->cap) {
            d->cap = d->cap ? d->cap * 2 : 4096;
            d->buf = realloc(d->buf, d->cap);
        }
        ssize_t r = read(d->fd, d->buf + d->len, d->cap - d->len);
        if (r <= 0)
            break;
        d->len += (size_t)r;
    }
    return NULL;
}

/* Runs fn(in_pipe, out_pipe) with `data` fed in and the output drained. */
static int through_pipes(int (*fn)(int, int, const struct fc_opts *, struct fc_stats *),
                         const struct fc_opts *o, const uint8_t *data, size_t len,
                         struct drain *out)
{
    int pi[2], po[2];
    cr_assert_eq(pipe(pi), 0);
    cr_assert_eq(pipe(po), 0);
    struct pipe_feed f = {pi[1], data, len};
    memset(out, 0, sizeof *out);
    out->fd = po[0];
    pthread_t tf, td;
    pthread_create(&tf, NULL, feeder, &f);
    pthread_create(&td, NULL, drainer, out);
    int rc = fn(pi[0], po[1], o, NULL);
    close(po[1]);
    pthread_join(tf, NULL);
    pthread_join(td, NULL);
    close(pi[0]);
    close(po[0]);
    return rc;
}

Test(container, through_pipes_length_unknown)
{
    enum { N = 3333 };
    uint8_t *src = sample(N, 11);
    struct fc_opts o = {.preset = "tiny", .block_size = 1000};
    struct drain c, d;
    cr_assert_eq(through_pipes(fc_encode_fd, &o, src, N, &c), 0);
    /* Written to a pipe, the header says "unknown"; the trailer knows. */
    cr_assert_eq(ld_le64(c.buf + 20), FC_LEN_UNKNOWN);
    cr_assert_eq(ld_le64(c.buf + c.len - 8 - 4 - 4 * 4 - 8), N);
    cr_assert_eq(through_pipes(fc_decode_fd, &o, c.buf, c.len, &d), 0);
    cr_assert_eq(d.len, N);
    cr_assert(memcmp(d.buf, src, N) == 0);
    free(c.buf);
    free(d.buf);
    free(src);
}

/* Truncating a container anywhere gives an error, never success.  The
 * exhaustive sweep uses raw blocks (framing is what is under test; block
 * damage has its own tests), then a FADE container at a few cuts. */
static void truncations(int raw_only, size_t step)
{
    uint8_t *src = sample(2500, 5);
    put_file("in", src, 2500);
    struct fc_opts o = {.preset = "tiny", .block_size = 1000, .raw_only = raw_only};
    cr_assert_eq(encode_file("in", "c", &o, NULL), 0);
    size_t clen;
    uint8_t *c = get_file("c", &clen);
    for (size_t n = 0; n < clen; n += (n < 64 || clen - n < 64) ? 1 : step) {
        put_file("t", c, n);
        struct fc_stats st;
        int rc = decode_file("t", "d", &o, &st);
        cr_assert_lt(rc, 0, "truncated at %zu of %zu decoded", n, clen);
        if (n == 0)
            cr_assert_eq(rc, FADE_E_NOT_FADE);
        else if (n < 64 || clen - n > 40)
            cr_assert_eq(rc, FADE_E_TRUNCATED, "at %zu: %s", n, fade_strerror(rc));
        int fd = open_in("t");
        struct fc_reader *r = NULL;
        cr_assert_lt(fc_reader_open(&r, fd), 0, "index open at %zu", n);
        close(fd);
    }
    /* Trailing garbage is corrupt too. */
    uint8_t *longer = malloc(clen + 1);
    memcpy(longer, c, clen);
    longer[clen] = '\n';
    put_file("t", longer, clen + 1);
    cr_assert_eq(decode_file("t", "d", &o, NULL), FADE_E_CORRUPT);
    free(longer);
    free(c);
    free(src);
}

Test(container, every_truncation_fails)
{
    truncations(1, 7);
}

Test(container, fade_container_truncations_fail)
{
    truncations(0, 211);
}

Test(container, foreign_files)
{
    static const char *samples[] = {"\x89PNG\r\n\x1a\n rest", "#!/bin/sh\necho hi\n",
                                    ("\xfd" "7zXZ\0\0"), "\xfa\xde\xb1\x0c block not container"};
    for (size_t i = 0; i < 4; i++) {
        put_file("f", samples[i], strlen(samples[i]) + 1);
        struct fc_stats st;
        cr_assert_eq(decode_file("f", "d", NULL, &st), FADE_E_NOT_FADE, "sample %zu", i);
        int fd = open_in("f");
        struct fc_reader *r;
        cr_assert_eq(fc_reader_open(&r, fd), FADE_E_NOT_FADE);
        close(fd);
    }
    put_file("f", "", 0);
    cr_assert_eq(decode_file("f", "d", NULL, NULL), FADE_E_NOT_FADE);
    put_file("f", "\xfa\xde", 2);
    cr_assert_eq(decode_file("f", "d", NULL, NULL), FADE_E_TRUNCATED);
}

Test(container, damaged_bytes_fail_with_block_number)
{
    uint8_t *src = sample(3500, 8);
    put_file("in", src, 3500);
    struct fc_opts o = {.preset = "tiny", .block_size = 1000};
    cr_assert_eq(encode_file("in", "c", &o, NULL), 0);
    size_t clen;
    uint8_t *c = get_file("c", &clen);
    /* Third block (index 2): find its frame by walking the lengths. */
    size_t at = 32;
    for (int i = 0; i < 2; i++)
        at += 4 + ld_le32(c + at);
    c[at + 4 + ld_le32(c + at) - 1] ^= 0x40;    /* last payload byte */
    put_file("t", c, clen);
    struct fc_stats st;
    int rc = decode_file("t", "d", &o, &st);
    cr_assert(rc == FADE_E_CHECKSUM || rc == FADE_E_CORRUPT, "%s", fade_strerror(rc));
    cr_assert_eq(st.err_block, 2);
    int fd = open_in("t");
    struct fc_reader *r;
    cr_assert_eq(fc_reader_open(&r, fd), 0, "index itself is intact");
    fade_ctx *ctx;
    struct fade_ctx_params p = {.preset = "tiny"};
    cr_assert_eq(fade_ctx_create(&ctx, &p), 0);
    uint8_t buf[1000];
    cr_assert_eq(fc_reader_block(r, ctx, 1, buf, sizeof buf), 1000);
    cr_assert_lt(fc_reader_block(r, ctx, 2, buf, sizeof buf), 0);
    fade_ctx_free(ctx);
    fc_reader_free(r);
    close(fd);
    free(c);

    /* Header fields and trailer bytes: flipping any of them fails (raw
     * blocks: only the framing is under test here). */
    o.raw_only = 1;
    cr_assert_eq(encode_file("in", "c", &o, NULL), 0);
    c = get_file("c", &clen);
    for (size_t i = 0; i < 32; i++) {
        c[i] ^= 1;
        put_file("t", c, clen);
        cr_assert_lt(decode_file("t", "d", &o, NULL), 0, "header byte %zu", i);
        c[i] ^= 1;
    }
    for (size_t i = clen - 40; i < clen; i++) {
        c[i] ^= 0x80;
        put_file("t", c, clen);
        cr_assert_lt(decode_file("t", "d", &o, NULL), 0, "trailer byte %zu", i);
        fd = open_in("t");
        r = NULL;
        cr_assert_lt(fc_reader_open(&r, fd), 0, "trailer byte %zu (index)", i);
        close(fd);
        c[i] ^= 0x80;
    }
    /* A newer container version is refused as such. */
    c[4] = 2;
    st_le32(c + 28, fade_crc32c(0, c, 28));
    put_file("t", c, clen);
    cr_assert_eq(decode_file("t", "d", &o, NULL), FADE_E_VERSION);
    free(c);
    free(src);
}

Test(container, append_mode_output_stays_valid)
{
    /* pwrite() on an O_APPEND descriptor appends on Linux: the encoder
     * must not try to patch the header there. */
    uint8_t *src = sample(1500, 21);
    put_file("in", src, 1500);
    char p[4400];
    snprintf(p, sizeof p, "%s/c", dir);
    int out = open(p, O_WRONLY | O_CREAT | O_APPEND, 0644);
    cr_assert_geq(out, 0);
    int in = open_in("in");
    struct fc_opts o = {.preset = "tiny", .block_size = 1000, .raw_only = 1};
    cr_assert_eq(fc_encode_fd(in, out, &o, NULL), 0);
    close(in);
    close(out);
    cr_assert_eq(decode_file("c", "d", &o, NULL), 0);
    size_t n;
    uint8_t *d = get_file("d", &n);
    cr_assert(n == 1500 && memcmp(d, src, n) == 0);
    free(d);
    free(src);
}
