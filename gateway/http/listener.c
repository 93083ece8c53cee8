/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * HearthGate: admission and deadlines for the connections of one listening
 * port (the stream port, the pairing port), before they authenticate.
 *
 * Created by HearthHttpServer and HearthPairing next to their SoupServer.
 * libsoup accepts on a socket made here (a backlog of LISTEN_BACKLOG, not
 * GLib's 10, so a burst does not make every connect wait for a SYN
 * retransmission) and emits "request-started" for each new connection before
 * its TLS handshake; the owner passes it to hearth_gate_admit(), which checks
 * the peer (invariant 7) and the caps, and closes a refused connection before
 * libsoup reads a byte of it. A connection still pending after the deadline
 * is closed by a sweep. Why this matters: glib-networking runs each server
 * handshake in a thread of GLib's task pool, blocked on the peer, and every
 * pending connection holds a file descriptor and a GnuTLS session.
 */
#define G_LOG_DOMAIN "hearth-listener"

#include "listener.h"
#include "peers.h"

#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define LISTEN_BACKLOG 128
#define SWEEP_INTERVAL_MS 250
/* Refusals are summed up in one line at most this often. */
#define LOG_INTERVAL_US (10 * G_USEC_PER_SEC)
#define ENTRY_KEY "hearth-gate-entry"
/* From a request's first byte (a connection's first request: from the TCP
 * accept, handshake included) to its last: a request whose headers or
 * declared body never come in whole cannot hold its connection longer. */
#define REQUEST_DEADLINE_US (10 * G_USEC_PER_SEC)

typedef struct {
  gint64 opened_us;
  char *peer;
  gboolean passed;
  SoupServerMessage *receiving; /* unowned: the request still arriving */
  gint64 request_started_us;
} Entry;

struct _HearthGate {
  HearthGateLimits limits;
  HearthAccess *access;
  GHashTable *connections;      /* set of GSocket (weak), Entry as data */
  guint n_pending;
  guint sweep_source;
  guint refused;                /* since last_log_us */
  guint log_source;             /* says what was not said yet, at the end of
                                 * the interval */
  const char *last_reason;      /* static */
  gint64 last_log_us;
};

static void
entry_free (gpointer data)
{
  Entry *e = data;

  g_free (e->peer);
  g_free (e);
}

void
hearth_connection_abort (GSocket *socket)
{
  struct linger hard = { .l_onoff = 1, .l_linger = 0 };
  int fd;

  if (socket == NULL || g_socket_is_closed (socket))
    return;
  fd = g_socket_get_fd (socket);
  if (setsockopt (fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard) != 0)
    g_warning ("Could not make a connection reset on close: %s, ignoring",
               g_strerror (errno));
  /* A handshake thread waiting in poll() on this socket holds the file open
   * past close(); shutting the reading side wakes it, so that the socket and
   * the thread are both let go now. */
  shutdown (fd, SHUT_RD);
  g_socket_close (socket, NULL);
}

GSocket *
hearth_gate_listen_socket (GSocketAddress *address, GError **error)
{
  GSocketFamily family = g_socket_address_get_family (address);
  g_autoptr (GSocket) socket = g_socket_new (family, G_SOCKET_TYPE_STREAM,
                                             G_SOCKET_PROTOCOL_TCP, error);

  if (socket == NULL)
    return NULL;
  if (family == G_SOCKET_FAMILY_IPV6 &&
      !g_socket_set_option (socket, IPPROTO_IPV6, IPV6_V6ONLY, TRUE, error))
    return NULL;
  g_socket_set_listen_backlog (socket, LISTEN_BACKLOG);
  if (!g_socket_bind (socket, address, TRUE, error) ||
      !g_socket_listen (socket, error))
    return NULL;
  return g_steal_pointer (&socket);
}

static void log_refusals_now (HearthGate *self);
static gboolean log_refusals (gpointer user_data);

void
hearth_gate_note_refusal (HearthGate *self, const char *reason)
{
  gint64 since = g_get_monotonic_time () - self->last_log_us;

  self->refused++;
  self->last_reason = reason;
  if (since < LOG_INTERVAL_US) {
    /* Said at the end of the interval, also when nothing else comes. */
    if (self->log_source == 0)
      self->log_source = g_timeout_add ((LOG_INTERVAL_US - since) / 1000 + 1,
                                        log_refusals, self);
    return;
  }
  log_refusals_now (self);
}

