/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * hearth-display: the reference display client.
 *
 * Parses the command line, runs one command (pair, info, list, play, check)
 * and turns its outcome into an exit status. Pairing lives in pair.c, the
 * gateway connection and the configuration directory in client.c, the camera
 * commands in watch.c.
 */
#define G_LOG_DOMAIN "hearth-display"

#include <locale.h>
#include <string.h>
#include <sysexits.h>

#include <gio/gio.h>
#include <gst/gst.h>

#include "client.h"
#include "error.h"
#include "hearth-config.h"
#include "mdns.h"
#include "pair.h"
#include "payload.h"
#include "stamp.h"
#include "tls-policy.h"
#include "watch.h"

/* Exit statuses besides sysexits.h. */
#define EXIT_CHECK_FAILED 1 /* check failed, or the stream ended */
#define EXIT_NETWORK 2      /* network, TLS or gateway error */

#define DEFAULT_TIMEOUT_S 30
/* check: a picture frozen this long is a broken stream, not a slow network. */
#define DEFAULT_MAX_GAP_S 3.0

static const char description[] =
  "Commands:\n"
  "  pair PAYLOAD [--name NAME]          Pair with a gateway: PAYLOAD is the text of its\n"
  "  pair --qr-image FILE [--name NAME]  pairing QR code (https://…/pair?… or\n"
  "                                      hearth://pair?…), or FILE a picture of it\n"
  "  info                                Show the gateway and household this display\n"
  "                                      is paired with\n"
  "  list [--json]                       List the household's cameras: ID, NAME, STATE,\n"
  "                                      CODEC, SIZE, FPS (--json: the gateway's JSON)\n"
  "  play CAMERA [--sink ELEMENT] [--stream main|sub]\n"
  "                                      Play a camera in a window, following it when\n"
  "                                      its stream starts again (new resolution or\n"
  "                                      codec); Ctrl-C quits. Needs DISPLAY or\n"
  "                                      WAYLAND_DISPLAY unless --sink is given\n"
  "  check CAMERA --frames N [--timeout SECONDS] [--max-gap SECONDS]\n"
  "        [--require-stamps] [--expect-stamp UUID] [--no-decode]\n"
  "        [--frame-log FILE] [--follow] [--stream main|sub]\n"
  "                                      Receive N frames without showing them, decode\n"
  "                                      them, check their order, gaps and test stamps\n"
  "                                      (if any) and print frames,\n"
  "                                      time-to-first-frame-ms, lag-ms-p50, lag-ms-p99,\n"
  "                                      unstamped, mismatched, out-of-order, stamp-id,\n"
  "                                      size, reconnects, longest-gap-ms, decoded,\n"
  "                                      decode-errors, then \"ok\" or \"FAILED: reason\"\n"
  "\n"
  "CAMERA is a camera's id, or its name in any case (\"door\" is \"Door\"); a name\n"
  "that several cameras share is refused with their ids.\n"
  "\n"
  "When none of the gateway's known addresses connects, pair, list, play and\n"
  "check look it up by mDNS (_hearth._tcp, the pinned fingerprint, local\n"
  "addresses only) for up to --mdns-timeout seconds; an address found that way\n"
  "and answering with a certificate that matches the pin replaces the stored one.\n"
  "\n"
  "Exit status:\n"
  "  0   success\n"
  "  1   check failed (frames out of order or that do not decode, a gap longer\n"
  "      than --max-gap, a frame with another camera's stamp or, with stamps\n"
  "      required, without one, or the stream ended or was cut before N frames);\n"
  "      play: the stream ended\n"
  "  2   network, TLS or gateway error (refused, certificate rejected, not found…)\n"
  "  64  usage error, or a camera name that matches several cameras\n"
  "  69  play: no display (neither DISPLAY nor WAYLAND_DISPLAY is set)\n"
  "  65  bad pairing payload or QR image\n"
  "  73  the pairing could not be written\n"
  "  78  not paired yet\n";

typedef struct {
  char *config_dir;
  char *qr_image;
  char *name;
  gboolean json;
  char *sink;
  int frames;
  gboolean require_stamps;
  gboolean no_decode;
  double max_gap;
  char *expect_stamp;
  int timeout;
  char *frame_log;
  gboolean follow;
  char *stream;
  int mdns_timeout;
} Options;

