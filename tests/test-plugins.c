/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests for the camera plugins and their loader, with the real modules of
 * this build (HEARTH_PLUGIN_DIR) and the test modules next to this test
 * (HEARTH_TEST_MODULE_DIR, test-plugin-module.c): the built-in plugins load
 * and claim what they should; a directory holding bad modules loads the good
 * ones and skips each bad one with one warning; a discovered service goes to
 * the highest score (ties by name); URLs are built with IPv6 brackets and
 * hostile paths refused; identity evidence comes from TXT, MACs normalised
 * and garbage ignored; the synthetic plugin builds its source and refuses
 * what it does not know.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <gst/gst.h>

#include "error.h"
#include "fixture.h"
#include "plugins.h"

/* ---- fixtures ---- */

static HearthPlugins *
load_build_plugins (void)
{
  g_autoptr(GError) error = NULL;
  const char *dir = g_getenv ("HEARTH_PLUGIN_DIR");
  HearthPlugins *plugins;

  g_assert_nonnull (dir);
  plugins = hearth_plugins_load (dir, &error);
  g_assert_no_error (error);
  g_assert_nonnull (plugins);
  return plugins;
}

/* A resolved service; TXT pairs as "key", "value", …, NULL. */
typedef struct {
  HearthService service;
} Service;

static void
service_init (Service *s, const char *type, const char *name,
              const char *address, guint16 port, ...)
{
  va_list ap;
  const char *key;

  memset (s, 0, sizeof *s);
  s->service.type = type;
  s->service.name = name;
  s->service.domain = "local";
  s->service.host_name = "cam.local";
  s->service.address = address;
  s->service.port = port;
  s->service.txt = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                          g_free);
  va_start (ap, port);
  while ((key = va_arg (ap, const char *)) != NULL)
    g_hash_table_insert (s->service.txt, g_strdup (key),
                         g_strdup (va_arg (ap, const char *)));
  va_end (ap);
}

static void
service_clear (Service *s)
{
  g_hash_table_unref (s->service.txt);
}

static void
link_module (const char *dir, const char *from_dir, const char *file)
{
  g_autofree char *target = g_build_filename (from_dir, file, NULL);
  g_autofree char *link = g_build_filename (dir, file, NULL);

  g_assert_true (g_file_test (target, G_FILE_TEST_IS_REGULAR));
  g_assert_cmpint (symlink (target, link), ==, 0);
}

/* ---- loading ---- */

static void
test_load_build_dir (void)
{
  g_autoptr(HearthPlugins) plugins = load_build_plugins ();
  g_autoptr(GPtrArray) list = hearth_plugins_list (plugins);
  const char *const *types = hearth_plugins_service_types (plugins);
  const char *names[] = { "axis", "onvif", "rtsp", "synthetic" };
  const HearthPlugin *synthetic;
  const HearthPlugin *onvif;
  g_autoptr(GHashTable) txt = g_hash_table_new (g_str_hash, g_str_equal);
  HearthService found = { .type = "onvif", .name = "Cam", .address = "192.0.2.1",
                          .port = 80, .txt = txt };

  g_assert_cmpuint (list->len, ==, G_N_ELEMENTS (names));
  for (guint i = 0; i < list->len; i++) {
    const HearthPlugin *plugin = list->pdata[i];

    g_assert_cmpstr (plugin->name, ==, names[i]);
    g_assert_true (hearth_plugins_find_by_name (plugins, names[i]) == plugin);
    g_assert_nonnull (plugin->description);
  }
  g_assert_null (hearth_plugins_find_by_name (plugins, "onvif2"));
  g_assert_cmpstr (hearth_plugins_get_dir (plugins), ==,
                   g_getenv ("HEARTH_PLUGIN_DIR"));

  /* What the browser looks for: each claimed type once. */
  g_assert_cmpuint (g_strv_length ((char **) types), ==, 2);
  g_assert_true (g_strv_contains (types, "_rtsp._tcp"));
  g_assert_true (g_strv_contains (types, "_axis-video._tcp"));

  synthetic = hearth_plugins_find_by_name (plugins, "synthetic");
  g_assert_null (synthetic->service_types);
  g_assert_nonnull (synthetic->build_source);
  g_assert_null (hearth_plugins_find_by_name (plugins, "rtsp")->build_source);

  /* ONVIF finds cameras itself (ABI 2) and takes what it found; it claims
   * no mDNS type, so the mDNS browser is not asked for one. */
  onvif = hearth_plugins_find_by_name (plugins, "onvif");
  g_assert_cmpstr (onvif->discovery_type, ==, "onvif");
  g_assert_nonnull (onvif->resolve_async);
  g_assert_null (onvif->build_url);
  g_assert_true (hearth_plugins_best_for_service (plugins, &found, NULL) == onvif);
  found.type = "_rtsp._tcp";
  g_assert_true (hearth_plugins_best_for_service (plugins, &found, NULL) ==
                 hearth_plugins_find_by_name (plugins, "rtsp"));
}

