/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests for the test stamps (tests/tools/stamp.c) and the fake camera that
 * writes them (tests/tools/fake-camera.c).
 *
 * The unit tests build stamp SEI NALs, hide them in access units next to
 * SPS/PPS/IDR NALs in both Annex B and length-prefixed form, and find them
 * again; they also feed the reader truncated, random and hostile input, each
 * in a heap block of exactly its size so that AddressSanitizer sees any read
 * past the end. The end-to-end tests start the built fake-camera on a free
 * loopback port and read its stream with GStreamer (rtspsrc, as the gateway
 * does) and with ffprobe.
 */
#define G_LOG_DOMAIN "hearth-test-stamp"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "fixture.h"
#include "stamp.h"

/* How long an end-to-end test may take before it fails instead of hanging. */
#define E2E_DEADLINE_S 20

#define CAMERA_ID "5f0c2a44-9b1e-4c3d-8e7f-a0b1c2d3e4f5"

static const guint8 stamp_uuid[16] = {
  0x48, 0x45, 0x41, 0x52, 0x54, 0x48, 0x2d, 0x53,
  0x54, 0x41, 0x4d, 0x50, 0x2d, 0x76, 0x31, 0x00,
};

/* Dummy NALs around the stamp: what an encoder puts in an IDR access unit. */
static const guint8 sps_nal[] = {
  0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x00, 0xa0, 0x2f, 0xf9, 0x70, 0x11, 0x00,
  0x00, 0x03, 0x00, 0x01, 0x00, 0x00, 0x03, 0x00, 0x3c, 0x8f, 0x16, 0x2e,
  0x48,
};
static const guint8 pps_nal[] = { 0x68, 0xcb, 0x83, 0xcb, 0x20 };
static const guint8 idr_nal[] = {
  0x65, 0x88, 0x84, 0x00, 0x33, 0xff, 0xfe, 0xf6, 0xf0, 0xfe, 0x05, 0x36,
  0x56, 0x04, 0x50, 0x96, 0x7b, 0x3f, 0x53, 0xe1, 0x00, 0x00, 0x03, 0x00,
  0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x1b, 0x9e, 0x8d, 0x52, 0x80,
};

typedef struct {
  guint8 *data;   /* exactly len bytes, so ASan catches overreads */
  gsize len;
  gsize sei_end;  /* offset just past the stamp SEI NAL */
} AccessUnit;

static void
access_unit_free (AccessUnit *au)
{
  g_free (au->data);
  g_free (au);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AccessUnit, access_unit_free)

static void
append_nal (GByteArray *out, guint nal_length_size, const guint8 *nal,
            gsize len, gboolean first)
{
  if (nal_length_size == 0) {
    /* Annex B: the first NAL gets a 4-byte start code, the others 3. */
    const guint8 start_code[] = { 0x00, 0x00, 0x00, 0x01 };

    if (first)
      g_byte_array_append (out, start_code, 4);
    else
      g_byte_array_append (out, start_code + 1, 3);
  } else {
    guint8 prefix[4];

    g_assert_cmpuint (len >> (8 * nal_length_size), ==, 0);
    for (guint i = 0; i < nal_length_size; i++)
      prefix[i] = (guint8) (len >> (8 * (nal_length_size - 1 - i)));
    g_byte_array_append (out, prefix, nal_length_size);
  }
  g_byte_array_append (out, nal, len);
}

/* An SEI NAL from x264 or anyone else: user data with another UUID, bigger
 * than 255 bytes so its size is coded with a 0xFF byte. */
static GBytes *
make_foreign_sei (gsize payload_size)
{
  GByteArray *nal = g_byte_array_new ();
  const guint8 head[] = { 0x06, 0x05 };
  gsize size = payload_size;

  guint8 byte;

  g_byte_array_append (nal, head, sizeof head);
  for (; size >= 255; size -= 255)
    g_byte_array_append (nal, (const guint8 *) "\xff", 1);
  byte = (guint8) size;
  g_byte_array_append (nal, &byte, 1);
  for (gsize i = 0; i < payload_size; i++) {
    byte = (guint8) (0x20 + i % 90); /* printable, like x264's version text */
    g_byte_array_append (nal, &byte, 1);
  }
  g_byte_array_append (nal, (const guint8 *) "\x80", 1);
  return g_byte_array_free_to_bytes (nal);
}

/*
 * SPS, PPS, a foreign SEI, the stamp SEI, then an IDR slice; or the stamp
 * first, as the fake camera sends it.
 */
static AccessUnit *
make_access_unit (const HearthStamp *stamp, guint nal_length_size,
                  gboolean stamp_first)
{
  g_autoptr (GBytes) sei = hearth_stamp_build_sei_nal (stamp);
  /* a 1-byte length cannot carry a NAL over 255 bytes */
  g_autoptr (GBytes) foreign = make_foreign_sei (nal_length_size == 1 ? 200
                                                                      : 300);
  g_autoptr (GByteArray) out = g_byte_array_new ();
  AccessUnit *au = g_new0 (AccessUnit, 1);
  gsize sei_len, foreign_len;
  const guint8 *sei_data = g_bytes_get_data (sei, &sei_len);
  const guint8 *foreign_data = g_bytes_get_data (foreign, &foreign_len);

  if (stamp_first) {
    append_nal (out, nal_length_size, sei_data, sei_len, TRUE);
    au->sei_end = out->len;
  }
  append_nal (out, nal_length_size, sps_nal, sizeof sps_nal, !stamp_first);
  append_nal (out, nal_length_size, pps_nal, sizeof pps_nal, FALSE);
  append_nal (out, nal_length_size, foreign_data, foreign_len, FALSE);
  if (!stamp_first) {
    append_nal (out, nal_length_size, sei_data, sei_len, FALSE);
    au->sei_end = out->len;
  }
  append_nal (out, nal_length_size, idr_nal, sizeof idr_nal, FALSE);

  au->len = out->len;
  au->data = g_byte_array_steal (out, NULL);
  return au;
}

static void
assert_stamp_equal (const HearthStamp *a, const HearthStamp *b)
{
  g_assert_cmpmem (a->camera_id, 16, b->camera_id, 16);
  g_assert_cmpuint (a->counter, ==, b->counter);
  g_assert_cmpint (a->capture_time_us, ==, b->capture_time_us);
}

