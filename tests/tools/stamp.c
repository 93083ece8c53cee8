/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Test stamps: the SEI "user data unregistered" message (payload type 5)
 * that the fake camera puts into every access unit, and the reader that finds
 * it again in whatever a display receives. The SEI message syntax is the
 * same in H.264 (SEI NAL type 6, 1-byte NAL header) and H.265 (prefix SEI
 * NAL type 39, 2-byte NAL header); only the NAL header differs.
 *
 * Writer: tests/tools/fake-camera.c, from a pad probe on the encoder. Readers:
 * tests/test-stamp.c and hearth-display's check mode, on Annex B byte-stream or
 * length-prefixed (AVC/MP4) access units.
 *
 * The reader parses bytes that came over the network, so every length in them
 * is checked against the buffer before it is used: malformed input makes it
 * return FALSE, never read outside @data.
 */
#define G_LOG_DOMAIN "hearth-stamp"

#include "stamp.h"

#include <string.h>

/* "HEARTH-STAMP-v1\0": names the stamp format, not a camera. */
static const guint8 stamp_uuid[HEARTH_STAMP_UUID_LEN] = {
  0x48, 0x45, 0x41, 0x52, 0x54, 0x48, 0x2d, 0x53,
  0x54, 0x41, 0x4d, 0x50, 0x2d, 0x76, 0x31, 0x00,
};

enum {
  NAL_TYPE_SEI = 6,
  HEVC_NAL_TYPE_PREFIX_SEI = 39,
  SEI_USER_DATA_UNREGISTERED = 5,
  /* format uuid + camera id + counter + capture time + check */
  STAMP_FIELDS_LEN = 16 + 8 + 8,
  STAMP_CHECK_LEN = 4,
  STAMP_PAYLOAD_LEN = HEARTH_STAMP_UUID_LEN + STAMP_FIELDS_LEN + STAMP_CHECK_LEN,
  RBSP_TRAILING_BITS = 0x80,
};

/* The first bytes of SHA-256 over id, counter and time: a stamp damaged on
 * the way (the isolation tests corrupt bytes on purpose) is not mistaken for
 * the stamp of another camera. */
static void
stamp_check (const guint8 *fields, guint8 check[STAMP_CHECK_LEN])
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  guint8 digest[32];
  gsize len = sizeof digest;

  g_checksum_update (sum, fields, STAMP_FIELDS_LEN);
  g_checksum_get_digest (sum, digest, &len);
  memcpy (check, digest, STAMP_CHECK_LEN);
}

static gboolean
stamp_check_ok (const guint8 *fields)
{
  guint8 check[STAMP_CHECK_LEN];

  stamp_check (fields, check);
  return memcmp (check, fields + STAMP_FIELDS_LEN, STAMP_CHECK_LEN) == 0;
}

static int
hex_value (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/**
 * hearth_stamp_id_parse:
 * @text: a UUID as "8-4-4-4-12" hex text, either case
 * @id: (out caller-allocates): the 16 raw bytes
 *
 * Returns: TRUE if @text is exactly such a UUID; @id is untouched otherwise.
 */
gboolean
hearth_stamp_id_parse (const char *text, guint8 id[16])
{
  guint8 bytes[16];
  gsize n = 0;

  g_return_val_if_fail (id != NULL, FALSE);

  if (text == NULL || strlen (text) != 36)
    return FALSE;

  for (gsize i = 0; i < 36;) {
    int hi, lo;

    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-')
        return FALSE;
      i++;
      continue;
    }
    hi = hex_value (text[i]);
    lo = hex_value (text[i + 1]);
    if (hi < 0 || lo < 0)
      return FALSE;
    bytes[n++] = (guint8) (hi << 4 | lo);
    i += 2;
  }

  memcpy (id, bytes, sizeof bytes);
  return TRUE;
}

/**
 * hearth_stamp_id_to_string:
 * @id: 16 raw bytes
 *
 * Returns: (transfer full): @id as lowercase "8-4-4-4-12" text.
 */
