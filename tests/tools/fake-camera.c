/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fake-camera: a fake IP camera for tests and demos. A real RTSP server
 * (gst-rtsp-server) serving live H.264 (or H.265 with --codec h265:
 * x265enc, rtph265pay) from videotestsrc, where every access unit carries a
 * test stamp (tests/tools/stamp.h): this camera's id, a frame counter and
 * the capture wall-clock time; for H.265 in a prefix SEI NAL (type 39).
 *
 * With --audio it sends a second stream, a sine tone from audiotestsrc:
 * "aac" as RTP MPEG4-GENERIC (avenc_aac, rtpmp4gpay: what most cameras with
 * AAC send), "aac-latm" as MP4A-LATM (rtpmp4apay), "pcma" or "pcmu" as
 * G.711 A-law or µ-law at 8 kHz in 20 ms packets, as cameras send it
 * (alawenc/mulawenc, rtppcmapay/rtppcmupay: what the gateway transcodes to
 * AAC), or "opus" (opusenc, rtpopuspay: audio
 * the gateway does not take).
 * --audio-ticks makes the tone a beep on every second of the media's clock
 * instead (audiotestsrc wave=ticks), the beep of second n with the frame n
 * times --fps of the first media: a check of A/V sync (tests/e2e/av-sync.py).
 * --audio-stop-after S makes the audio stop S seconds after its first
 * packet, as a camera whose audio encoder fails does; the video goes on.
 * Each media still sends its first audio packet (gst-rtsp-server answers
 * DESCRIBE only once every stream has one), so 0 means one packet, then
 * none, though the SDP announces audio.
 *
 * One shared media: every client sees the same frames, so stamps seen by two
 * clients can be compared. The stamp SEI is put in front of each access unit
 * by a buffer probe on the encoder's src pad, set up when the factory
 * configures a media. The frame counter lives in the camera, not the media,
 * so it keeps increasing when the media is torn down and made again.
 *
 * Once listening it prints one line, "rtsp://ADDRESS:PORT/MOUNT
 * stamp-id=UUID" ("rtsps://…" with --tls-cert), on stdout (and into
 * --ready-file), then serves until
 * SIGINT or SIGTERM. Listening on a wildcard address (0.0.0.0, ::), the line
 * names one of the host's addresses instead, LAN ones before loopback, so it
 * can still be dialled. Exit codes follow sysexits.h: 64 for bad arguments.
 *
 * With --announce NAME it also announces itself by mDNS (announce.c) as a
 * camera would: service type --service-type (default _rtsp._tcp), the RTSP
 * port, TXT id=<stamp id>, path=<mount>, model=Hearth fake camera, changed or
 * extended by --txt KEY=VALUE, or replaced altogether (--no-default-txt);
 * --txt-hex adds raw bytes, for hostile TXT records. The announcement is
 * withdrawn on SIGINT or SIGTERM before the camera stops. It names no
 * address: avahi-daemon publishes the host's own on the interfaces it
 * serves, so an announced camera should listen on 0.0.0.0 or on that
 * interface's address, not on 127.0.0.1 (unless avahi serves only lo).
 *
 * With --tls-cert FILE --tls-key FILE (PEM) it serves RTSPS instead, as a
 * camera with a self-signed certificate does: every connection is TLS from
 * its first byte (gst-rtsp-server does TLS when the server's GstRTSPAuth has
 * a certificate). Without --user that auth asks for no credentials: its
 * default token may view the stream, as anyone may without TLS.
 *
 * With --user NAME --password-file FILE it requires RTSP authentication, as
 * real cameras do: gst-rtsp-server's GstRTSPAuth answers 401 with a Digest
 * challenge (--auth-methods basic or digest,basic: Basic too) until the
 * client sends that user and password (the file's first line); anyone else
 * gets 401 again. The password is never printed or logged. Works with
 * --tls-cert as well.
 *
 * With --resize WxH it changes its picture size inside the running RTSP
 * session, as a camera whose resolution is changed in its settings does: on
 * SIGUSR1, or --resize-after SECONDS after its first media was made. The
 * encoder gets new input caps and starts again with an IDR carrying new
 * parameter sets (in-band, config-interval=-1); the session, the SDP and the
 * frame counter go on. The new size stays for later media too.
 */
#define G_LOG_DOMAIN "fake-camera"

#include <glib-unix.h>
#include <gio/gio.h>
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "announce.h"
#include "error.h"
#include "netaddr.h"
#include "stamp.h"

#define DEFAULT_SERVICE_TYPE "_rtsp._tcp"
#define DEFAULT_MODEL "Hearth fake camera"

/* Command line, immutable once parsed. */
typedef struct {
  int port;
  char *address;
  char *mount;
  char *stamp_id;
  int width;
  int height;
  int fps;
  int bitrate;
  int key_int;
  char *pattern;
  char *ready_file;
  char *announce;
  char *service_type;
  char **txt;
  char **txt_hex;
  gboolean no_default_txt;
  char *tls_cert;
  char *tls_key;
  char *codec;            /* "h264" or "h265" */
  char *audio;            /* "none", "aac", "aac-latm", "pcma", "pcmu" or "opus" */
  double audio_stop_after; /* seconds; < 0: never */
  gboolean audio_ticks;   /* a beep a second instead of a steady tone */
  char *resize;           /* (nullable) WxH */
  int resize_after;       /* seconds, 0: on SIGUSR1 only */
  char *redirect_to;      /* (nullable) answer DESCRIBE with 302 to this URL */
  char *user;             /* (nullable) RTSP authentication */
  char *password_file;    /* (nullable) its password, first line */
  char *auth_methods;     /* "digest", "basic" or "digest,basic" */
  char *password;         /* (nullable) read from password_file */
} Options;

typedef struct {
  guint8 camera_id[16];
  HearthStampCodec codec; /* immutable once parsed */
  gint64 audio_stop_after_us; /* immutable; < 0: never */

  GstCaps *resize_caps;   /* (nullable) immutable once parsed */
  int resize_after;       /* immutable once parsed */

  GMutex lock;
  guint64 next_counter; /* protected by lock: streaming threads of every media */
  gint64 first_audio_us; /* protected by lock: 0 until the first audio packet */
  GstElement *size;     /* protected by lock: the current media's size filter */
  gboolean resized;     /* protected by lock */
  guint resize_timer;   /* main context only */
} Camera;

static void
options_clear (Options *options)
{
  g_clear_pointer (&options->address, g_free);
  g_clear_pointer (&options->mount, g_free);
  g_clear_pointer (&options->stamp_id, g_free);
  g_clear_pointer (&options->ready_file, g_free);
  g_clear_pointer (&options->pattern, g_free);
  g_clear_pointer (&options->announce, g_free);
  g_clear_pointer (&options->service_type, g_free);
  g_clear_pointer (&options->txt, g_strfreev);
  g_clear_pointer (&options->txt_hex, g_strfreev);
  g_clear_pointer (&options->tls_cert, g_free);
  g_clear_pointer (&options->tls_key, g_free);
  g_clear_pointer (&options->audio, g_free);
  g_clear_pointer (&options->codec, g_free);
  g_clear_pointer (&options->resize, g_free);
  g_clear_pointer (&options->redirect_to, g_free);
  g_clear_pointer (&options->user, g_free);
  g_clear_pointer (&options->password_file, g_free);
  g_clear_pointer (&options->auth_methods, g_free);
  g_clear_pointer (&options->password, g_free);
}

static gboolean
check_range (const char *name, int value, int min, int max, gboolean even,
             GError **error)
{
  if (value < min || value > max || (even && value % 2 != 0)) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--%s must be %s from %d to %d, not %d", name,
                 even ? "an even number" : "a number", min, max, value);
    return FALSE;
  }
  return TRUE;
}