/* Calls the reader on a private copy of exactly @len bytes. */
static gboolean
find_exact (const guint8 *data, gsize len, guint nal_length_size,
            HearthStamp *stamp)
{
  g_autofree guint8 *copy = g_memdup2 (data, len);

  return hearth_stamp_find (copy, len, nal_length_size, stamp);
}

static const HearthStamp *
sample_stamp (HearthStamp *stamp)
{
  g_assert_true (hearth_stamp_id_parse (CAMERA_ID, stamp->camera_id));
  stamp->counter = 4242;
  stamp->capture_time_us = 1764000000123456;
  return stamp;
}

/* No zero byte anywhere: its NAL needs no emulation prevention. */
static const HearthStamp *
plain_stamp (HearthStamp *stamp)
{
  const HearthStamp plain = {
    .camera_id = { 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
                   0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f },
    .counter = G_GUINT64_CONSTANT (0x0102030405060708),
    .capture_time_us = G_GINT64_CONSTANT (0x1112131415161718),
  };

  *stamp = plain;
  return stamp;
}

static void
test_round_trip (void)
{
  const guint sizes[] = { 0, 1, 2, 4 };
  HearthStamp stamp;

  sample_stamp (&stamp);

  for (gsize i = 0; i < G_N_ELEMENTS (sizes); i++) {
    for (int stamp_first = 0; stamp_first <= 1; stamp_first++) {
      g_autoptr (AccessUnit) au = make_access_unit (&stamp, sizes[i],
                                                    stamp_first);
      HearthStamp found = { 0 };

      g_test_message ("nal_length_size %u, stamp %s", sizes[i],
                      stamp_first ? "first" : "after SPS/PPS/SEI");
      g_assert_true (hearth_stamp_find (au->data, au->len, sizes[i], &found));
      assert_stamp_equal (&found, &stamp);
    }
  }
}

/* The exact bytes of the format in the team notes, for a stamp with no zero
 * bytes (so no emulation prevention is involved). */
static void
test_wire_format (void)
{
  HearthStamp stamp;
  g_autoptr (GByteArray) expected = g_byte_array_new ();
  g_autoptr (GBytes) nal = hearth_stamp_build_sei_nal (plain_stamp (&stamp));
  const guint8 head[] = { 0x06, 0x05, 52 };
  const guint8 fields[] = {
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
    0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
  };
  const guint8 trailing = 0x80;
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  guint8 digest[32];
  gsize digest_len = sizeof digest;
  gsize len;
  const guint8 *data = g_bytes_get_data (nal, &len);

  g_byte_array_append (expected, head, sizeof head);
  g_byte_array_append (expected, stamp_uuid, sizeof stamp_uuid);
  g_byte_array_append (expected, stamp.camera_id, 16);
  g_byte_array_append (expected, fields, sizeof fields);
  /* The check: the first 4 bytes of SHA-256 over id, counter and time. */
  g_checksum_update (sum, stamp.camera_id, 16);
  g_checksum_update (sum, fields, sizeof fields);
  g_checksum_get_digest (sum, digest, &digest_len);
  g_byte_array_append (expected, digest, 4);
  g_byte_array_append (expected, &trailing, 1);

  g_assert_cmpmem (data, len, expected->data, expected->len);
}

static void
test_emulation_prevention (void)
{
  /* Bytes that read as start codes (00 00 01), escapes (00 00 03) and
   * runs of zeros if written raw. */
  const HearthStamp stamp = {
    .camera_id = { 0x00, 0x00, 0x01, 0x00, 0x00, 0x03, 0x00, 0x00,
                   0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00 },
    .counter = G_GUINT64_CONSTANT (0x0000010000000300),
    .capture_time_us = G_GINT64_CONSTANT (0x0000000300000001),
  };
  g_autoptr (GBytes) nal = hearth_stamp_build_sei_nal (&stamp);
  gsize len, escapes = 0;
  const guint8 *data = g_bytes_get_data (nal, &len);
  const guint sizes[] = { 0, 4 };

  g_assert_cmpuint (len, >, 3);
  g_assert_cmpuint (data[0], ==, 0x06);
  g_assert_cmpuint (data[len - 1], ==, 0x80);

  for (gsize i = 0; i + 2 < len; i++) {
    if (data[i] != 0 || data[i + 1] != 0)
      continue;
    /* never 00 00 00, 00 00 01 or 00 00 02 inside a NAL unit ... */
    g_assert_cmpuint (data[i + 2], >=, 0x03);
    /* ... and 00 00 03 only as an escape, before a byte that needed it */
    if (data[i + 2] == 0x03) {
      g_assert_cmpuint (i + 3, <, len);
      g_assert_cmpuint (data[i + 3], <=, 0x03);
      escapes++;
    }
  }
  /* header + type + size + 52 payload bytes + trailing bits, plus escapes */
  g_assert_cmpuint (escapes, >, 0);
  g_assert_cmpuint (len, ==, 56 + escapes);

  for (gsize i = 0; i < G_N_ELEMENTS (sizes); i++) {
    g_autoptr (AccessUnit) au = make_access_unit (&stamp, sizes[i], FALSE);
    HearthStamp found = { 0 };

    g_assert_true (find_exact (au->data, au->len, sizes[i], &found));
    assert_stamp_equal (&found, &stamp);
  }
}

static void
test_extreme_values (void)
{
  HearthStamp stamp = { 0 };
  HearthStamp found;
  g_autoptr (AccessUnit) zeros = NULL;
  g_autoptr (AccessUnit) ones = NULL;

  zeros = make_access_unit (&stamp, 0, TRUE);
  g_assert_true (find_exact (zeros->data, zeros->len, 0, &found));
  assert_stamp_equal (&found, &stamp);

  memset (stamp.camera_id, 0xff, 16);
  stamp.counter = G_MAXUINT64;
  stamp.capture_time_us = G_MININT64;
  ones = make_access_unit (&stamp, 4, TRUE);
  g_assert_true (find_exact (ones->data, ones->len, 4, &found));
  assert_stamp_equal (&found, &stamp);
}

/*
 * Every prefix of an access unit: the stamp is found exactly when its whole
 * SEI NAL is there. (A cut further on, inside the IDR slice, cannot be seen
 * in Annex B and does not concern the stamp.)
 */
