/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests for the fMP4 splitter: real mp4mux output made in-process (split as
 * the muxer pushed it and at random boundaries, and decoded by ffprobe from
 * the second keyframe on), hand-made boxes for each way a moof can say
 * "keyframe", and malformed input that must fail cleanly (run under ASan).
 * With AAC beside the video ("h264+aac"), as for a camera with audio: audio
 * fragments are told apart from frames and never start a GOP, and a late
 * joiner's bytes decode both tracks.
 */
#include <string.h>

#include <glib/gstdio.h>
#include <gst/app/gstappsink.h>
#include <gst/gst.h>

#include "error.h"
#include "fixture.h"
#include "fmp4.h"

#define N_FRAMES 90
#define GOP 30

/* ---- real muxer output ---- */

typedef struct {
  GPtrArray *buffers;  /* of GBytes, as mp4mux pushed them */
  GBytes *all;         /* everything, concatenated */
} MuxerOutput;

static void
muxer_output_free (MuxerOutput *out)
{
  g_ptr_array_unref (out->buffers);
  g_bytes_unref (out->all);
  g_free (out);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MuxerOutput, muxer_output_free)

/* The encoder and parser, for "h264" or "h265" (test data); the H.265 one
 * as the gateway muxes it: hvc1. */
static const char *
encoder_description (const char *codec)
{
  if (g_str_equal (codec, "h265"))
    return "x265enc key-int-max=30 option-string=scenecut=0:open-gop=0 ! "
           "h265parse ! video/x-h265,stream-format=hvc1,alignment=au";
  return "x264enc key-int-max=30 option-string=scenecut=0 ! h264parse ! "
         "video/x-h264,stream-format=avc,alignment=au";
}

/* Encodes N_FRAMES frames with an IDR every GOP frames (no scene-cut IDRs)
 * and fragments them the way the gateway does; "…+aac": with 3 s of AAC
 * (44.1 kHz, about 130 frames) as a second track. */
static MuxerOutput *
make_muxer_output (const char *codec)
{
  g_autofree char *description = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GstElement) pipeline = NULL;
  g_autoptr(GstElement) sink = NULL;
  g_autoptr(GstBus) bus = NULL;
  g_autoptr(GstMessage) message = NULL;
  g_autoptr(GByteArray) all = g_byte_array_new ();
  MuxerOutput *out = g_new0 (MuxerOutput, 1);
  GstSample *sample;

  out->buffers = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  description = g_strdup_printf (
      "videotestsrc num-buffers=90 ! "
      "video/x-raw,width=320,height=240,framerate=30/1 ! %s ! "
      "mp4mux name=mux fragment-duration=1 streamable=true ! "
      "appsink name=sink sync=false %s",
      encoder_description (g_str_has_prefix (codec, "h265") ? "h265" : "h264"),
      g_str_has_suffix (codec, "+aac")
      ? "audiotestsrc num-buffers=130 samplesperbuffer=1024 ! "
        "audio/x-raw,rate=44100,channels=1 ! audioconvert ! avenc_aac ! "
        "aacparse ! mux." : "");
  pipeline = gst_parse_launch (description, &error);
  g_assert_no_error (error);
  gst_object_ref_sink (pipeline);
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");

  g_assert_cmpint (gst_element_set_state (pipeline, GST_STATE_PLAYING), !=,
                   GST_STATE_CHANGE_FAILURE);
  while ((sample = gst_app_sink_pull_sample (GST_APP_SINK (sink))) != NULL) {
    GstBuffer *buffer = gst_sample_get_buffer (sample);
    GstMapInfo map;

    g_assert_true (gst_buffer_map (buffer, &map, GST_MAP_READ));
    g_ptr_array_add (out->buffers, g_bytes_new (map.data, map.size));
    g_byte_array_append (all, map.data, map.size);
    gst_buffer_unmap (buffer, &map);
    gst_sample_unref (sample);
  }

  bus = gst_element_get_bus (pipeline);
  message = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  g_assert_null (message);
  gst_element_set_state (pipeline, GST_STATE_NULL);

  out->all = g_byte_array_free_to_bytes (g_steal_pointer (&all));
  return out;
}

typedef struct {
  HearthFmp4Kind kind;
  GBytes *bytes;
  gboolean keyframe;
} Unit;

static void
unit_free (Unit *unit)
{
  g_bytes_unref (unit->bytes);
  g_free (unit);
}

static void
pop_all (HearthFmp4Splitter *splitter, GPtrArray *units)
{
  Unit unit;

  while (hearth_fmp4_splitter_pop (splitter, &unit.kind, &unit.bytes,
                                   &unit.keyframe))
    g_ptr_array_add (units, g_memdup2 (&unit, sizeof unit));
}

static GPtrArray *
split_pieces (GPtrArray *pieces)
{
  g_autoptr(HearthFmp4Splitter) splitter = hearth_fmp4_splitter_new ();
  GPtrArray *units = g_ptr_array_new_with_free_func ((GDestroyNotify) unit_free);

  for (guint i = 0; i < pieces->len; i++) {
    g_autoptr(GError) error = NULL;
    gsize len;
    const guint8 *data = g_bytes_get_data (pieces->pdata[i], &len);

    g_assert_true (hearth_fmp4_splitter_push (splitter, data, len, &error));
    g_assert_no_error (error);
    pop_all (splitter, units);
  }
  return units;
}

static guint
fragment_samples (const Unit *unit)
{
  g_autoptr(GError) error = NULL;
  gsize len;
  const guint8 *data = g_bytes_get_data (unit->bytes, &len);
  guint n = 0;

  g_assert_true (hearth_fmp4_moof_get_sample_count (data, len, &n, &error));
  g_assert_no_error (error);
  return n;
}