static gboolean
mount_is_valid (const char *mount)
{
  if (mount[0] != '/' || mount[1] == '\0')
    return FALSE;
  for (const char *p = mount; *p != '\0'; p++) {
    if (!g_ascii_isalnum (*p) && strchr ("/-_.~", *p) == NULL)
      return FALSE;
  }
  return TRUE;
}

/* The audio stream of --audio CODEC (a launch-line piece), "" for none,
 * NULL for an unknown CODEC. */
static const char *
audio_description (const char *codec)
{
  static const struct {
    const char *name;
    const char *description;
  } audio[] = {
    { "none", "" },
    { "aac", "audiotestsrc is-live=true wave=sine freq=440 "
             "! audio/x-raw,rate=44100,channels=1 ! audioconvert "
             "! avenc_aac ! aacparse ! rtpmp4gpay name=pay1 pt=97" },
    { "aac-latm", "audiotestsrc is-live=true wave=sine freq=440 "
                  "! audio/x-raw,rate=44100,channels=1 ! audioconvert "
                  "! avenc_aac ! aacparse ! rtpmp4apay name=pay1 pt=97" },
    { "pcma", "audiotestsrc is-live=true wave=sine freq=440 samplesperbuffer=160 "
              "! audio/x-raw,rate=8000,channels=1 ! alawenc "
              "! rtppcmapay name=pay1 pt=8" },
    { "pcmu", "audiotestsrc is-live=true wave=sine freq=440 samplesperbuffer=160 "
              "! audio/x-raw,rate=8000,channels=1 ! mulawenc "
              "! rtppcmupay name=pay1 pt=0" },
    { "opus", "audiotestsrc is-live=true wave=sine freq=440 "
              "! audio/x-raw,rate=48000,channels=1 ! opusenc "
              "! rtpopuspay name=pay1 pt=98" },
  };

  for (gsize i = 0; codec != NULL && i < G_N_ELEMENTS (audio); i++) {
    if (g_str_equal (codec, audio[i].name))
      return audio[i].description;
  }
  return NULL;
}

/* One of videotestsrc's pattern nicks (it goes into the launch line). */
static gboolean
pattern_is_valid (const char *pattern)
{
  g_autoptr (GstElement) src = gst_element_factory_make ("videotestsrc", NULL);
  GParamSpec *spec;

  if (src == NULL)
    return FALSE;
  gst_object_ref_sink (src);
  spec = g_object_class_find_property (G_OBJECT_GET_CLASS (src), "pattern");
  return spec != NULL && G_IS_PARAM_SPEC_ENUM (spec) &&
         g_enum_get_value_by_nick (G_PARAM_SPEC_ENUM (spec)->enum_class,
                                   pattern) != NULL;
}

/* --user, --password-file, --auth-methods. The password is read here and
 * appears in no message. */
static gboolean
parse_auth_options (Options *options, GError **error)
{
  g_autofree char *contents = NULL;
  char *end;

  if (options->auth_methods == NULL)
    options->auth_methods = g_strdup ("digest");
  if (!g_str_equal (options->auth_methods, "digest") &&
      !g_str_equal (options->auth_methods, "basic") &&
      !g_str_equal (options->auth_methods, "digest,basic")) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--auth-methods must be digest, basic or digest,basic");
    return FALSE;
  }
  if ((options->user == NULL) != (options->password_file == NULL)) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--user and --password-file go together");
    return FALSE;
  }
  if (options->user == NULL)
    return TRUE;
  if (*options->user == '\0' || strchr (options->user, ':') != NULL ||
      !g_utf8_validate (options->user, -1, NULL)) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--user must be a non-empty UTF-8 name without “:”");
    return FALSE;
  }
  if (!g_file_get_contents (options->password_file, &contents, NULL, error)) {
    g_prefix_error (error, "--password-file: ");
    return FALSE;
  }
  end = strpbrk (contents, "\r\n");
  if (end != NULL)
    *end = '\0';
  if (*contents == '\0' || !g_utf8_validate (contents, -1, NULL)) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--password-file must start with a non-empty UTF-8 line");
    return FALSE;
  }
  options->password = g_steal_pointer (&contents);
  return TRUE;
}

