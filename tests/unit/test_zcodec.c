/*
 * test_zcodec.c - compressed attachments in the codec (docs/protocol.md
 * section 3, "Compressed attachments"): the writer compresses only with a
 * codec set, from FL_Z_MIN_BYTES on and when it saves 1/16; the decoder
 * reads the attachment back with the receiver's codecs and refuses, naming
 * the member, an unknown codec, a bin_raw over the receiver's limit, a
 * stream that decodes to more or fewer bytes than bin_raw says (a bomb, a
 * lie), a truncated stream, and bin_raw alone. The codec is the test's own
 * (zrle.h), handed in through the hook as a port would. The small
 * profile (FL_ZCODECS 0, a board) must instead send everything as it is
 * and refuse every compressed attachment by name.
 * Depends on codec.h, zcodec.h, zrle.h and test.h.
 */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "test.h"
#include "zrle.h"

#define MAX ((size_t)1 << 20)

static char err[256];

/* A lease of one echo task whose attachment is att (n bytes), written with
 * codec z (NULL: none); *out gets a malloc'd copy of the payload. */
static size_t lease(const fl_zcodec *z, const uint8_t *att, size_t n,
                    uint8_t **out)
{
    fl_jw w;
    const void *p;
    size_t len = 0;
    fl__jw_init(&w);
    fl__jw_begin_msg(&w, FL_KIND_LEASE, "own", 5);
    fl__jw_u64(&w, "fid", 1);
    fl__jw_u64(&w, "ttl_ms", 30000);
    fl__jw_arr(&w, "tasks");
    fl__jw_obj(&w, NULL);
    fl__jw_u64(&w, "id", 1);
    fl__jw_str(&w, "name", "echo");
    fl__jw_u64(&w, "attempt", 1);
    fl__jw_att(&w, "att", att, n);
    fl__jw_end_obj(&w);
    fl__jw_end_arr(&w);
    fl__jw_compress(&w, z);
    CHECK_EQ(fl__jw_finish(&w, &p, &len), FL_OK);
    *out = malloc(len);
    memcpy(*out, p, len);
    fl__jw_free(&w);
    return len;
}

static fl_status dec(const void *p, size_t n, const fl_zset *z, fl_msg **m)
{
    fl_msg_head head;
    return fl__decode_msg(p, n, MAX, z, m, err, sizeof err, &head);
}

static bool has(const uint8_t *p, size_t n, const char *s)
{
    size_t k = strlen(s);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(p + i, s, k) == 0)
            return true;
    return false;
}

#if FL_ZCODECS
static void test_round_trip(void)
{
    static uint8_t text[65536];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (uint8_t)('a' + i / 1000 % 26);
    uint8_t *p;
    size_t n = lease(&ZRLE, text, sizeof text, &p);
    CHECK(n < sizeof text / 10);
    CHECK(has(p, n, "\"bin_z\":\"rle\",\"bin_raw\":65536,\"bin\":"));
    fl_msg *m = NULL;
    CHECK_EQ(dec(p, n, &ZRLE_SET, &m), FL_OK);
    CHECK(m && m->ntasks == 1 && m->tasks[0].att_len == sizeof text);
    if (m && m->ntasks == 1)
        CHECK_MEM(m->tasks[0].att, text, sizeof text);
    fl__msg_free(m);
    free(p);
}

/* Small, incompressible or without a codec: sent as it is. */
static void test_sent_as_is(void)
{
    static uint8_t small[FL_Z_MIN_BYTES - 1], noise[8192];
    memset(small, 'x', sizeof small);
    uint64_t s = 88172645463325252ull;
    for (size_t i = 0; i < sizeof noise; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        noise[i] = (uint8_t)s;
    }
    uint8_t *p;
    size_t n = lease(&ZRLE, small, sizeof small, &p);
    CHECK(!has(p, n, "bin_z"));
    CHECK(has(p, n, "\"bin\":4095"));
    free(p);
    n = lease(&ZRLE, noise, sizeof noise, &p);
    CHECK(!has(p, n, "bin_z"));
    fl_msg *m = NULL;
    CHECK_EQ(dec(p, n, &ZRLE_SET, &m), FL_OK);
    CHECK(m && m->tasks[0].att_len == sizeof noise);
    fl__msg_free(m);
    free(p);
    memset(noise, 'y', sizeof noise);
    n = lease(NULL, noise, sizeof noise, &p);
    CHECK(!has(p, n, "bin_z"));
    free(p);
}

