/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The egress gate: once installed, a GSocketClient connection to anything but
 * an IP literal inside the local networks fails before it is dialled, and a
 * local one goes through.
 */
#include <gio/gio.h>
#include <string.h>
#include "egress.h"

static HearthNetRanges *
ranges (const char *list)
{
  g_autoptr (GError) error = NULL;
  HearthNetRanges *r = hearth_net_ranges_parse (list, &error);

  g_assert_no_error (error);
  return r;
}

static HearthEgressResolver *
install (const char *list)
{
  g_autoptr (HearthNetRanges) r = ranges (list);
  g_autoptr (GError) error = NULL;

  g_assert_true (hearth_egress_install (r, &error));
  g_assert_no_error (error);
  g_assert_true (HEARTH_IS_EGRESS_RESOLVER (g_proxy_resolver_get_default ()));
  return HEARTH_EGRESS_RESOLVER (g_proxy_resolver_get_default ());
}

static void
test_allows (void)
{
  HearthEgressResolver *gate = install (HEARTH_NET_DEFAULT_LOCAL_RANGES);
  const char *allowed[] = {
    "rtsp://127.0.0.1:554/stream", "rtsps://192.168.1.20/x?y=1",
    "rtsp://admin:secret@10.1.2.3:8554/", "rtsp://[::1]:554/", "rtsp://[fe80::1]/",
    "http://192.168.0.9:80/onvif/device_service", "none://172.16.0.1:554",
    /* A password that does not decode to UTF-8 (found by fuzz-netaddr). */
    "rtsps://user:pa%83ss@[fd00::5]:322/li=1",
  };
  const char *refused[] = {
    "rtsp://93.184.216.34/stream", "rtsp://camera.local/stream",
    "rtsp://localhost:554/", "rtsp://[2001:db8::1]/", "rtsp://0.0.0.0:554/",
    "rtsp://224.0.0.251:554/", "rtsp://100.64.0.1/", "rtsp://admin:pw@8.8.8.8/",
    "not a uri", "", "rtsp:///nohost",
  };

  for (guint i = 0; i < G_N_ELEMENTS (allowed); i++) {
    g_autoptr (GError) error = NULL;
    g_test_message ("allowed: %s", allowed[i]);
    g_assert_true (hearth_egress_resolver_allows (gate, allowed[i], &error));
    g_assert_no_error (error);
  }
  for (guint i = 0; i < G_N_ELEMENTS (refused); i++) {
    g_autoptr (GError) error = NULL;
    g_test_message ("refused: %s", refused[i]);
    g_assert_false (hearth_egress_resolver_allows (gate, refused[i], &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
    /* A refusal never repeats a password from the URL. */
    g_assert_null (strstr (error->message, "pw"));
  }
}

/* Through GIO itself, as rtspsrc's connection goes. */
static void
test_socket_client (void)
{
  g_autoptr (GSocketListener) listener = g_socket_listener_new ();
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketConnection) connection = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *inside = NULL;
  g_autofree char *outside = NULL;
  guint16 port;

  port = g_socket_listener_add_any_inet_port (listener, NULL, &error);
  g_assert_no_error (error);
  inside = g_strdup_printf ("rtsp://127.0.0.1:%u/stream", port);
  outside = g_strdup_printf ("rtsp://127.0.0.2:%u/stream", port);

  /* Only 127.0.0.1 is local: 127.0.0.2 is "outside" (and listened on). */
  install ("127.0.0.1/32");
  g_test_expect_message ("hearth-egress", G_LOG_LEVEL_WARNING,
                         "*refused to connect to 127.0.0.2*");
  connection = g_socket_client_connect_to_uri (client, outside, 554, NULL, &error);
  g_test_assert_expected_messages ();
  g_assert_null (connection);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_clear_error (&error);

  connection = g_socket_client_connect_to_uri (client, inside, 554, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (connection);
  g_clear_object (&connection);

  /* Installed again with wider ranges, the same address goes through. */
  install ("127.0.0.0/8");
  connection = g_socket_client_connect_to_uri (client, outside, 554, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (connection);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/hearth/egress/allows", test_allows);
  g_test_add_func ("/hearth/egress/socket-client", test_socket_client);
  return g_test_run ();
}