/* One init segment, then one fragment per frame with keyframes exactly at
 * frames 0, 30 and 60. mp4mux flushes its last two frames into one fragment
 * at EOS (a live stream has no EOS), so 90 frames make 89 fragments. */
static void
test_split_muxer_output (gconstpointer codec)
{
  g_autoptr(MuxerOutput) out = make_muxer_output (codec);
  g_autoptr(GPtrArray) units = split_pieces (out->buffers);
  guint frame = 0, n_keyframes = 0;

  g_assert_cmpuint (units->len, >=, 2);
  g_assert_cmpint (((Unit *) units->pdata[0])->kind, ==, HEARTH_FMP4_INIT);

  for (guint i = 1; i < units->len; i++) {
    Unit *unit = units->pdata[i];
    guint n = fragment_samples (unit);
    gboolean last = i == units->len - 1;
    gboolean starts_keyframe;
    g_autoptr(GError) error = NULL;

    g_assert_cmpint (unit->kind, ==, HEARTH_FMP4_FRAGMENT);
    if (!last)
      g_assert_cmpuint (n, ==, 1);
    else
      g_assert_cmpuint (n, <=, 2);

    g_assert_cmpint (unit->keyframe, ==, frame % GOP == 0);
    n_keyframes += unit->keyframe;

    /* The public moof reader agrees with the splitter. */
    g_assert_true (hearth_fmp4_moof_starts_with_keyframe (
        g_bytes_get_data (unit->bytes, NULL), g_bytes_get_size (unit->bytes),
        &starts_keyframe, &error));
    g_assert_no_error (error);
    g_assert_cmpint (starts_keyframe, ==, unit->keyframe);

    frame += n;
  }
  g_assert_cmpuint (frame, ==, N_FRAMES);
  g_assert_cmpuint (n_keyframes, ==, N_FRAMES / GOP);
  g_assert_cmpuint (units->len - 1, >=, N_FRAMES - 1);
  g_test_message ("%u frames in %u fragments", frame, units->len - 1);
}

static void
assert_same_units (GPtrArray *a, GPtrArray *b)
{
  g_assert_cmpuint (a->len, ==, b->len);
  for (guint i = 0; i < a->len; i++) {
    Unit *x = a->pdata[i], *y = b->pdata[i];

    g_assert_cmpint (x->kind, ==, y->kind);
    g_assert_cmpint (x->keyframe, ==, y->keyframe);
    g_assert_true (g_bytes_equal (x->bytes, y->bytes));
  }
}

/* Where the bytes are cut does not change what comes out. */
static void
test_random_boundaries (void)
{
  g_autoptr(MuxerOutput) out = make_muxer_output ("h264");
  g_autoptr(GPtrArray) expected = split_pieces (out->buffers);
  g_autoptr(GRand) rand = g_rand_new_with_seed (20261125);

  for (guint round = 0; round < 3; round++) {
    g_autoptr(GPtrArray) pieces =
      g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
    g_autoptr(GPtrArray) units = NULL;
    gsize total = g_bytes_get_size (out->all), off = 0;

    while (off < total) {
      /* Mostly small cuts, so that headers and sizes straddle pieces. */
      gsize max = g_rand_boolean (rand) ? 16 : 5000;
      /* Drawn once: MIN() evaluates its arguments twice. */
      gsize draw = (gsize) g_rand_int_range (rand, 1, (gint32) max + 1);
      gsize len = MIN (draw, total - off);

      g_ptr_array_add (pieces, g_bytes_new_from_bytes (out->all, off, len));
      off += len;
    }
    units = split_pieces (pieces);
    assert_same_units (expected, units);
  }

  /* And all at once. */
  {
    g_autoptr(GPtrArray) pieces =
      g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
    g_autoptr(GPtrArray) units = NULL;

    g_ptr_array_add (pieces, g_bytes_ref (out->all));
    units = split_pieces (pieces);
    assert_same_units (expected, units);
  }
}

/* Writes what a late joiner gets into the fixture's state directory: the
 * init segment, then every unit from the second keyframe on (audio too, as
 * the GOP cache keeps it). Returns the file's path; *@frames: video frames
 * in it. */
static char *
write_late_join (HearthTestFixture *f, GPtrArray *units, guint *frames)
{
  g_autoptr(GByteArray) file = g_byte_array_new ();
  g_autoptr(GError) error = NULL;
  char *path;
  guint keyframes = 0;
  gboolean copying = FALSE;

  *frames = 0;
  g_byte_array_append (file, g_bytes_get_data (((Unit *) units->pdata[0])->bytes, NULL),
                       g_bytes_get_size (((Unit *) units->pdata[0])->bytes));
  for (guint i = 1; i < units->len; i++) {
    Unit *unit = units->pdata[i];

    if (unit->keyframe && ++keyframes == 2)
      copying = TRUE;
    if (copying) {
      g_byte_array_append (file, g_bytes_get_data (unit->bytes, NULL),
                           g_bytes_get_size (unit->bytes));
      if (unit->kind == HEARTH_FMP4_FRAGMENT)
        *frames += fragment_samples (unit);
    }
  }

  path = g_build_filename (f->state_dir, "late.mp4", NULL);
  g_file_set_contents (path, (const char *) file->data, file->len, &error);
  g_assert_no_error (error);
  return path;
}

