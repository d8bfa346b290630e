/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* test_util.c - unit tests for egide_rc and egide_util. */
#include "egide/base/egide_rc.h"
#include "egide/base/egide_util.h"
#include "egide_test.h"

#include <dirent.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_rc_strings(void)
{
    CHECK_STREQ(egide_strerror(EGIDE_OK), "success");
    CHECK_STREQ(egide_rc_name(EGIDE_ERR_PROTO), "EGIDE_ERR_PROTO");
    CHECK_STREQ(egide_strerror((egide_rc)9999), "unknown error");
    CHECK_STREQ(egide_strerror((egide_rc)-1), "unknown error");
    for (int i = 0; i < EGIDE_RC__COUNT; i++) {
        CHECK(strcmp(egide_strerror((egide_rc)i), "unknown error") != 0);
        CHECK(strncmp(egide_rc_name((egide_rc)i), "EGIDE_", 6) == 0);
    }
}

static void test_hex(void)
{
    uint8_t in[] = {0x00, 0x01, 0xab, 0xff};
    char hex[9];
    egide_hex_encode(in, sizeof in, hex);
    CHECK_STREQ(hex, "0001abff");
    uint8_t out[4];
    CHECK_RC(egide_hex_decode("0001ABff", out, 4), EGIDE_OK);
    CHECK(memcmp(in, out, 4) == 0);
    CHECK_RC(egide_hex_decode("0001abf", out, 4), EGIDE_ERR_PROTO);
    CHECK_RC(egide_hex_decode("0001abfg", out, 4), EGIDE_ERR_PROTO);
    uint8_t *dyn;
    size_t dn;
    CHECK_RC(egide_hex_decode_alloc("abc", &dyn, &dn, 10), EGIDE_ERR_PROTO);
    CHECK_RC(egide_hex_decode_alloc("abcd", &dyn, &dn, 1), EGIDE_ERR_LIMIT);
    CHECK_RC(egide_hex_decode_alloc("abcd", &dyn, &dn, 2), EGIDE_OK);
    CHECK(dn == 2 && dyn[0] == 0xab && dyn[1] == 0xcd);
    free(dyn);
}

static void test_base64(void)
{
    /* RFC 4648 section 10 vectors. */
    const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char *e = egide_base64_encode((const uint8_t *)plain[i], strlen(plain[i]));
        CHECK_STREQ(e, enc[i]);
        free(e);
        uint8_t *d;
        size_t dl;
        CHECK_RC(egide_base64_decode(enc[i], strlen(enc[i]), &d, &dl, 100), EGIDE_OK);
        CHECK(dl == strlen(plain[i]) && memcmp(d, plain[i], dl) == 0);
        free(d);
    }
    uint8_t *d;
    size_t dl;
    CHECK_RC(egide_base64_decode("Zm9", 3, &d, &dl, 100), EGIDE_ERR_PROTO);
    CHECK_RC(egide_base64_decode("Zm9*", 4, &d, &dl, 100), EGIDE_ERR_PROTO);
    CHECK_RC(egide_base64_decode("Z===", 4, &d, &dl, 100), EGIDE_ERR_PROTO);
    CHECK_RC(egide_base64_decode("Zh==", 4, &d, &dl, 100), EGIDE_ERR_PROTO); /* non-canonical */
    CHECK_RC(egide_base64_decode("Zg==Zg==", 8, &d, &dl, 100), EGIDE_ERR_PROTO);
    CHECK_RC(egide_base64_decode("Zm9vYmFy", 8, &d, &dl, 5), EGIDE_ERR_LIMIT);
}

static void test_strings(void)
{
    char small[4];
    CHECK_RC(egide_strlcpy(small, "abc", sizeof small), EGIDE_OK);
    CHECK_STREQ(small, "abc");
    CHECK_RC(egide_strlcpy(small, "abcd", sizeof small), EGIDE_ERR_LIMIT);
    CHECK_STREQ(small, "abc");
    CHECK_RC(egide_snprintf(small, sizeof small, "%d", 12345), EGIDE_ERR_LIMIT);
    CHECK_RC(egide_snprintf(small, sizeof small, "%d", 123), EGIDE_OK);
    char clean[16];
    CHECK_STREQ(egide_sanitize("a\nb\x1b[c\xc3\xa9", 9, clean, sizeof clean), "a?b?[c??");
    CHECK(egide_ct_equal("abcd", "abcd", 4));
    CHECK(!egide_ct_equal("abcd", "abce", 4));
}