static void
test_truncated (void)
{
  const guint sizes[] = { 0, 1, 2, 4 };
  HearthStamp stamp;

  sample_stamp (&stamp);

  for (gsize i = 0; i < G_N_ELEMENTS (sizes); i++) {
    for (int stamp_first = 0; stamp_first <= 1; stamp_first++) {
      g_autoptr (AccessUnit) au = make_access_unit (&stamp, sizes[i],
                                                    stamp_first);

      for (gsize cut = 0; cut <= au->len; cut++) {
        HearthStamp found = { 0 };
        gboolean ok = find_exact (au->data, cut, sizes[i], &found);

        if (ok != (cut >= au->sei_end))
          g_error ("nal_length_size %u, stamp first %d, cut at %" G_GSIZE_FORMAT
                   " of %" G_GSIZE_FORMAT " (SEI ends at %" G_GSIZE_FORMAT
                   "): found %d", sizes[i], stamp_first, cut, au->len,
                   au->sei_end, ok);
        if (ok)
          assert_stamp_equal (&found, &stamp);
      }
    }
  }
}

static void
test_random_bytes (void)
{
  const guint sizes[] = { 0, 1, 2, 3, 4 };
  g_autoptr (GRand) rand = g_rand_new_with_seed (20261125);

  for (guint n = 0; n < 4000; n++) {
    gsize len = g_rand_int_range (rand, 0, 300);
    g_autofree guint8 *data = g_malloc (len + 1);
    HearthStamp found;

    for (gsize i = 0; i < len; i++) {
      /* lean towards bytes that make start codes, SEI headers and
       * emulation prevention, to walk deeper into the parser */
      switch (g_rand_int_range (rand, 0, 6)) {
        case 0: data[i] = 0x00; break;
        case 1: data[i] = 0x01; break;
        case 2: data[i] = 0x03; break;
        case 3: data[i] = 0x06; break;
        case 4: data[i] = 0xff; break;
        default: data[i] = (guint8) g_rand_int (rand); break;
      }
    }
    for (gsize s = 0; s < G_N_ELEMENTS (sizes); s++)
      g_assert_false (find_exact (data, len, sizes[s], &found));
  }
}

/* A valid access unit with a few bytes changed: must not crash; the answer
 * may be either, but a stamp found must carry our format. */
static void
test_mutated (void)
{
  const guint sizes[] = { 0, 1, 2, 4 };
  g_autoptr (GRand) rand = g_rand_new_with_seed (7);
  HearthStamp stamp;

  sample_stamp (&stamp);

  for (gsize s = 0; s < G_N_ELEMENTS (sizes); s++) {
    g_autoptr (AccessUnit) au = make_access_unit (&stamp, sizes[s], FALSE);

    for (guint n = 0; n < 2000; n++) {
      g_autofree guint8 *copy = g_memdup2 (au->data, au->len);
      guint changes = g_rand_int_range (rand, 1, 5);
      HearthStamp found;

      for (guint c = 0; c < changes; c++) {
        gsize at = g_rand_int_range (rand, 0, au->len);

        copy[at] = (guint8) g_rand_int (rand);
      }
      (void) hearth_stamp_find (copy, au->len, sizes[s], &found);
    }
  }
}

/* The stamp SEI NAL of plain_stamp(), with its bytes open to change. */
static GByteArray *
raw_stamp_nal (void)
{
  GByteArray *nal = g_byte_array_new ();
  HearthStamp stamp;
  g_autoptr (GBytes) built = hearth_stamp_build_sei_nal (plain_stamp (&stamp));
  gsize len;
  const guint8 *data = g_bytes_get_data (built, &len);

  g_assert_cmpuint (len, ==, 56);
  g_byte_array_append (nal, data, len);
  return nal;
}

static gboolean
find_in_nal (const guint8 *nal, gsize len, guint nal_length_size)
{
  g_autoptr (GByteArray) au = g_byte_array_new ();
  HearthStamp found;

  append_nal (au, nal_length_size, nal, len, TRUE);
  return find_exact (au->data, au->len, nal_length_size, &found);
}

static void
test_hostile (void)
{
  const guint8 start_code_only[] = { 0x00, 0x00, 0x01 };
  const guint8 zeros[64] = { 0 };
  const guint8 huge_length[] = { 0xff, 0xff, 0xff, 0xff, 0x06, 0x05 };
  g_autoptr (GByteArray) nal = NULL;
  HearthStamp found;

  /* empty, bad arguments, nothing NAL-like */
  g_assert_false (hearth_stamp_find (NULL, 0, 0, &found));
  g_assert_false (find_exact (zeros, 0, 0, &found));
  g_assert_false (find_exact (zeros, sizeof zeros, 0, &found));
  g_assert_false (find_exact (zeros, sizeof zeros, 4, &found));
  g_assert_false (find_exact (start_code_only, 3, 0, &found));
  g_assert_false (find_exact (huge_length, sizeof huge_length, 4, &found));
  g_assert_false (find_exact (huge_length, sizeof huge_length, 2, &found));

  /* the untouched NAL is found, so each change below is what fails it */
  nal = raw_stamp_nal ();
  g_assert_true (find_in_nal (nal->data, nal->len, 0));
  g_assert_true (find_in_nal (nal->data, nal->len, 4));
  /* 3 is no valid length size, and the NAL must not be read as such */
  g_assert_false (find_in_nal (nal->data, nal->len, 3));

  for (guint nls = 0; nls <= 4; nls += 4) {
    g_autoptr (GByteArray) bad = NULL;

    /* payload size one more than there is, then far more */
    bad = raw_stamp_nal ();
    bad->data[2] = 53;
    g_assert_false (find_in_nal (bad->data, bad->len, nls));
    g_clear_pointer (&bad, g_byte_array_unref);

    bad = raw_stamp_nal ();
    bad->data[2] = 0xfe;
    g_assert_false (find_in_nal (bad->data, bad->len, nls));
    g_clear_pointer (&bad, g_byte_array_unref);

    /* size coded as 0xFF runs that go past the end of the NAL */
    bad = raw_stamp_nal ();
    memset (bad->data + 2, 0xff, bad->len - 2);
    g_assert_false (find_in_nal (bad->data, bad->len, nls));
    g_clear_pointer (&bad, g_byte_array_unref);

    /* payload type made of 0xFF up to the end, never finished */
    bad = raw_stamp_nal ();
    memset (bad->data + 1, 0xff, bad->len - 1);
    g_assert_false (find_in_nal (bad->data, bad->len, nls));
    g_clear_pointer (&bad, g_byte_array_unref);

    /* a payload too short for a stamp, trailing bits right after */
    bad = raw_stamp_nal ();
    bad->data[2] = 51;
    g_byte_array_remove_index (bad, bad->len - 2);
    g_assert_false (find_in_nal (bad->data, bad->len, nls));
    g_clear_pointer (&bad, g_byte_array_unref);

    /* a second message after the stamp whose size runs off the end */
    bad = raw_stamp_nal ();
    g_byte_array_remove_index (bad, bad->len - 1);
    g_byte_array_append (bad, (const guint8 *) "\x05\xff\xff\x40\x80", 5);
    g_assert_false (find_in_nal (bad->data, bad->len, nls));
    g_clear_pointer (&bad, g_byte_array_unref);

    /* no rbsp trailing bits */
    bad = raw_stamp_nal ();
    g_byte_array_set_size (bad, bad->len - 1);
    g_assert_false (find_in_nal (bad->data, bad->len, nls));
    g_clear_pointer (&bad, g_byte_array_unref);

    /* a damaged camera id or counter fails the check: a stamp hurt on the
     * way is never read as another camera's */
    bad = raw_stamp_nal ();
    bad->data[19] ^= 0x01;
    g_assert_false (find_in_nal (bad->data, bad->len, nls));
    g_clear_pointer (&bad, g_byte_array_unref);

    bad = raw_stamp_nal ();
    bad->data[40] ^= 0x80;
    g_assert_false (find_in_nal (bad->data, bad->len, nls));
    g_clear_pointer (&bad, g_byte_array_unref);

    /* another UUID, another payload type, another NAL type, forbidden bit */
    bad = raw_stamp_nal ();
    bad->data[3] ^= 0x01;
    g_assert_false (find_in_nal (bad->data, bad->len, nls));
    g_clear_pointer (&bad, g_byte_array_unref);

    bad = raw_stamp_nal ();
    bad->data[1] = 0x04;
    g_assert_false (find_in_nal (bad->data, bad->len, nls));
    g_clear_pointer (&bad, g_byte_array_unref);

    bad = raw_stamp_nal ();
    bad->data[0] = 0x05;
    g_assert_false (find_in_nal (bad->data, bad->len, nls));
    g_clear_pointer (&bad, g_byte_array_unref);

    bad = raw_stamp_nal ();
    bad->data[0] = 0x86;
    g_assert_false (find_in_nal (bad->data, bad->len, nls));
    g_clear_pointer (&bad, g_byte_array_unref);

    /* header byte only */
    g_assert_false (find_in_nal (nal->data, 1, nls));
  }

  /* a length prefix one past the end of the access unit */
  {
    g_autoptr (GByteArray) au = g_byte_array_new ();
    HearthStamp stamp;

    append_nal (au, 4, nal->data, nal->len, TRUE);
    au->data[3]++;
    g_assert_false (find_exact (au->data, au->len, 4, &stamp));
  }
}