/* Several attachments are compressed as one run; each range reads back. */
static void test_several_attachments(void)
{
    static uint8_t a[5000], b[7000];
    memset(a, 'a', sizeof a);
    memset(b, 'b', sizeof b);
    fl_jw w;
    const void *p;
    size_t len;
    fl__jw_init(&w);
    fl__jw_begin_msg(&w, FL_KIND_DONE, "w1", 9);
    fl__jw_arr(&w, "results");
    for (int i = 0; i < 2; i++) {
        fl__jw_obj(&w, NULL);
        fl__jw_u64(&w, "id", (uint64_t)i + 1);
        fl__jw_u64(&w, "attempt", 1);
        fl__jw_bool(&w, "ok", true);
        fl__jw_att(&w, "att", i ? b : a, i ? sizeof b : sizeof a);
        fl__jw_end_obj(&w);
    }
    fl__jw_end_arr(&w);
    fl__jw_compress(&w, &ZRLE);
    CHECK_EQ(fl__jw_finish(&w, &p, &len), FL_OK);
    CHECK(has(p, len, "\"bin_raw\":12000"));
    fl_msg *m = NULL;
    CHECK_EQ(dec(p, len, &ZRLE_SET, &m), FL_OK);
    CHECK(m && m->nresults == 2);
    if (m && m->nresults == 2) {
        CHECK_EQ(m->results[0].att_len, sizeof a);
        CHECK_MEM(m->results[0].att, a, sizeof a);
        CHECK_EQ(m->results[1].att_len, sizeof b);
        CHECK_MEM(m->results[1].att, b, sizeof b);
    }
    fl__msg_free(m);
    fl__jw_free(&w);
}

#endif

/* A hand-made lease: JSON members then the attachment bytes. */
static size_t raw(uint8_t *buf, const char *members, const uint8_t *att,
                  size_t n)
{
    int k = snprintf((char *)buf, 512,
                     "{\"v\":1,\"kind\":\"lease\",\"from\":\"own\",\"inc\":5,"
                     "\"fid\":1,\"ttl_ms\":30000,\"tasks\":[{\"id\":1,\"name\":"
                     "\"echo\",\"attempt\":1,\"att\":[0,10]}],%s,\"bin\":%zu}",
                     members, n);
    buf[k] = '\0';
    memcpy(buf + k + 1, att, n);
    return (size_t)k + 1 + n;
}

static void refused(const uint8_t *p, size_t n, const fl_zset *z,
                    fl_status want, const char *reason)
{
    fl_msg *m = NULL;
    CHECK_EQ(dec(p, n, z, &m), want);
    CHECK(m == NULL);
    if (!strstr(err, reason))
        T_FAILED("reason \"%s\" lacks \"%s\"", err, reason);
}

