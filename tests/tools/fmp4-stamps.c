/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fmp4-stamps: what a display really received, one line per unit. Reads a
 * fragmented MP4 byte stream (live.mp4 piped from curl, or HLS init, segment
 * and part files given in order) and prints
 *
 *   init
 *   frame key=0|1 stamp=UUID|none counter=N lag-ms=X capture-us=T
 *   audio
 *
 * where the stamp is the fake camera's test stamp found in the fragment's
 * mdat (tests/tools/stamp.h; H.264 or H.265, as the init segment's sample
 * entry says: hvc1/hev1 is H.265, anything else is read as H.264), lag-ms
 * the receipt wall-clock time minus the capture time in the stamp, and
 * capture-us that capture time (µs since the epoch); "audio" is a fragment
 * of the audio track (a camera's AAC), which carries no stamp and is not a
 * frame. The e2e tests assert
 * on these lines: the first bytes of a stream, the camera every frame came
 * from, counters in order. It stops after --frames frames or at the end of
 * the input; exit status 0 if the input was well-formed, 65 (EX_DATAERR) if
 * not.
 */
#define G_LOG_DOMAIN "fmp4-stamps"

#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>
#include <unistd.h>

#include "fmp4.h"
#include "stamp.h"

/* The codec of the stream so far: set by each init segment. */
static void
print_unit (HearthFmp4Kind kind, GBytes *bytes, gboolean keyframe,
            HearthStampCodec *codec)
{
  const guint8 *payload;
  gsize size;
  HearthStamp stamp;
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);

  if (kind == HEARTH_FMP4_INIT) {
    char entry[5];

    *codec = hearth_fmp4_init_get_sample_entry (data, len, entry) &&
             (g_str_equal (entry, "hvc1") || g_str_equal (entry, "hev1"))
             ? HEARTH_STAMP_H265 : HEARTH_STAMP_H264;
    printf ("init\n");
  } else if (kind == HEARTH_FMP4_AUDIO) {
    printf ("audio\n");
  } else if (hearth_fmp4_fragment_find_mdat (data, len, &payload, &size) &&
             hearth_stamp_find_for (payload, size, 4, *codec, &stamp)) {
    g_autofree char *id = hearth_stamp_id_to_string (stamp.camera_id);

    printf ("frame key=%d stamp=%s counter=%" G_GUINT64_FORMAT " lag-ms=%.1f "
            "capture-us=%" G_GINT64_FORMAT "\n",
            keyframe ? 1 : 0, id, stamp.counter,
            (g_get_real_time () - stamp.capture_time_us) / 1000.0,
            stamp.capture_time_us);
  } else {
    printf ("frame key=%d stamp=none counter=none lag-ms=none capture-us=none\n",
            keyframe ? 1 : 0);
  }
  fflush (stdout);
}

/* Feeds one input; returns FALSE on malformed data, sets *done after N. */
static gboolean
read_input (int fd, HearthFmp4Splitter *splitter, int max_frames, int *frames,
            gboolean *done, HearthStampCodec *codec)
{
  guint8 buffer[65536];
  ssize_t n;

  while (!*done && (n = read (fd, buffer, sizeof buffer)) > 0) {
    g_autoptr (GError) error = NULL;
    HearthFmp4Kind kind;
    GBytes *bytes;
    gboolean keyframe;

    if (!hearth_fmp4_splitter_push (splitter, buffer, n, &error)) {
      fprintf (stderr, "fmp4-stamps: %s\n", error->message);
      return FALSE;
    }
    while (!*done && hearth_fmp4_splitter_pop (splitter, &kind, &bytes, &keyframe)) {
      print_unit (kind, bytes, keyframe, codec);
      g_bytes_unref (bytes);
      if (kind == HEARTH_FMP4_FRAGMENT && ++*frames == max_frames)
        *done = TRUE;
    }
  }
  return TRUE;
}

int
main (int argc, char **argv)
{
  int max_frames = 0;
  const GOptionEntry entries[] = {
    { "frames", 0, 0, G_OPTION_ARG_INT, &max_frames,
      "stop after this many frames (default: at the end)", "N" },
    { NULL }
  };
  g_autoptr (GOptionContext) context =
    g_option_context_new ("[FILE…] - list the units and test stamps of an fMP4 "
                          "stream (stdin without FILEs)");
  g_autoptr (HearthFmp4Splitter) splitter = hearth_fmp4_splitter_new ();
  g_autoptr (GError) error = NULL;
  gboolean done = FALSE;
  int frames = 0;
  HearthStampCodec codec = HEARTH_STAMP_H264;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error)) {
    fprintf (stderr, "fmp4-stamps: %s\n", error->message);
    return EX_USAGE;
  }

  if (argc < 2)
    return read_input (STDIN_FILENO, splitter, max_frames, &frames, &done,
                       &codec)
               ? EXIT_SUCCESS : EX_DATAERR;
  for (int i = 1; i < argc && !done; i++) {
    FILE *file = fopen (argv[i], "rb");
    gboolean ok;

    if (file == NULL) {
      fprintf (stderr, "fmp4-stamps: cannot open %s\n", argv[i]);
      return EX_NOINPUT;
    }
    ok = read_input (fileno (file), splitter, max_frames, &frames, &done,
                     &codec);
    fclose (file);
    if (!ok)
      return EX_DATAERR;
  }
  return EXIT_SUCCESS;
}