static void
log_refusals_now (HearthGate *self)
{
  if (self->refused == 1)
    g_message ("Closed a connection to the %s: %s", self->limits.name,
               self->last_reason);
  else
    g_message ("Closed %u connections to the %s in the last %u s (the last: %s)",
               self->refused, self->limits.name,
               (guint) (LOG_INTERVAL_US / G_USEC_PER_SEC), self->last_reason);
  self->refused = 0;
  self->last_log_us = g_get_monotonic_time ();
}

static gboolean
log_refusals (gpointer user_data)
{
  HearthGate *self = user_data;

  self->log_source = 0;
  if (self->refused > 0)
    log_refusals_now (self);
  return G_SOURCE_REMOVE;
}

static void
connection_gone (gpointer data, GObject *where_the_socket_was)
{
  HearthGate *self = data;
  Entry *e = g_object_get_data (where_the_socket_was, ENTRY_KEY);

  /* The data is still attached while weak notifications run. */
  if (g_hash_table_remove (self->connections, where_the_socket_was) &&
      e != NULL && !e->passed)
    self->n_pending--;
}

static void
untrack (HearthGate *self, GSocket *socket)
{
  Entry *e = g_object_get_data (G_OBJECT (socket), ENTRY_KEY);

  if (!g_hash_table_remove (self->connections, socket))
    return;
  g_object_weak_unref (G_OBJECT (socket), connection_gone, self);
  if (e != NULL && !e->passed)
    self->n_pending--;
  g_object_set_data (G_OBJECT (socket), ENTRY_KEY, NULL);
}

