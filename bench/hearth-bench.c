/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * hearth-bench: N displays at once against one live.mp4 URL (hearthd, or
 * nginx serving a recording of the same stream), for bench/run.sh; or
 * against several (--url more than once: one camera each, in turn).
 *
 * Each display is a libsoup request with its own client certificate (the
 * identities are used in turn), pinned to the server's certificate. The body
 * is cut into fMP4 units with the gateway's own splitter; the test stamp in
 * each frame gives the added latency (receipt minus capture time).
 *
 *   1. open N streams; once all have their first keyframe, measure for
 *      --seconds: bytes received, the server's CPU time and memory
 *      (/proc/PID of --server-pid), and the latency of live frames;
 *   2. then, with the N still streaming, --joins times: open one more
 *      stream and time its first keyframe (request sent → init segment and
 *      keyframe received), close it.
 *
 * Prints one JSON object on stdout. Bounded in count and time; loopback only
 * (the URL is the caller's).
 */
#define G_LOG_DOMAIN "hearth-bench"

#include <libsoup/soup.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "fmp4.h"
#include "stamp.h"

#define READ_SIZE 65536
/* Frames of a new stream that are the cached GOP, not live. */
#define SETTLE_US (1500 * 1000)

typedef struct _Bench Bench;

typedef struct {
  Bench *bench;
  SoupMessage *msg;
  GInputStream *body;
  GCancellable *cancellable;
  HearthFmp4Splitter *splitter;
  guint8 *buffer;
  gint64 sent_us;
  gint64 first_key_us;     /* 0 until the first keyframe */
  gboolean have_init;
  gboolean is_join;
  gboolean done;
} Stream;

struct _Bench {
  SoupSession *session;
  GTlsCertificate *server_cert;
  GPtrArray *identities;   /* of GTlsCertificate */
  char **urls;             /* stream i asks for urls[i % n_urls] */
  guint n_urls;
  int server_pid;
  GPtrArray *streams;      /* of Stream, the N */
  guint n_started;         /* of the N, with a keyframe */
  gboolean measuring;
  gint64 window_start_us;
  guint64 window_bytes;
  guint64 window_frames;
  GArray *lags_ms;         /* of double */
  GArray *ttff_ms;         /* of double */
  int joins_left;
  char *cipher;
  guint errors;
  double cpu_start_s;
  gboolean failed;         /* a request was refused: stop */
  gboolean timed_out;
  gboolean joins_done;
};

static double
proc_cpu_s (int pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", pid);
  g_autofree char *text = NULL;
  g_auto (GStrv) fields = NULL;
  const char *after;

  if (pid <= 0 || !g_file_get_contents (path, &text, NULL, NULL))
    return 0;
  after = strrchr (text, ')');
  if (after == NULL)
    return 0;
  fields = g_strsplit (after + 2, " ", 0);
  if (g_strv_length (fields) < 15)
    return 0;
  /* utime and stime are fields 14 and 15; after the name, 12 and 13. */
  return (g_ascii_strtod (fields[11], NULL) + g_ascii_strtod (fields[12], NULL)) /
         sysconf (_SC_CLK_TCK);
}

/* The process's and its children's (nginx workers) resident memory, KiB. */
static guint64
proc_rss_kib (int pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", pid);
  g_autofree char *text = NULL;
  const char *line;

  if (pid <= 0 || !g_file_get_contents (path, &text, NULL, NULL))
    return 0;
  line = strstr (text, "VmRSS:");
  return line != NULL ? g_ascii_strtoull (line + 6, NULL, 10) : 0;
}

static int
compare_double (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

static double
percentile (GArray *values, double p)
{
  guint i;

  if (values->len == 0)
    return -1;
  g_array_sort (values, compare_double);
  i = MIN (values->len - 1, (guint) (p * values->len));
  return g_array_index (values, double, i);
}

static gboolean
on_accept_certificate (SoupMessage *msg, GTlsCertificate *cert,
                       GTlsCertificateFlags errors, gpointer user_data)
{
  Bench *bench = user_data;

  /* Pinned, as a paired display pins the gateway. */
  return g_tls_certificate_is_same (cert, bench->server_cert);
}

static void stream_read (Stream *stream);
static void start_join (Bench *bench);

static void
stream_free (Stream *stream)
{
  g_cancellable_cancel (stream->cancellable);
  g_clear_object (&stream->body);
  g_clear_object (&stream->msg);
  g_object_unref (stream->cancellable);
  hearth_fmp4_splitter_free (stream->splitter);
  g_free (stream->buffer);
  g_free (stream);
}

static void
stream_unit (Stream *stream, HearthFmp4Kind kind, GBytes *bytes, gboolean key)
{
  Bench *bench = stream->bench;
  gint64 now_us = g_get_monotonic_time ();
  const guint8 *payload;
  gsize len, size;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  HearthStamp stamp;

  if (kind == HEARTH_FMP4_INIT) {
    stream->have_init = TRUE;
    return;
  }
  if (stream->first_key_us == 0) {
    if (!key || !stream->have_init)
      return;
    stream->first_key_us = now_us;
    if (stream->is_join) {
      double ttff = (now_us - stream->sent_us) / 1000.0;

      g_array_append_val (bench->ttff_ms, ttff);
      stream->done = TRUE;
      return;
    }
    if (++bench->n_started == bench->streams->len) {
      bench->measuring = TRUE;
      bench->window_start_us = now_us;
      bench->cpu_start_s = proc_cpu_s (bench->server_pid);
    }
  }
  if (!bench->measuring)
    return;
  bench->window_frames++;
  if (now_us - stream->first_key_us > SETTLE_US &&
      hearth_fmp4_fragment_find_mdat (data, len, &payload, &size) &&
      hearth_stamp_find (payload, size, 4, &stamp)) {
    double lag = (g_get_real_time () - stamp.capture_time_us) / 1000.0;

    g_array_append_val (bench->lags_ms, lag);
  }
}

static void
on_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Stream *stream = user_data;
  Bench *bench = stream->bench;
  g_autoptr (GError) error = NULL;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  HearthFmp4Kind kind;
  GBytes *bytes;
  gboolean key;

  if (n <= 0) {
    if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
      bench->errors++;
      if (stream->is_join) {
        stream_free (stream);
        start_join (bench);
      }
    }
    return;
  }
  if (bench->measuring && !stream->is_join)
    bench->window_bytes += n;
  if (!hearth_fmp4_splitter_push (stream->splitter, stream->buffer, n, &error)) {
    g_printerr ("hearth-bench: %s\n", error->message);
    bench->errors++;
    return;
  }
  while (!stream->done &&
         hearth_fmp4_splitter_pop (stream->splitter, &kind, &bytes, &key)) {
    stream_unit (stream, kind, bytes, key);
    g_bytes_unref (bytes);
  }
  if (stream->is_join && stream->done) {
    stream_free (stream);
    start_join (bench);
    return;
  }
  stream_read (stream);
}