static void
options_clear (Options *options)
{
  g_free (options->config_dir);
  g_free (options->qr_image);
  g_free (options->name);
  g_free (options->sink);
  g_free (options->expect_stamp);
  g_free (options->frame_log);
  g_free (options->stream);
}

static int
usage_error (const char *format, ...) G_GNUC_PRINTF (1, 2);

static int
usage_error (const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_printerr ("hearth-display: %s\nTry “hearth-display --help”.\n", message);
  return EX_USAGE;
}

static int
fail (int status, const GError *error)
{
  g_printerr ("hearth-display: %s\n", error->message);
  return status;
}

/* Options that only one command takes; NULL if all given options fit @command. */
static const char *
misplaced_option (const Options *options, const char *command)
{
  if (options->qr_image != NULL && !g_str_equal (command, "pair"))
    return "--qr-image";
  if (options->name != NULL && !g_str_equal (command, "pair"))
    return "--name";
  if (options->json && !g_str_equal (command, "list"))
    return "--json";
  if (options->sink != NULL && !g_str_equal (command, "play"))
    return "--sink";
  if (options->frames >= 0 && !g_str_equal (command, "check"))
    return "--frames";
  if (options->expect_stamp != NULL && !g_str_equal (command, "check"))
    return "--expect-stamp";
  if (options->require_stamps && !g_str_equal (command, "check"))
    return "--require-stamps";
  if (options->no_decode && !g_str_equal (command, "check"))
    return "--no-decode";
  if (options->max_gap >= 0 && !g_str_equal (command, "check"))
    return "--max-gap";
  if (options->timeout >= 0 && !g_str_equal (command, "check"))
    return "--timeout";
  if (options->frame_log != NULL && !g_str_equal (command, "check"))
    return "--frame-log";
  if (options->follow && !g_str_equal (command, "check"))
    return "--follow";
  if (options->stream != NULL && !g_str_equal (command, "check") &&
      !g_str_equal (command, "play"))
    return "--stream";
  return NULL;
}

static void
on_gateway_moved_pairing (HearthDisplayClient *client, const char *address,
                          const char *store_error, gpointer user_data)
{
  g_printerr ("hearth-display: the gateway did not answer at the pairing code's "
              "addresses; found its pairing port by mDNS at %s\n", address);
}

static void
on_gateway_moved (HearthDisplayClient *client, const char *address,
                  const char *store_error, gpointer user_data)
{
  if (store_error == NULL)
    g_printerr ("hearth-display: the gateway did not answer at its stored address; "
                "found it by mDNS at %s and stored that address\n", address);
  else
    g_printerr ("hearth-display: the gateway did not answer at its stored address; "
                "found it by mDNS at %s, but could not store that address: %s\n",
                address, store_error);
}

static void
set_up_mdns (HearthDisplayClient *client, const Options *options, GCallback on_moved)
{
  hearth_display_client_set_mdns_timeout (client, (guint) options->mdns_timeout * 1000);
  g_signal_connect (client, "gateway-moved", on_moved, NULL);
}

static int
command_pair (const Options *options, char **args, guint n_args)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HearthPayload) payload = NULL;
  g_autoptr (HearthPairing) pairing = NULL;
  g_autoptr (HearthDisplayClient) client = NULL;
  g_autofree char *text = NULL;
  const char *name;

  if (options->qr_image != NULL && n_args > 0)
    return usage_error ("pair takes either PAYLOAD or --qr-image FILE, not both");
  if (options->qr_image == NULL && n_args != 1)
    return usage_error (n_args == 0 ? "pair needs PAYLOAD or --qr-image FILE"
                                    : "pair takes one PAYLOAD");

  name = options->name != NULL ? options->name : g_get_host_name ();
  if (*name == '\0' || !g_utf8_validate (name, -1, NULL))
    return usage_error ("--name must be non-empty UTF-8");

  if (options->qr_image != NULL) {
    gst_init (NULL, NULL);
    text = hearth_display_read_qr_image (options->qr_image, &error);
    if (text == NULL)
      return fail (EX_DATAERR, error);
  } else {
    text = g_strdup (args[0]);
  }

  payload = hearth_payload_parse (text, &error);
  if (payload == NULL) {
    if (options->qr_image != NULL)
      g_prefix_error (&error, "the QR code in %s is not a Hearth pairing code: ",
                      options->qr_image);
    return fail (EX_DATAERR, error);
  }

  client = hearth_display_client_new_for_pairing (payload, &error);
  if (client == NULL)
    return fail (g_error_matches (error, HEARTH_ERROR, HEARTH_ERROR_INVALID) ? EX_DATAERR
                                                                              : EXIT_NETWORK,
                 error);
  set_up_mdns (client, options, G_CALLBACK (on_gateway_moved_pairing));

  pairing = hearth_display_pair_request (client, payload, name, &error);
  if (pairing == NULL)
    return fail (EXIT_NETWORK, error);

  if (!hearth_display_pairing_save (pairing, options->config_dir, &error)) {
    g_prefix_error (&error, "paired as display %" G_GINT64_FORMAT ", but ",
                    pairing->config->display_id);
    return fail (EX_CANTCREAT, error);
  }

  g_print ("paired as display %" G_GINT64_FORMAT " of household %s\n",
           pairing->config->display_id, pairing->config->household);
  return EXIT_SUCCESS;
}

