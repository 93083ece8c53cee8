/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * HearthPeerCounter: per-peer event counts in a time window, bounded (see
 * peers.h). A hash table of peer key → (first event, count); when it is
 * full, windows that have ended are dropped, and a new peer beyond that is
 * not counted but reported as over the limit, so a flood of addresses cannot
 * grow the table or reset the counts of the peers in it.
 */
#define G_LOG_DOMAIN "hearth-peers"

#include "peers.h"

#include <string.h>

typedef struct {
  gint64 since;   /* monotonic µs of the window's first event */
  guint count;
} Window;

struct _HearthPeerCounter {
  GHashTable *windows;  /* key → Window */
  guint max_peers;
  gint64 window_us;
};

char *
hearth_peer_key (GSocketAddress *remote)
{
  GInetAddress *address;

  if (!G_IS_INET_SOCKET_ADDRESS (remote))
    return g_strdup ("unknown");
  address = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote));
  if (g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV6 &&
      !g_inet_address_get_is_loopback (address)) {
    guint8 prefix[16] = { 0 };
    g_autoptr (GInetAddress) net = NULL;
    g_autofree char *text = NULL;

    memcpy (prefix, g_inet_address_to_bytes (address), 8);
    net = g_inet_address_new_from_bytes (prefix, G_SOCKET_FAMILY_IPV6);
    text = g_inet_address_to_string (net);
    return g_strconcat (text, "/64", NULL);
  }
  return g_inet_address_to_string (address);
}

HearthPeerCounter *
hearth_peer_counter_new (guint max_peers, gint64 window_us)
{
  HearthPeerCounter *counter = g_new0 (HearthPeerCounter, 1);

  counter->windows = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  counter->max_peers = max_peers;
  counter->window_us = window_us;
  return counter;
}

void
hearth_peer_counter_free (HearthPeerCounter *counter)
{
  if (counter == NULL)
    return;
  g_hash_table_unref (counter->windows);
  g_free (counter);
}

/* @key's window if it is still running; an ended one is dropped. */
static Window *
current_window (HearthPeerCounter *counter, const char *key, gint64 now)
{
  Window *w = g_hash_table_lookup (counter->windows, key);

  if (w != NULL && now - w->since > counter->window_us) {
    g_hash_table_remove (counter->windows, key);
    return NULL;
  }
  return w;
}

/* Drops the windows that have ended; TRUE if there is room for one more. */
static gboolean
make_room (HearthPeerCounter *counter, gint64 now)
{
  GHashTableIter iter;
  gpointer value;

  if (g_hash_table_size (counter->windows) < counter->max_peers)
    return TRUE;
  g_hash_table_iter_init (&iter, counter->windows);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (now - ((Window *) value)->since > counter->window_us)
      g_hash_table_iter_remove (&iter);
  return g_hash_table_size (counter->windows) < counter->max_peers;
}

guint
hearth_peer_counter_get (HearthPeerCounter *counter, const char *key)
{
  gint64 now = g_get_monotonic_time ();
  Window *w = current_window (counter, key, now);

  if (w != NULL)
    return w->count;
  return make_room (counter, now) ? 0 : G_MAXUINT;
}

guint
hearth_peer_counter_add (HearthPeerCounter *counter, const char *key)
{
  gint64 now = g_get_monotonic_time ();
  Window *w = current_window (counter, key, now);

  if (w == NULL) {
    if (!make_room (counter, now))
      return G_MAXUINT;
    w = g_new0 (Window, 1);
    w->since = now;
    g_hash_table_insert (counter->windows, g_strdup (key), w);
  }
  return ++w->count;
}