static gboolean
parse_options (int *argc, char ***argv, Options *options, Camera *camera,
               GError **error)
{
  const GOptionEntry entries[] = {
    { "port", 0, 0, G_OPTION_ARG_INT, &options->port,
      "TCP port to listen on, 0 picks a free one (default 0)", "N" },
    { "address", 0, 0, G_OPTION_ARG_STRING, &options->address,
      "IP address to listen on (default 127.0.0.1)", "ADDRESS" },
    { "mount", 0, 0, G_OPTION_ARG_STRING, &options->mount,
      "path of the stream (default /stream)", "PATH" },
    { "stamp-id", 0, 0, G_OPTION_ARG_STRING, &options->stamp_id,
      "camera id written into every stamp (default random)", "UUID" },
    { "width", 0, 0, G_OPTION_ARG_INT, &options->width,
      "frame width (default 640)", "PIXELS" },
    { "height", 0, 0, G_OPTION_ARG_INT, &options->height,
      "frame height (default 360)", "PIXELS" },
    { "fps", 0, 0, G_OPTION_ARG_INT, &options->fps,
      "frames per second (default 30)", "N" },
    { "bitrate", 0, 0, G_OPTION_ARG_INT, &options->bitrate,
      "encoder bitrate (default 1000)", "KBIT" },
    { "key-int", 0, 0, G_OPTION_ARG_INT, &options->key_int,
      "frames from one keyframe to the next (default 30)", "N" },
    { "pattern", 0, 0, G_OPTION_ARG_STRING, &options->pattern,
      "videotestsrc pattern, e.g. red or blue to tell cameras apart in "
      "pictures (default ball)", "NAME" },
    { "ready-file", 0, 0, G_OPTION_ARG_FILENAME, &options->ready_file,
      "also write the ready line to this file", "PATH" },
    { "announce", 0, 0, G_OPTION_ARG_STRING, &options->announce,
      "announce the camera by mDNS under this instance name (needs a "
      "running avahi-daemon; waits for one)", "NAME" },
    { "service-type", 0, 0, G_OPTION_ARG_STRING, &options->service_type,
      "announce: the DNS-SD service type (default " DEFAULT_SERVICE_TYPE ")", "TYPE" },
    { "txt", 0, 0, G_OPTION_ARG_STRING_ARRAY, &options->txt,
      "announce: a TXT string, replacing a default one with the same key "
      "(repeatable)", "KEY=VALUE" },
    { "txt-hex", 0, 0, G_OPTION_ARG_STRING_ARRAY, &options->txt_hex,
      "announce: a TXT string given as hex bytes, added as they are "
      "(repeatable)", "HEX" },
    { "no-default-txt", 0, 0, G_OPTION_ARG_NONE, &options->no_default_txt,
      "announce: leave out the default TXT strings (id=, path=, model=)", NULL },
    { "tls-cert", 0, 0, G_OPTION_ARG_FILENAME, &options->tls_cert,
      "serve RTSPS with this certificate (PEM; needs --tls-key)", "FILE" },
    { "tls-key", 0, 0, G_OPTION_ARG_FILENAME, &options->tls_key,
      "the private key of --tls-cert (PEM)", "FILE" },
    { "codec", 0, 0, G_OPTION_ARG_STRING, &options->codec,
      "video codec: h264 or h265 (default h264)", "CODEC" },
    { "audio", 0, 0, G_OPTION_ARG_STRING, &options->audio,
      "audio too: none, aac, aac-latm, pcma, pcmu or opus (default none)", "CODEC" },
    { "audio-ticks", 0, 0, G_OPTION_ARG_NONE, &options->audio_ticks,
      "audio: a 440 Hz beep on every second of the media's clock (with the "
      "frame whose counter is a multiple of --fps) instead of a steady tone",
      NULL },
    { "audio-stop-after", 0, 0, G_OPTION_ARG_DOUBLE, &options->audio_stop_after,
      "stop sending audio this long after its first packet (default never)",
      "SECONDS" },
    { "redirect-to", 0, 0, G_OPTION_ARG_STRING, &options->redirect_to,
      "answer every DESCRIBE with 302 Moved Temporarily to this URL, as a "
      "hostile camera could", "URL" },
    { "user", 0, 0, G_OPTION_ARG_STRING, &options->user,
      "require RTSP authentication as this user (needs --password-file)", "NAME" },
    { "password-file", 0, 0, G_OPTION_ARG_FILENAME, &options->password_file,
      "the password of --user: this file's first line", "FILE" },
    { "auth-methods", 0, 0, G_OPTION_ARG_STRING, &options->auth_methods,
      "with --user: digest, basic or digest,basic (default digest)", "LIST" },
    { "resize", 0, 0, G_OPTION_ARG_STRING, &options->resize,
      "change to this picture size inside the running session, on SIGUSR1 "
      "or after --resize-after", "WxH" },
    { "resize-after", 0, 0, G_OPTION_ARG_INT, &options->resize_after,
      "resize this many seconds after the first client's media was made "
      "(default: on SIGUSR1 only)", "SECONDS" },
    { NULL }
  };
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GInetAddress) address = NULL;

  context = g_option_context_new ("- a fake RTSP camera that stamps every "
                                  "frame");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, gst_init_get_option_group ());
  if (!g_option_context_parse (context, argc, argv, error))
    return FALSE;

  if (*argc > 1) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                 "unexpected argument “%s”", (*argv)[1]);
    return FALSE;
  }

  if (options->address == NULL)
    options->address = g_strdup ("127.0.0.1");
  if (options->mount == NULL)
    options->mount = g_strdup ("/stream");
  if (options->stamp_id == NULL)
    options->stamp_id = g_uuid_string_random ();
  if (options->pattern == NULL)
    options->pattern = g_strdup ("ball");
  if (options->codec == NULL)
    options->codec = g_strdup ("h264");
  if (options->audio == NULL)
    options->audio = g_strdup ("none");

  if (!check_range ("port", options->port, 0, 65535, FALSE, error) ||
      !check_range ("width", options->width, 16, 4096, TRUE, error) ||
      !check_range ("height", options->height, 16, 4096, TRUE, error) ||
      !check_range ("fps", options->fps, 1, 120, FALSE, error) ||
      !check_range ("bitrate", options->bitrate, 1, 100000, FALSE, error) ||
      !check_range ("key-int", options->key_int, 1, 1000, FALSE, error))
    return FALSE;

  address = g_inet_address_new_from_string (options->address);
  if (address == NULL) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--address must be an IP address, not “%s”",
                 options->address);
    return FALSE;
  }
  if (!pattern_is_valid (options->pattern)) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--pattern must name a videotestsrc pattern, not “%s”",
                 options->pattern);
    return FALSE;
  }
  if (!mount_is_valid (options->mount)) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--mount must be a path like /stream (letters, digits, "
                 "/-_.~), not “%s”", options->mount);
    return FALSE;
  }
  if (!hearth_stamp_id_parse (options->stamp_id, camera->camera_id)) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--stamp-id must be a UUID (8-4-4-4-12 hex), not “%s”",
                 options->stamp_id);
    return FALSE;
  }
  if (options->announce == NULL &&
      (options->service_type != NULL || options->txt != NULL ||
       options->txt_hex != NULL || options->no_default_txt)) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--service-type, --txt, --txt-hex and --no-default-txt need --announce");
    return FALSE;
  }
  if (options->announce != NULL &&
      (*options->announce == '\0' || strlen (options->announce) > 63 ||
       !g_utf8_validate (options->announce, -1, NULL))) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--announce must be 1 to 63 bytes of UTF-8");
    return FALSE;
  }
  if (g_str_equal (options->codec, "h264")) {
    camera->codec = HEARTH_STAMP_H264;
  } else if (g_str_equal (options->codec, "h265")) {
    camera->codec = HEARTH_STAMP_H265;
  } else {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--codec must be h264 or h265, not “%s”", options->codec);
    return FALSE;
  }
  if (audio_description (options->audio) == NULL) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--audio must be none, aac, aac-latm, pcma, pcmu or opus, not “%s”",
                 options->audio);
    return FALSE;
  }
  if (options->audio_stop_after >= 0 && g_str_equal (options->audio, "none")) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--audio-stop-after needs --audio");
    return FALSE;
  }
  camera->audio_stop_after_us = options->audio_stop_after < 0 ? -1 :
    (gint64) (options->audio_stop_after * G_USEC_PER_SEC);
  if (options->audio_ticks && g_str_equal (options->audio, "none")) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--audio-ticks needs --audio");
    return FALSE;
  }
  if ((options->tls_cert == NULL) != (options->tls_key == NULL)) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--tls-cert and --tls-key go together");
    return FALSE;
  }
  if (options->resize != NULL) {
    int w = 0, h = 0;
    char end;

    if (sscanf (options->resize, "%dx%d%c", &w, &h, &end) != 2) {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--resize must be WIDTHxHEIGHT, not “%s”", options->resize);
      return FALSE;
    }
    if (!check_range ("resize width", w, 16, 4096, TRUE, error) ||
        !check_range ("resize height", h, 16, 4096, TRUE, error))
      return FALSE;
    camera->resize_caps = gst_caps_new_simple ("video/x-raw",
                                               "width", G_TYPE_INT, w,
                                               "height", G_TYPE_INT, h,
                                               "framerate", GST_TYPE_FRACTION,
                                               options->fps, 1, NULL);
  }
  if (!check_range ("resize-after", options->resize_after, 0, 86400, FALSE,
                    error))
    return FALSE;
  camera->resize_after = options->resize_after;
  if (options->resize_after > 0 && options->resize == NULL) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--resize-after needs --resize");
    return FALSE;
  }
  if (options->service_type == NULL)
    options->service_type = g_strdup (DEFAULT_SERVICE_TYPE);
  return parse_auth_options (options, error);
}