static void
test_id (void)
{
  const char *const bad[] = {
    "",
    "5f0c2a44-9b1e-4c3d-8e7f-a0b1c2d3e4f",
    "5f0c2a44-9b1e-4c3d-8e7f-a0b1c2d3e4f55",
    "5f0c2a449b1e-4c3d-8e7f-a0b1c2d3e4f5a",
    "5f0c2a44-9b1e-4c3d-8e7f_a0b1c2d3e4f5",
    "5f0c2a4-49b1e-4c3d-8e7f-a0b1c2d3e4f5",
    "5f0c2a44-9b1e-4c3d-8e7f-a0b1c2d3e4g5",
    "5f0c2a44-9b1e-4c3d-8e7f-a0b1c2d3e4 5",
    "{5f0c2a44-9b1e-4c3d-8e7f-a0b1c2d3e4f}",
  };
  guint8 id[16], again[16], untouched[16];
  g_autofree char *text = NULL;
  g_autofree char *random_text = g_uuid_string_random ();
  g_autofree char *random_again = NULL;

  g_assert_true (hearth_stamp_id_parse (CAMERA_ID, id));
  text = hearth_stamp_id_to_string (id);
  g_assert_cmpstr (text, ==, CAMERA_ID);
  g_assert_cmpuint (id[0], ==, 0x5f);
  g_assert_cmpuint (id[15], ==, 0xf5);

  /* either case in, lowercase out */
  g_assert_true (hearth_stamp_id_parse ("5F0C2A44-9B1E-4C3D-8E7F-A0B1C2D3E4F5",
                                        again));
  g_assert_cmpmem (again, 16, id, 16);

  g_assert_true (hearth_stamp_id_parse (random_text, id));
  random_again = hearth_stamp_id_to_string (id);
  g_assert_cmpstr (random_again, ==, random_text);

  memset (untouched, 0xa5, sizeof untouched);
  g_assert_false (hearth_stamp_id_parse (NULL, untouched));
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_assert_false (hearth_stamp_id_parse (bad[i], untouched));
    for (gsize j = 0; j < 16; j++)
      g_assert_cmpuint (untouched[j], ==, 0xa5);
  }
}

/* ---- H.265: prefix SEI NALs with 2-byte headers ---- */

/* Dummy HEVC NALs of an IRAP access unit: VPS (32), SPS (33), PPS (34),
 * IDR_N_LP (20); each header is 2 bytes (type << 1, then layer 0 and
 * temporal id plus one 1). */
static const guint8 hevc_vps_nal[] = {
  0x40, 0x01, 0x0c, 0x01, 0xff, 0xff, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00,
  0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x3c, 0x95, 0x98, 0x09,
};
static const guint8 hevc_sps_nal[] = {
  0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00,
  0x03, 0x00, 0x00, 0x03, 0x00, 0x3c, 0xa0, 0x0a, 0x08, 0x0b, 0x9f, 0x79,
};
static const guint8 hevc_pps_nal[] = { 0x44, 0x01, 0xc1, 0x72, 0xb4, 0x62, 0x40 };
static const guint8 hevc_idr_nal[] = {
  0x28, 0x01, 0xaf, 0x1d, 0x18, 0x38, 0xd5, 0x4e, 0x00, 0x00, 0x03, 0x00,
  0x00, 0x03, 0x00, 0x11, 0x22, 0x33, 0x44, 0x80,
};

/* x265's own prefix SEI (its version text, in user data with another
 * UUID), as it puts it in the first access unit. */
static GBytes *
make_hevc_foreign_sei (void)
{
  GByteArray *nal = g_byte_array_new ();
  const guint8 head[] = { 0x4e, 0x01, 0x05, 0x30 };

  g_byte_array_append (nal, head, sizeof head);
  for (guint i = 0; i < 0x30; i++) {
    guint8 byte = (guint8) (0x20 + i % 90);

    g_byte_array_append (nal, &byte, 1);
  }
  g_byte_array_append (nal, (const guint8 *) "\x80", 1);
  return g_byte_array_free_to_bytes (nal);
}

