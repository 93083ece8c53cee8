/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * Decodes one keyframe of a fragmented MP4 stream (its init segment plus the
 * moof+mdat of the keyframe) into a JPEG, on a worker thread. Only the bytes
 * given are read: the caller decides, and keys, what is decoded.
 */
void hearth_snapshot_decode_async (GBytes *init, GBytes *keyframe,
                                   GCancellable *cancellable,
                                   GAsyncReadyCallback callback,
                                   gpointer user_data);
/* (transfer full) the JPEG, or NULL with HEARTH_ERROR_MEDIA */
GBytes *hearth_snapshot_decode_finish (GAsyncResult *result, GError **error);

/* The same, synchronously, on the calling thread. */
GBytes *hearth_snapshot_decode (GBytes *init, GBytes *keyframe,
                                GCancellable *cancellable, GError **error);

G_END_DECLS
