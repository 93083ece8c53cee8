/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * hearthd: options → config → HearthDaemon → signals → main loop.
 * Exit codes from sysexits.h.
 */
#define G_LOG_DOMAIN "hearthd"

#include <gio/gio.h>
#include <glib-unix.h>
#include <gst/gst.h>
#include <locale.h>
#include <malloc.h>
#include <sysexits.h>

#include "daemon.h"
#include "egress.h"
#include "error.h"
#include "hearth-config.h"
#include "restore.h"
#include "tls-policy.h"

/* --restore FILE: into the configured state directory, with hearthd
 * stopped. Exit status: 66 no such file, 75 a hearthd answers, 73 the
 * directory (not empty, cannot be written), 65 not a backup. */
static int
restore (const char *backup, const HearthConfig *config)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *socket_path = hearth_config_get_control_socket (config);

  if (!hearth_restore (backup, config->state_dir, socket_path, &error)) {
    g_printerr ("hearthd: %s\n", error->message);
    if (g_error_matches (error, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND))
      return EX_NOINPUT;
    if (g_error_matches (error, HEARTH_ERROR, HEARTH_ERROR_EXISTS))
      return EX_TEMPFAIL;
    if (error->domain == G_IO_ERROR || error->domain == G_FILE_ERROR)
      return EX_CANTCREAT;
    return EX_DATAERR;
  }
  g_print ("restored %s into %s; start hearthd to use it\n", backup, config->state_dir);
  return EX_OK;
}

static gboolean
on_signal (gpointer user_data)
{
  g_message ("Stopping");
  g_main_loop_quit (user_data);
  return G_SOURCE_CONTINUE;
}