static void
test_default_dir (void)
{
  g_autofree char *saved = g_strdup (g_getenv ("HEARTH_PLUGIN_DIR"));

  g_assert_cmpstr (hearth_plugins_default_dir (), ==, saved);
  g_setenv ("HEARTH_PLUGIN_DIR", "", TRUE);
  g_assert_true (g_str_has_suffix (hearth_plugins_default_dir (),
                                   "/hearth/plugins"));
  g_unsetenv ("HEARTH_PLUGIN_DIR");
  g_assert_true (g_path_is_absolute (hearth_plugins_default_dir ()));
  g_assert_true (g_str_has_suffix (hearth_plugins_default_dir (),
                                   "/hearth/plugins"));
  g_setenv ("HEARTH_PLUGIN_DIR", saved, TRUE);
}

/* Every kind of bad module next to the good ones: each bad one costs one
 * warning that names it and says why, the good ones all load. */
static void
test_bad_modules_skipped (HearthTestFixture *fixture, gconstpointer data)
{
  const char *build_dir = g_getenv ("HEARTH_PLUGIN_DIR");
  const char *test_dir = g_getenv ("HEARTH_TEST_MODULE_DIR");
  g_autoptr(GError) error = NULL;
  const char *dir = fixture->state_dir;
  g_autofree char *path = NULL;
  g_autofree char *contents = NULL;
  g_autoptr(HearthPlugins) plugins = NULL;
  g_autoptr(GPtrArray) list = NULL;
  const char *const *types;
  gsize length;
  /* In file name order, as the loader goes. */
  const char *expected[] = {
    "*/dir.so skipped: it is not a regular file",
    "*/empty.so skipped: it does not load:*",
    "*/writable.so skipped: anyone may write to it",
    "*/zz-bad-abi.so skipped: it was built for plugin ABI *, hearthd has *",
    "*/zz-dup-name.so skipped: a plugin named “axis” was already loaded "
      "from axis.so",
    "*/zz-no-hooks.so skipped: it has a discovery type but lacks discovery_start, "
      "discovery_stop, resolve_async or resolve_finish",
    "*/zz-no-score.so skipped: it claims service types but lacks score or "
      "build_url",
    "*/zz-no-symbol.so skipped: it has no hearth_plugin_get()",
    "*/zz-scheme-clash.so skipped: URL scheme “rtsp” is already claimed by "
      "plugin “rtsp” (rtsp.so)",
  };

  g_assert_no_error (error);
  g_assert_nonnull (test_dir);
  link_module (dir, build_dir, "rtsp.so");
  link_module (dir, build_dir, "axis.so");
  link_module (dir, build_dir, "synthetic.so");
  link_module (dir, test_dir, "zz-extra.so");
  link_module (dir, test_dir, "zz-bad-abi.so");
  link_module (dir, test_dir, "zz-no-symbol.so");
  link_module (dir, test_dir, "zz-no-score.so");
  link_module (dir, test_dir, "zz-dup-name.so");
  link_module (dir, test_dir, "zz-scheme-clash.so");
  link_module (dir, test_dir, "zz-no-hooks.so");

  /* Not modules at all. */
  path = g_build_filename (dir, "empty.so", NULL);
  g_file_set_contents (path, "", 0, &error);
  g_assert_no_error (error);
  g_clear_pointer (&path, g_free);
  path = g_build_filename (dir, "dir.so", NULL);
  g_assert_cmpint (g_mkdir (path, 0700), ==, 0);
  g_clear_pointer (&path, g_free);
  path = g_build_filename (dir, "README", NULL);
  g_file_set_contents (path, "not a module, not even looked at", -1, &error);
  g_assert_no_error (error);
  g_clear_pointer (&path, g_free);

  /* A good module anyone may replace. */
  path = g_build_filename (test_dir, "zz-extra.so", NULL);
  g_file_get_contents (path, &contents, &length, &error);
  g_assert_no_error (error);
  g_clear_pointer (&path, g_free);
  path = g_build_filename (dir, "writable.so", NULL);
  g_file_set_contents (path, contents, length, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (path, 0666), ==, 0);

  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    g_test_expect_message ("hearth-plugins", G_LOG_LEVEL_WARNING, expected[i]);
  plugins = hearth_plugins_load (dir, &error);
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_assert_nonnull (plugins);

  list = hearth_plugins_list (plugins);
  g_assert_cmpuint (list->len, ==, 4);
  g_assert_cmpstr (((HearthPlugin *) list->pdata[0])->name, ==, "axis");
  g_assert_cmpstr (((HearthPlugin *) list->pdata[1])->name, ==, "rtsp");
  g_assert_cmpstr (((HearthPlugin *) list->pdata[2])->name, ==, "synthetic");
  g_assert_cmpstr (((HearthPlugin *) list->pdata[3])->name, ==, "test-extra");
  /* The refused scheme claim did not take rtsp:// away. */
  g_assert_cmpstr (hearth_plugins_find_for_url (plugins, "rtsp://10.0.0.1/")->name,
                   ==, "rtsp");

  /* _rtsp._tcp is claimed twice and listed once. */
  types = hearth_plugins_service_types (plugins);
  g_assert_cmpuint (g_strv_length ((char **) types), ==, 3);
  g_assert_true (g_strv_contains (types, "_test-cam._tcp"));
  g_assert_false (g_strv_contains (types, "_test-bad._tcp"));

}

