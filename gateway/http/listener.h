/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <libsoup/soup.h>
#include "access.h"

G_BEGIN_DECLS

/*
 * HearthGate: the limits of one listening port (STYLE.md convention 7), for
 * connections libsoup has accepted but that have not yet proved who they are.
 * libsoup 3.2 emits "request-started" as it accepts a connection, before the
 * TLS handshake; hearth_gate_admit() is called from there and closes at once
 * a connection beyond a cap (or from outside the local ranges). A connection
 * that is not through its handshake (hearth_gate_passed()) within the
 * deadline is closed, and so is one whose request (headers and body) has
 * not arrived whole 10 s after its first byte (for the first request, after
 * the TCP accept). Refusals are logged at most once per interval.
 */
typedef struct {
  const char *name;             /* "stream port", for the log */
  guint max_connections;        /* every connection of this port */
  guint max_pending;            /* not yet through their handshake */
  guint max_pending_per_peer;   /* the same, per IPv4 address or IPv6 /64 */
  gint64 deadline_us;           /* to get through the handshake */
  gint64 lifetime_us;           /* of any connection; 0: unlimited */
  gboolean refuse_outsiders;    /* close peers outside the local ranges at
                                   once; else the owner answers them */
} HearthGateLimits;

typedef struct _HearthGate HearthGate;

/* @limits is copied; @limits->name must be static. */
HearthGate *hearth_gate_new (const HearthGateLimits *limits, HearthAccess *access);
void hearth_gate_free (HearthGate *self);

/* A listening TCP socket on @address with a backlog that a burst of
 * connections does not overflow, for soup_server_listen_socket().
 * (transfer full) */
GSocket *hearth_gate_listen_socket (GSocketAddress *address, GError **error);

/* From "request-started": TRUE if @msg's connection may go on. A new
 * connection is checked and counted; one refused is already closed. */
gboolean hearth_gate_admit (HearthGate *self, SoupServerMessage *msg);
/* @socket's connection got through its handshake: the deadline and the
 * pending caps no longer apply to it. */
void hearth_gate_passed (HearthGate *self, GSocket *socket);
/* Logs that a connection was refused for @reason (static), at most once
 * per interval with the refusals since summed up. */
void hearth_gate_note_refusal (HearthGate *self, const char *reason);
guint hearth_gate_get_n_connections (HearthGate *self);
guint hearth_gate_get_n_pending (HearthGate *self);

/*
 * Drops a connection at once: a TCP reset, with whatever the kernel still
 * queues for the peer discarded (SO_LINGER 0), so not one more byte reaches
 * it. Also wakes a TLS handshake blocked on it in a glib-networking thread,
 * which a plain close does not. Only the GSocket is closed: libsoup keeps a
 * valid, closed object, fails its next read or write on it and lets the
 * connection go.
 */
void hearth_connection_abort (GSocket *socket);

G_END_DECLS
