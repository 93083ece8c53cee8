/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A camera's main and sub stream, by name (stream-kind.h). No state; any
 * thread.
 */
#define G_LOG_DOMAIN "hearth-stream-kind"

#include "stream-kind.h"

const char *
hearth_stream_kind_to_string (HearthStreamKind kind)
{
  return kind == HEARTH_STREAM_SUB ? "sub" : "main";
}

gboolean
hearth_stream_kind_from_string (const char *text, HearthStreamKind *kind)
{
  if (g_strcmp0 (text, "main") == 0)
    *kind = HEARTH_STREAM_MAIN;
  else if (g_strcmp0 (text, "sub") == 0)
    *kind = HEARTH_STREAM_SUB;
  else
    return FALSE;
  return TRUE;
}