static void
stream_read (Stream *stream)
{
  g_input_stream_read_async (stream->body, stream->buffer, READ_SIZE,
                             G_PRIORITY_DEFAULT, stream->cancellable, on_read,
                             stream);
}

static void
on_sent (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Stream *stream = user_data;
  Bench *bench = stream->bench;
  g_autoptr (GError) error = NULL;

  stream->body = soup_session_send_finish (SOUP_SESSION (source), result, &error);
  if (stream->body == NULL || soup_message_get_status (stream->msg) != 200) {
    g_printerr ("hearth-bench: request failed: %s (status %u)\n",
                error ? error->message : "no body",
                soup_message_get_status (stream->msg));
    bench->errors++;
    bench->failed = TRUE;
    if (stream->is_join) {
      stream_free (stream);
      start_join (bench); /* sees the failure: the joins are over */
    }
    return;
  }
  if (bench->cipher == NULL)
    bench->cipher = g_strdup (soup_message_get_tls_ciphersuite_name (stream->msg));
  stream_read (stream);
}

static Stream *
stream_start (Bench *bench, guint i, gboolean is_join)
{
  Stream *stream = g_new0 (Stream, 1);

  stream->bench = bench;
  stream->is_join = is_join;
  stream->cancellable = g_cancellable_new ();
  stream->splitter = hearth_fmp4_splitter_new ();
  stream->buffer = g_malloc (READ_SIZE);
  stream->msg = soup_message_new ("GET", bench->urls[i % bench->n_urls]);
  soup_message_set_tls_client_certificate (
      stream->msg, bench->identities->pdata[i % bench->identities->len]);
  g_signal_connect (stream->msg, "accept-certificate",
                    G_CALLBACK (on_accept_certificate), bench);
  /* A connection of its own, as a display has. */
  soup_message_add_flags (stream->msg, SOUP_MESSAGE_NEW_CONNECTION);
  stream->sent_us = g_get_monotonic_time ();
  soup_session_send_async (bench->session, stream->msg, G_PRIORITY_DEFAULT,
                           stream->cancellable, on_sent, stream);
  return stream;
}