static int
command_info (const Options *options)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HearthDisplayConfig) config = NULL;
  g_autofree char *addresses = NULL;

  config = hearth_display_config_load (options->config_dir, &error);
  if (config == NULL)
    return fail (EX_CONFIG, error);

  addresses = g_strjoinv (", ", config->stream_addresses);
  g_print ("gateway: %s\n", config->gateway_name);
  g_print ("gateway-fingerprint: %s\n", config->gateway_fingerprint);
  g_print ("household: %s\n", config->household);
  g_print ("display-id: %" G_GINT64_FORMAT "\n", config->display_id);
  g_print ("display-name: %s\n", config->display_name);
  g_print ("stream-addresses: %s\n", addresses);
  g_print ("config-dir: %s\n", options->config_dir);
  return EXIT_SUCCESS;
}

/* The client for list, play and check; NULL and *status set on failure. */
static HearthDisplayClient *
paired_client (const Options *options, int *status)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HearthDisplayConfig) config = NULL;
  HearthDisplayClient *client;

  /* Not paired (or a broken pairing) is a configuration problem. */
  config = hearth_display_config_load (options->config_dir, &error);
  if (config == NULL) {
    *status = fail (EX_CONFIG, error);
    return NULL;
  }

  client = hearth_display_client_new_from_config_dir (options->config_dir, &error);
  if (client == NULL) {
    *status = fail (error->domain == HEARTH_ERROR && error->code == HEARTH_ERROR_TLS ?
                    EXIT_NETWORK : EX_CONFIG, error);
    return NULL;
  }
  set_up_mdns (client, options, G_CALLBACK (on_gateway_moved));
  return client;
}

static int
status_for_error (const GError *error)
{
  if (g_error_matches (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA))
    return fail (EXIT_CHECK_FAILED, error);
  /* A camera name that several cameras answer to: the user says which. */
  if (g_error_matches (error, HEARTH_ERROR, HEARTH_ERROR_EXISTS))
    return fail (EX_USAGE, error);
  return fail (EXIT_NETWORK, error);
}

static int
command_list (const Options *options, guint n_args)
{
  g_autoptr (HearthDisplayClient) client = NULL;
  g_autoptr (GError) error = NULL;
  int status = 0;

  if (n_args > 0)
    return usage_error ("list takes no arguments");
  client = paired_client (options, &status);
  if (client == NULL)
    return status;
  if (!hearth_display_list_cameras (client, options->json, &error))
    return status_for_error (error);
  return EXIT_SUCCESS;
}

/*
 * autovideosink needs a display server to show a window on; without one (over
 * ssh, on a console) it may pick a sink that crashes (DirectFB). A sink given
 * with --sink is the user's choice and is not second-guessed.
 */
static gboolean
have_display (void)
{
  const char *x11 = g_getenv ("DISPLAY");
  const char *wayland = g_getenv ("WAYLAND_DISPLAY");

  return (x11 != NULL && *x11 != '\0') || (wayland != NULL && *wayland != '\0');
}

/* --stream: none, or a name the gateway knows. */
static gboolean
stream_option_ok (const Options *options)
{
  return options->stream == NULL || g_str_equal (options->stream, "main") ||
         g_str_equal (options->stream, "sub");
}