char *
hearth_stamp_id_to_string (const guint8 id[16])
{
  g_return_val_if_fail (id != NULL, NULL);

  return g_strdup_printf ("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                          "%02x%02x%02x%02x%02x%02x",
                          id[0], id[1], id[2], id[3], id[4], id[5], id[6],
                          id[7], id[8], id[9], id[10], id[11], id[12], id[13],
                          id[14], id[15]);
}

/* SEI payload type and size: runs of 0xFF, each worth 255, then the rest. */
static void
put_sei_value (GByteArray *rbsp, gsize value)
{
  const guint8 ff = 0xff;
  guint8 last;

  for (; value >= 0xff; value -= 0xff)
    g_byte_array_append (rbsp, &ff, 1);
  last = (guint8) value;
  g_byte_array_append (rbsp, &last, 1);
}

static void
put_be64 (GByteArray *rbsp, guint64 value)
{
  guint64 be = GUINT64_TO_BE (value);

  g_byte_array_append (rbsp, (const guint8 *) &be, sizeof be);
}

/**
 * hearth_stamp_build_sei_nal:
 * @stamp: the stamp to write
 *
 * Builds a complete SEI NAL unit carrying @stamp: the NAL header byte, one
 * user-data-unregistered message and the rbsp trailing bits, with emulation
 * prevention bytes inserted. No start code or length prefix.
 *
 * Returns: (transfer full): the NAL unit.
 */
GBytes *
hearth_stamp_build_sei_nal (const HearthStamp *stamp)
{
  return hearth_stamp_build_sei_nal_for (stamp, HEARTH_STAMP_H264);
}

/**
 * hearth_stamp_build_sei_nal_for:
 * @stamp: the stamp to write
 * @codec: H.264: an SEI NAL (header 06); H.265: a prefix SEI NAL (header
 *   4e 01: type 39, layer 0, temporal id 0)
 *
 * Returns: (transfer full): the NAL unit, as hearth_stamp_build_sei_nal().
 */
GBytes *
hearth_stamp_build_sei_nal_for (const HearthStamp *stamp,
                                HearthStampCodec codec)
{
  g_autoptr (GByteArray) rbsp = g_byte_array_sized_new (64);
  GByteArray *nal;
  guint zeros = 0;
  /* H.264: forbidden bit 0, nal_ref_idc 0, type 6. H.265: forbidden bit 0,
   * type 39, nuh_layer_id 0, nuh_temporal_id_plus1 1. */
  const guint8 h264_header[] = { NAL_TYPE_SEI };
  const guint8 h265_header[] = { HEVC_NAL_TYPE_PREFIX_SEI << 1, 0x01 };
  const guint8 *header = codec == HEARTH_STAMP_H265 ? h265_header : h264_header;
  const guint header_len = codec == HEARTH_STAMP_H265 ? sizeof h265_header
                                                      : sizeof h264_header;
  const guint8 trailing = RBSP_TRAILING_BITS;
  const guint8 escape = 0x03;
  guint8 check[STAMP_CHECK_LEN];
  guint fields;

  g_return_val_if_fail (stamp != NULL, NULL);

  put_sei_value (rbsp, SEI_USER_DATA_UNREGISTERED);
  put_sei_value (rbsp, STAMP_PAYLOAD_LEN);
  g_byte_array_append (rbsp, stamp_uuid, sizeof stamp_uuid);
  fields = rbsp->len;
  g_byte_array_append (rbsp, stamp->camera_id, sizeof stamp->camera_id);
  put_be64 (rbsp, stamp->counter);
  put_be64 (rbsp, (guint64) stamp->capture_time_us);
  stamp_check (rbsp->data + fields, check);
  g_byte_array_append (rbsp, check, sizeof check);
  g_byte_array_append (rbsp, &trailing, 1);

  /* Worst case one escape byte per two payload bytes. */
  nal = g_byte_array_sized_new (header_len + rbsp->len + rbsp->len / 2);
  g_byte_array_append (nal, header, header_len);
  for (guint i = 0; i < rbsp->len; i++) {
    const guint8 b = rbsp->data[i];

    /* 00 00 0x with x <= 3 would read as a start code or an escape. */
    if (zeros >= 2 && b <= 0x03) {
      g_byte_array_append (nal, &escape, 1);
      zeros = 0;
    }
    g_byte_array_append (nal, &b, 1);
    zeros = b == 0 ? zeros + 1 : 0;
  }

  return g_byte_array_free_to_bytes (nal);
}