static void
start_join (Bench *bench)
{
  if (bench->joins_left <= 0 || bench->failed) {
    bench->joins_done = TRUE;
    return;
  }
  bench->joins_left--;
  stream_start (bench, bench->joins_left, TRUE);
}

static gboolean
on_deadline (gpointer user_data)
{
  Bench *bench = user_data;

  bench->timed_out = TRUE;
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  g_auto (GStrv) urls = NULL;
  g_autofree char *ca = NULL;
  g_auto (GStrv) identities = NULL;
  int n = 1, seconds = 10, joins = 0, server_pid = 0, timeout = 60;
  const GOptionEntry entries[] = {
    { "url", 0, 0, G_OPTION_ARG_STRING_ARRAY, &urls,
      "live.mp4 URL (https); given more than once, the streams take them in turn", "URL" },
    { "server-cert", 0, 0, G_OPTION_ARG_FILENAME, &ca, "the server's certificate (pinned)", "PEM" },
    { "identity", 0, 0, G_OPTION_ARG_STRING_ARRAY, &identities,
      "a display's CERT:KEY (repeat; used in turn)", "CERT:KEY" },
    { "displays", 'n', 0, G_OPTION_ARG_INT, &n, "streams at once (1-500)", "N" },
    { "seconds", 0, 0, G_OPTION_ARG_INT, &seconds, "measuring window (1-300)", "S" },
    { "joins", 0, 0, G_OPTION_ARG_INT, &joins, "extra streams opened one by one (0-10000)", "J" },
    { "server-pid", 0, 0, G_OPTION_ARG_INT, &server_pid, "the server process to measure", "PID" },
    { "timeout", 0, 0, G_OPTION_ARG_INT, &timeout, "give up after (seconds)", "S" },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- displays against a live.mp4 URL");
  g_autoptr (GError) error = NULL;
  Bench bench = { 0 };
  gint64 window_us;
  double cpu_s, gb;
  guint64 rss_kib;
  guint deadline;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || urls == NULL ||
      ca == NULL || identities == NULL || n < 1 || n > 500 || seconds < 1 ||
      seconds > 300 || joins < 0 || joins > 10000) {
    g_printerr ("hearth-bench: %s\n", error ? error->message
                : "--url, --server-cert and --identity are needed; see --help");
    return EX_USAGE;
  }

  bench.urls = urls;
  bench.n_urls = g_strv_length (urls);
  bench.server_pid = server_pid;
  bench.joins_left = joins;
  bench.lags_ms = g_array_new (FALSE, FALSE, sizeof (double));
  bench.ttff_ms = g_array_new (FALSE, FALSE, sizeof (double));
  bench.identities = g_ptr_array_new_with_free_func (g_object_unref);
  bench.streams = g_ptr_array_new_with_free_func ((GDestroyNotify) stream_free);
  bench.server_cert = g_tls_certificate_new_from_file (ca, &error);
  if (bench.server_cert == NULL) {
    g_printerr ("hearth-bench: %s\n", error->message);
    return EX_NOINPUT;
  }
  for (guint i = 0; identities[i] != NULL; i++) {
    g_auto (GStrv) pair = g_strsplit (identities[i], ":", 2);
    GTlsCertificate *cert;

    if (g_strv_length (pair) != 2) {
      g_printerr ("hearth-bench: --identity takes CERT:KEY\n");
      return EX_USAGE;
    }
    cert = g_tls_certificate_new_from_files (pair[0], pair[1], &error);
    if (cert == NULL) {
      g_printerr ("hearth-bench: %s\n", error->message);
      return EX_NOINPUT;
    }
    g_ptr_array_add (bench.identities, cert);
  }
  bench.session = soup_session_new_with_options ("max-conns", 1000,
                                                 "max-conns-per-host", 1000,
                                                 "timeout", 20, NULL);

  for (int i = 0; i < n; i++)
    g_ptr_array_add (bench.streams, stream_start (&bench, i, FALSE));
  deadline = g_timeout_add_seconds (timeout, on_deadline, &bench);
  /* The window ends --seconds after every stream had its first keyframe. */
  while (!bench.failed && !bench.timed_out &&
         !(bench.measuring && g_get_monotonic_time () - bench.window_start_us >=
                                  seconds * G_USEC_PER_SEC))
    g_main_context_iteration (NULL, TRUE);
  window_us = bench.measuring ? g_get_monotonic_time () - bench.window_start_us : 0;
  cpu_s = proc_cpu_s (server_pid) - bench.cpu_start_s;
  gb = bench.window_bytes / 1e9;
  rss_kib = proc_rss_kib (server_pid);
  bench.measuring = FALSE;

  if (bench.n_started == bench.streams->len) {
    start_join (&bench);
    while (!bench.joins_done && !bench.timed_out)
      g_main_context_iteration (NULL, TRUE);
  }
  if (!bench.timed_out)
    g_source_remove (deadline);

  printf ("{\"displays\": %d, \"seconds\": %.2f, \"complete\": %s, \"errors\": %u, "
          "\"bytes\": %" G_GUINT64_FORMAT ", \"frames\": %" G_GUINT64_FORMAT ", "
          "\"mbit_per_display\": %.3f, \"server_cpu_s\": %.3f, "
          "\"cpu_s_per_gb\": %.3f, \"core_percent\": %.2f, \"server_rss_kib\": %"
          G_GUINT64_FORMAT ", \"ttff_ms_p50\": %.2f, \"ttff_ms_p99\": %.2f, "
          "\"joins\": %u, \"lag_ms_p50\": %.2f, \"lag_ms_p99\": %.2f, "
          "\"lag_samples\": %u, \"cipher\": \"%s\"}\n",
          n, window_us / 1e6, window_us > 0 ? "true" : "false", bench.errors,
          bench.window_bytes, bench.window_frames,
          window_us > 0 ? bench.window_bytes * 8.0 / n / (window_us / 1e6) / 1e6 : 0,
          cpu_s, gb > 0 ? cpu_s / gb : 0, window_us > 0 ? 100.0 * cpu_s / (window_us / 1e6) : 0,
          rss_kib, percentile (bench.ttff_ms, 0.5),
          percentile (bench.ttff_ms, 0.99), bench.ttff_ms->len,
          percentile (bench.lags_ms, 0.5), percentile (bench.lags_ms, 0.99),
          bench.lags_ms->len, bench.cipher ? bench.cipher : "unknown");

  g_ptr_array_unref (bench.streams);
  g_object_unref (bench.session);
  g_object_unref (bench.server_cert);
  g_ptr_array_unref (bench.identities);
  g_array_unref (bench.lags_ms);
  g_array_unref (bench.ttff_ms);
  g_free (bench.cipher);
  return window_us > 0 ? EXIT_SUCCESS : EX_UNAVAILABLE;
}
