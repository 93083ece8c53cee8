/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Which of a camera's streams: its main one, or the smaller second one a
 * camera may offer (an ONVIF camera's second profile). Each is ingested on
 * its own and is its own generation line; every chunk says which it is of,
 * and the exit (invariant 3) compares it. Named as the ?stream= parameter
 * names them.
 */
typedef enum {
  HEARTH_STREAM_MAIN,
  HEARTH_STREAM_SUB,
} HearthStreamKind;

/* "main" or "sub". */
const char *hearth_stream_kind_to_string (HearthStreamKind kind);
/* The inverse; FALSE (and *@kind untouched) for any other text. */
gboolean hearth_stream_kind_from_string (const char *text, HearthStreamKind *kind);

G_END_DECLS
