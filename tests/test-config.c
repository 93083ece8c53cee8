/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Settings: the embedded defaults run a gateway with no file at all; a file
 * overrides them; anything unknown, malformed, out of range or not local is
 * refused naming the group, the key and why.
 */
#include <gio/gio.h>
#include <glib/gstdio.h>

#include "config.h"
#include "error.h"

static char *
write_config (const char *text)
{
  g_autoptr (GError) error = NULL;
  char *path = NULL;
  int fd = g_file_open_tmp ("hearth-config-XXXXXX.conf", &path, &error);

  g_assert_no_error (error);
  close (fd);
  g_assert_true (g_file_set_contents (path, text, -1, &error));
  return path;
}

static void
test_defaults (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HearthConfig) config = hearth_config_load (NULL, &error);
  g_autoptr (GInetAddress) lan = g_inet_address_new_from_string ("192.168.1.9");
  g_autoptr (GInetAddress) wan = g_inet_address_new_from_string ("203.0.113.9");

  g_assert_no_error (error);
  g_assert_true (hearth_config_validate (config, &error));
  g_assert_cmpstr (config->listen, ==, HEARTH_DEFAULT_LISTEN);
  g_assert_cmpstr (config->pairing_listen, ==, HEARTH_DEFAULT_PAIRING_LISTEN);
  g_assert_cmpstr (config->state_dir, ==, HEARTH_DEFAULT_STATE_DIR);
  g_assert_cmpuint (config->pairing_ttl, ==, 600);
  g_assert_true (hearth_net_ranges_contains (config->local_ranges, lan));
  g_assert_false (hearth_net_ranges_contains (config->local_ranges, wan));
  g_assert_cmpuint (strlen (config->name), >, 0);
}

static void
test_file_overrides (void)
{
  g_autofree char *path = write_config (
      "# a comment\n"
      "[gateway]\nname = Flat 2\nlisten = 127.0.0.1:9443\n"
      "local-networks = 127.0.0.0/8, 10.1.0.0/16\nstate-dir = relative/dir\n"
      "[pairing]\nttl-seconds = 90\n"
      "[limits]\nmax-connections = 12\ngop-cache-bytes = 1048576\n"
      "max-handshakes = 40\nmax-handshakes-per-peer = 20\n"
      "max-connections-per-display = 3\nmax-connections-per-household = 5\n");
  g_autoptr (GError) error = NULL;
  g_autoptr (HearthConfig) config = hearth_config_load (path, &error);
  g_autoptr (GInetAddress) ten = g_inet_address_new_from_string ("10.1.2.3");
  g_autoptr (GInetAddress) lan = g_inet_address_new_from_string ("192.168.1.9");

  g_assert_no_error (error);
  g_assert_true (hearth_config_validate (config, &error));
  g_assert_cmpstr (config->name, ==, "Flat 2");
  g_assert_cmpstr (config->listen, ==, "127.0.0.1:9443");
  g_assert_cmpuint (config->pairing_ttl, ==, 90);
  g_assert_cmpuint (config->max_connections, ==, 12);
  g_assert_cmpuint (config->max_handshakes, ==, 40);
  g_assert_cmpuint (config->max_handshakes_per_peer, ==, 20);
  g_assert_cmpuint (config->max_connections_per_display, ==, 3);
  g_assert_cmpuint (config->max_connections_per_household, ==, 5);
  g_assert_cmpuint (config->gop_cache_bytes, ==, 1048576);
  g_assert_true (hearth_net_ranges_contains (config->local_ranges, ten));
  g_assert_false (hearth_net_ranges_contains (config->local_ranges, lan));
  g_assert_true (g_path_is_absolute (config->state_dir));
  g_unlink (path);
}

static void
test_refused (void)
{
  struct {
    const char *text;
    const char *says; /* part of the message */
  } cases[] = {
    { "[gateway]\nbogus = 1\n", "bogus" },
    { "[nothing]\nname = x\n", "nothing" },
    { "[gateway]\nlisten = nowhere\n", "listen" },
    { "[gateway]\nlisten = 8.8.8.8:8443\n", "not a local address" },
    { "[gateway]\npairing-listen = 127.0.0.1:99999\n", "pairing-listen" },
    { "[gateway]\nlocal-networks = 10.0.0.0/40\n", "local-networks" },
    { "[gateway]\nname =\n", "name" },
    { "[pairing]\nttl-seconds = 0\n", "ttl-seconds" },
    { "[pairing]\nttl-seconds = ten\n", "ttl-seconds" },
    { "[limits]\nmax-connections = -4\n", "max-connections" },
    { "[cameras]\nbackoff-min-ms = 5000\nbackoff-max-ms = 100\n", "backoff" },
    { "not a key file\n", "not a key file" },
    { "[gateway]\nname = a\nlisten = 127.0.0.1:1\nname = b\n", ":4: [gateway] name: set a second time (line 2" },
    { "[gateway]\nname = x\n[pairing]\nttl-seconds = 9\n[gateway]\nname = y\n", ":6: [gateway] name" },
    { "[gateway]\nname = Tab\there\n", "[gateway] name contains a control character" },
    { "[discovery]\nauto-adopt = Home\u202e\n", "[discovery] auto-adopt contains a control character" },
    { "[gateway]\nlocal-networks = 0.0.0.0/0;::/0\n", "0.0.0.0/0 holds addresses that are not local" },
    { "[gateway]\nlocal-networks = 192.168.0.0/16;fc00::/6\n", "fc00::/6 holds addresses" },
    { "[gateway]\nlocal-networks = 126.0.0.0/7\n", "126.0.0.0/7 holds addresses" },
    { "[gateway]\nstate-dir = /proc/version/state\n", "state-dir: /proc/version is not a directory" },
    { "[gateway]\ncontrol-socket = /proc/version\n", "is not a socket" },
    { "[gateway]\nstate-dir = /tmp/x/../hearth-state\ncontrol-socket = /tmp/hearth-state\n",
      "is the state directory" },
    { "[discovery]\nauto-adopt = Home\xff\n", "[discovery] auto-adopt: " },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *path = write_config (cases[i].text);
    g_autoptr (GError) error = NULL;
    g_autoptr (HearthConfig) config = hearth_config_load (path, &error);

    if (config != NULL)
      g_assert_false (hearth_config_validate (config, &error));
    g_assert_nonnull (error);
    g_assert_true (error->domain == HEARTH_ERROR);
    if (strstr (error->message, cases[i].says) == NULL)
      g_error ("case %u: “%s” does not mention “%s”", i, error->message,
               cases[i].says);
    g_unlink (path);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/hearth/config/defaults", test_defaults);
  g_test_add_func ("/hearth/config/file-overrides", test_file_overrides);
  g_test_add_func ("/hearth/config/refused", test_refused);
  return g_test_run ();
}