/* VPS, SPS, PPS, x265's SEI, the stamp, an IDR slice; or the stamp first,
 * as the fake camera sends it. */
static AccessUnit *
make_hevc_access_unit (const HearthStamp *stamp, guint nal_length_size,
                       gboolean stamp_first)
{
  g_autoptr (GBytes) sei = hearth_stamp_build_sei_nal_for (stamp, HEARTH_STAMP_H265);
  g_autoptr (GBytes) foreign = make_hevc_foreign_sei ();
  g_autoptr (GByteArray) out = g_byte_array_new ();
  AccessUnit *au = g_new0 (AccessUnit, 1);
  gsize sei_len, foreign_len;
  const guint8 *sei_data = g_bytes_get_data (sei, &sei_len);
  const guint8 *foreign_data = g_bytes_get_data (foreign, &foreign_len);

  if (stamp_first) {
    append_nal (out, nal_length_size, sei_data, sei_len, TRUE);
    au->sei_end = out->len;
  }
  append_nal (out, nal_length_size, hevc_vps_nal, sizeof hevc_vps_nal, !stamp_first);
  append_nal (out, nal_length_size, hevc_sps_nal, sizeof hevc_sps_nal, FALSE);
  append_nal (out, nal_length_size, hevc_pps_nal, sizeof hevc_pps_nal, FALSE);
  append_nal (out, nal_length_size, foreign_data, foreign_len, FALSE);
  if (!stamp_first) {
    append_nal (out, nal_length_size, sei_data, sei_len, FALSE);
    au->sei_end = out->len;
  }
  append_nal (out, nal_length_size, hevc_idr_nal, sizeof hevc_idr_nal, FALSE);

  au->len = out->len;
  au->data = g_byte_array_steal (out, NULL);
  return au;
}

static gboolean
find_exact_hevc (const guint8 *data, gsize len, guint nal_length_size,
                 HearthStamp *stamp)
{
  g_autofree guint8 *copy = g_memdup2 (data, len);

  return hearth_stamp_find_for (copy, len, nal_length_size, HEARTH_STAMP_H265,
                                stamp);
}

/* Found in Annex B and every length size, before or after the parameter
 * sets; and only by the reader of its own codec, both ways round. */
static void
test_hevc_round_trip (void)
{
  const guint sizes[] = { 0, 1, 2, 4 };
  HearthStamp stamp;

  sample_stamp (&stamp);

  for (gsize i = 0; i < G_N_ELEMENTS (sizes); i++) {
    for (int stamp_first = 0; stamp_first <= 1; stamp_first++) {
      g_autoptr (AccessUnit) au = make_hevc_access_unit (&stamp, sizes[i],
                                                         stamp_first);
      g_autoptr (AccessUnit) avc = make_access_unit (&stamp, sizes[i],
                                                     stamp_first);
      HearthStamp found = { 0 };

      g_test_message ("nal_length_size %u, stamp %s", sizes[i],
                      stamp_first ? "first" : "after VPS/SPS/PPS/SEI");
      g_assert_true (find_exact_hevc (au->data, au->len, sizes[i], &found));
      assert_stamp_equal (&found, &stamp);
      /* An H.265 prefix SEI is no H.264 SEI (type 14 there), and the other
       * way round (an H.264 SEI header reads as an H.265 slice). */
      g_assert_false (find_exact (au->data, au->len, sizes[i], &found));
      g_assert_false (find_exact_hevc (avc->data, avc->len, sizes[i], &found));
    }
  }
}

/* 4e 01 (prefix SEI, layer 0, temporal id 1), then the same SEI message and
 * trailing bits as for H.264; and a suffix SEI (type 40) is not read. */
static void
test_hevc_wire_format (void)
{
  HearthStamp stamp;
  g_autoptr (GBytes) avc = hearth_stamp_build_sei_nal (plain_stamp (&stamp));
  g_autoptr (GBytes) hevc = hearth_stamp_build_sei_nal_for (&stamp, HEARTH_STAMP_H265);
  g_autoptr (GByteArray) suffix = g_byte_array_new ();
  gsize avc_len, hevc_len;
  const guint8 *avc_data = g_bytes_get_data (avc, &avc_len);
  const guint8 *hevc_data = g_bytes_get_data (hevc, &hevc_len);
  const guint8 suffix_header[] = { 40 << 1, 0x01 };
  HearthStamp found;

  g_assert_cmpuint (hevc_len, ==, avc_len + 1);
  g_assert_cmpuint (hevc_data[0], ==, 0x4e);
  g_assert_cmpuint (hevc_data[1], ==, 0x01);
  g_assert_cmpmem (hevc_data + 2, hevc_len - 2, avc_data + 1, avc_len - 1);

  g_byte_array_append (suffix, suffix_header, sizeof suffix_header);
  g_byte_array_append (suffix, hevc_data + 2, hevc_len - 2);
  {
    g_autoptr (GByteArray) au = g_byte_array_new ();

    append_nal (au, 4, suffix->data, suffix->len, TRUE);
    g_assert_false (find_exact_hevc (au->data, au->len, 4, &found));
  }
  {
    g_autoptr (GByteArray) au = g_byte_array_new ();

    append_nal (au, 4, hevc_data, hevc_len, TRUE);
    g_assert_true (find_exact_hevc (au->data, au->len, 4, &found));
    assert_stamp_equal (&found, &stamp);
  }
}

/* Cut anywhere before the end of the stamp NAL, nothing is found and
 * nothing is read past the cut (exact-size copies for ASan). */
static void
test_hevc_truncated (void)
{
  const guint sizes[] = { 0, 2, 4 };
  HearthStamp stamp;

  sample_stamp (&stamp);
  for (gsize i = 0; i < G_N_ELEMENTS (sizes); i++) {
    g_autoptr (AccessUnit) au = make_hevc_access_unit (&stamp, sizes[i], FALSE);

    for (gsize cut = 0; cut <= au->len; cut++) {
      HearthStamp found;
      gboolean ok = find_exact_hevc (au->data, cut, sizes[i], &found);

      if (cut < au->sei_end)
        g_assert_false (ok);
      else
        g_assert_true (ok);
    }
  }
}

/* Random changes to a length-prefixed HEVC access unit: never a crash or
 * an overread, and any stamp found is the one written. */
