/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target: a service's mDNS TXT records as discovery.c reads
 * them. The input is TXT RDATA as it comes on the wire: strings, each after
 * a byte holding its length (a last, short one is cut where the input ends).
 */
#include <string.h>

#include "discovery.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

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
  return 0;
}
