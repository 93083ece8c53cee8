/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target: the admin socket's request lines (control.c). The
 * input is cut into lines as the socket cuts what a client writes, and
 * each is parsed and checked as hearthd does before a handler sees it.
 */
#include <string.h>

#include "control.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  const char *text = (const char *) data;
  gsize start = 0;

  while (start < size) {
    const char *end = memchr (text + start, '\n', size - start);
    gsize len = end != NULL ? (gsize) (end - text) - start : size - start;
    g_autoptr (JsonNode) root = NULL;
    g_autoptr (GError) error = NULL;

    root = hearth_control_parse_request (text + start, len, &error);
    if (root != NULL) {
      JsonObject *object = json_node_get_object (root);

      g_assert_nonnull (json_object_get_string_member (object, "method"));
    } else {
      g_assert_nonnull (error);
    }
    start += len + 1;
  }
  return 0;
}
