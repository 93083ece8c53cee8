/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests for what gateway/cameras/discovery.c does without an avahi-daemon:
 * a service's TXT records read as RFC 6763 says (keys lower-cased, the
 * first of a repeated key kept, "key" alone an empty value, malformed
 * entries dropped, records too many or too large refused as a whole, with
 * the reason a log line gives); the key that names a service (12 hex
 * digits, the same for the same service, another for another); and a
 * discovery that was never started (what hearthd has when mDNS is off or
 * before the daemon answers): not running, nothing found, stopping is
 * harmless; and what a plugin's own discovery (ONVIF) reports: listed and
 * signalled like an mDNS service when its address is local, its name text
 * and its details bounded, refused (and what it said before withdrawn)
 * otherwise; a changed report is "found" again, the same one is not; at
 * most 512 devices.
 */
#define G_LOG_DOMAIN "hearth-test-discovery"

#include <string.h>

#include "discovery.h"
#include "fixture.h"

/* @n TXT strings as received: each may hold any byte, a NUL too. */
static GPtrArray *
entries_new (guint n, const char *const *texts, const gsize *lengths)
{
  GPtrArray *entries = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);

  for (guint i = 0; i < n; i++)
    g_ptr_array_add (entries, g_bytes_new (texts[i], lengths ? lengths[i] : strlen (texts[i])));
  return entries;
}

static void
test_txt (void)
{
  const char *const texts[] = {
    "Path=/live",            /* a key is lower-cased */
    "path=/other",           /* repeated: the first is kept */
    "audio",                 /* a key alone: empty value */
    "",                      /* nothing: skipped */
    "=nokey",                /* no key: dropped */
    "sp ace=1",              /* a space in the key: dropped */
    "serial=A\0B",           /* a NUL in the value: dropped */
    "model=\xff\xfe",        /* not UTF-8: dropped */
    "name=Caméra",           /* UTF-8 kept as it is */
    "id=",                   /* empty value */
    "k\0ey=1",               /* a NUL in the key: it ends there */
    "abcdefghijklmnopqrstuvwxyzabcdefg=33",  /* a 33-byte key: dropped */
  };
  const gsize lengths[] = {
    10, 11, 5, 0, 6, 8, 10, 8, strlen ("name=Caméra"), 3, 6, 36,
  };
  g_autoptr (GPtrArray) entries = entries_new (G_N_ELEMENTS (texts), texts, lengths);
  g_autoptr (GHashTable) txt = NULL;
  const char *why = NULL;

  txt = hearth_discovery_parse_txt (entries, &why);
  g_assert_nonnull (txt);
  g_assert_null (why);
  g_assert_cmpstr (g_hash_table_lookup (txt, "path"), ==, "/live");
  g_assert_cmpstr (g_hash_table_lookup (txt, "audio"), ==, "");
  g_assert_cmpstr (g_hash_table_lookup (txt, "name"), ==, "Caméra");
  g_assert_cmpstr (g_hash_table_lookup (txt, "id"), ==, "");
  g_assert_false (g_hash_table_contains (txt, "serial"));
  g_assert_false (g_hash_table_contains (txt, "model"));
  g_assert_false (g_hash_table_contains (txt, ""));
  g_assert_cmpstr (g_hash_table_lookup (txt, "k"), ==, "1");
  g_assert_false (g_hash_table_contains (txt, "ey"));
  g_assert_false (g_hash_table_contains (txt, "sp ace"));
  /* path, audio, name, id and k: nothing else. */
  g_assert_cmpuint (g_hash_table_size (txt), ==, 5);
}