static guint64
read_be64 (const guint8 *p)
{
  guint64 v = 0;

  for (guint i = 0; i < 8; i++)
    v = v << 8 | p[i];
  return v;
}

/* Reads one 0xFF-continued SEI value at *pos, staying below @len. */
static gboolean
read_sei_value (const guint8 *rbsp, gsize len, gsize *pos, gsize *value)
{
  gsize v = 0;

  while (*pos < len && rbsp[*pos] == 0xff) {
    v += 0xff;
    (*pos)++;
  }
  if (*pos >= len)
    return FALSE;
  v += rbsp[(*pos)++];
  *value = v;
  return TRUE;
}

/*
 * One SEI NAL unit (header of @header_len bytes included, no start code).
 * TRUE only if the whole NAL parses (every message fits, rbsp trailing bits
 * at the end) and one of its messages is a stamp.
 */
static gboolean
parse_sei_nal (const guint8 *nal, gsize nal_len, gsize header_len,
               HearthStamp *stamp)
{
  g_autofree guint8 *rbsp = NULL;
  gsize len = 0, pos = 0;
  guint zeros = 0;
  gboolean found = FALSE;
  HearthStamp candidate;

  if (nal_len < header_len + 1)
    return FALSE;

  /* Undo emulation prevention: drop the 03 of every 00 00 03. */
  rbsp = g_malloc (nal_len - header_len);
  for (gsize i = header_len; i < nal_len; i++) {
    const guint8 b = nal[i];

    if (zeros >= 2 && b == 0x03) {
      zeros = 0;
      continue;
    }
    rbsp[len++] = b;
    zeros = b == 0 ? zeros + 1 : 0;
  }

  /* sei_message()s until only the rbsp trailing bits are left. */
  while (len - pos != 1 || rbsp[pos] != RBSP_TRAILING_BITS) {
    gsize type, size;

    if (pos >= len)
      return FALSE; /* no trailing bits: truncated */
    if (!read_sei_value (rbsp, len, &pos, &type) ||
        !read_sei_value (rbsp, len, &pos, &size))
      return FALSE;
    if (size > len - pos)
      return FALSE;

    if (!found && type == SEI_USER_DATA_UNREGISTERED &&
        size == STAMP_PAYLOAD_LEN &&
        memcmp (rbsp + pos, stamp_uuid, sizeof stamp_uuid) == 0 &&
        stamp_check_ok (rbsp + pos + sizeof stamp_uuid)) {
      const guint8 *p = rbsp + pos + sizeof stamp_uuid;

      memcpy (candidate.camera_id, p, sizeof candidate.camera_id);
      candidate.counter = read_be64 (p + 16);
      candidate.capture_time_us = (gint64) read_be64 (p + 24);
      found = TRUE;
    }
    pos += size;
  }

  if (found)
    *stamp = candidate;
  return found;
}

static gboolean
parse_nal (const guint8 *nal, gsize nal_len, HearthStampCodec codec,
           HearthStamp *stamp)
{
  /* forbidden_zero_bit set: not a NAL unit we trust */
  if (nal_len == 0 || (nal[0] & 0x80) != 0)
    return FALSE;
  if (codec == HEARTH_STAMP_H265) {
    /* Type in bits 1-6 of the first byte; the second byte holds the layer
     * and temporal ids. Suffix SEIs (40) carry no stamps. */
    if (nal_len < 2 || ((nal[0] >> 1) & 0x3f) != HEVC_NAL_TYPE_PREFIX_SEI)
      return FALSE;
    return parse_sei_nal (nal, nal_len, 2, stamp);
  }
  if ((nal[0] & 0x1f) != NAL_TYPE_SEI)
    return FALSE;
  return parse_sei_nal (nal, nal_len, 1, stamp);
}