int
main (int argc, char **argv)
{
  g_autofree char *config_path = NULL;
  g_autofree char *state_dir = NULL;
  g_autofree char *listen = NULL;
  g_autofree char *pairing_listen = NULL;
  g_autofree char *local_networks = NULL;
  g_autofree char *plugin_dir = NULL;
  g_autofree char *restore_path = NULL;
  gboolean demo = FALSE, check_config = FALSE, version = FALSE;
  GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
      "Read settings from FILE (default: built-in defaults)", "FILE" },
    { "state-dir", 's', 0, G_OPTION_ARG_FILENAME, &state_dir,
      "Keep the database, keys and admin socket in DIR (default "
      HEARTH_DEFAULT_STATE_DIR ")", "DIR" },
    { "listen", 0, 0, G_OPTION_ARG_STRING, &listen,
      "Serve streams on HOST:PORT (default " HEARTH_DEFAULT_LISTEN ")", "HOST:PORT" },
    { "pairing-listen", 0, 0, G_OPTION_ARG_STRING, &pairing_listen,
      "Take pairings on HOST:PORT while a window is open (default "
      HEARTH_DEFAULT_PAIRING_LISTEN ")", "HOST:PORT" },
    { "local-networks", 0, 0, G_OPTION_ARG_STRING, &local_networks,
      "Address ranges counted as local, e.g. \"192.168.0.0/16;127.0.0.0/8\"", "LIST" },
    { "plugin-dir", 0, 0, G_OPTION_ARG_FILENAME, &plugin_dir,
      "Load camera plugins from DIR (default [cameras] plugin-dir, else "
      "$HEARTH_PLUGIN_DIR, else the plugins built beside a hearthd run from "
      "its build tree, else " HEARTH_PLUGIN_DIR ")", "DIR" },
    { "demo", 0, 0, G_OPTION_ARG_NONE, &demo,
      "Make a household \"Home\" with a test-pattern camera if it has none, "
      "open a pairing window and print its QR code", NULL },
    { "check-config", 0, 0, G_OPTION_ARG_NONE, &check_config,
      "Validate the settings and exit", NULL },
    { "restore", 0, 0, G_OPTION_ARG_FILENAME, &restore_path,
      "Restore a backup made by hearthctl backup into the state directory, "
      "which must be empty, and exit (hearthd stopped)", "FILE" },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (HearthConfig) config = NULL;
  g_autoptr (HearthDaemon) daemon = NULL;
  g_autoptr (GMainLoop) loop = NULL;

  /* Memory per display: glib-networking runs each TLS handshake on a
   * thread of GLib's pool, and glibc gives each new thread a malloc arena
   * of its own, in which that connection's TLS session then lives and
   * spreads; two arenas keep it packed (bench/run.sh: 113 KiB per display
   * connection with the default, 54 KiB with two). MALLOC_ARENA_MAX in the
   * environment still wins. */
  if (g_getenv ("MALLOC_ARENA_MAX") == NULL)
    mallopt (M_ARENA_MAX, 2);
  hearth_tls_policy_apply ();
  setlocale (LC_ALL, "");
  context = g_option_context_new ("- the Hearth camera gateway");
  g_option_context_set_summary (context,
      "Finds the household's cameras, and serves their streams over mutual TLS\n"
      "only to the displays paired with that household. Administer it with\n"
      "hearthctl (its socket is STATE_DIR/" HEARTH_DEFAULT_SOCKET_NAME ").");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, gst_init_get_option_group ());
  if (!g_option_context_parse (context, &argc, &argv, &error)) {
    g_printerr ("hearthd: %s\n", error->message);
    return EX_USAGE;
  }
  if (version) {
    g_print ("hearthd %s\n", HEARTH_VERSION);
    return EX_OK;
  }
  if (argc > 1) {
    g_printerr ("hearthd: unexpected argument “%s”\n", argv[1]);
    return EX_USAGE;
  }

  config = hearth_config_load (config_path, &error);
  if (config != NULL) {
    if (state_dir)
      { g_free (config->state_dir); config->state_dir = g_strdup (state_dir); }
    if (listen)
      { g_free (config->listen); config->listen = g_strdup (listen); }
    if (pairing_listen)
      { g_free (config->pairing_listen); config->pairing_listen = g_strdup (pairing_listen); }
    if (plugin_dir)
      { g_free (config->plugin_dir); config->plugin_dir = g_strdup (plugin_dir); }
    if (local_networks) {
      HearthNetRanges *ranges = hearth_net_ranges_parse (local_networks, &error);
      if (ranges == NULL || !hearth_net_ranges_check_local (ranges, &error)) {
        g_prefix_error (&error, "--local-networks: ");
        g_clear_pointer (&ranges, hearth_net_ranges_free);
        g_clear_pointer (&config, hearth_config_free);
      } else {
        hearth_net_ranges_free (config->local_ranges);
        config->local_ranges = ranges;
      }
    }
  }
  if (config == NULL || !hearth_config_validate (config, &error)) {
    g_printerr ("hearthd: %s\n", error->message);
    return EX_CONFIG;
  }
  if (check_config) {
    g_autoptr (HearthPlugins) plugins = hearth_daemon_load_plugins (config, &error);

    if (plugins == NULL) {
      g_printerr ("hearthd: %s\n", error->message);
      return EX_CONFIG;
    }
    g_print ("%s: OK\n", config_path ? config_path : "built-in defaults");
    return EX_OK;
  }
  if (restore_path != NULL)
    return restore (restore_path, config);

  if (!g_tls_backend_supports_tls (g_tls_backend_get_default ())) {
    g_printerr ("hearthd: this GLib has no TLS backend; install glib-networking\n");
    return EX_UNAVAILABLE;
  }

  /* Before anything may connect: every connection hearthd opens goes to a
   * local address, whoever asks for it (invariant 7). */
  if (!hearth_egress_install (config->local_ranges, &error)) {
    g_printerr ("hearthd: %s\n", error->message);
    return EX_SOFTWARE;
  }
  g_message ("TLS: %s", HEARTH_TLS_PRIORITY);
  loop = g_main_loop_new (NULL, FALSE);
  daemon = hearth_daemon_new (g_steal_pointer (&config));
  if (!hearth_daemon_start (daemon, demo, &error)) {
    g_printerr ("hearthd: %s\n", error->message);
    hearth_daemon_stop (daemon);
    return error->domain == HEARTH_ERROR && error->code == HEARTH_ERROR_EXISTS
               ? EX_TEMPFAIL : EX_UNAVAILABLE;
  }

  g_unix_signal_add (SIGINT, on_signal, loop);
  g_unix_signal_add (SIGTERM, on_signal, loop);
  g_main_loop_run (loop);

  hearth_daemon_stop (daemon);
  /* The cameras' pipelines are torn down as the daemon goes (their
   * streaming threads joined); then GStreamer's own pool threads that ran
   * them are joined too, so that none is still winding down when the
   * process exits (LeakSanitizer's exit-time check stops every thread, and
   * could crash on one that was ending). */
  g_clear_object (&daemon);
  gst_deinit ();
  return EX_OK;
}