static void
test_no_plugins (HearthTestFixture *fixture, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  const char *dir = fixture->state_dir;
  g_autofree char *missing = g_build_filename (dir, "missing", NULL);
  g_autofree char *empty = g_build_filename (dir, "empty.so", NULL);
  HearthPlugins *plugins;

  g_assert_no_error (error);

  /* No module at all: an error, no warning. */
  plugins = hearth_plugins_load (dir, &error);
  g_assert_null (plugins);
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, dir));
  g_clear_error (&error);

  /* Only a bad one: its warning, then the error. */
  g_file_set_contents (empty, "", 0, &error);
  g_assert_no_error (error);
  g_test_expect_message ("hearth-plugins", G_LOG_LEVEL_WARNING,
                         "*empty.so skipped*");
  plugins = hearth_plugins_load (dir, &error);
  g_test_assert_expected_messages ();
  g_assert_null (plugins);
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* A directory that is not there. */
  plugins = hearth_plugins_load (missing, &error);
  g_assert_null (plugins);
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_assert_nonnull (strstr (error->message, missing));
  g_clear_error (&error);

}

/* ---- lookups ---- */

static void
test_find_for_url (void)
{
  g_autoptr(HearthPlugins) plugins = load_build_plugins ();
  const struct {
    const char *url;
    const char *plugin;
  } cases[] = {
    { "rtsp://192.168.1.20:554/live", "rtsp" },
    { "RTSP://192.168.1.20/live", "rtsp" },
    { "rtsps://[fd00::1]:322/s", "rtsp" },
    { "synthetic:", "synthetic" },
    { "Synthetic:pattern=smpte", "synthetic" },
    { "http://192.168.1.20/", NULL },
    { "file:///etc/passwd", NULL },
    { "rtsp", NULL },
    { "", NULL },
    { ":rtsp://x", NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    const HearthPlugin *plugin = hearth_plugins_find_for_url (plugins,
                                                              cases[i].url);

    g_test_message ("%s", cases[i].url);
    g_assert_cmpstr (plugin ? plugin->name : NULL, ==, cases[i].plugin);
  }
}

static void
assert_best (HearthPlugins *plugins, Service *s, const char *name, int score)
{
  int got = -1;
  const HearthPlugin *plugin = hearth_plugins_best_for_service (plugins,
                                                                &s->service,
                                                                &got);

  g_assert_cmpstr (plugin ? plugin->name : NULL, ==, name);
  g_assert_cmpint (got, ==, score);
}

static void
test_scoring (void)
{
  g_autoptr(HearthPlugins) plugins = load_build_plugins ();
  Service s;

  service_init (&s, "_axis-video._tcp", "AXIS M3045-V - ACCC8E123456",
                "192.168.1.30", 80, "macaddress", "ACCC8E123456", NULL);
  assert_best (plugins, &s, "axis", 50);
  service_clear (&s);

  service_init (&s, "_rtsp._tcp", "Door", "192.168.1.20", 8554,
                "path", "/live", NULL);
  assert_best (plugins, &s, "rtsp", 10);
  service_clear (&s);

  /* mDNS types are case-insensitive. */
  service_init (&s, "_RTSP._TCP", "Door", "192.168.1.20", 8554, NULL);
  assert_best (plugins, &s, "rtsp", 10);
  service_clear (&s);

  service_init (&s, "_http._tcp", "Printer", "192.168.1.40", 80, NULL);
  assert_best (plugins, &s, NULL, 0);
  g_assert_null (hearth_plugins_best_for_service (plugins, &s.service, NULL));
  service_clear (&s);
}

/* With a second plugin claiming _rtsp._tcp: higher wins, ties go to the
 * first by name. */
static void
test_scoring_ties (HearthTestFixture *fixture, gconstpointer data)
{
  const char *test_dir = g_getenv ("HEARTH_TEST_MODULE_DIR");
  g_autoptr(GError) error = NULL;
  const char *dir = fixture->state_dir;
  g_autoptr(HearthPlugins) plugins = NULL;
  Service s;

  g_assert_no_error (error);
  link_module (dir, g_getenv ("HEARTH_PLUGIN_DIR"), "rtsp.so");
  link_module (dir, test_dir, "zz-extra.so");
  plugins = hearth_plugins_load (dir, &error);
  g_assert_no_error (error);

  service_init (&s, "_rtsp._tcp", "Door", "192.168.1.20", 554, NULL);
  assert_best (plugins, &s, "rtsp", 10);
  service_clear (&s);

  service_init (&s, "_rtsp._tcp", "Door", "192.168.1.20", 554,
                "vendor", "test", NULL);
  assert_best (plugins, &s, "test-extra", 60);
  service_clear (&s);

  service_init (&s, "_test-cam._tcp", "Cam", "192.168.1.20", 554, NULL);
  assert_best (plugins, &s, "test-extra", 20);
  service_clear (&s);

}

/* ---- URLs ---- */

static char *
build_url (HearthPlugins *plugins, const char *name, Service *s,
           GError **error)
{
  return hearth_plugins_find_by_name (plugins, name)->build_url (&s->service,
                                                                  error);
}

static void
test_rtsp_urls (void)
{
  g_autoptr(HearthPlugins) plugins = load_build_plugins ();
  g_autofree char *long_ok = g_strnfill (1024, 'a');
  g_autofree char *too_long = g_strnfill (1025, 'a');
  g_autofree char *far_too_long = g_strnfill (4096, 'b');
  const struct {
    const char *address;
    guint16 port;
    const char *path;      /* NULL: no TXT path */
    const char *url;       /* NULL: refused */
  } cases[] = {
    { "192.168.1.20", 8554, NULL, "rtsp://192.168.1.20:8554/" },
    { "192.168.1.20", 8554, "", "rtsp://192.168.1.20:8554/" },
    { "192.168.1.20", 554, "live", "rtsp://192.168.1.20:554/live" },
    { "192.168.1.20", 554, "/h264/ch1/main", "rtsp://192.168.1.20:554/h264/ch1/main" },
    { "192.168.1.20", 554, "/a.b_c~d-e:f;g=h,i", "rtsp://192.168.1.20:554/a.b_c~d-e:f;g=h,i" },
    { "fd00::20", 554, "/live", "rtsp://[fd00::20]:554/live" },
    { "fe80::1%eth0", 554, "/live", "rtsp://[fe80::1%25eth0]:554/live" },
    { "192.168.1.20", 554, long_ok, "" /* checked below */ },
    /* Hostile paths. */
    { "192.168.1.20", 554, "/a b", NULL },
    { "192.168.1.20", 554, "/../etc/passwd", NULL },
    { "192.168.1.20", 554, "/live/..", NULL },
    { "192.168.1.20", 554, "/live\001", NULL },
    { "192.168.1.20", 554, "/live\r\nX-Evil: 1", NULL },
    { "192.168.1.20", 554, "/live\t", NULL },
    { "192.168.1.20", 554, "@evil.example/live", NULL },
    { "192.168.1.20", 554, "/x@evil.example", NULL },
    { "192.168.1.20", 554, "/live?user=admin", NULL },
    { "192.168.1.20", 554, "/live#frag", NULL },
    { "192.168.1.20", 554, "/%2e%2e/etc", NULL },
    { "192.168.1.20", 554, "/caf\xc3\xa9", NULL },
    { "192.168.1.20", 554, "/\xff\xfe", NULL },
    { "192.168.1.20", 554, "/a\\b", NULL },
    { "192.168.1.20", 554, too_long, NULL },
    { "192.168.1.20", 554, far_too_long, NULL },
    /* Hostile addresses and ports. */
    { "cam.example.com", 554, "/live", NULL },
    { "192.168.1.20/x", 554, "/live", NULL },
    { "192.168.1.20:80", 554, "/live", NULL },
    { "user@192.168.1.20", 554, "/live", NULL },
    { "[fd00::20]", 554, "/live", NULL },
    { "fe80::1%eth0/x", 554, "/live", NULL },
    { "fe80::1%", 554, "/live", NULL },
    { "192.168.1.20%eth0", 554, "/live", NULL },
    { "", 554, "/live", NULL },
    { "192.168.1.20", 0, "/live", NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr(GError) error = NULL;
    g_autofree char *url = NULL;
    Service s;

    g_test_message ("case %u", i);
    service_init (&s, "_rtsp._tcp", "Door", cases[i].address, cases[i].port,
                  cases[i].path ? "path" : NULL, cases[i].path, NULL);
    url = build_url (plugins, "rtsp", &s, &error);
    if (cases[i].url == NULL) {
      g_assert_error (error, HEARTH_PLUGIN_ERROR, HEARTH_PLUGIN_ERROR_INVALID);
      g_assert_null (url);
      /* The message never repeats the hostile bytes. */
      g_assert_null (strstr (error->message, "evil"));
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
    } else if (cases[i].url[0] == '\0') {
      g_assert_no_error (error);
      g_assert_cmpuint (strlen (url), ==,
                        strlen ("rtsp://192.168.1.20:554/") + 1024);
    } else {
      g_assert_no_error (error);
      g_assert_cmpstr (url, ==, cases[i].url);
    }
    service_clear (&s);
  }
}

static void
test_axis_urls (void)
{
  g_autoptr(HearthPlugins) plugins = load_build_plugins ();
  const struct {
    const char *address;
    const char *rtsp_port;  /* TXT rtsp_port=, NULL: none */
    const char *url;
  } cases[] = {
    /* The announced port (80, HTTP) is not the RTSP port. */
    { "192.168.1.30", NULL, "rtsp://192.168.1.30:554/axis-media/media.amp" },
    { "192.168.1.30", "8554", "rtsp://192.168.1.30:8554/axis-media/media.amp" },
    { "fd00::30", NULL, "rtsp://[fd00::30]:554/axis-media/media.amp" },
    /* Hints that are no port are ignored. */
    { "192.168.1.30", "0", "rtsp://192.168.1.30:554/axis-media/media.amp" },
    { "192.168.1.30", "65536", "rtsp://192.168.1.30:554/axis-media/media.amp" },
    { "192.168.1.30", "-1", "rtsp://192.168.1.30:554/axis-media/media.amp" },
    { "192.168.1.30", "554/evil", "rtsp://192.168.1.30:554/axis-media/media.amp" },
    { "192.168.1.30", "", "rtsp://192.168.1.30:554/axis-media/media.amp" },
    /* Paths in TXT mean nothing to Axis. */
    { "192.168.1.30", NULL, "rtsp://192.168.1.30:554/axis-media/media.amp" },
  };
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;
  Service s;

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *got = NULL;

    g_test_message ("case %u", i);
    service_init (&s, "_axis-video._tcp", "AXIS M3045-V - ACCC8E123456",
                  cases[i].address, 80, "path", "/../evil",
                  cases[i].rtsp_port ? "rtsp_port" : NULL, cases[i].rtsp_port,
                  NULL);
    got = build_url (plugins, "axis", &s, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (got, ==, cases[i].url);
    service_clear (&s);
  }

  service_init (&s, "_axis-video._tcp", "AXIS", "axis.example.com", 80, NULL);
  url = build_url (plugins, "axis", &s, &error);
  g_assert_error (error, HEARTH_PLUGIN_ERROR, HEARTH_PLUGIN_ERROR_INVALID);
  g_assert_null (url);
  service_clear (&s);
}

/* ---- evidence ---- */

static void
test_mac_normalize (void)
{
  const struct {
    const char *in;
    const char *out;
  } cases[] = {
    { "aa:bb:cc:00:11:22", "aa:bb:cc:00:11:22" },
    { "AA:BB:CC:00:11:22", "aa:bb:cc:00:11:22" },
    { "AA-BB-CC-00-11-22", "aa:bb:cc:00:11:22" },
    { "aabbcc001122", "aa:bb:cc:00:11:22" },
    { "ACCC8E123456", "ac:cc:8e:12:34:56" },
    { "02:00:00:00:00:01", "02:00:00:00:00:01" }, /* locally administered */
    { NULL, NULL },
    { "", NULL },
    { "aa:bb:cc:00:11", NULL },
    { "aa:bb:cc:00:11:22:33", NULL },
    { "aa:bb:cc:00:11:2", NULL },
    { "aa:bb:cc:00:11:2g", NULL },
    { "aa:bb-cc:00:11:22", NULL },
    { "aa.bb.cc.00.11.22", NULL },
    { "aabb.cc00.1122", NULL },
    { "aabbcc0011223", NULL },
    { " aabbcc001122", NULL },
    { "aabbcc001122 ", NULL },
    { "+abbcc001122", NULL },
    { "00:00:00:00:00:00", NULL },     /* unknown */
    { "ff:ff:ff:ff:ff:ff", NULL },     /* broadcast */
    { "01:00:5e:00:00:fb", NULL },     /* multicast (mDNS) */
    { "33:33:00:00:00:fb", NULL },     /* IPv6 multicast */
    { "aa:bb:cc:00:11:22\n", NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *out = hearth_mac_normalize (cases[i].in);

    g_assert_cmpstr (out, ==, cases[i].out);
  }
}

static void
test_rtsp_evidence (void)
{
  g_autoptr(HearthPlugins) plugins = load_build_plugins ();
  const HearthPlugin *rtsp = hearth_plugins_find_by_name (plugins, "rtsp");
  const char *garbage_macs[] = {
    "zz:zz:zz:zz:zz:zz", "aa:bb:cc", "ff:ff:ff:ff:ff:ff",
    "00:00:00:00:00:00", "aa:bb:cc:00:11:22; rm -rf /", "",
  };
  Service s;

  {
    g_auto(HearthEvidence) e = { 0 };

    service_init (&s, "_rtsp._tcp", "Door", "192.168.1.20", 554,
                  "id", "cam-0001", "serial", "SN12345",
                  "mac", "AA-BB-CC-00-11-22", "model", "Door Cam 2",
                  "path", "/live", NULL);
    rtsp->extract_evidence (&s.service, &e);
    g_assert_cmpstr (e.txt_id, ==, "cam-0001");
    g_assert_cmpstr (e.serial, ==, "SN12345");
    g_assert_cmpstr (e.mac, ==, "aa:bb:cc:00:11:22");
    g_assert_cmpstr (e.model, ==, "Door Cam 2");
    service_clear (&s);
  }

  /* Nothing announced: nothing claimed. */
  {
    g_auto(HearthEvidence) e = { 0 };

    service_init (&s, "_rtsp._tcp", "Door", "192.168.1.20", 554, NULL);
    rtsp->extract_evidence (&s.service, &e);
    g_assert_null (e.txt_id);
    g_assert_null (e.serial);
    g_assert_null (e.mac);
    g_assert_null (e.model);
    service_clear (&s);
  }

  for (guint i = 0; i < G_N_ELEMENTS (garbage_macs); i++) {
    g_auto(HearthEvidence) e = { 0 };

    service_init (&s, "_rtsp._tcp", "Door", "192.168.1.20", 554,
                  "id", "cam-0001", "mac", garbage_macs[i], NULL);
    rtsp->extract_evidence (&s.service, &e);
    g_assert_null (e.mac);
    g_assert_cmpstr (e.txt_id, ==, "cam-0001");
    service_clear (&s);
  }

  /* Values that are not text people can be shown are no evidence. */
  {
    g_auto(HearthEvidence) e = { 0 };

    service_init (&s, "_rtsp._tcp", "Door", "192.168.1.20", 554,
                  "id", "cam\033[2J0001", "serial", "\xff\xfe",
                  "model", "Cam\xe2\x80\xae" "evil", NULL);
    rtsp->extract_evidence (&s.service, &e);
    g_assert_null (e.txt_id);
    g_assert_null (e.serial);
    g_assert_null (e.model);
    service_clear (&s);
  }

  /* hearth_evidence_clear leaves it empty and may run twice. */
  {
    HearthEvidence e = { 0 };

    service_init (&s, "_rtsp._tcp", "Door", "192.168.1.20", 554,
                  "id", "x", "serial", "y", "mac", "aabbcc001122",
                  "model", "z", NULL);
    rtsp->extract_evidence (&s.service, &e);
    hearth_evidence_clear (&e);
    g_assert_null (e.txt_id);
    g_assert_null (e.serial);
    g_assert_null (e.mac);
    g_assert_null (e.model);
    hearth_evidence_clear (&e);
    service_clear (&s);
  }
}

static void
test_axis_evidence (void)
{
  g_autoptr(HearthPlugins) plugins = load_build_plugins ();
  const HearthPlugin *axis = hearth_plugins_find_by_name (plugins, "axis");
  const char *garbage[] = {
    "ACCC8E12345G", "ACCC8E12345", "ACCC8E1234567", "AC:CC:8E:12:34:56",
    "000000000000", "FFFFFFFFFFFF", "", " ACCC8E12345",
  };
  Service s;

  {
    g_auto(HearthEvidence) e = { 0 };

    service_init (&s, "_axis-video._tcp", "AXIS M3045-V - ACCC8E123456",
                  "192.168.1.30", 80, "macaddress", "ACCC8E123456", NULL);
    axis->extract_evidence (&s.service, &e);
    g_assert_cmpstr (e.mac, ==, "ac:cc:8e:12:34:56");
    g_assert_cmpstr (e.txt_id, ==, "ACCC8E123456");
    g_assert_null (e.serial);
    g_assert_cmpstr (e.model, ==, "AXIS M3045-V");
    service_clear (&s);
  }

  /* Lower-case in TXT: the same camera. A TXT model wins over the name. */
  {
    g_auto(HearthEvidence) e = { 0 };

    service_init (&s, "_axis-video._tcp", "AXIS P1448-LE - accc8e123456",
                  "192.168.1.30", 80, "macaddress", "accc8e123456",
                  "model", "P1448-LE", NULL);
    axis->extract_evidence (&s.service, &e);
    g_assert_cmpstr (e.mac, ==, "ac:cc:8e:12:34:56");
    g_assert_cmpstr (e.txt_id, ==, "ACCC8E123456");
    g_assert_cmpstr (e.model, ==, "P1448-LE");
    service_clear (&s);
  }

  /* A renamed camera has no model; garbage MACs give no identity. */
  for (guint i = 0; i < G_N_ELEMENTS (garbage); i++) {
    g_auto(HearthEvidence) e = { 0 };

    service_init (&s, "_axis-video._tcp", "Front door", "192.168.1.30", 80,
                  "macaddress", garbage[i], NULL);
    axis->extract_evidence (&s.service, &e);
    g_assert_null (e.mac);
    g_assert_null (e.txt_id);
    g_assert_null (e.model);
    service_clear (&s);
  }
}

/* ---- the synthetic camera ---- */

static char *
get_enum_nick (GObject *object, const char *property)
{
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (object),
                                                    property);
  GValue value = G_VALUE_INIT;
  GEnumValue *nick;

  g_assert_true (G_IS_PARAM_SPEC_ENUM (pspec));
  g_value_init (&value, pspec->value_type);
  g_object_get_property (object, property, &value);
  nick = g_enum_get_value (G_PARAM_SPEC_ENUM (pspec)->enum_class,
                           g_value_get_enum (&value));
  g_value_unset (&value);
  return g_strdup (nick != NULL ? nick->value_nick : NULL);
}

static void
test_synthetic_source (void)
{
  g_autoptr(HearthPlugins) plugins = load_build_plugins ();
  const HearthPlugin *synthetic = hearth_plugins_find_by_name (plugins,
                                                               "synthetic");
  const struct {
    const char *url;
    const char *pattern;   /* NULL: refused */
    const char *reason;
  } cases[] = {
    { "synthetic:", "ball", NULL },
    { "synthetic:pattern=smpte", "smpte", NULL },
    { "SYNTHETIC:pattern=snow", "snow", NULL },
    { "synthetic:&pattern=black&", "black", NULL },
    { "synthetic:pattern=no-such-pattern", NULL,
      "Unknown synthetic camera pattern \"no-such-pattern\"" },
    { "synthetic:colour=red", NULL,
      "Unknown synthetic camera option \"colour\"" },
    { "synthetic:pattern", NULL,
      "Synthetic camera option \"pattern\" has no value" },
    { "rtsp://192.168.1.20/", NULL, "not synthetic:" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr(GError) error = NULL;
    GstElement *source = synthetic->build_source (cases[i].url, &error);

    g_test_message ("%s", cases[i].url);
    if (cases[i].pattern != NULL) {
      g_autoptr(GstPad) pad = NULL;
      g_autoptr(GstElement) src = NULL;
      g_autoptr(GstCaps) caps = NULL;
      g_autofree char *pattern = NULL;

      g_assert_no_error (error);
      g_assert_nonnull (source);
      g_assert_true (g_object_is_floating (source));
      gst_object_ref_sink (source);

      /* One "src" pad giving H.264. */
      pad = gst_element_get_static_pad (source, "src");
      g_assert_nonnull (pad);
      g_assert_cmpint (gst_pad_get_direction (pad), ==, GST_PAD_SRC);
      caps = gst_pad_query_caps (pad, NULL);
      g_assert_false (gst_caps_is_empty (caps));
      g_assert_true (gst_structure_has_name (gst_caps_get_structure (caps, 0),
                                             "video/x-h264"));

      src = gst_bin_get_by_name (GST_BIN (source), "src");
      g_assert_nonnull (src);
      pattern = get_enum_nick (G_OBJECT (src), "pattern");
      g_assert_cmpstr (pattern, ==, cases[i].pattern);
      gst_object_unref (source);
    } else {
      g_assert_null (source);
      g_assert_error (error, HEARTH_PLUGIN_ERROR, HEARTH_PLUGIN_ERROR_INVALID);
      g_assert_nonnull (strstr (error->message, cases[i].reason));
    }
  }
}

/* Pulls a sample from an appsink, failing instead of hanging. */
static GstSample *
pull_sample (GstElement *sink)
{
  GstSample *sample = NULL;

  g_signal_emit_by_name (sink, "try-pull-sample", 10 * GST_SECOND, &sample);
  g_assert_nonnull (sample);
  return sample;
}

/* The demo camera looks like a real camera's sub-stream, so that what plays
 * the demo plays a camera: H.264 Main in 8-bit 4:2:0 (not x264's default
 * High 4:4:4 10-bit, which hardware decoders refuse), a keyframe every 2 s
 * at 30 fps, and a picture that moves. */
static void
test_synthetic_like_a_camera (void)
{
  g_autoptr(HearthPlugins) plugins = load_build_plugins ();
  const HearthPlugin *synthetic = hearth_plugins_find_by_name (plugins,
                                                               "synthetic");
  g_autoptr(GError) error = NULL;
  GstElement *source = synthetic->build_source ("synthetic:", &error);
  g_autoptr(GstElement) pipeline = NULL;
  g_autoptr(GstElement) encoded = NULL;
  g_autoptr(GstElement) decoded = NULL;
  g_autoptr(GstElement) tee = NULL;
  g_autoptr(GstSample) first_raw = NULL;
  GstStructure *s;
  const char *value;
  guint keyframes = 0, frames_between = 0, frame = 0;
  gboolean moved = FALSE;

  g_assert_no_error (error);
  pipeline = gst_parse_launch (
      "tee name=t "
      "t. ! queue ! appsink name=encoded sync=false "
      "t. ! queue ! avdec_h264 ! appsink name=decoded sync=false",
      &error);
  g_assert_no_error (error);
  gst_bin_add (GST_BIN (pipeline), source);
  tee = gst_bin_get_by_name (GST_BIN (pipeline), "t");
  g_assert_true (gst_element_link (source, tee));
  encoded = gst_bin_get_by_name (GST_BIN (pipeline), "encoded");
  decoded = gst_bin_get_by_name (GST_BIN (pipeline), "decoded");
  g_assert_cmpint (gst_element_set_state (pipeline, GST_STATE_PLAYING), !=,
                   GST_STATE_CHANGE_FAILURE);

  /* The stream's caps, as h264parse states them. */
  {
    g_autoptr(GstSample) sample = pull_sample (encoded);
    GstCaps *caps = gst_sample_get_caps (sample);
    g_autofree char *text = gst_caps_to_string (caps);

    s = gst_caps_get_structure (caps, 0);
    g_test_message ("encoded: %s", text);
    g_assert_cmpstr (gst_structure_get_string (s, "profile"), ==, "main");
    value = gst_structure_get_string (s, "chroma-format");
    g_assert_cmpstr (value, ==, "4:2:0");
    {
      guint depth = 0;

      g_assert_true (gst_structure_get_uint (s, "bit-depth-luma", &depth));
      g_assert_cmpuint (depth, ==, 8);
    }
    g_assert_false (GST_BUFFER_FLAG_IS_SET (gst_sample_get_buffer (sample),
                                            GST_BUFFER_FLAG_DELTA_UNIT));
  }

  /* Frames from one keyframe to the next: the keyframe interval. */
  while (keyframes < 2) {
    g_autoptr(GstSample) sample = pull_sample (encoded);

    frame++;
    if (!GST_BUFFER_FLAG_IS_SET (gst_sample_get_buffer (sample),
                                 GST_BUFFER_FLAG_DELTA_UNIT)) {
      keyframes++;
      g_test_message ("keyframe at frame %u", frame);
    } else if (keyframes == 1) {
      frames_between++;
    }
    g_assert_cmpuint (frame, <, 200);
  }
  g_assert_cmpuint (frames_between + 1, ==, 60);

  /* Decoded: 8-bit 4:2:0, and the picture changes from frame to frame. */
  first_raw = pull_sample (decoded);
  s = gst_caps_get_structure (gst_sample_get_caps (first_raw), 0);
  g_assert_cmpstr (gst_structure_get_string (s, "format"), ==, "I420");
  for (guint i = 0; i < 30 && !moved; i++) {
    g_autoptr(GstSample) later = pull_sample (decoded);
    GstMapInfo a, b;

    g_assert_true (gst_buffer_map (gst_sample_get_buffer (first_raw), &a,
                                   GST_MAP_READ));
    g_assert_true (gst_buffer_map (gst_sample_get_buffer (later), &b,
                                   GST_MAP_READ));
    moved = a.size != b.size || memcmp (a.data, b.data, a.size) != 0;
    gst_buffer_unmap (gst_sample_get_buffer (later), &b);
    gst_buffer_unmap (gst_sample_get_buffer (first_raw), &a);
  }
  g_assert_true (moved);

  gst_element_set_state (pipeline, GST_STATE_NULL);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/hearth/plugins/load-build-dir", test_load_build_dir);
  g_test_add_func ("/hearth/plugins/default-dir", test_default_dir);
  hearth_test_add ("/hearth/plugins/bad-modules-skipped", NULL,
                   test_bad_modules_skipped);
  hearth_test_add ("/hearth/plugins/no-plugins", NULL, test_no_plugins);
  g_test_add_func ("/hearth/plugins/find-for-url", test_find_for_url);
  g_test_add_func ("/hearth/plugins/scoring", test_scoring);
  hearth_test_add ("/hearth/plugins/scoring-ties", NULL, test_scoring_ties);
  g_test_add_func ("/hearth/plugins/rtsp-urls", test_rtsp_urls);
  g_test_add_func ("/hearth/plugins/axis-urls", test_axis_urls);
  g_test_add_func ("/hearth/plugins/mac-normalize", test_mac_normalize);
  g_test_add_func ("/hearth/plugins/rtsp-evidence", test_rtsp_evidence);
  g_test_add_func ("/hearth/plugins/axis-evidence", test_axis_evidence);
  g_test_add_func ("/hearth/plugins/synthetic-source", test_synthetic_source);
  g_test_add_func ("/hearth/plugins/synthetic-like-a-camera",
                   test_synthetic_like_a_camera);

  return g_test_run ();
}