static int
command_play (const Options *options, char **args, guint n_args)
{
  g_autoptr (HearthDisplayClient) client = NULL;
  g_autoptr (GError) error = NULL;
  gboolean passed = FALSE;
  int status = 0;

  if (n_args != 1)
    return usage_error ("play takes one CAMERA (id or name)");
  if (!stream_option_ok (options))
    return usage_error ("--stream must be main or sub");
  if (options->sink == NULL && !have_display ()) {
    /* Quoted only where a shell needs it. */
    gboolean plain = *args[0] != '\0' &&
                     strspn (args[0], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                      "0123456789._-") == strlen (args[0]);
    g_autofree char *quoted = plain ? g_strdup (args[0]) : g_shell_quote (args[0]);

    g_printerr ("hearth-display: no display to play on: neither DISPLAY (X11) nor "
                "WAYLAND_DISPLAY (Wayland) is set, as over ssh or on a text console.\n"
                "Run play in the graphical session (or ssh -X), choose a video sink "
                "with --sink ELEMENT, or watch without a window:\n"
                "  hearth-display check %s --frames 300\n", quoted);
    return EX_UNAVAILABLE;
  }
  client = paired_client (options, &status);
  if (client == NULL)
    return status;

  gst_init (NULL, NULL);
  if (!hearth_display_play (client, args[0], options->stream, options->sink, &passed,
                            &error))
    return status_for_error (error);
  return passed ? EXIT_SUCCESS : EXIT_CHECK_FAILED;
}

static int
command_check (const Options *options, char **args, guint n_args)
{
  g_autoptr (HearthDisplayClient) client = NULL;
  g_autoptr (GError) error = NULL;
  HearthCheckOptions check = { 0 };
  gboolean passed = FALSE;
  int status = 0;

  if (n_args != 1)
    return usage_error ("check takes one CAMERA (id or name)");
  if (!stream_option_ok (options))
    return usage_error ("--stream must be main or sub");
  if (options->frames < 0)
    return usage_error ("check needs --frames N");
  if (options->frames == 0)
    return usage_error ("--frames must be at least 1");
  if (options->timeout == 0)
    return usage_error ("--timeout must be at least 1 second");
  if (options->max_gap > 3600 || (options->max_gap < 0 && options->max_gap != -1))
    return usage_error ("--max-gap must be 0 to 3600 seconds");
  if (options->expect_stamp != NULL) {
    if (!hearth_stamp_id_parse (options->expect_stamp, check.expected))
      return usage_error ("--expect-stamp: “%s” is not a UUID", options->expect_stamp);
    check.have_expected = TRUE;
  }
  check.camera = args[0];
  check.require_stamps = options->require_stamps;
  check.decode = !options->no_decode;
  check.max_gap_s = options->max_gap >= 0 ? options->max_gap : DEFAULT_MAX_GAP_S;
  check.frame_log = options->frame_log;
  check.follow = options->follow;
  check.stream = options->stream;
  check.frames = options->frames;
  check.timeout_s = options->timeout > 0 ? options->timeout : DEFAULT_TIMEOUT_S;

  client = paired_client (options, &status);
  if (client == NULL)
    return status;

  gst_init (NULL, NULL);
  if (!hearth_display_check (client, &check, &passed, &error))
    return status_for_error (error);
  return passed ? EXIT_SUCCESS : EXIT_CHECK_FAILED;
}