static void
test_hevc_mutated (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (0x265);
  HearthStamp stamp;
  g_autoptr (AccessUnit) au = NULL;

  sample_stamp (&stamp);
  au = make_hevc_access_unit (&stamp, 4, FALSE);
  for (guint n = 0; n < 2000; n++) {
    g_autofree guint8 *copy = g_memdup2 (au->data, au->len);
    guint changes = g_rand_int_range (rand, 1, 5);
    HearthStamp found;

    for (guint c = 0; c < changes; c++)
      copy[g_rand_int_range (rand, 0, au->len)] = (guint8) g_rand_int (rand);
    if (hearth_stamp_find_for (copy, au->len, 4, HEARTH_STAMP_H265, &found))
      assert_stamp_equal (&found, &stamp);
  }
}

/* ---- end to end: the built fake-camera over RTSP on loopback ---- */

typedef struct {
  HearthTestFixture base;  /* its own context, watchdog and directory */
  GSubprocess *camera;
  GDataInputStream *camera_out;
  char *url;
  /* the last async result */
  gboolean done;
  char *line;
  char *out;
  char *err;
  GError *error;
} E2e;

static void
e2e_clear_result (E2e *e2e)
{
  e2e->done = FALSE;
  g_clear_pointer (&e2e->line, g_free);
  g_clear_pointer (&e2e->out, g_free);
  g_clear_pointer (&e2e->err, g_free);
  g_clear_error (&e2e->error);
}

static void
e2e_init (E2e *e2e)
{
  memset (e2e, 0, sizeof *e2e);
  hearth_test_fixture_setup (&e2e->base, NULL);
}

static gboolean
result_is_in (gpointer data)
{
  return ((E2e *) data)->done;
}

/* Iterates the test's context until the async result is in; FALSE if
 * @seconds passed first. */
static gboolean
e2e_wait (E2e *e2e, guint seconds)
{
  return hearth_test_wait_for (&e2e->base, result_is_in, e2e, seconds);
}

static void
on_line_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  E2e *e2e = user_data;

  e2e->line = g_data_input_stream_read_line_finish_utf8 (
      G_DATA_INPUT_STREAM (source), result, NULL, &e2e->error);
  e2e->done = TRUE;
}

static void
on_communicated (GObject *source, GAsyncResult *result, gpointer user_data)
{
  E2e *e2e = user_data;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result,
                                        &e2e->out, &e2e->err, &e2e->error);
  e2e->done = TRUE;
}

static void
on_exited (GObject *source, GAsyncResult *result, gpointer user_data)
{
  E2e *e2e = user_data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, &e2e->error);
  e2e->done = TRUE;
}

/* A camera left behind by a failed test dies with the test. */
static void
die_with_parent (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

static char *
fake_camera_path (void)
{
  const char *build_dir = g_getenv ("HEARTH_BUILD_DIR");

  if (build_dir == NULL)
    return NULL;
  return g_build_filename (build_dir, "tests", "tools", "fake-camera", NULL);
}

static GSubprocess *
spawn (GSubprocessFlags flags, const char *const *argv)
{
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (flags);
  g_autoptr (GError) error = NULL;
  GSubprocess *process;

  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  process = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  return process;
}

/*
 * Starts fake-camera on a free loopback port and waits for its ready line.
 * FALSE (test skipped) if the build directory is not known.
 */
static gboolean
e2e_start_camera (E2e *e2e, const char *codec, const char *width,
                  const char *height)
{
  g_autofree char *path = fake_camera_path ();
  g_autofree char *ready_file = NULL;
  g_autofree char *ready_contents = NULL;
  g_autofree char *expected_line = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) parts = NULL;
  const char *port;
  guint64 port_number;

  if (path == NULL) {
    g_test_skip ("HEARTH_BUILD_DIR is not set: run this through meson test");
    return FALSE;
  }
  ready_file = g_build_filename (e2e->base.state_dir, "ready", NULL);

  {
    const char *const argv[] = {
      path, "--port", "0", "--address", "127.0.0.1", "--stamp-id", CAMERA_ID,
      "--width", width, "--height", height, "--ready-file", ready_file,
      "--codec", codec, NULL
    };

    e2e->camera = spawn (G_SUBPROCESS_FLAGS_STDOUT_PIPE, argv);
  }
  e2e->camera_out = g_data_input_stream_new (
      g_subprocess_get_stdout_pipe (e2e->camera));
  /* the camera's stdout stays open when this stream goes */
  g_filter_input_stream_set_close_base_stream (
      G_FILTER_INPUT_STREAM (e2e->camera_out), FALSE);

  e2e_clear_result (e2e);
  g_data_input_stream_read_line_async (e2e->camera_out, G_PRIORITY_DEFAULT,
                                       NULL, on_line_read, e2e);
  if (!e2e_wait (e2e, E2E_DEADLINE_S))
    g_error ("fake-camera printed no ready line in time");
  g_assert_no_error (e2e->error);
  /* NULL: end of output, the camera exited */
  g_assert_nonnull (e2e->line);
  g_test_message ("fake-camera: %s", e2e->line);

  /* rtsp://127.0.0.1:PORT/stream stamp-id=UUID */
  parts = g_strsplit (e2e->line, " ", -1);
  g_assert_cmpuint (g_strv_length (parts), ==, 2);
  g_assert_cmpstr (parts[1], ==, "stamp-id=" CAMERA_ID);
  g_assert_true (g_str_has_prefix (parts[0], "rtsp://127.0.0.1:"));
  g_assert_true (g_str_has_suffix (parts[0], "/stream"));
  port = parts[0] + strlen ("rtsp://127.0.0.1:");
  {
    g_autofree char *digits = g_strndup (port, strcspn (port, "/"));

    g_assert_true (g_ascii_string_to_unsigned (digits, 10, 1, 65535,
                                               &port_number, &error));
    g_assert_no_error (error);
  }
  e2e->url = g_strdup (parts[0]);

  /* the ready file holds the same line, complete */
  expected_line = g_strconcat (e2e->line, "\n", NULL);
  g_assert_true (g_file_get_contents (ready_file, &ready_contents, NULL,
                                      &error));
  g_assert_no_error (error);
  g_assert_cmpstr (ready_contents, ==, expected_line);
  return TRUE;
}

