/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * Counting what peers do, per peer and per time window, in bounded memory:
 * pairing failures before a peer is refused, refusals before they stop being
 * audited. A peer is its address, or for IPv6 its /64, which one host can
 * rotate through at will.
 */
typedef struct _HearthPeerCounter HearthPeerCounter;

/* The key @remote is counted under. (transfer full) */
char *hearth_peer_key (GSocketAddress *remote);

/* At most @max_peers peers at once; a peer's count starts over @window_us
 * after its first event. */
HearthPeerCounter *hearth_peer_counter_new (guint max_peers, gint64 window_us);
void hearth_peer_counter_free (HearthPeerCounter *counter);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HearthPeerCounter, hearth_peer_counter_free)

/* @key's count in its current window (0 if none), or G_MAXUINT when it has
 * none and the table is full of peers still in their window. */
guint hearth_peer_counter_get (HearthPeerCounter *counter, const char *key);
/* Counts one event of @key and returns its count in the window, or
 * G_MAXUINT when the table is full of peers still in their window (the event
 * is then not counted: callers treat that peer as over any limit). */
guint hearth_peer_counter_add (HearthPeerCounter *counter, const char *key);

G_END_DECLS