static void test_buf(void)
{
    egide_buf_t b;
    egide_buf_init(&b, 10);
    CHECK_RC(egide_buf_append(&b, "12345", 5), EGIDE_OK);
    CHECK_RC(egide_buf_append(&b, "123456", 6), EGIDE_ERR_LIMIT);
    CHECK(b.len == 5);
    CHECK_RC(egide_buf_append_lp(&b, "x", 1), EGIDE_OK);
    CHECK(b.len == 10 && b.data[8] == 1 && b.data[9] == 'x');
    CHECK_RC(egide_buf_append(&b, "y", 1), EGIDE_ERR_LIMIT);
    egide_buf_free_secret(&b);
    egide_buf_init(&b, 2000);
    CHECK_RC(egide_buf_printf(&b, "%s=%d;", "a", 7), EGIDE_OK);
    CHECK(b.len == 4 && memcmp(b.data, "a=7;", 4) == 0);
    char big[1200];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK_RC(egide_buf_printf(&b, "%s", big), EGIDE_OK); /* longer than the stack buffer */
    CHECK(b.len == 4 + sizeof big - 1 && b.data[b.len - 1] == 'z');
    CHECK_RC(egide_buf_printf(&b, "%s", big), EGIDE_ERR_LIMIT);
    CHECK(b.len == 4 + sizeof big - 1);
    egide_buf_free(&b);
    CHECK(b.data == NULL && b.len == 0);
}

static void test_parse(void)
{
    int64_t v;
    CHECK_RC(egide_parse_int64("42", 0, 100, &v), EGIDE_OK);
    CHECK(v == 42);
    CHECK_RC(egide_parse_int64("101", 0, 100, &v), EGIDE_ERR_LIMIT);
    CHECK_RC(egide_parse_int64("4x", 0, 100, &v), EGIDE_ERR_INVALID);
    CHECK_RC(egide_parse_int64("", 0, 100, &v), EGIDE_ERR_INVALID);
    CHECK_RC(egide_parse_int64(" 4", 0, 100, &v), EGIDE_ERR_INVALID);
    CHECK_RC(egide_parse_int64("99999999999999999999999", 0, 100, &v), EGIDE_ERR_INVALID);
    bool b;
    CHECK_RC(egide_parse_bool("Yes", &b), EGIDE_OK);
    CHECK(b);
    CHECK_RC(egide_parse_bool("off", &b), EGIDE_OK);
    CHECK(!b);
    CHECK_RC(egide_parse_bool("maybe", &b), EGIDE_ERR_INVALID);
}

