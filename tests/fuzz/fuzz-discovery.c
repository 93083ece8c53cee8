/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target: a service's mDNS TXT records as discovery.c reads
 * them, then as each camera plugin of this build reads the service they
 * describe (score, camera URL, identity evidence), the URL checked as
 * adoption checks it. The input is TXT RDATA as it comes on the wire:
 * strings, each after a byte holding its length (a last, short one is cut
 * where the input ends).
 */
#include <string.h>

#include "discovery.h"
#include "plugins.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

/* Loaded once: libFuzzer calls the target many times in one process. */
static HearthPlugins *plugins;
static HearthNetRanges *ranges;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  g_autoptr (GError) error = NULL;

  plugins = hearth_plugins_load (FUZZ_PLUGIN_DIR, &error);
  g_assert_no_error (error);
  ranges = hearth_net_ranges_parse (HEARTH_NET_DEFAULT_LOCAL_RANGES, &error);
  g_assert_no_error (error);
  return 0;
}

static void
try_plugins (GHashTable *txt)
{
  g_autoptr (GPtrArray) list = hearth_plugins_list (plugins);

  for (guint i = 0; i < list->len; i++) {
    const HearthPlugin *plugin = list->pdata[i];

    for (guint t = 0; plugin->service_types && plugin->service_types[t]; t++) {
      HearthService service = {
        .type = plugin->service_types[t],
        .name = "AXIS M3045-V - ACCC8E123456",
        .domain = "local",
        .host_name = "camera.local",
        .address = "192.168.1.20",
        .port = 554,
        .txt = txt,
      };
      g_auto (HearthEvidence) evidence = { 0, };
      g_autofree char *url = NULL;

      plugin->score (&service);
      plugin->extract_evidence (&service, &evidence);
      url = plugin->build_url (&service, NULL);
      if (url != NULL) {
        g_autoptr (GError) error = NULL;
        g_autofree char *checked = hearth_camera_url_check (url, ranges, &error);

        /* What a plugin builds for a local camera is a URL adoption takes. */
        g_assert_no_error (error);
        g_assert_nonnull (checked);
      }
    }
  }
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_autoptr (GPtrArray) entries = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr (GHashTable) table = NULL;
  GHashTableIter iter;
  gpointer key, value;
  const char *why = NULL;
  gsize offset = 0;

  while (offset < size) {
    gsize len = MIN (data[offset], size - offset - 1);

    g_ptr_array_add (entries, g_bytes_new (data + offset + 1, len));
    offset += 1 + len;
  }

  table = hearth_discovery_parse_txt (entries, &why);
  if (table == NULL) {
    g_assert_nonnull (why);
    return 0;
  }
  /* What plugins are given: keys of printable ASCII, values of UTF-8. */
  g_hash_table_iter_init (&iter, table);
  while (g_hash_table_iter_next (&iter, &key, &value)) {
    g_assert_cmpuint (strlen (key), >, 0);
    for (const char *p = key; *p; p++)
      g_assert_true (*p > 0x20 && *p < 0x7f && !g_ascii_isupper (*p));
    g_assert_true (g_utf8_validate (value, -1, NULL));
  }
  try_plugins (table);
  return 0;
}