/* What a late joiner gets (init, then from a keyframe on) plays. */
static void
test_late_join_decodes (HearthTestFixture *f, gconstpointer codec)
{
  g_autoptr(MuxerOutput) out = make_muxer_output (codec);
  g_autoptr(GPtrArray) units = split_pieces (out->buffers);
  g_autoptr(GError) error = NULL;
  g_autofree char *ffprobe = g_find_program_in_path ("ffprobe");
  g_autofree char *path = NULL;
  g_autofree char *output = NULL;
  g_autofree char *expected = NULL;
  guint frames = 0;
  int status = 0;

  if (ffprobe == NULL) {
    g_test_skip ("ffprobe is not installed");
    return;
  }

  path = write_late_join (f, units, &frames);
  g_assert_cmpuint (frames, ==, N_FRAMES - GOP);

  {
    const char *argv[] = {
      ffprobe, "-v", "error", "-count_frames",
      "-show_entries", "stream=codec_name,nb_read_frames",
      "-of", "default=noprint_wrappers=1", path, NULL
    };

    g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL,
                  NULL, NULL, &output, NULL, &status, &error);
    g_assert_no_error (error);
  }
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  expected = g_strdup_printf ("codec_name=%s\nnb_read_frames=%u\n",
                              g_str_equal (codec, "h265") ? "hevc" : "h264",
                              N_FRAMES - GOP);
  g_assert_cmpstr (output, ==, expected);
}

/* The init segment names its codec: avc1 for H.264, hvc1 for H.265; every
 * truncation of it is read without overrunning (ASan: exact-size copies). */
static void
test_sample_entry (gconstpointer codec)
{
  g_autoptr(MuxerOutput) out = make_muxer_output (codec);
  g_autoptr(GPtrArray) units = split_pieces (out->buffers);
  Unit *init = units->pdata[0];
  gsize len;
  const guint8 *data = g_bytes_get_data (init->bytes, &len);
  char entry[5];

  g_assert_cmpint (init->kind, ==, HEARTH_FMP4_INIT);
  g_assert_true (hearth_fmp4_init_get_sample_entry (data, len, entry));
  g_assert_cmpstr (entry, ==, g_str_equal (codec, "h265") ? "hvc1" : "avc1");

  /* A fragment is not an init segment. */
  g_assert_false (hearth_fmp4_init_get_sample_entry (
      g_bytes_get_data (((Unit *) units->pdata[1])->bytes, NULL),
      g_bytes_get_size (((Unit *) units->pdata[1])->bytes), entry));
  g_assert_false (hearth_fmp4_init_get_sample_entry (NULL, 0, entry));

  for (gsize cut = 0; cut < len; cut++) {
    g_autofree guint8 *copy = g_memdup2 (data, cut);

    /* The moov is the last box: cut short, it is never found whole. */
    g_assert_false (hearth_fmp4_init_get_sample_entry (copy, cut, entry));
  }
}

/* Video and AAC: every fragment holds one track's samples; the video's are
 * one frame each with keyframes at 0, 30 and 60 as without audio; the
 * audio's are HEARTH_FMP4_AUDIO and never keyframes, though every AAC frame
 * is a sync sample. The init names both tracks. */
static void
test_split_with_audio (void)
{
  g_autoptr(MuxerOutput) out = make_muxer_output ("h264+aac");
  g_autoptr(GPtrArray) units = split_pieces (out->buffers);
  Unit *init = units->pdata[0];
  guint frames = 0, keyframes = 0, audio = 0, audio_samples = 0;
  char entry[5];

  g_assert_cmpint (init->kind, ==, HEARTH_FMP4_INIT);
  g_assert_true (hearth_fmp4_init_get_sample_entry (
      g_bytes_get_data (init->bytes, NULL), g_bytes_get_size (init->bytes),
      entry));
  g_assert_cmpstr (entry, ==, "avc1");
  g_assert_true (hearth_fmp4_init_get_audio_sample_entry (
      g_bytes_get_data (init->bytes, NULL), g_bytes_get_size (init->bytes),
      entry));
  g_assert_cmpstr (entry, ==, "mp4a");

  for (guint i = 1; i < units->len; i++) {
    Unit *unit = units->pdata[i];
    guint n = fragment_samples (unit);

    if (unit->kind == HEARTH_FMP4_AUDIO) {
      g_assert_false (unit->keyframe);
      audio++;
      audio_samples += n;
      continue;
    }
    g_assert_cmpint (unit->kind, ==, HEARTH_FMP4_FRAGMENT);
    g_assert_cmpint (unit->keyframe, ==, frames % GOP == 0);
    keyframes += unit->keyframe;
    frames += n;
  }
  g_assert_cmpuint (frames, ==, N_FRAMES);
  g_assert_cmpuint (keyframes, ==, N_FRAMES / GOP);
  /* One AAC frame per fragment (but the last, flushed at EOS). */
  g_assert_cmpuint (audio_samples, >=, 125);
  g_assert_cmpuint (audio, >=, audio_samples - 1);
  g_test_message ("%u frames and %u AAC frames in %u fragments", frames,
                  audio_samples, units->len - 1);

  /* A moov without audio has none. */
  {
    g_autoptr(MuxerOutput) video = make_muxer_output ("h264");
    g_autoptr(GPtrArray) video_units = split_pieces (video->buffers);
    Unit *video_init = video_units->pdata[0];

    g_assert_false (hearth_fmp4_init_get_audio_sample_entry (
        g_bytes_get_data (video_init->bytes, NULL),
        g_bytes_get_size (video_init->bytes), entry));
  }
}

/* What a late joiner gets with audio (init, then every unit from the second
 * keyframe on, as the GOP cache keeps them) decodes both tracks, and ffmpeg
 * has nothing to say about it. */