/* SIGTERM, then the camera must exit by itself, with status 0. */
static void
e2e_stop_camera (E2e *e2e)
{
  e2e_clear_result (e2e);
  g_subprocess_send_signal (e2e->camera, SIGTERM);
  g_subprocess_wait_async (e2e->camera, NULL, on_exited, e2e);
  if (!e2e_wait (e2e, 10)) {
    g_subprocess_force_exit (e2e->camera);
    g_error ("fake-camera did not exit on SIGTERM");
  }
  g_assert_no_error (e2e->error);
  g_assert_true (g_subprocess_get_if_exited (e2e->camera));
  g_assert_cmpint (g_subprocess_get_exit_status (e2e->camera), ==, 0);
}

static void
e2e_clear (E2e *e2e)
{
  e2e_clear_result (e2e);
  g_clear_object (&e2e->camera_out);
  g_clear_object (&e2e->camera);
  g_clear_pointer (&e2e->url, g_free);
  /* runs what the finished async calls left queued, removes the directory */
  hearth_test_fixture_teardown (&e2e->base, NULL);
}

/* The length size of the MP4-style samples in @caps: from avcC, or from
 * hvcC (byte 21) when @codec is H.265. */
static guint
nal_length_size_of (GstCaps *caps, HearthStampCodec codec)
{
  const GValue *value;
  GstBuffer *codec_data;
  GstMapInfo map;
  guint size;

  value = gst_structure_get_value (gst_caps_get_structure (caps, 0),
                                   "codec_data");
  g_assert_nonnull (value);
  codec_data = gst_value_get_buffer (value);
  g_assert_true (gst_buffer_map (codec_data, &map, GST_MAP_READ));
  g_assert_cmpuint (map.data[0], ==, 1);
  if (codec == HEARTH_STAMP_H265) {
    /* hvcC: 21 bytes of profile, tier, level, format fields, then 6 bits +
     * lengthSizeMinusOne */
    g_assert_cmpuint (map.size, >=, 23);
    size = (map.data[21] & 0x03) + 1;
  } else {
    /* avcC: version, profile, compatibility, level, 6 bits +
     * lengthSizeMinusOne */
    g_assert_cmpuint (map.size, >=, 7);
    size = (map.data[4] & 0x03) + 1;
  }
  gst_buffer_unmap (codec_data, &map);
  return size;
}

/*
 * What the gateway's ingest does: rtspsrc over TCP, depayload, parse into
 * AVC access units. Every one must carry this camera's stamp, with the
 * counter going up and a capture time from this test's lifetime.
 */
static void
test_fake_camera_rtsp (gconstpointer data)
{
  const char *codec_name = data;
  const HearthStampCodec codec = g_str_equal (codec_name, "h265")
                                 ? HEARTH_STAMP_H265 : HEARTH_STAMP_H264;
  const guint wanted = 30;
  E2e e2e;
  g_autoptr (GError) error = NULL;
  g_autoptr (GstElement) pipeline = NULL;
  g_autoptr (GstElement) sink = NULL;
  g_autoptr (GstBus) bus = NULL;
  g_autofree char *launch = NULL;
  guint8 camera_id[16];
  guint64 last_counter = 0;
  gint64 started_us = g_get_real_time ();
  gint64 worst_latency_us = 0;
  gint64 deadline;

  e2e_init (&e2e);
  if (!e2e_start_camera (&e2e, codec_name, "320", "240")) {
    e2e_clear (&e2e);
    return;
  }
  g_assert_true (hearth_stamp_id_parse (CAMERA_ID, camera_id));

  if (codec == HEARTH_STAMP_H265)
    launch = g_strdup_printf ("rtspsrc location=%s protocols=tcp latency=0 "
                              "! rtph265depay ! h265parse "
                              "! video/x-h265,stream-format=hvc1,alignment=au "
                              "! appsink name=sink sync=false",
                              e2e.url);
  else
    launch = g_strdup_printf ("rtspsrc location=%s protocols=tcp latency=0 "
                              "! rtph264depay ! h264parse "
                              "! video/x-h264,stream-format=avc,alignment=au "
                              "! appsink name=sink sync=false",
                              e2e.url);
  pipeline = gst_parse_launch (launch, &error);
  g_assert_no_error (error);
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  bus = gst_element_get_bus (pipeline);
  g_assert_cmpint (gst_element_set_state (pipeline, GST_STATE_PLAYING), !=,
                   GST_STATE_CHANGE_FAILURE);

  deadline = g_get_monotonic_time () + E2E_DEADLINE_S * G_USEC_PER_SEC;
  for (guint seen = 0; seen < wanted; seen++) {
    gint64 left_us = deadline - g_get_monotonic_time ();
    g_autoptr (GstSample) sample = NULL;
    HearthStamp stamp;
    GstBuffer *buffer;
    GstMapInfo map;
    gboolean found;
    gint64 now_us;

    if (left_us > 0)
      sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink),
                                             left_us * GST_USECOND);
    if (sample == NULL) {
      g_autoptr (GstMessage) message =
          gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
      g_autoptr (GError) stream_error = NULL;
      g_autofree char *debug = NULL;

      if (message != NULL) {
        gst_message_parse_error (message, &stream_error, &debug);
        g_error ("after %u access units: %s (%s)", seen, stream_error->message,
                 debug);
      }
      g_error ("only %u access units before the deadline or end of stream",
               seen);
    }

    buffer = gst_sample_get_buffer (sample);
    g_assert_true (gst_buffer_map (buffer, &map, GST_MAP_READ));
    found = hearth_stamp_find_for (map.data, map.size,
                                   nal_length_size_of (gst_sample_get_caps (sample),
                                                       codec),
                                   codec, &stamp);
    gst_buffer_unmap (buffer, &map);
    now_us = g_get_real_time ();

    if (!found)
      g_error ("access unit %u carries no stamp", seen);
    g_assert_cmpmem (stamp.camera_id, 16, camera_id, 16);
    if (seen > 0)
      g_assert_cmpuint (stamp.counter, >, last_counter);
    last_counter = stamp.counter;
    g_assert_cmpint (stamp.capture_time_us, >=, started_us);
    g_assert_cmpint (stamp.capture_time_us, <=, now_us);
    worst_latency_us = MAX (worst_latency_us, now_us - stamp.capture_time_us);
  }
  g_test_message ("%u stamped access units, last counter %" G_GUINT64_FORMAT
                  ", worst latency %" G_GINT64_FORMAT " ms", wanted,
                  last_counter, worst_latency_us / 1000);

  gst_element_set_state (pipeline, GST_STATE_NULL);
  e2e_stop_camera (&e2e);
  e2e_clear (&e2e);
}