#if FL_ZCODECS
static void test_hostile(void)
{
    static uint8_t buf[4096];
    const uint8_t ten[] = {10, 'z'};
    size_t n = raw(buf, "\"bin_z\":\"rle\",\"bin_raw\":10", ten, 2);
    fl_msg *m = NULL;
    CHECK_EQ(dec(buf, n, &ZRLE_SET, &m), FL_OK);
    CHECK(m && m->tasks[0].att_len == 10 && m->tasks[0].att[9] == 'z');
    fl__msg_free(m);

    /* A node without the codec (a board) names it, and what it has. */
    refused(buf, n, NULL, FL_EPROTO,
            "bin_z: unknown codec 'rle' (this node decodes: none)");
    n = raw(buf, "\"bin_z\":\"brotli\",\"bin_raw\":10", ten, 2);
    refused(buf, n, &ZRLE_SET, FL_EPROTO,
            "bin_z: unknown codec 'brotli' (this node decodes: rle)");
    n = raw(buf, "\"bin_z\":7,\"bin_raw\":10", ten, 2);
    refused(buf, n, &ZRLE_SET, FL_EPROTO, "bin_z: expected a string");
    n = raw(buf, "\"bin_raw\":10", ten, 2);
    refused(buf, n, &ZRLE_SET, FL_EPROTO, "bin_raw: given without bin_z");
    n = raw(buf, "\"bin_z\":\"rle\"", ten, 2);
    refused(buf, n, &ZRLE_SET, FL_EPROTO, "bin_raw: missing");

    /* A bomb: 1000 pairs of 255 (510 MiB would follow from 2 KB) against
     * a declared 10: refused at the 11th byte, nothing grows. */
    static uint8_t bomb[2000];
    for (size_t i = 0; i < sizeof bomb; i += 2)
        bomb[i] = 255, bomb[i + 1] = 'a';
    n = raw(buf, "\"bin_z\":\"rle\",\"bin_raw\":10", bomb, sizeof bomb);
    refused(buf, n, &ZRLE_SET, FL_EPROTO,
            "bin_z: the rle attachment does not decode to at most bin_raw = 10");
    /* Declaring more than the receiver's limit is refused before any
     * allocation. */
    n = raw(buf, "\"bin_z\":\"rle\",\"bin_raw\":2000000", bomb, sizeof bomb);
    refused(buf, n, &ZRLE_SET, FL_ETOOBIG,
            "bin_raw: 2000000 bytes is over the limit of 1048576");
    /* Fewer bytes than declared; a truncated stream; ranges checked
     * against what it decoded to. */
    n = raw(buf, "\"bin_z\":\"rle\",\"bin_raw\":12", ten, 2);
    refused(buf, n, &ZRLE_SET, FL_EPROTO,
            "decodes to fewer bytes than bin_raw = 12");
    n = raw(buf, "\"bin_z\":\"rle\",\"bin_raw\":10", ten, 1);
    refused(buf, n, &ZRLE_SET, FL_EPROTO, "bin_z: the rle attachment");
    const uint8_t nine[] = {9, 'z'};
    n = raw(buf, "\"bin_z\":\"rle\",\"bin_raw\":9", nine, 2);
    refused(buf, n, &ZRLE_SET, FL_EPROTO, "outside the 9-byte attachment");
}

#else
/* A board's core: nothing compressed, whatever it is lent; every
 * compressed attachment refused by name. */
static void test_small_profile(void)
{
    static uint8_t text[65536];
    memset(text, 'a', sizeof text);
    uint8_t *p;
    size_t n = lease(&ZRLE, text, sizeof text, &p);
    CHECK(!has(p, n, "bin_z"));
    free(p);
    static uint8_t buf[4096];
    const uint8_t ten[] = {10, 'z'};
    n = raw(buf, "\"bin_z\":\"rle\",\"bin_raw\":10", ten, 2);
    refused(buf, n, &ZRLE_SET, FL_EPROTO,
            "bin_z: unknown codec 'rle' (this node decodes: none)");
    n = raw(buf, "\"bin_raw\":10", ten, 2);
    refused(buf, n, &ZRLE_SET, FL_EPROTO, "bin_raw: given without bin_z");
}
#endif

/* Looking codecs up by name, and naming them in reasons. */
static void test_names(void)
{
    char s[64];
    fl__z_names(NULL, s, sizeof s);
    CHECK_STR(s, "none");
    fl__z_names(&ZRLE_SET, s, sizeof s);
    CHECK_STR(s, "rle");
    CHECK(fl__z_find(&ZRLE_SET, "rle", 3) == &ZRLE);
    CHECK(fl__z_find(&ZRLE_SET, "rl", 2) == NULL);
    CHECK(fl__z_find(NULL, "rle", 3) == NULL);
}

int main(void)
{
#if FL_ZCODECS
    RUN(test_round_trip);
    RUN(test_sent_as_is);
    RUN(test_several_attachments);
    RUN(test_hostile);
#else
    RUN(test_small_profile);
#endif
    RUN(test_names);
    return TEST_DONE();
}