int
main (int argc, char **argv)
{
  Options options = { .frames = -1, .timeout = -1, .max_gap = -1,
                      .mdns_timeout = HEARTH_DISPLAY_MDNS_TIMEOUT_S };
  gboolean version = FALSE;
  const GOptionEntry entries[] = {
    { "config-dir", 0, 0, G_OPTION_ARG_FILENAME, &options.config_dir,
      "Where the pairing is kept (default: $XDG_CONFIG_HOME/hearth-display)", "DIR" },
    { "qr-image", 0, 0, G_OPTION_ARG_FILENAME, &options.qr_image,
      "pair: read the payload from a picture of the QR code", "FILE" },
    { "name", 0, 0, G_OPTION_ARG_STRING, &options.name,
      "pair: this display's name (default: the host name)", "NAME" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &options.json,
      "list: print the gateway's JSON as it is", NULL },
    { "sink", 0, 0, G_OPTION_ARG_STRING, &options.sink,
      "play: the video sink (default: autovideosink)", "ELEMENT" },
    { "frames", 0, 0, G_OPTION_ARG_INT, &options.frames,
      "check: how many frames to receive (required)", "N" },
    { "require-stamps", 0, 0, G_OPTION_ARG_NONE, &options.require_stamps,
      "check: fail on a frame without a test stamp (only Hearth's test cameras "
      "stamp their frames)", NULL },
    { "expect-stamp", 0, 0, G_OPTION_ARG_STRING, &options.expect_stamp,
      "check: the camera stamp id every frame must carry (implies --require-stamps; "
      "default: the first stamped frame's)", "UUID" },
    { "max-gap", 0, 0, G_OPTION_ARG_DOUBLE, &options.max_gap,
      "check: fail if two frames of one response are further apart than this "
      "(default: 3; 0: only report the longest gap)", "SECONDS" },
    { "no-decode", 0, 0, G_OPTION_ARG_NONE, &options.no_decode,
      "check: do not decode the frames (saves CPU when many checks run)", NULL },
    { "timeout", 0, 0, G_OPTION_ARG_INT, &options.timeout,
      "check: give up after this many seconds (default: 30)", "SECONDS" },
    { "frame-log", 0, 0, G_OPTION_ARG_FILENAME, &options.frame_log,
      "check: write one line per frame to FILE: receipt time (µs since the epoch), "
      "stamp id (or -), counter, capture time", "FILE" },
    { "follow", 0, 0, G_OPTION_ARG_NONE, &options.follow,
      "check: when the stream ends cleanly (the camera's stream started again, e.g. "
      "with a new resolution or codec), ask again and go on counting", NULL },
    { "stream", 0, 0, G_OPTION_ARG_STRING, &options.stream,
      "play, check: which of the camera's streams, main (the default) or sub (the "
      "smaller one, for a camera that has one)", "main|sub" },
    { "mdns-timeout", 0, 0, G_OPTION_ARG_INT, &options.mdns_timeout,
      "how long to look for the gateway by mDNS when its known addresses do not "
      "answer; 0: never (default: 5)", "SECONDS" },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) args = NULL;
  const char *command;
  const char *misplaced;
  guint n_args;
  int status;

  hearth_tls_policy_apply ();
  setlocale (LC_ALL, "");
  g_set_prgname ("hearth-display");
  g_debug ("TLS: %s", HEARTH_TLS_PRIORITY);

  context = g_option_context_new ("COMMAND [ARGUMENT…]");
  g_option_context_set_summary (context,
                                "The reference display of Hearth " HEARTH_VERSION ": pairs with "
                                "a Hearth gateway by its QR code,\nlists the household's cameras "
                                "and plays or checks their live streams.");
  g_option_context_set_description (context, description);
  g_option_context_add_main_entries (context, entries, NULL);

  args = g_strdupv (argv);
  if (!g_option_context_parse_strv (context, &args, &error)) {
    status = usage_error ("%s", error->message);
    options_clear (&options);
    return status;
  }
  if (version) {
    g_print ("hearth-display %s\n", HEARTH_VERSION);
    options_clear (&options);
    return EXIT_SUCCESS;
  }

  if (options.config_dir == NULL)
    options.config_dir = hearth_display_default_config_dir ();
  if (options.mdns_timeout < 0 || options.mdns_timeout > 600) {
    options_clear (&options);
    return usage_error ("--mdns-timeout must be 0 to 600 seconds");
  }

  n_args = g_strv_length (args);
  if (n_args < 2) {
    options_clear (&options);
    return usage_error ("no command given");
  }
  command = args[1];
  n_args -= 2;

  misplaced = misplaced_option (&options, command);
  if (g_str_equal (command, "pair") || g_str_equal (command, "info") ||
      g_str_equal (command, "list") || g_str_equal (command, "play") ||
      g_str_equal (command, "check")) {
    if (misplaced != NULL)
      status = usage_error ("%s is not an option of %s", misplaced, command);
    else if (g_str_equal (command, "pair"))
      status = command_pair (&options, args + 2, n_args);
    else if (g_str_equal (command, "info"))
      status = n_args > 0 ? usage_error ("info takes no arguments") : command_info (&options);
    else if (g_str_equal (command, "list"))
      status = command_list (&options, n_args);
    else if (g_str_equal (command, "play"))
      status = command_play (&options, args + 2, n_args);
    else
      status = command_check (&options, args + 2, n_args);
  } else {
    status = usage_error ("unknown command “%s”", command);
  }

  options_clear (&options);
  return status;
}