static void test_files(void)
{
    char dir[] = "/tmp/egide-test-util-XXXXXX";
    REQUIRE(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/secret", dir);
    CHECK_RC(egide_file_write_atomic(path, "s3cret\n", 7, 0600), EGIDE_OK);
    CHECK_RC(egide_file_check_secret(path), EGIDE_OK);
    uint8_t *data;
    size_t len;
    CHECK_RC(egide_secret_read(path, 100, &data, &len), EGIDE_OK);
    CHECK(len == 6 && memcmp(data, "s3cret", 6) == 0);
    egide_free_secret(data, len);
    CHECK_RC(egide_file_read(path, 3, &data, &len), EGIDE_ERR_LIMIT);
    chmod(path, 0640);
    CHECK_RC(egide_file_check_secret(path), EGIDE_ERR_PERM);
    CHECK_RC(egide_secret_read(path, 100, &data, &len), EGIDE_ERR_PERM);
    char missing[300];
    snprintf(missing, sizeof missing, "%s/nope", dir);
    CHECK_RC(egide_file_read(missing, 100, &data, &len), EGIDE_ERR_NOTFOUND);
    CHECK_RC(egide_file_read(dir, 100, &data, &len), EGIDE_ERR_IO);
    unlink(path);
    rmdir(dir);
}

static void test_clock_random(void)
{
    CHECK(egide_now_ms() > 1700000000000LL);
    int64_t a = egide_mono_ms();
    CHECK(egide_mono_ms() >= a);
    uint8_t r1[16] = {0}, r2[16] = {0};
    CHECK_RC(egide_random(r1, 16), EGIDE_OK);
    CHECK_RC(egide_random(r2, 16), EGIDE_OK);
    CHECK(memcmp(r1, r2, 16) != 0);
}

/* Hardening #11: secret files are opened once with O_NOFOLLOW and checked
 * on the descriptor (regular file, our owner, 0600); atomic writes use a
 * random exclusive temporary name and never write through a planted link. */
static void test_secret_files_hardened(void)
{
    char dir[] = "/tmp/egide-test-secret-XXXXXX";
    REQUIRE(mkdtemp(dir) != NULL);
    char key[300], link[300], sub[300], fifo[300];
    snprintf(key, sizeof key, "%s/key", dir);
    snprintf(link, sizeof link, "%s/link", dir);
    snprintf(sub, sizeof sub, "%s/sub", dir);
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    CHECK_RC(egide_file_write_atomic(key, "k3y\n", 4, 0600), EGIDE_OK);
    uint8_t *data = NULL;
    size_t len = 0;
    CHECK_RC(egide_secret_read(key, 100, &data, &len), EGIDE_OK);
    egide_free_secret(data, len);

    /* A symbolic link to a good 0600 file is refused, not followed. */
    REQUIRE(symlink(key, link) == 0);
    CHECK_RC(egide_file_check_secret(link), EGIDE_ERR_PERM);
    CHECK_RC(egide_secret_read(link, 100, &data, &len), EGIDE_ERR_PERM);
    CHECK(data == NULL);
    /* Not a regular file: a directory, a FIFO (which would also block a
     * plain open). */
    REQUIRE(mkdir(sub, 0700) == 0);
    CHECK_RC(egide_file_check_secret(sub), EGIDE_ERR_PERM);
    REQUIRE(mkfifo(fifo, 0600) == 0);
    CHECK_RC(egide_secret_read(fifo, 100, &data, &len), EGIDE_ERR_PERM);
    /* Another owner, even with mode 0600. */
    if (geteuid() == 0) {
        REQUIRE(chown(key, 65534, 65534) == 0);
        CHECK_RC(egide_file_check_secret(key), EGIDE_ERR_PERM);
        CHECK_RC(egide_secret_read(key, 100, &data, &len), EGIDE_ERR_PERM);
        REQUIRE(chown(key, 0, 0) == 0);
        CHECK_RC(egide_file_check_secret(key), EGIDE_OK);
    }
    int fd = -1;
    CHECK_RC(egide_secret_open(key, &fd), EGIDE_OK);
    CHECK(fd >= 0);
    if (fd >= 0)
        close(fd);
    CHECK_RC(egide_secret_open(NULL, &fd), EGIDE_ERR_INVALID);

    /* The temporary name of an atomic write cannot be predicted: a link
     * planted at the old "<path>.tmp.<pid>" name is left alone, and so is
     * its target. */
    char victim[300], planted[320], out[300];
    snprintf(victim, sizeof victim, "%s/victim", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(planted, sizeof planted, "%s.tmp.%ld", out, (long)getpid());
    CHECK_RC(egide_file_write_atomic(victim, "untouched", 9, 0644), EGIDE_OK);
    REQUIRE(symlink(victim, planted) == 0);
    CHECK_RC(egide_file_write_atomic(out, "new", 3, 0600), EGIDE_OK);
    CHECK_RC(egide_file_read(victim, 100, &data, &len), EGIDE_OK);
    CHECK(len == 9 && memcmp(data, "untouched", 9) == 0);
    free(data);
    CHECK_RC(egide_file_read(out, 100, &data, &len), EGIDE_OK);
    CHECK(len == 3 && memcmp(data, "new", 3) == 0);
    free(data);
    struct stat st;
    CHECK(stat(out, &st) == 0 && (st.st_mode & 0777) == 0600);
    /* No temporary file is left beside it. */
    DIR *d = opendir(dir);
    int leftovers = 0;
    for (struct dirent *de; d && (de = readdir(d));)
        if (strstr(de->d_name, ".tmp-"))
            leftovers++;
    if (d)
        closedir(d);
    CHECK(leftovers == 0);
    /* A write into a missing directory fails cleanly. */
    char bad[320];
    snprintf(bad, sizeof bad, "%s/none/out", dir);
    CHECK_RC(egide_file_write_atomic(bad, "x", 1, 0600), EGIDE_ERR_IO);
    CHECK_RC(egide_file_write_atomic(NULL, "x", 1, 0600), EGIDE_ERR_INVALID);

    unlink(planted);
    unlink(victim);
    unlink(out);
    unlink(fifo);
    rmdir(sub);
    unlink(link);
    unlink(key);
    rmdir(dir);
}

int main(void)
{
    RUN(test_rc_strings);
    RUN(test_hex);
    RUN(test_base64);
    RUN(test_strings);
    RUN(test_buf);
    RUN(test_parse);
    RUN(test_files);
    RUN(test_secret_files_hardened);
    RUN(test_clock_random);
    EGIDE_TEST_DONE();
}