/* An independent decoder agrees: H.264 at the size asked for, and nothing
 * in the stream (stamp SEI included) makes it complain. */
static void
test_fake_camera_ffprobe (gconstpointer data)
{
  const char *codec = data;
  g_autofree char *codec_line = g_strdup_printf (
      "codec_name=%s\n", g_str_equal (codec, "h265") ? "hevc" : "h264");
  E2e e2e;
  g_autofree char *ffprobe = g_find_program_in_path ("ffprobe");
  g_autoptr (GSubprocess) process = NULL;

  if (ffprobe == NULL) {
    g_test_skip ("ffprobe is not installed");
    return;
  }

  e2e_init (&e2e);
  if (!e2e_start_camera (&e2e, codec, "320", "240")) {
    e2e_clear (&e2e);
    return;
  }

  {
    const char *const argv[] = {
      ffprobe, "-hide_banner", "-v", "info", "-rtsp_transport", "tcp",
      "-select_streams", "v", "-count_frames", "-read_intervals", "%+2",
      "-show_entries", "stream=codec_name,width,height,nb_read_frames",
      "-of", "default=noprint_wrappers=1", e2e.url, NULL
    };

    process = spawn (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                     G_SUBPROCESS_FLAGS_STDERR_PIPE, argv);
  }
  e2e_clear_result (&e2e);
  g_subprocess_communicate_utf8_async (process, NULL, NULL, on_communicated,
                                       &e2e);
  if (!e2e_wait (&e2e, E2E_DEADLINE_S)) {
    g_subprocess_force_exit (process);
    g_error ("ffprobe did not finish in time");
  }
  g_assert_no_error (e2e.error);
  g_test_message ("ffprobe: %s", e2e.out);

  g_assert_true (g_subprocess_get_if_exited (process));
  g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 0);
  /* At -v info the stream description comes without a prefix; whatever a
   * demuxer or the decoder says about the stream ("[h264 @ 0x…] concealing
   * …", a warning about an SEI) comes as "[name @ address] …". */
  g_assert_nonnull (e2e.err);
  {
    g_auto (GStrv) lines = g_strsplit (e2e.err, "\n", -1);

    for (guint i = 0; lines[i] != NULL; i++) {
      if (lines[i][0] == '[')
        g_error ("ffprobe complained: %s", lines[i]);
    }
  }
  g_assert_nonnull (strstr (e2e.out, codec_line));
  g_assert_nonnull (strstr (e2e.out, "width=320\n"));
  g_assert_nonnull (strstr (e2e.out, "height=240\n"));
  {
    const char *frames = strstr (e2e.out, "nb_read_frames=");

    g_assert_nonnull (frames);
    g_assert_cmpint (atoi (frames + strlen ("nb_read_frames=")), >, 0);
  }

  e2e_stop_camera (&e2e);
  e2e_clear (&e2e);
}

/* Bad arguments: a message on stderr and exit status 64 (EX_USAGE). */
static void
test_fake_camera_usage (void)
{
  const char *const cases[][3] = {
    { "--width", "641", "--width" },
    { "--fps", "0", "--fps" },
    { "--port", "70000", "--port" },
    { "--stamp-id", "not-a-uuid", "--stamp-id" },
    { "--address", "camera.example", "--address" },
    { "--mount", "stream", "--mount" },
    { "--bitrate", "lots", "--bitrate" },
    { "--codec", "vp8", "--codec" },
    { "extra", NULL, "extra" },
  };
  g_autofree char *path = fake_camera_path ();
  E2e e2e;

  if (path == NULL) {
    g_test_skip ("HEARTH_BUILD_DIR is not set: run this through meson test");
    return;
  }

  e2e_init (&e2e);
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    const char *const argv[] = { path, cases[i][0], cases[i][1], NULL };
    g_autoptr (GSubprocess) process = NULL;

    process = spawn (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                     G_SUBPROCESS_FLAGS_STDERR_PIPE, argv);
    e2e_clear_result (&e2e);
    g_subprocess_communicate_utf8_async (process, NULL, NULL, on_communicated,
                                         &e2e);
    if (!e2e_wait (&e2e, E2E_DEADLINE_S)) {
      g_subprocess_force_exit (process);
      g_error ("fake-camera %s did not exit", cases[i][0]);
    }
    g_assert_no_error (e2e.error);
    g_assert_true (g_subprocess_get_if_exited (process));
    g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 64);
    g_assert_cmpstr (e2e.out, ==, "");
    g_assert_nonnull (strstr (e2e.err, cases[i][2]));
  }
  e2e_clear (&e2e);
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  gst_init (NULL, NULL);

  g_test_add_func ("/hearth/stamp/round-trip", test_round_trip);
  g_test_add_func ("/hearth/stamp/wire-format", test_wire_format);
  g_test_add_func ("/hearth/stamp/emulation-prevention",
                   test_emulation_prevention);
  g_test_add_func ("/hearth/stamp/extreme-values", test_extreme_values);
  g_test_add_func ("/hearth/stamp/truncated", test_truncated);
  g_test_add_func ("/hearth/stamp/random-bytes", test_random_bytes);
  g_test_add_func ("/hearth/stamp/mutated", test_mutated);
  g_test_add_func ("/hearth/stamp/hostile", test_hostile);
  g_test_add_func ("/hearth/stamp/id", test_id);
  g_test_add_func ("/hearth/stamp/fake-camera-usage", test_fake_camera_usage);
  g_test_add_func ("/hearth/stamp/hevc-round-trip", test_hevc_round_trip);
  g_test_add_func ("/hearth/stamp/hevc-wire-format", test_hevc_wire_format);
  g_test_add_func ("/hearth/stamp/hevc-truncated", test_hevc_truncated);
  g_test_add_func ("/hearth/stamp/hevc-mutated", test_hevc_mutated);
  g_test_add_data_func ("/hearth/stamp/fake-camera-rtsp", "h264",
                        test_fake_camera_rtsp);
  g_test_add_data_func ("/hearth/stamp/fake-camera-rtsp-hevc", "h265",
                        test_fake_camera_rtsp);
  g_test_add_data_func ("/hearth/stamp/fake-camera-ffprobe", "h264",
                        test_fake_camera_ffprobe);
  g_test_add_data_func ("/hearth/stamp/fake-camera-ffprobe-hevc", "h265",
                        test_fake_camera_ffprobe);

  status = g_test_run ();
  gst_deinit ();
  return status;
}