static void
test_late_join_with_audio (HearthTestFixture *f, gconstpointer data)
{
  g_autoptr(MuxerOutput) out = make_muxer_output ("h264+aac");
  g_autoptr(GPtrArray) units = split_pieces (out->buffers);
  g_autoptr(GError) error = NULL;
  g_autofree char *ffmpeg = g_find_program_in_path ("ffmpeg");
  g_autofree char *path = NULL;
  g_autofree char *errors = NULL;
  guint frames = 0;
  int status = 0;

  if (ffmpeg == NULL) {
    g_test_skip ("ffmpeg is not installed");
    return;
  }
  path = write_late_join (f, units, &frames);
  g_assert_cmpuint (frames, ==, N_FRAMES - GOP);
  {
    const char *argv[] = {
      ffmpeg, "-nostdin", "-v", "error", "-i", path,
      "-map", "0:v", "-map", "0:a", "-f", "null", "-", NULL
    };

    g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL,
                  NULL, NULL, NULL, &errors, &status, &error);
    g_assert_no_error (error);
  }
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_cmpstr (errors, ==, "");
}

/* Each fragment's place on its track's timeline: the video's starts at 0
 * (so do both tracks, together: mp4mux counts from its first buffer), and
 * each fragment of a track begins where the one before it ended. */