static void
test_txt_too_large (void)
{
  g_autoptr (GPtrArray) many = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr (GPtrArray) enough = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr (GPtrArray) big = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr (GHashTable) txt = NULL;
  const char *why = NULL;

  /* 64 entries are a camera's; 65 are not. */
  for (guint i = 0; i < 65; i++) {
    g_autofree char *entry = g_strdup_printf ("k%u=v", i);

    if (i < 64)
      g_ptr_array_add (enough, g_bytes_new (entry, strlen (entry)));
    g_ptr_array_add (many, g_bytes_new (entry, strlen (entry)));
  }
  txt = hearth_discovery_parse_txt (enough, &why);
  g_assert_nonnull (txt);
  g_assert_cmpuint (g_hash_table_size (txt), ==, 64);
  g_clear_pointer (&txt, g_hash_table_unref);
  txt = hearth_discovery_parse_txt (many, &why);
  g_assert_null (txt);
  g_assert_cmpstr (why, ==, "its TXT records are too large");

  /* More than 4096 bytes in all. */
  why = NULL;
  for (guint i = 0; i < 17; i++) {
    g_autofree char *value = g_strnfill (250, 'x');
    g_autofree char *entry = g_strdup_printf ("k%u=%s", i, value);

    g_ptr_array_add (big, g_bytes_new (entry, strlen (entry)));
  }
  txt = hearth_discovery_parse_txt (big, &why);
  g_assert_null (txt);
  g_assert_cmpstr (why, ==, "its TXT records are too large");
}

static void
test_key (void)
{
  g_autofree char *door = hearth_discovery_key ("_rtsp._tcp", "Door", "local");
  g_autofree char *again = hearth_discovery_key ("_rtsp._tcp", "Door", "local");
  g_autofree char *garden = hearth_discovery_key ("_rtsp._tcp", "Garden", "local");
  g_autofree char *axis = hearth_discovery_key ("_axis-video._tcp", "Door", "local");
  /* The parts are kept apart: moving a character from one to the next is
   * another service. */
  g_autofree char *shifted = hearth_discovery_key ("_rtsp._tc", "pDoor", "local");

  g_assert_cmpuint (strlen (door), ==, 12);
  for (const char *p = door; *p; p++)
    g_assert_true (g_ascii_isxdigit (*p) && !g_ascii_isupper (*p));
  g_assert_cmpstr (door, ==, again);
  g_assert_cmpstr (door, !=, garden);
  g_assert_cmpstr (door, !=, axis);
  g_assert_cmpstr (door, !=, shifted);
}