/* The key of a TXT string: what comes before '=', or all of it. */
static gboolean
same_txt_key (GBytes *a, const char *b)
{
  gsize a_len;
  const char *a_data = g_bytes_get_data (a, &a_len);
  const char *a_eq = memchr (a_data, '=', a_len);
  const char *b_eq = strchr (b, '=');
  gsize a_key = a_eq != NULL ? (gsize) (a_eq - a_data) : a_len;
  gsize b_key = b_eq != NULL ? (gsize) (b_eq - b) : strlen (b);

  /* DNS-SD keys compare case-insensitively. */
  return a_key == b_key && g_ascii_strncasecmp (a_data, b, a_key) == 0;
}

static GBytes *
txt_from_string (const char *text)
{
  return g_bytes_new (text, strlen (text));
}

/* The TXT strings to announce, in order. (element-type GBytes) */
static GPtrArray *
build_txt (const Options *options, GError **error)
{
  g_autoptr (GPtrArray) txt = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);

  if (!options->no_default_txt) {
    g_autofree char *id = g_strconcat ("id=", options->stamp_id, NULL);
    g_autofree char *path = g_strconcat ("path=", options->mount, NULL);

    g_ptr_array_add (txt, txt_from_string (id));
    g_ptr_array_add (txt, txt_from_string (path));
    g_ptr_array_add (txt, txt_from_string ("model=" DEFAULT_MODEL));
  }
  for (guint i = 0; options->txt != NULL && options->txt[i] != NULL; i++) {
    const char *item = options->txt[i];
    guint j;

    for (j = 0; j < txt->len; j++) {
      if (same_txt_key (txt->pdata[j], item))
        break;
    }
    if (j < txt->len) {
      g_bytes_unref (txt->pdata[j]);
      txt->pdata[j] = txt_from_string (item);
    } else {
      g_ptr_array_add (txt, txt_from_string (item));
    }
  }
  for (guint i = 0; options->txt_hex != NULL && options->txt_hex[i] != NULL; i++) {
    const char *hex = options->txt_hex[i];
    gsize len = strlen (hex);
    g_autofree guint8 *bytes = NULL;

    if (len % 2 != 0) {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--txt-hex wants an even number of hex digits, not “%s”", hex);
      return NULL;
    }
    bytes = g_malloc (len / 2 + 1);
    for (gsize k = 0; k < len / 2; k++) {
      int hi = g_ascii_xdigit_value (hex[2 * k]);
      int lo = g_ascii_xdigit_value (hex[2 * k + 1]);

      if (hi < 0 || lo < 0) {
        g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                     "--txt-hex wants hex digits, not “%s”", hex);
        return NULL;
      }
      bytes[k] = (guint8) (hi << 4 | lo);
    }
    g_ptr_array_add (txt, g_bytes_new (bytes, len / 2));
  }
  return g_steal_pointer (&txt);
}

