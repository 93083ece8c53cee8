/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Local-only rules: which peers and camera URLs count as local, and that a
 * refusal never repeats a camera password.
 */
#include <gio/gio.h>
#include "netaddr.h"
#include "error.h"

static HearthNetRanges *
default_ranges (void)
{
  g_autoptr (GError) error = NULL;
  HearthNetRanges *r = hearth_net_ranges_parse (HEARTH_NET_DEFAULT_LOCAL_RANGES,
                                                &error);
  g_assert_no_error (error);
  return r;
}

static gboolean
contains (HearthNetRanges *r, const char *text)
{
  g_autoptr (GInetAddress) a = g_inet_address_new_from_string (text);
  g_assert_nonnull (a);
  return hearth_net_ranges_contains (r, a);
}

static void
test_default_ranges (void)
{
  g_autoptr (HearthNetRanges) r = default_ranges ();
  const char *local[] = { "127.0.0.1", "127.9.9.9", "10.1.2.3", "172.16.0.1",
                          "172.31.255.254", "192.168.1.20", "169.254.3.4",
                          "::1", "fd00::1", "fe80::1", "::ffff:192.168.1.1" };
  const char *outside[] = { "8.8.8.8", "172.32.0.1", "172.15.255.255",
                            "192.169.0.1", "1.1.1.1", "2001:db8::1",
                            "::ffff:8.8.8.8", "100.64.0.1", "0.0.0.0" };

  for (guint i = 0; i < G_N_ELEMENTS (local); i++)
    g_assert_true (contains (r, local[i]));
  for (guint i = 0; i < G_N_ELEMENTS (outside); i++)
    g_assert_false (contains (r, outside[i]));
}

static void
test_narrowed_ranges (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (HearthNetRanges) r = hearth_net_ranges_parse ("127.0.0.1/32", &error);

  g_assert_no_error (error);
  g_assert_true (contains (r, "127.0.0.1"));
  g_assert_false (contains (r, "127.0.0.2"));
  g_assert_false (contains (r, "192.168.1.1"));

  g_assert_null (hearth_net_ranges_parse ("10.0.0.0/33", &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (hearth_net_ranges_parse (" ; ", &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID);
}

static void
test_camera_urls (void)
{
  g_autoptr (HearthNetRanges) r = default_ranges ();
  struct {
    const char *url;
    int code; /* -1 = accepted */
  } cases[] = {
    { "rtsp://192.168.1.20:554/stream", -1 },
    { "RTSPS://10.0.0.5/live", -1 },
    { "rtsp://user:secret@192.168.1.20/stream", -1 },
    { "rtsp://[fd00::5]:8554/x", -1 },
    { "rtsp://8.8.8.8/stream", HEARTH_ERROR_NOT_LOCAL },
    { "rtsp://user:hunter2@8.8.8.8/stream", HEARTH_ERROR_NOT_LOCAL },
    { "rtsp://[2001:db8::1]/x", HEARTH_ERROR_NOT_LOCAL },
    { "http://192.168.1.20/stream", HEARTH_ERROR_INVALID },
    { "file:///etc/passwd", HEARTH_ERROR_INVALID },
    { "exec:rm -rf /", HEARTH_ERROR_INVALID },
    { "rtsp://camera.example.com/stream", HEARTH_ERROR_INVALID },
    { "rtsp:///stream", HEARTH_ERROR_INVALID },
    { "rtsp://0.0.0.0/stream", HEARTH_ERROR_INVALID },
    { "not a url", HEARTH_ERROR_INVALID },
    { "", HEARTH_ERROR_INVALID },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) error = NULL;
    g_autofree char *ok = hearth_camera_url_check (cases[i].url, r, &error);

    if (cases[i].code < 0) {
      g_assert_no_error (error);
      g_assert_nonnull (ok);
    } else {
      g_assert_null (ok);
      g_assert_error (error, HEARTH_ERROR, cases[i].code);
      g_assert_null (strstr (error->message, "hunter2"));
    }
  }
}

static void
test_redact (void)
{
  g_autofree char *a = hearth_url_redact ("rtsp://admin:hunter2@192.168.1.2/s");
  g_autofree char *b = hearth_url_redact ("rtsp://192.168.1.2/s");

  g_assert_cmpstr (a, ==, "rtsp://***@192.168.1.2/s");
  g_assert_cmpstr (b, ==, "rtsp://192.168.1.2/s");
}

static void
test_host_port (void)
{
  g_autofree char *host = NULL;
  g_autofree char *formatted = NULL;
  guint16 port = 0;
  const char *bad[] = { "", "host", "host:", "host:70000", ":80", "[::1]80",
                        "::1:80", "host:-1", "host:8a",
                        /* found by fuzz-netaddr: it read back as "[:8448" */
                        "[[]:8448", "a]b:80" };

  g_assert_true (hearth_parse_host_port ("127.0.0.1:8443", &host, &port, NULL));
  g_assert_cmpstr (host, ==, "127.0.0.1");
  g_assert_cmpuint (port, ==, 8443);
  g_clear_pointer (&host, g_free);
  g_assert_true (hearth_parse_host_port ("[::1]:0", &host, &port, NULL));
  g_assert_cmpstr (host, ==, "::1");
  g_assert_cmpuint (port, ==, 0);
  formatted = hearth_format_host_port (host, 8443);
  g_assert_cmpstr (formatted, ==, "[::1]:8443");
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;
    g_assert_false (hearth_parse_host_port (bad[i], NULL, NULL, &error));
    g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID);
  }
}

static void
test_local_addresses (void)
{
  g_autoptr (HearthNetRanges) r = default_ranges ();
  g_autoptr (GPtrArray) list = hearth_net_local_addresses (r);
  gboolean has_loopback = FALSE;

  /* Loopback is up in every test environment, and loopback comes last. */
  for (guint i = 0; i < list->len; i++) {
    g_autoptr (GInetAddress) a = g_inet_address_new_from_string (list->pdata[i]);

    g_assert_true (hearth_net_ranges_contains (r, a));
    if (g_inet_address_get_is_loopback (a))
      has_loopback = TRUE;
    else
      g_assert_false (has_loopback);
  }
  g_assert_true (has_loopback);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/hearth/netaddr/default-ranges", test_default_ranges);
  g_test_add_func ("/hearth/netaddr/narrowed-ranges", test_narrowed_ranges);
  g_test_add_func ("/hearth/netaddr/camera-urls", test_camera_urls);
  g_test_add_func ("/hearth/netaddr/redact", test_redact);
  g_test_add_func ("/hearth/netaddr/host-port", test_host_port);
  g_test_add_func ("/hearth/netaddr/local-addresses", test_local_addresses);
  return g_test_run ();
}