static void
test_not_started (HearthTestFixture *f, gconstpointer data)
{
  const char *const types[] = { "_rtsp._tcp", NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (HearthNetRanges) ranges =
    hearth_net_ranges_parse (HEARTH_NET_DEFAULT_LOCAL_RANGES, &error);
  g_autoptr (HearthDiscovery) discovery = hearth_discovery_new (types, ranges);
  g_autoptr (GPtrArray) found = NULL;

  g_assert_no_error (error);
  g_assert_false (hearth_discovery_is_running (discovery));
  found = hearth_discovery_list (discovery);
  g_assert_cmpuint (found->len, ==, 0);
  g_assert_null (hearth_discovery_lookup (discovery, "0123456789ab"));
  g_assert_null (hearth_discovery_lookup (discovery, NULL));
  hearth_discovery_stop (discovery);
  g_assert_false (hearth_discovery_is_running (discovery));
}


typedef struct {
  guint found, lost;
} Counts;

static void
on_found_count (HearthDiscovery *d, HearthFound *f, gpointer user_data)
{
  ((Counts *) user_data)->found++;
}

static void
on_lost_count (HearthDiscovery *d, HearthFound *f, gpointer user_data)
{
  ((Counts *) user_data)->lost++;
}

static void
report (HearthDiscovery *d, const char *id, const char *name, const char *address,
        guint16 port, GHashTable *txt)
{
  hearth_discovery_report (d, id, &(HearthService) {
      .type = "onvif", .name = name, .address = address, .port = port, .txt = txt });
}

static void
test_report (HearthTestFixture *fixture, gconstpointer data)
{
  g_autoptr (HearthNetRanges) ranges = hearth_net_ranges_parse ("192.168.0.0/16", NULL);
  g_autoptr (HearthDiscovery) d = hearth_discovery_new (NULL, ranges);
  g_autoptr (GHashTable) txt = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GHashTable) big = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *key = hearth_discovery_key ("onvif", "urn:uuid:1", "");
  g_autoptr (GPtrArray) list = NULL;
  Counts counts = { 0 };
  HearthFound *found;

  g_signal_connect (d, "found", G_CALLBACK (on_found_count), &counts);
  g_signal_connect (d, "lost", G_CALLBACK (on_lost_count), &counts);
  g_assert_false (hearth_discovery_sources_running (d));
  hearth_discovery_source_started (d);
  g_assert_true (hearth_discovery_sources_running (d));

  g_hash_table_insert (txt, "epr", "urn:uuid:1");
  report (d, "urn:uuid:1", "Acme Cam", "192.168.1.40", 80, txt);
  g_assert_cmpuint (counts.found, ==, 1);
  found = hearth_discovery_lookup (d, key);
  g_assert_nonnull (found);
  g_assert_cmpstr (found->service.type, ==, "onvif");
  g_assert_cmpstr (found->service.address, ==, "192.168.1.40");
  g_assert_cmpstr (g_hash_table_lookup (found->service.txt, "epr"), ==, "urn:uuid:1");
  /* The same again is nothing new; a new address is. */
  report (d, "urn:uuid:1", "Acme Cam", "192.168.1.40", 80, txt);
  g_assert_cmpuint (counts.found, ==, 1);
  report (d, "urn:uuid:1", "Acme Cam", "192.168.1.41", 80, txt);
  g_assert_cmpuint (counts.found, ==, 2);

  /* Not local (invariant 7): never listed, and what it said before is gone. */
  report (d, "urn:uuid:1", "Acme Cam", "203.0.113.7", 80, txt);
  g_assert_null (hearth_discovery_lookup (d, key));
  g_assert_cmpuint (counts.lost, ==, 1);
  report (d, "urn:uuid:2", "Evil", "10.0.0.1", 80, txt);
  report (d, "urn:uuid:3", "Name\x1b[31m", "192.168.1.42", 80, txt);
  report (d, "urn:uuid:4", "Port zero", "192.168.1.43", 0, txt);
  report (d, "urn:uuid:5", "No address", "cam.local", 80, txt);
  for (guint i = 0; i < 100; i++)
    g_hash_table_insert (big, g_strdup_printf ("k%u", i), "v");
  report (d, "urn:uuid:6", "Too much", "192.168.1.44", 80, big);
  list = hearth_discovery_list (d);
  g_assert_cmpuint (list->len, ==, 0);
  g_clear_pointer (&list, g_ptr_array_unref);

  /* Withdrawn (Bye), and everything when the source stops. */
  report (d, "urn:uuid:1", "Acme Cam", "192.168.1.40", 80, txt);
  report (d, "urn:uuid:7", "Other", "192.168.1.45", 80, txt);
  hearth_discovery_withdraw (d, "onvif", "urn:uuid:1");
  g_assert_null (hearth_discovery_lookup (d, key));
  g_assert_cmpuint (counts.lost, ==, 2);
  hearth_discovery_source_stopped (d, "onvif");
  list = hearth_discovery_list (d);
  g_assert_cmpuint (list->len, ==, 0);
  g_assert_cmpuint (counts.lost, ==, 3);
  g_assert_false (hearth_discovery_sources_running (d));
  g_clear_pointer (&list, g_ptr_array_unref);

  /* At most 512. */
  g_test_expect_message ("hearth-discovery", G_LOG_LEVEL_WARNING,
                         "More than 512 onvif devices on this network: ignoring the rest");
  for (guint i = 0; i < 600; i++) {
    g_autofree char *id = g_strdup_printf ("urn:uuid:n%u", i);
    g_autofree char *address = g_strdup_printf ("192.168.%u.%u", 10 + i / 200, 1 + i % 200);

    report (d, id, "Many", address, 80, txt);
  }
  g_test_assert_expected_messages ();
  list = hearth_discovery_list (d);
  g_assert_cmpuint (list->len, ==, 512);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/hearth/discovery/txt", test_txt);
  g_test_add_func ("/hearth/discovery/txt-too-large", test_txt_too_large);
  g_test_add_func ("/hearth/discovery/key", test_key);
  hearth_test_add ("/hearth/discovery/not-started", NULL, test_not_started);
  hearth_test_add ("/hearth/discovery/plugin-reports", NULL, test_report);
  return g_test_run ();
}