/* The host part of the ready line: the listening address, or for a wildcard
 * one an address of this host of that family (any for ::), LAN first. */
static char *
ready_host (const char *listen_address)
{
  g_autoptr (GInetAddress) listen = g_inet_address_new_from_string (listen_address);
  g_autoptr (HearthNetRanges) all = NULL;
  g_autoptr (GPtrArray) local = NULL;
  GSocketFamily family = g_inet_address_get_family (listen);
  const char *chosen = NULL;

  if (!g_inet_address_get_is_any (listen))
    chosen = listen_address;
  else {
    all = hearth_net_ranges_parse ("0.0.0.0/0;::/0", NULL);
    local = hearth_net_local_addresses (all);
    for (guint i = 0; i < local->len && chosen == NULL; i++) {
      g_autoptr (GInetAddress) candidate = g_inet_address_new_from_string (local->pdata[i]);

      if (family == G_SOCKET_FAMILY_IPV6 ||
          g_inet_address_get_family (candidate) == G_SOCKET_FAMILY_IPV4)
        chosen = local->pdata[i];
    }
    if (chosen == NULL)
      chosen = family == G_SOCKET_FAMILY_IPV6 ? "::1" : "127.0.0.1";
  }
  return strchr (chosen, ':') != NULL ? g_strdup_printf ("[%s]", chosen) : g_strdup (chosen);
}

/* Fails early and clearly if a GStreamer plugin the pipeline needs is gone. */
static gboolean
check_elements (HearthStampCodec codec, GError **error)
{
  /* x265enc is in gstreamer1.0-plugins-bad, x264enc in -ugly. */
  const char *const names[] = {
    "videotestsrc", "timeoverlay",
    codec == HEARTH_STAMP_H265 ? "x265enc" : "x264enc",
    codec == HEARTH_STAMP_H265 ? "rtph265pay" : "rtph264pay",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (names); i++) {
    g_autoptr (GstElementFactory) factory = gst_element_factory_find (names[i]);

    if (factory == NULL) {
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                   "GStreamer element “%s” is missing", names[i]);
      return FALSE;
    }
  }
  return TRUE;
}

/* Streaming thread: one encoded access unit in, the same with a stamp out. */
static GstPadProbeReturn
stamp_access_unit (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  Camera *camera = user_data;
  GstBuffer *au = GST_PAD_PROBE_INFO_BUFFER (info);
  g_autoptr (GBytes) nal = NULL;
  HearthStamp stamp;
  GstBuffer *stamped;
  const guint8 *nal_data;
  guint8 *prefix;
  gsize nal_len;

  memcpy (stamp.camera_id, camera->camera_id, sizeof stamp.camera_id);
  g_mutex_lock (&camera->lock);
  stamp.counter = camera->next_counter++;
  g_mutex_unlock (&camera->lock);
  stamp.capture_time_us = g_get_real_time ();

  nal = hearth_stamp_build_sei_nal_for (&stamp, camera->codec);
  nal_data = g_bytes_get_data (nal, &nal_len);
  prefix = g_malloc (4 + nal_len);
  memcpy (prefix, "\x00\x00\x00\x01", 4);
  memcpy (prefix + 4, nal_data, nal_len);

  /* A new buffer: start code + SEI, then the encoder's memory (reffed, not
   * copied) with its timestamps and flags. */
  stamped = gst_buffer_new_wrapped (prefix, 4 + nal_len);
  if (!gst_buffer_copy_into (stamped, au,
                             GST_BUFFER_COPY_METADATA | GST_BUFFER_COPY_MEMORY,
                             0, -1)) {
    gst_buffer_unref (stamped);
    return GST_PAD_PROBE_OK; /* pass it on unstamped; a checker will say so */
  }

  gst_buffer_unref (au);
  GST_PAD_PROBE_INFO_DATA (info) = stamped;
  return GST_PAD_PROBE_OK;
}

