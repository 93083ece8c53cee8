/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target: what a display names in an HLS request (api-hls.c):
 * the file name (init-G.mp4, seg-G-S.m4s, part-G-S.m4s) and the blocking
 * reload's query (_HLS_msn, _HLS_part). The input's first line is the
 * name, the rest the query string, decoded as libsoup decodes it for a
 * handler.
 */
#include <string.h>

#include "api-hls.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_autofree char *input = g_strndup ((const char *) data, size);
  g_autoptr (GHashTable) query = NULL;
  char *newline = strchr (input, '\n');
  guint64 generation, sequence, msn = 0, part = 0;
  gboolean blocking, has_part;

  if (newline != NULL) {
    *newline = '\0';
    query = soup_form_decode (newline + 1);
  }

  if (hearth_hls_parse_name (input, "init-", ".mp4", &generation, NULL))
    g_assert_true (g_str_has_prefix (input, "init-"));
  if (hearth_hls_parse_name (input, "part-", ".m4s", &generation, &sequence)) {
    g_autofree char *again = g_strdup_printf ("part-%" G_GUINT64_FORMAT "-%"
                                              G_GUINT64_FORMAT ".m4s",
                                              generation, sequence);
    guint64 g2, s2;

    /* Another spelling of the numbers names the same part. */
    g_assert_true (hearth_hls_parse_name (again, "part-", ".m4s", &g2, &s2));
    g_assert_cmpuint (g2, ==, generation);
    g_assert_cmpuint (s2, ==, sequence);
  }
  hearth_hls_parse_name (input, "seg-", ".m4s", &generation, &sequence);

  if (hearth_hls_parse_blocking (query, &blocking, &msn, &has_part, &part)) {
    g_assert_true (!has_part || blocking);
    g_assert_cmpuint (msn, <=, G_MAXUINT32);
    g_assert_cmpuint (part, <=, G_MAXUINT32);
  }
  return 0;
}