static void
test_fragment_time (void)
{
  g_autoptr(MuxerOutput) out = make_muxer_output ("h264+aac");
  g_autoptr(GPtrArray) units = split_pieces (out->buffers);
  Unit *init = units->pdata[0];
  guint64 next[2] = { 0, 0 };
  guint32 timescales[2] = { 0, 0 };
  gboolean started[2] = { FALSE, FALSE };

  g_assert_cmpint (init->kind, ==, HEARTH_FMP4_INIT);
  for (guint i = 1; i < units->len; i++) {
    Unit *unit = units->pdata[i];
    guint t = unit->kind == HEARTH_FMP4_AUDIO;
    g_autoptr(GError) error = NULL;
    guint64 decode_time = G_MAXUINT64, duration = 0;
    guint32 timescale = 0;

    g_assert_true (hearth_fmp4_fragment_get_time (
        g_bytes_get_data (init->bytes, NULL), g_bytes_get_size (init->bytes),
        g_bytes_get_data (unit->bytes, NULL), g_bytes_get_size (unit->bytes),
        &decode_time, &duration, &timescale, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (duration, >, 0);
    if (started[t]) {
      g_assert_cmpuint (timescale, ==, timescales[t]);
      g_assert_cmpuint (decode_time, ==, next[t]);
    } else {
      timescales[t] = timescale;
      /* Both start within one AAC frame of 0. */
      g_assert_cmpfloat ((double) decode_time / timescale, <, 0.03);
      if (t == 0)
        g_assert_cmpuint (decode_time, ==, 0);
    }
    started[t] = TRUE;
    next[t] = decode_time + duration;
  }
  g_assert_true (started[0] && started[1]);
  g_assert_cmpuint (timescales[1], ==, 44100);
  /* 90 frames at 30 fps */
  g_assert_cmpfloat_with_epsilon ((double) next[0] / timescales[0], 3.0, 1e-6);
}

/* ---- hand-made boxes ---- */

static void
put_u32 (GByteArray *a, guint32 v)
{
  guint32 be = GUINT32_TO_BE (v);

  g_byte_array_append (a, (const guint8 *) &be, 4);
}

static void
put_u64 (GByteArray *a, guint64 v)
{
  guint64 be = GUINT64_TO_BE (v);

  g_byte_array_append (a, (const guint8 *) &be, 8);
}

static guint
box_begin (GByteArray *a, const char *type)
{
  guint at = a->len;

  put_u32 (a, 0);
  g_byte_array_append (a, (const guint8 *) type, 4);
  return at;
}

static void
box_end (GByteArray *a, guint at)
{
  guint32 be = GUINT32_TO_BE (a->len - at);

  memcpy (a->data + at, &be, 4);
}

static void
put_box (GByteArray *a, const char *type, gsize body_len)
{
  guint at = box_begin (a, type);

  for (gsize i = 0; i < body_len; i++)
    g_byte_array_append (a, (const guint8 *) "\0", 1);
  box_end (a, at);
}

#define NON_SYNC 0x00010000u
#define SYNC     0x02000000u

static void
put_moov (GByteArray *a, gboolean trex, guint32 trex_flags)
{
  guint moov, mvex, t, trak, tkhd, mdia, mdhd;

  moov = box_begin (a, "moov");
  put_box (a, "mvhd", 100);
  /* trak/tkhd (track 1) and mdia/mdhd (timescale 90000), the rest left out */
  trak = box_begin (a, "trak");
  tkhd = box_begin (a, "tkhd");
  put_u32 (a, 0);             /* version, flags */
  put_u32 (a, 0);             /* creation time */
  put_u32 (a, 0);             /* modification time */
  put_u32 (a, 1);             /* track_ID */
  box_end (a, tkhd);
  mdia = box_begin (a, "mdia");
  mdhd = box_begin (a, "mdhd");
  put_u32 (a, 0);             /* version, flags */
  put_u32 (a, 0);             /* creation time */
  put_u32 (a, 0);             /* modification time */
  put_u32 (a, 90000);         /* timescale */
  put_u32 (a, 0);             /* duration */
  box_end (a, mdhd);
  box_end (a, mdia);
  box_end (a, trak);
  if (trex) {
    mvex = box_begin (a, "mvex");
    t = box_begin (a, "trex");
    put_u32 (a, 0);           /* version, flags */
    put_u32 (a, 1);           /* track_ID */
    put_u32 (a, 1);           /* default sample description index */
    put_u32 (a, 3000);        /* duration */
    put_u32 (a, 0);           /* size */
    put_u32 (a, trex_flags);
    box_end (a, t);
    box_end (a, mvex);
  }
  box_end (a, moov);
}

static void
put_init (GByteArray *a, gboolean trex, guint32 trex_flags)
{
  put_box (a, "ftyp", 8);
  put_moov (a, trex, trex_flags);
}

typedef enum {
  FLAGS_FIRST_SAMPLE,   /* trun first-sample-flags */
  FLAGS_PER_SAMPLE,     /* trun per-sample flags */
  FLAGS_TFHD_DEFAULT,   /* tfhd default-sample-flags */
  FLAGS_TREX_DEFAULT,   /* nothing in the moof */
} FlagsWhere;

/* A moof with one traf holding two samples; the first one's flags are
 * @first, said in the way @where names. */
static void
put_moof (GByteArray *a, FlagsWhere where, guint32 first)
{
  guint moof = box_begin (a, "moof"), traf, tfhd, trun;
  guint32 tfhd_flags = where == FLAGS_TFHD_DEFAULT ? 0x20 : 0;
  guint32 trun_flags = 0x001 | 0x100 | 0x200;

  put_box (a, "mfhd", 8);
  traf = box_begin (a, "traf");
  tfhd = box_begin (a, "tfhd");
  put_u32 (a, tfhd_flags | 0x08);   /* + default duration */
  put_u32 (a, 1);                   /* track_ID */
  put_u32 (a, 1000);                /* default duration */
  if (tfhd_flags & 0x20)
    put_u32 (a, first);
  box_end (a, tfhd);
  put_box (a, "tfdt", 8);

  if (where == FLAGS_FIRST_SAMPLE)
    trun_flags |= 0x004;
  if (where == FLAGS_PER_SAMPLE)
    trun_flags |= 0x400;
  trun = box_begin (a, "trun");
  put_u32 (a, trun_flags);
  put_u32 (a, 2);                   /* sample count */
  put_u32 (a, 0);                   /* data offset */
  if (trun_flags & 0x004)
    put_u32 (a, first);
  for (guint i = 0; i < 2; i++) {
    put_u32 (a, 1000);              /* duration */
    put_u32 (a, 4);                 /* size */
    if (trun_flags & 0x400)
      put_u32 (a, i == 0 ? first : NON_SYNC);
  }
  box_end (a, trun);
  box_end (a, traf);
  box_end (a, moof);
}

static void
put_mdat (GByteArray *a)
{
  put_box (a, "mdat", 8);
}

/* Every place a moof can put the first sample's flags is read. */
static void
test_flag_sources (void)
{
  const FlagsWhere wheres[] = {
    FLAGS_FIRST_SAMPLE, FLAGS_PER_SAMPLE, FLAGS_TFHD_DEFAULT, FLAGS_TREX_DEFAULT
  };

  for (guint w = 0; w < G_N_ELEMENTS (wheres); w++) {
    for (guint sync = 0; sync < 2; sync++) {
      g_autoptr(HearthFmp4Splitter) splitter = hearth_fmp4_splitter_new ();
      g_autoptr(GByteArray) a = g_byte_array_new ();
      g_autoptr(GByteArray) moof = g_byte_array_new ();
      g_autoptr(GError) error = NULL;
      guint32 flags = sync ? SYNC : NON_SYNC;
      HearthFmp4Kind kind;
      g_autoptr(GBytes) init = NULL;
      g_autoptr(GBytes) fragment = NULL;
      gboolean keyframe = !sync;
      guint n = 0;

      /* With FLAGS_TREX_DEFAULT only the init segment knows. */
      put_init (a, TRUE, flags);
      put_moof (a, wheres[w], flags);
      put_mdat (a);

      g_assert_true (hearth_fmp4_splitter_push (splitter, a->data, a->len,
                                                &error));
      g_assert_no_error (error);
      g_assert_true (hearth_fmp4_splitter_pop (splitter, &kind, &init, NULL));
      g_assert_cmpint (kind, ==, HEARTH_FMP4_INIT);
      g_assert_true (hearth_fmp4_splitter_pop (splitter, &kind, &fragment,
                                               &keyframe));
      g_assert_cmpint (kind, ==, HEARTH_FMP4_FRAGMENT);
      g_assert_cmpint (keyframe, ==, sync);
      g_assert_false (hearth_fmp4_splitter_pop (splitter, &kind, &fragment,
                                                &keyframe));

      g_assert_true (hearth_fmp4_moof_get_sample_count (
          g_bytes_get_data (fragment, NULL), g_bytes_get_size (fragment),
          &n, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (n, ==, 2);

      /* Without the init segment, a moof relying on trex is an error. */
      put_moof (moof, wheres[w], flags);
      if (wheres[w] == FLAGS_TREX_DEFAULT) {
        g_assert_false (hearth_fmp4_moof_starts_with_keyframe (
            moof->data, moof->len, &keyframe, &error));
        g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA);
      } else {
        g_assert_true (hearth_fmp4_moof_starts_with_keyframe (
            moof->data, moof->len, &keyframe, &error));
        g_assert_no_error (error);
        g_assert_cmpint (keyframe, ==, sync);
      }
    }
  }
}

typedef enum {
  DURATION_TRUN,        /* per sample in the trun */
  DURATION_TFHD,        /* tfhd default-sample-duration */
  DURATION_TREX,        /* the init segment's trex (3000) */
} DurationWhere;

/* A moof of three samples, its decode time in a tfdt of @version, their
 * durations (3000 each) said the way @where names. */
static void
put_timed_moof (GByteArray *a, guint version, guint64 decode_time,
                DurationWhere where)
{
  guint moof = box_begin (a, "moof"), traf, tfhd, tfdt, trun;

  put_box (a, "mfhd", 8);
  traf = box_begin (a, "traf");
  tfhd = box_begin (a, "tfhd");
  put_u32 (a, where == DURATION_TFHD ? 0x08 : 0);
  put_u32 (a, 1);                   /* track_ID */
  if (where == DURATION_TFHD)
    put_u32 (a, 3000);
  box_end (a, tfhd);
  tfdt = box_begin (a, "tfdt");
  put_u32 (a, version << 24);
  if (version == 1)
    put_u64 (a, decode_time);
  else
    put_u32 (a, (guint32) decode_time);
  box_end (a, tfdt);
  trun = box_begin (a, "trun");
  put_u32 (a, 0x004 | (where == DURATION_TRUN ? 0x100 : 0));
  put_u32 (a, 3);                   /* sample count */
  put_u32 (a, SYNC);                /* first sample flags */
  for (guint i = 0; where == DURATION_TRUN && i < 3; i++)
    put_u32 (a, 3000);
  box_end (a, trun);
  box_end (a, traf);
  box_end (a, moof);
  put_mdat (a);
}

/* Every place a fragment can say its time is read: tfdt of 32 and 64 bits,
 * durations from the trun, the tfhd or the init's trex; the timescale is
 * its track's. What is not said is an error, never a guess. */
static void
test_fragment_time_sources (void)
{
  const DurationWhere wheres[] = { DURATION_TRUN, DURATION_TFHD, DURATION_TREX };
  g_autoptr(GByteArray) init = g_byte_array_new ();
  g_autoptr(GByteArray) bare = g_byte_array_new ();

  put_init (init, TRUE, SYNC);
  put_init (bare, FALSE, 0);
  for (guint w = 0; w < G_N_ELEMENTS (wheres); w++) {
    for (guint version = 0; version < 2; version++) {
      g_autoptr(GByteArray) frag = g_byte_array_new ();
      g_autoptr(GError) error = NULL;
      guint64 at = version == 1 ? G_GUINT64_CONSTANT (1) << 40 : 90000;
      guint64 decode_time = 0, duration = 0;
      guint32 timescale = 0;

      put_timed_moof (frag, version, at, wheres[w]);
      g_assert_true (hearth_fmp4_fragment_get_time (
          init->data, init->len, frag->data, frag->len, &decode_time,
          &duration, &timescale, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (decode_time, ==, at);
      g_assert_cmpuint (duration, ==, 9000);
      g_assert_cmpuint (timescale, ==, 90000);

      /* Without trex defaults, durations left to them are not known. */
      if (wheres[w] == DURATION_TREX) {
        g_assert_false (hearth_fmp4_fragment_get_time (
            bare->data, bare->len, frag->data, frag->len, &decode_time,
            &duration, &timescale, &error));
        g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA);
      }
    }
  }

  /* No tfdt (put_moof's is there: cut it out by hand), no init. */
  {
    g_autoptr(GByteArray) frag = g_byte_array_new ();
    g_autoptr(GError) error = NULL;
    guint64 decode_time, duration;
    guint32 timescale;

    put_moof (frag, FLAGS_FIRST_SAMPLE, SYNC);
    put_mdat (frag);
    g_assert_false (hearth_fmp4_fragment_get_time (
        NULL, 0, frag->data, frag->len, &decode_time, &duration, &timescale,
        &error));
    g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA);
  }
}

/* A 64-bit largesize box, free boxes between units, and ftyp and moov in
 * separate pushes all work. */
static void
test_largesize_and_extra_boxes (void)
{
  g_autoptr(HearthFmp4Splitter) splitter = hearth_fmp4_splitter_new ();
  g_autoptr(GByteArray) a = g_byte_array_new ();
  g_autoptr(GByteArray) mdat = g_byte_array_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) init = NULL;
  g_autoptr(GBytes) fragment = NULL;
  HearthFmp4Kind kind;
  gboolean keyframe = FALSE;
  gsize ftyp_end;

  put_box (a, "ftyp", 8);
  ftyp_end = a->len;
  put_box (a, "free", 3);
  put_moov (a, FALSE, 0);
  put_moof (a, FLAGS_FIRST_SAMPLE, SYNC);
  put_u32 (mdat, 1);
  g_byte_array_append (mdat, (const guint8 *) "mdat", 4);
  put_u64 (mdat, 16 + 5);
  g_byte_array_append (mdat, (const guint8 *) "video", 5);
  g_byte_array_append (a, mdat->data, mdat->len);
  put_box (a, "mfra", 0);

  g_assert_true (hearth_fmp4_splitter_push (splitter, a->data, ftyp_end,
                                            &error));
  g_assert_false (hearth_fmp4_splitter_pop (splitter, &kind, &init, NULL));
  g_assert_true (hearth_fmp4_splitter_push (splitter, a->data + ftyp_end,
                                            a->len - ftyp_end, &error));
  g_assert_no_error (error);

  g_assert_true (hearth_fmp4_splitter_pop (splitter, &kind, &init, NULL));
  g_assert_cmpint (kind, ==, HEARTH_FMP4_INIT);
  /* ftyp + moov only: the free box is not part of it */
  g_assert_cmpuint (g_bytes_get_size (init), ==, 16 + 8 + 108 + 68);
  g_assert_true (hearth_fmp4_splitter_pop (splitter, &kind, &fragment,
                                           &keyframe));
  g_assert_cmpint (kind, ==, HEARTH_FMP4_FRAGMENT);
  g_assert_true (keyframe);
  /* moof and the largesize mdat, contiguous, ending with its payload */
  g_assert_cmpmem ((const guint8 *) g_bytes_get_data (fragment, NULL) +
                   g_bytes_get_size (fragment) - 5, 5, "video", 5);
}

/* Each malformed stream fails with HEARTH_ERROR_MEDIA, and keeps failing. */
static void
assert_stream_fails (const guint8 *data, gsize len)
{
  g_autoptr(HearthFmp4Splitter) splitter = hearth_fmp4_splitter_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) again = NULL;
  HearthFmp4Kind kind;
  GBytes *bytes;

  g_assert_false (hearth_fmp4_splitter_push (splitter, data, len, &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA);
  while (hearth_fmp4_splitter_pop (splitter, &kind, &bytes, NULL))
    g_bytes_unref (bytes);
  g_assert_false (hearth_fmp4_splitter_push (splitter, (const guint8 *) "x",
                                             1, &again));
  g_assert_error (again, HEARTH_ERROR, HEARTH_ERROR_MEDIA);
}

static void
test_malformed (void)
{
  g_autoptr(GByteArray) a = NULL;
  guint at;

  /* size < 8 */
  a = g_byte_array_new ();
  put_u32 (a, 4);
  g_byte_array_append (a, (const guint8 *) "ftyp", 4);
  assert_stream_fails (a->data, a->len);
  g_clear_pointer (&a, g_byte_array_unref);

  /* size 0: "to the end of the file" */
  a = g_byte_array_new ();
  put_u32 (a, 0);
  g_byte_array_append (a, (const guint8 *) "ftyp", 4);
  assert_stream_fails (a->data, a->len);
  g_clear_pointer (&a, g_byte_array_unref);

  /* largesize smaller than its own header */
  a = g_byte_array_new ();
  put_u32 (a, 1);
  g_byte_array_append (a, (const guint8 *) "ftyp", 4);
  put_u64 (a, 15);
  assert_stream_fails (a->data, a->len);
  g_clear_pointer (&a, g_byte_array_unref);

  /* huge sizes: 32-bit and 64-bit */
  a = g_byte_array_new ();
  put_u32 (a, G_MAXUINT32);
  g_byte_array_append (a, (const guint8 *) "ftyp", 4);
  assert_stream_fails (a->data, a->len);
  g_clear_pointer (&a, g_byte_array_unref);
  a = g_byte_array_new ();
  put_u32 (a, 1);
  g_byte_array_append (a, (const guint8 *) "ftyp", 4);
  put_u64 (a, G_MAXUINT64);
  assert_stream_fails (a->data, a->len);
  g_clear_pointer (&a, g_byte_array_unref);

  /* not a four-character code; not starting with ftyp */
  assert_stream_fails ((const guint8 *) "\0\0\0\x10\x01\x02\x03\x04garbage!", 16);
  assert_stream_fails ((const guint8 *) "\0\0\0\x10moofgarbage!", 16);

  /* out of order: moov without ftyp, fragment before init, mdat without
   * moof, moof without mdat, a second ftyp */
  a = g_byte_array_new ();
  put_box (a, "ftyp", 8);
  put_box (a, "ftyp", 8);
  assert_stream_fails (a->data, a->len);
  g_clear_pointer (&a, g_byte_array_unref);
  a = g_byte_array_new ();
  put_box (a, "ftyp", 8);
  put_moof (a, FLAGS_FIRST_SAMPLE, SYNC);
  assert_stream_fails (a->data, a->len);
  g_clear_pointer (&a, g_byte_array_unref);
  a = g_byte_array_new ();
  put_init (a, FALSE, 0);
  put_mdat (a);
  assert_stream_fails (a->data, a->len);
  g_clear_pointer (&a, g_byte_array_unref);
  a = g_byte_array_new ();
  put_init (a, FALSE, 0);
  put_moof (a, FLAGS_FIRST_SAMPLE, SYNC);
  put_moof (a, FLAGS_FIRST_SAMPLE, SYNC);
  assert_stream_fails (a->data, a->len);
  g_clear_pointer (&a, g_byte_array_unref);
  a = g_byte_array_new ();
  put_init (a, FALSE, 0);
  put_init (a, FALSE, 0);
  assert_stream_fails (a->data, a->len);
  g_clear_pointer (&a, g_byte_array_unref);

  /* a child box overrunning its moof */
  a = g_byte_array_new ();
  put_init (a, FALSE, 0);
  at = a->len;
  put_moof (a, FLAGS_FIRST_SAMPLE, SYNC);
  /* moof header (8) + mfhd (16): the traf size field */
  g_assert_cmpmem (a->data + at + 28, 4, "traf", 4);
  a->data[at + 26] = 0x7f;
  assert_stream_fails (a->data, a->len);
  g_clear_pointer (&a, g_byte_array_unref);

  /* a trun claiming more samples than it holds */
  a = g_byte_array_new ();
  put_init (a, FALSE, 0);
  at = a->len;
  put_moof (a, FLAGS_PER_SAMPLE, SYNC);
  /* moof 8 + mfhd 16 + traf 8 + tfhd 20 + tfdt 16 + trun header 12 */
  g_assert_cmpmem (a->data + at + 72, 4, "trun", 4);
  memset (a->data + at + 80, 0xff, 4);
  assert_stream_fails (a->data, a->len);
  g_clear_pointer (&a, g_byte_array_unref);
}

/* A new init segment after fragments starts a new stream with its own
 * track defaults (the camera replaced its muxer); one between a moof and
 * its mdat does not. */
static void
test_new_init (void)
{
  g_autoptr(HearthFmp4Splitter) splitter = hearth_fmp4_splitter_new ();
  g_autoptr(GPtrArray) units =
    g_ptr_array_new_with_free_func ((GDestroyNotify) unit_free);
  g_autoptr(GByteArray) a = g_byte_array_new ();
  g_autoptr(GError) error = NULL;
  const HearthFmp4Kind kinds[] = {
    HEARTH_FMP4_INIT, HEARTH_FMP4_FRAGMENT, HEARTH_FMP4_INIT,
    HEARTH_FMP4_FRAGMENT
  };

  put_init (a, TRUE, SYNC);
  put_moof (a, FLAGS_TREX_DEFAULT, SYNC);
  put_mdat (a);
  put_init (a, TRUE, NON_SYNC);
  put_moof (a, FLAGS_TREX_DEFAULT, NON_SYNC);
  put_mdat (a);
  g_assert_true (hearth_fmp4_splitter_push (splitter, a->data, a->len,
                                            &error));
  g_assert_no_error (error);
  pop_all (splitter, units);
  g_assert_cmpuint (units->len, ==, G_N_ELEMENTS (kinds));
  for (guint i = 0; i < units->len; i++)
    g_assert_cmpint (((Unit *) units->pdata[i])->kind, ==, kinds[i]);
  /* Read with the second init's trex, not the first's. */
  g_assert_true (((Unit *) units->pdata[1])->keyframe);
  g_assert_false (((Unit *) units->pdata[3])->keyframe);

  g_clear_pointer (&a, g_byte_array_unref);
  a = g_byte_array_new ();
  put_init (a, FALSE, 0);
  put_moof (a, FLAGS_FIRST_SAMPLE, SYNC);
  put_init (a, FALSE, 0);
  assert_stream_fails (a->data, a->len);
}

/* Truncated or corrupted moofs never read out of bounds (ASan). */
static void
test_moof_fuzz (void)
{
  g_autoptr(GByteArray) moof = g_byte_array_new ();
  g_autoptr(GRand) rand = g_rand_new_with_seed (7);

  put_moof (moof, FLAGS_PER_SAMPLE, SYNC);

  for (gsize len = 0; len < moof->len; len++) {
    /* An exact-size copy, so that ASan sees any read past it. */
    g_autofree guint8 *copy = g_memdup2 (moof->data, len);
    g_autoptr(GError) error = NULL;
    gboolean keyframe;

    g_assert_false (hearth_fmp4_moof_starts_with_keyframe (copy, len,
                                                           &keyframe, &error));
    g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA);
  }

  for (guint round = 0; round < 2000; round++) {
    g_autofree guint8 *copy = g_memdup2 (moof->data, moof->len);
    g_autoptr(GError) error = NULL;
    gboolean keyframe;
    guint n;

    for (guint k = 0; k < 3; k++)
      copy[g_rand_int_range (rand, 0, (gint32) moof->len)] =
        (guint8) g_rand_int_range (rand, 0, 256);
    if (!hearth_fmp4_moof_starts_with_keyframe (copy, moof->len, &keyframe,
                                                &error))
      g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA);
    g_clear_error (&error);
    if (!hearth_fmp4_moof_get_sample_count (copy, moof->len, &n, &error))
      g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA);
  }

  /* The timeline reader, on a damaged fragment with its init, and on a
   * damaged init with its fragment: exact-size copies again. */
  {
    g_autoptr(GByteArray) init = g_byte_array_new ();
    g_autoptr(GByteArray) frag = g_byte_array_new ();

    put_init (init, TRUE, SYNC);
    put_timed_moof (frag, 1, 90000, DURATION_TREX);
    for (guint round = 0; round < 2000; round++) {
      gboolean damage_init = round % 2;
      GByteArray *victim = damage_init ? init : frag;
      gsize len = g_rand_int_range (rand, 0, (gint32) victim->len + 1);
      g_autofree guint8 *copy = g_memdup2 (victim->data, len);
      g_autoptr(GError) error = NULL;
      guint64 decode_time, duration;
      guint32 timescale;

      for (guint k = 0; len > 0 && k < 3; k++)
        copy[g_rand_int_range (rand, 0, (gint32) len)] =
          (guint8) g_rand_int_range (rand, 0, 256);
      if (!hearth_fmp4_fragment_get_time (
              damage_init ? copy : init->data, damage_init ? len : init->len,
              damage_init ? frag->data : copy, damage_init ? frag->len : len,
              &decode_time, &duration, &timescale, &error))
        g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA);
    }
  }

  /* Random garbage as a whole stream. */
  for (guint round = 0; round < 200; round++) {
    g_autoptr(HearthFmp4Splitter) splitter = hearth_fmp4_splitter_new ();
    guint8 garbage[64];
    g_autoptr(GError) error = NULL;

    for (guint i = 0; i < sizeof garbage; i++)
      garbage[i] = (guint8) g_rand_int_range (rand, 0, 256);
    g_assert_false (hearth_fmp4_splitter_push (splitter, garbage,
                                               sizeof garbage, &error));
    g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA);
  }
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);

  g_test_add_data_func ("/hearth/fmp4/split-muxer-output", "h264",
                        test_split_muxer_output);
  g_test_add_data_func ("/hearth/fmp4/split-muxer-output-hevc", "h265",
                        test_split_muxer_output);
  g_test_add_func ("/hearth/fmp4/random-boundaries", test_random_boundaries);
  hearth_test_add ("/hearth/fmp4/late-join-decodes", "h264", test_late_join_decodes);
  hearth_test_add ("/hearth/fmp4/late-join-decodes-hevc", "h265", test_late_join_decodes);
  g_test_add_data_func ("/hearth/fmp4/sample-entry", "h264", test_sample_entry);
  g_test_add_data_func ("/hearth/fmp4/sample-entry-hevc", "h265",
                        test_sample_entry);
  g_test_add_func ("/hearth/fmp4/split-with-audio", test_split_with_audio);
  hearth_test_add ("/hearth/fmp4/late-join-with-audio", NULL, test_late_join_with_audio);
  g_test_add_func ("/hearth/fmp4/flag-sources", test_flag_sources);
  g_test_add_func ("/hearth/fmp4/fragment-time", test_fragment_time);
  g_test_add_func ("/hearth/fmp4/fragment-time-sources",
                   test_fragment_time_sources);
  g_test_add_func ("/hearth/fmp4/largesize-and-extra-boxes",
                   test_largesize_and_extra_boxes);
  g_test_add_func ("/hearth/fmp4/malformed", test_malformed);
  g_test_add_func ("/hearth/fmp4/new-init", test_new_init);
  g_test_add_func ("/hearth/fmp4/moof-fuzz", test_moof_fuzz);

  return g_test_run ();
}