/* The audio of one media: only its pad's streaming thread touches it. */
typedef struct {
  Camera *camera;
  gboolean sent_one;
} MediaAudio;

/* The audio payloader's src pad: drops audio from --audio-stop-after on,
 * all but the media's first packet. */
static GstPadProbeReturn
stop_audio (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  MediaAudio *audio = user_data;
  Camera *camera = audio->camera;
  gint64 now = g_get_monotonic_time ();
  gboolean drop;

  g_mutex_lock (&camera->lock);
  if (camera->first_audio_us == 0)
    camera->first_audio_us = now;
  drop = now - camera->first_audio_us >= camera->audio_stop_after_us;
  g_mutex_unlock (&camera->lock);
  if (!audio->sent_one) {
    audio->sent_one = TRUE;
    return GST_PAD_PROBE_OK;
  }
  return drop ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
}

/* --resize: the size filter's new caps make videotestsrc renegotiate, and
 * the encoder starts again at the new size. */
static void
camera_resize (Camera *camera)
{
  g_autoptr (GstElement) size = NULL;

  g_mutex_lock (&camera->lock);
  camera->resized = TRUE;
  if (camera->size != NULL)
    size = gst_object_ref (camera->size);
  g_mutex_unlock (&camera->lock);

  if (size != NULL)
    g_object_set (size, "caps", camera->resize_caps, NULL);
  g_message ("resized");
}