/* Offset of the next 00 00 01 at or after @from, or @len if there is none. */
static gsize
next_start_code (const guint8 *data, gsize len, gsize from)
{
  for (gsize i = from; len >= 3 && i <= len - 3; i++) {
    if (data[i + 2] > 1) {
      i += 2; /* no start code can begin at i, i + 1 or i + 2 */
      continue;
    }
    if (data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1)
      return i;
  }
  return len;
}

static gboolean
find_annex_b (const guint8 *data, gsize len, HearthStampCodec codec,
              HearthStamp *stamp)
{
  gsize sc = next_start_code (data, len, 0);

  while (sc < len) {
    const gsize start = sc + 3;
    gsize end;

    sc = next_start_code (data, len, start);
    /* Zeros before the next start code are trailing_zero_8bits (or the
     * first byte of a 4-byte start code), not part of this NAL. */
    for (end = sc; end > start && data[end - 1] == 0; end--)
      ;
    if (parse_nal (data + start, end - start, codec, stamp))
      return TRUE;
  }
  return FALSE;
}

static gboolean
find_length_prefixed (const guint8 *data, gsize len, guint nal_length_size,
                      HearthStampCodec codec, HearthStamp *stamp)
{
  gsize pos = 0;

  while (pos < len) {
    gsize nal_len = 0;

    if (len - pos < nal_length_size)
      return FALSE;
    for (guint i = 0; i < nal_length_size; i++)
      nal_len = nal_len << 8 | data[pos++];
    if (nal_len > len - pos)
      return FALSE;
    if (parse_nal (data + pos, nal_len, codec, stamp))
      return TRUE;
    pos += nal_len;
  }
  return FALSE;
}

/**
 * hearth_stamp_find:
 * @data: (array length=len) (nullable): one access unit
 * @len: its size in bytes
 * @nal_length_size: 0 for Annex B start codes, else 1, 2 or 4: the size of
 *   the big-endian length before each NAL unit (AVC/MP4 samples)
 * @stamp: (out caller-allocates): the stamp found
 *
 * Looks through one access unit for a stamp SEI. NAL units are read in order
 * up to the first well-formed SEI NAL holding a stamp; a length prefix that
 * runs past @len before that ends the search. Any other @nal_length_size
 * finds nothing.
 *
 * Returns: TRUE and fills @stamp if a well-formed stamp was found; FALSE and
 *   leaves @stamp untouched otherwise.
 */
gboolean
hearth_stamp_find (const guint8 *data, gsize len, guint nal_length_size,
                   HearthStamp *stamp)
{
  return hearth_stamp_find_for (data, len, nal_length_size, HEARTH_STAMP_H264,
                                stamp);
}

/**
 * hearth_stamp_find_for:
 * @codec: whose NAL unit headers @data holds
 *
 * As hearth_stamp_find(), for H.264 or H.265 access units (for H.265, MP4
 * samples are length-prefixed just as H.264's; the length size is in hvcC).
 */
gboolean
hearth_stamp_find_for (const guint8 *data, gsize len, guint nal_length_size,
                       HearthStampCodec codec, HearthStamp *stamp)
{
  g_return_val_if_fail (stamp != NULL, FALSE);

  if (data == NULL || len == 0)
    return FALSE;

  switch (nal_length_size) {
    case 0:
      return find_annex_b (data, len, codec, stamp);
    case 1:
    case 2:
    case 4:
      return find_length_prefixed (data, len, nal_length_size, codec, stamp);
    default:
      return FALSE;
  }
}