static gboolean
sweep (gpointer user_data)
{
  HearthGate *self = user_data;
  g_autoptr (GList) sockets = g_hash_table_get_keys (self->connections);
  gint64 now = g_get_monotonic_time ();

  for (GList *l = sockets; l != NULL; l = l->next) {
    GSocket *socket = l->data;
    Entry *e = g_object_get_data (G_OBJECT (socket), ENTRY_KEY);

    if (g_socket_is_closed (socket)) {
      untrack (self, socket);
    } else if (!e->passed && now - e->opened_us > self->limits.deadline_us) {
      hearth_connection_abort (socket);
      untrack (self, socket);
      hearth_gate_note_refusal (self, "no TLS handshake in time");
    } else if (e->receiving != NULL &&
               now - e->request_started_us > REQUEST_DEADLINE_US) {
      /* libsoup is still reading the request: no answer can be written. */
      hearth_connection_abort (socket);
      untrack (self, socket);
      hearth_gate_note_refusal (self, "a request did not arrive whole in time");
    } else if (self->limits.lifetime_us > 0 &&
               now - e->opened_us > self->limits.lifetime_us) {
      hearth_connection_abort (socket);
      untrack (self, socket);
    }
  }
  /* What a flood's tail left uncounted is told once it is over. */
  if (self->refused > 0 && now - self->last_log_us >= LOG_INTERVAL_US) {
    self->refused--;
    hearth_gate_note_refusal (self, self->last_reason);
  }
  if (g_hash_table_size (self->connections) == 0 && self->refused == 0) {
    self->sweep_source = 0;
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

static const char *
refusal_reason (HearthGate *self, GSocketAddress *remote, const char *peer)
{
  guint same_peer = 0;
  GHashTableIter iter;
  gpointer socket;

  if (remote == NULL)
    return "no peer address";
  if (self->limits.refuse_outsiders &&
      !hearth_access_check_peer (self->access, remote, NULL))
    return "the peer is not on a local network";
  if (g_hash_table_size (self->connections) >= self->limits.max_connections)
    return "too many connections";
  if (self->n_pending >= self->limits.max_pending)
    return "too many connections without a TLS handshake";
  g_hash_table_iter_init (&iter, self->connections);
  while (g_hash_table_iter_next (&iter, &socket, NULL)) {
    Entry *e = g_object_get_data (socket, ENTRY_KEY);

    if (!e->passed && g_str_equal (e->peer, peer))
      same_peer++;
  }
  if (same_peer >= self->limits.max_pending_per_peer)
    return "too many connections without a TLS handshake from one address";
  return NULL;
}

static void
on_request_received (SoupServerMessage *msg, gpointer user_data)
{
  GSocket *socket = soup_server_message_get_socket (msg);
  Entry *e = socket ? g_object_get_data (G_OBJECT (socket), ENTRY_KEY) : NULL;

  if (e != NULL && e->receiving == msg)
    e->receiving = NULL;
}

/* @msg has begun to arrive on @e's connection: the request deadline runs
 * until it is read whole (or answered without its body being read). */
static void
request_begins (Entry *e, SoupServerMessage *msg)
{
  e->receiving = msg;
  e->request_started_us = g_get_monotonic_time ();
  g_signal_connect (msg, "got-body", G_CALLBACK (on_request_received), NULL);
  g_signal_connect (msg, "finished", G_CALLBACK (on_request_received), NULL);
}

gboolean
hearth_gate_admit (HearthGate *self, SoupServerMessage *msg)
{
  GSocket *socket = soup_server_message_get_socket (msg);
  GSocketAddress *remote;
  g_autofree char *peer = NULL;
  const char *reason;
  Entry *e;

  if (socket == NULL || g_socket_is_closed (socket))
    return FALSE;
  if (g_hash_table_contains (self->connections, socket)) {
    /* A later request on a kept-alive connection. */
    request_begins (g_object_get_data (G_OBJECT (socket), ENTRY_KEY), msg);
    return TRUE;
  }

  remote = soup_server_message_get_remote_address (msg);
  peer = hearth_peer_key (remote);
  reason = refusal_reason (self, remote, peer);
  if (self->sweep_source == 0)
    self->sweep_source = g_timeout_add (SWEEP_INTERVAL_MS, sweep, self);
  if (reason != NULL) {
    hearth_connection_abort (socket);
    hearth_gate_note_refusal (self, reason);
    return FALSE;
  }

  e = g_new0 (Entry, 1);
  e->opened_us = g_get_monotonic_time ();
  e->peer = g_steal_pointer (&peer);
  g_object_set_data_full (G_OBJECT (socket), ENTRY_KEY, e, entry_free);
  g_hash_table_add (self->connections, socket);
  g_object_weak_ref (G_OBJECT (socket), connection_gone, self);
  self->n_pending++;
  request_begins (e, msg);
  return TRUE;
}

void
hearth_gate_passed (HearthGate *self, GSocket *socket)
{
  Entry *e;

  if (socket == NULL || !g_hash_table_contains (self->connections, socket))
    return;
  e = g_object_get_data (G_OBJECT (socket), ENTRY_KEY);
  if (!e->passed) {
    e->passed = TRUE;
    self->n_pending--;
  }
}

guint
hearth_gate_get_n_connections (HearthGate *self)
{
  return g_hash_table_size (self->connections);
}

guint
hearth_gate_get_n_pending (HearthGate *self)
{
  return self->n_pending;
}

HearthGate *
hearth_gate_new (const HearthGateLimits *limits, HearthAccess *access)
{
  HearthGate *self = g_new0 (HearthGate, 1);

  self->limits = *limits;
  self->access = g_object_ref (access);
  self->connections = g_hash_table_new (NULL, NULL);
  self->last_log_us = G_MININT64 / 2;
  return self;
}

void
hearth_gate_free (HearthGate *self)
{
  GHashTableIter iter;
  gpointer socket;

  if (self == NULL)
    return;
  g_clear_handle_id (&self->sweep_source, g_source_remove);
  g_clear_handle_id (&self->log_source, g_source_remove);
  g_hash_table_iter_init (&iter, self->connections);
  while (g_hash_table_iter_next (&iter, &socket, NULL)) {
    g_object_weak_unref (socket, connection_gone, self);
    g_object_set_data (socket, ENTRY_KEY, NULL);
  }
  g_hash_table_unref (self->connections);
  g_clear_object (&self->access);
  g_free (self);
}