static gboolean
on_resize_signal (gpointer user_data)
{
  Camera *camera = user_data;

  if (camera->resize_caps != NULL)
    camera_resize (camera);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_resize_timer (gpointer user_data)
{
  Camera *camera = user_data;

  camera->resize_timer = 0;
  camera_resize (camera);
  return G_SOURCE_REMOVE;
}

static void
on_media_configure (GstRTSPMediaFactory *factory, GstRTSPMedia *media,
                    gpointer user_data)
{
  Camera *camera = user_data;
  g_autoptr (GstElement) bin = gst_rtsp_media_get_element (media);
  g_autoptr (GstElement) enc = gst_bin_get_by_name (GST_BIN (bin), "enc");
  g_autoptr (GstElement) size = gst_bin_get_by_name (GST_BIN (bin), "size");
  g_autoptr (GstPad) pad = NULL;
  gboolean resized;

  /* "enc" and "size" are in our own launch line: missing means the line is
   * wrong. */
  g_return_if_fail (enc != NULL && size != NULL);

  pad = gst_element_get_static_pad (enc, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, stamp_access_unit, camera,
                     NULL);
  if (camera->audio_stop_after_us >= 0) {
    g_autoptr (GstElement) pay = gst_bin_get_by_name (GST_BIN (bin), "pay1");
    g_autoptr (GstPad) audio = pay != NULL ? gst_element_get_static_pad (pay, "src") : NULL;

    MediaAudio *state;

    g_return_if_fail (audio != NULL);
    state = g_new0 (MediaAudio, 1);
    state->camera = camera;
    gst_pad_add_probe (audio, GST_PAD_PROBE_TYPE_BUFFER, stop_audio, state,
                       g_free);
  }
  g_debug ("new media: stamping its access units");

  g_mutex_lock (&camera->lock);
  gst_object_replace ((GstObject **) &camera->size, GST_OBJECT (size));
  resized = camera->resized;
  g_mutex_unlock (&camera->lock);
  if (resized)
    g_object_set (size, "caps", camera->resize_caps, NULL);
  else if (camera->resize_after > 0 && camera->resize_timer == 0)
    camera->resize_timer = g_timeout_add_seconds (camera->resize_after,
                                                  on_resize_timer, camera);
}

static gboolean
cleanup_sessions (gpointer user_data)
{
  GstRTSPServer *server = user_data;
  g_autoptr (GstRTSPSessionPool) pool = gst_rtsp_server_get_session_pool (server);

  gst_rtsp_session_pool_cleanup (pool);
  return G_SOURCE_CONTINUE;
}

static GstRTSPFilterResult
remove_client (GstRTSPServer *server, GstRTSPClient *client, gpointer user_data)
{
  return GST_RTSP_FILTER_REMOVE;
}

static GstRTSPFilterResult
remove_session (GstRTSPSessionPool *pool, GstRTSPSession *session,
                gpointer user_data)
{
  return GST_RTSP_FILTER_REMOVE;
}

static gboolean
on_quit_signal (gpointer user_data)
{
  GMainLoop *loop = user_data;

  g_main_loop_quit (loop);
  return G_SOURCE_CONTINUE;
}

/* RTSPS and RTSP authentication: the auth gives every connection
 * @certificate; with --user only that user's token may view the stream,
 * otherwise the default token lets anyone (a server with an auth refuses
 * what no token allows). */
static void
set_up_auth (GstRTSPServer *server, GstRTSPMediaFactory *factory,
             const Options *options, GTlsCertificate *certificate)
{
  g_autoptr (GstRTSPAuth) auth = gst_rtsp_auth_new ();
  g_autoptr (GstRTSPToken) token = NULL;

  if (certificate != NULL)
    gst_rtsp_auth_set_tls_certificate (auth, certificate);
  token = gst_rtsp_token_new (GST_RTSP_TOKEN_MEDIA_FACTORY_ROLE, G_TYPE_STRING,
                              "viewer", NULL);
  if (options->user != NULL) {
    GstRTSPAuthMethod methods = 0;

    if (strstr (options->auth_methods, "digest") != NULL) {
      methods |= GST_RTSP_AUTH_DIGEST;
      gst_rtsp_auth_add_digest (auth, options->user, options->password, token);
    }
    if (strstr (options->auth_methods, "basic") != NULL) {
      g_autofree char *basic = gst_rtsp_auth_make_basic (options->user,
                                                         options->password);

      methods |= GST_RTSP_AUTH_BASIC;
      gst_rtsp_auth_add_basic (auth, basic, token);
    }
    gst_rtsp_auth_set_supported_methods (auth, methods);
  } else {
    gst_rtsp_auth_set_default_token (auth, token);
  }
  gst_rtsp_media_factory_add_role (factory, "viewer",
                                   GST_RTSP_PERM_MEDIA_FACTORY_ACCESS, G_TYPE_BOOLEAN, TRUE,
                                   GST_RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, G_TYPE_BOOLEAN, TRUE,
                                   NULL);
  gst_rtsp_server_set_auth (server, auth);
}

/* --redirect-to: DESCRIBE is refused with 302, and the answer carries the
 * Location (rtsp-client.c emits send-message for every answer it sends). */
static GstRTSPStatusCode
redirect_describe (GstRTSPClient *client, GstRTSPContext *ctx, gpointer user_data)
{
  return GST_RTSP_STS_MOVE_TEMPORARILY;
}

static void
redirect_add_location (GstRTSPClient *client, GstRTSPContext *ctx,
                       GstRTSPMessage *message, gpointer user_data)
{
  GstRTSPStatusCode code;

  if (gst_rtsp_message_get_type (message) == GST_RTSP_MESSAGE_RESPONSE &&
      gst_rtsp_message_parse_response (message, &code, NULL, NULL) == GST_RTSP_OK &&
      code == GST_RTSP_STS_MOVE_TEMPORARILY)
    gst_rtsp_message_add_header (message, GST_RTSP_HDR_LOCATION, user_data);
}

static void
redirect_client (GstRTSPServer *server, GstRTSPClient *client, gpointer user_data)
{
  g_signal_connect (client, "pre-describe-request", G_CALLBACK (redirect_describe), NULL);
  g_signal_connect (client, "send-message", G_CALLBACK (redirect_add_location), user_data);
}

/* @certificate: (nullable): serve RTSPS with it */
static GstRTSPServer *
make_server (const Options *options, Camera *camera,
             GTlsCertificate *certificate)
{
  g_autoptr (GstRTSPServer) server = gst_rtsp_server_new ();
  g_autoptr (GstRTSPMountPoints) mounts = NULL;
  GstRTSPMediaFactory *factory;
  g_autofree char *service = g_strdup_printf ("%d", options->port);
  g_autofree char *launch = NULL;
  g_autoptr (GString) audio = g_string_new (audio_description (options->audio));

  /* Ticks: audiotestsrc beeps at every tick-interval of its timestamps,
   * which start at 0 with the video's: the beep of second n goes with
   * the frame n * fps of the media (the first media's frame counters). */
  if (options->audio_ticks)
    g_string_replace (audio, "wave=sine", "wave=ticks tick-interval=1000000000", 1);

  /* threads=1: with tune=zerolatency x264 otherwise cuts each frame into
   * one slice per thread, and rtph264pay (config-interval=-1) then puts
   * SPS/PPS in front of every IDR slice, which splits an IDR picture in two
   * for decoders (ffmpeg conceals half of each). One thread adds no latency,
   * unlike frame threads. */
  if (camera->codec == HEARTH_STAMP_H265) {
    /* zerolatency: no B-frames, no lookahead, one frame thread.
     * open-gop=0: every keyframe is an IDR (x265 makes CRAs otherwise), as
     * with x264; scenecut=0: exactly every key-int frames. rtph265pay puts
     * VPS/SPS/PPS in front of every IDR. */
    launch = g_strdup_printf (
        "( videotestsrc is-live=true pattern=%s "
        "! capsfilter name=size caps=video/x-raw,width=%d,height=%d,framerate=%d/1 "
        "! timeoverlay "
        "! x265enc name=enc tune=zerolatency speed-preset=ultrafast "
        "key-int-max=%d bitrate=%d option-string=\"open-gop=0:scenecut=0\" "
        "! video/x-h265,stream-format=byte-stream,alignment=au "
        "! rtph265pay name=pay0 pt=96 config-interval=-1 %s )",
        options->pattern, options->width, options->height, options->fps,
        options->key_int, options->bitrate, audio->str);
  } else {
    launch = g_strdup_printf (
        "( videotestsrc is-live=true pattern=%s "
        "! capsfilter name=size caps=video/x-raw,width=%d,height=%d,framerate=%d/1 "
        "! timeoverlay "
        "! x264enc name=enc tune=zerolatency speed-preset=ultrafast "
        "key-int-max=%d bitrate=%d byte-stream=true aud=false threads=1 "
        "! video/x-h264,stream-format=byte-stream,alignment=au,"
        "profile=constrained-baseline "
        "! rtph264pay name=pay0 pt=96 config-interval=-1 %s )",
        options->pattern, options->width, options->height, options->fps,
        options->key_int, options->bitrate, audio->str);
  }

  gst_rtsp_server_set_address (server, options->address);
  gst_rtsp_server_set_service (server, service);

  factory = gst_rtsp_media_factory_new ();
  gst_rtsp_media_factory_set_launch (factory, launch);
  gst_rtsp_media_factory_set_shared (factory, TRUE);
  g_signal_connect (factory, "media-configure",
                    G_CALLBACK (on_media_configure), camera);
  if (certificate != NULL || options->user != NULL)
    set_up_auth (server, factory, options, certificate);

  if (options->redirect_to != NULL)
    g_signal_connect (server, "client-connected", G_CALLBACK (redirect_client),
                      options->redirect_to);

  mounts = gst_rtsp_server_get_mount_points (server);
  gst_rtsp_mount_points_add_factory (mounts, options->mount, factory);

  return g_steal_pointer (&server);
}

/* Closes every client and session, so each media stops its pipeline before
 * the process exits. */
static void
shutdown_server (GstRTSPServer *server)
{
  g_autoptr (GstRTSPSessionPool) pool = gst_rtsp_server_get_session_pool (server);

  g_list_free_full (gst_rtsp_server_client_filter (server, remove_client, NULL),
                    g_object_unref);
  g_list_free_full (gst_rtsp_session_pool_filter (pool, remove_session, NULL),
                    g_object_unref);
}

static gboolean
write_ready_file (const char *path, const char *line, GError **error)
{
  g_autofree char *contents = g_strconcat (line, "\n", NULL);

  /* g_file_set_contents writes a temporary file and renames it: a reader
   * never sees half a line. */
  if (!g_file_set_contents (path, contents, -1, error)) {
    g_prefix_error (error, "cannot write ready file: ");
    return FALSE;
  }
  return TRUE;
}

int
main (int argc, char **argv)
{
  Options options = {
    .port = 0,
    .width = 640,
    .height = 360,
    .fps = 30,
    .bitrate = 1000,
    .key_int = 30,
    .audio_stop_after = -1,
  };
  Camera camera = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GMainLoop) loop = NULL;
  g_autoptr (GstRTSPServer) server = NULL;
  g_autoptr (GSource) server_source = NULL;
  g_autoptr (GPtrArray) txt = NULL;
  g_autoptr (HearthAnnounce) announce = NULL;
  g_autoptr (GTlsCertificate) certificate = NULL;
  g_autofree char *host = NULL;
  g_autofree char *line = NULL;
  guint sigint_id, sigterm_id, sigusr1_id, cleanup_id;
  int status = EXIT_SUCCESS;

  g_mutex_init (&camera.lock);

  if (!parse_options (&argc, &argv, &options, &camera, &error)) {
    g_printerr ("fake-camera: %s\n", error->message);
    options_clear (&options);
    g_mutex_clear (&camera.lock);
    return EX_USAGE;
  }

  if (options.announce != NULL && (txt = build_txt (&options, &error)) == NULL) {
    g_printerr ("fake-camera: %s\n", error->message);
    options_clear (&options);
    g_mutex_clear (&camera.lock);
    return EX_USAGE;
  }

  if (!check_elements (camera.codec, &error)) {
    g_printerr ("fake-camera: %s\n", error->message);
    options_clear (&options);
    g_mutex_clear (&camera.lock);
    return EX_UNAVAILABLE;
  }

  if (options.tls_cert != NULL) {
    certificate = g_tls_certificate_new_from_files (options.tls_cert,
                                                    options.tls_key, &error);
    if (certificate == NULL) {
      g_printerr ("fake-camera: cannot load --tls-cert/--tls-key: %s\n",
                  error->message);
      options_clear (&options);
      g_mutex_clear (&camera.lock);
      return g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT) ||
             g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_ACCES)
             ? EX_NOINPUT : EX_DATAERR;
    }
  }

  loop = g_main_loop_new (NULL, FALSE);
  server = make_server (&options, &camera, certificate);
  server_source = gst_rtsp_server_create_source (server, NULL, &error);
  if (server_source == NULL) {
    g_printerr ("fake-camera: cannot listen on %s port %d: %s\n",
                options.address, options.port, error->message);
    options_clear (&options);
    g_mutex_clear (&camera.lock);
    return EX_UNAVAILABLE;
  }
  g_source_attach (server_source, NULL);

  host = ready_host (options.address);
  line = g_strdup_printf ("%s://%s:%d%s stamp-id=%s",
                          certificate != NULL ? "rtsps" : "rtsp", host,
                          gst_rtsp_server_get_bound_port (server),
                          options.mount, options.stamp_id);

  sigint_id = g_unix_signal_add (SIGINT, on_quit_signal, loop);
  sigterm_id = g_unix_signal_add (SIGTERM, on_quit_signal, loop);
  sigusr1_id = g_unix_signal_add (SIGUSR1, on_resize_signal, &camera);
  cleanup_id = g_timeout_add_seconds (2, cleanup_sessions, server);
  if (options.announce != NULL)
    announce = hearth_announce_new (options.announce, options.service_type,
                                    gst_rtsp_server_get_bound_port (server), txt);

  if (options.ready_file != NULL &&
      !write_ready_file (options.ready_file, line, &error)) {
    g_printerr ("fake-camera: %s\n", error->message);
    status = EX_CANTCREAT;
  } else {
    printf ("%s\n", line);
    fflush (stdout);
    g_main_loop_run (loop);
  }

  /* Withdrawn first: nobody should dial a camera that is going away. */
  g_clear_pointer (&announce, hearth_announce_free);
  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);
  g_source_remove (sigusr1_id);
  if (camera.resize_timer != 0)
    g_source_remove (camera.resize_timer);
  g_source_remove (cleanup_id);
  g_source_destroy (server_source);
  g_clear_pointer (&server_source, g_source_unref);
  shutdown_server (server);
  g_clear_object (&server);

  options_clear (&options);
  gst_clear_object (&camera.size);
  gst_clear_caps (&camera.resize_caps);
  g_mutex_clear (&camera.lock);
  return status;
}
