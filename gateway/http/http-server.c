/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * HearthHttpServer: the stream port (HTTPS, client certificate requested).
 *
 * Created by HearthDaemon with the HearthCameras it serves. It makes the
 * port's routing table (http-routes.c) and has each route register itself
 * with the state it owns (api-*.c); it follows the cameras' "access-changed"
 * to close every connection of a display that no longer resolves
 * (hearth_http_server_recheck), as the routes follow what concerns their
 * own state; the cameras never call us. At each TLS handshake glib-networking asks the message's
 * "accept-certificate"; we answer through HearthAccess and keep the
 * accepted fingerprint on the connection's GSocket, because libsoup 3.2 asks
 * only once per connection and returns no peer certificate for later requests
 * on a kept-alive connection (PLATFORM.md). Every request then resolves that
 * fingerprint again through HearthAccess — nothing about who may see what is
 * cached here. A client without a certificate completes the handshake (the
 * certificate is requested, not required), and so does one whose certificate
 * the access check refuses (revoked, unknown, another CA's), so that a browser
 * can tell "removed" from "unreachable"; neither connection ever gets a
 * fingerprint, so each of its requests, whatever its path, is refused with
 * the one fixed "not paired" answer (refuse_unpaired) and the connection
 * closed after it.
 *
 * A request with an identity is resolved again here (the choke point,
 * invariant 2), matched against the routes and handed to its route with
 * what it needs (HearthHttpRequest). Live streams are written by
 * api-live.c, cut there when a recheck fails (invariant 4).
 */
#define G_LOG_DOMAIN "hearth-http"
#define _GNU_SOURCE /* POLLRDHUP */

#include "http-server.h"
#include "api-cameras.h"
#include "api-hls.h"
#include "api-live.h"
#include "api-snapshot.h"
#include "api-web.h"
#include "error.h"
#include "hearth-web.h"
#include "http-routes.h"
#include "listener.h"

#include <string.h>
#include <poll.h>

#define FINGERPRINT_KEY "hearth-fingerprint"
/* Why an accepted display's connection is over its caps (static string). */
#define OVER_LIMIT_KEY "hearth-over-limit"
/* Set on a socket once its peer has been asked about a certificate. */
#define ASKED_KEY "hearth-certificate-asked"


struct _HearthHttpServer {
  GObject parent_instance;

  SoupServer *soup;
  HearthAccess *access;
  HearthCameras *cameras;     /* we follow its "access-changed" */
  const HearthConfig *config; /* immutable, outlives us */
  HearthHttpRoutes *routes;   /* each route with its own state (api-*.c) */
  GHashTable *connections;    /* set of GSocket (weak) → Connection, as data */
  HearthGate *gate;           /* caps and deadline before authentication */
  guint sweep_source;
};

G_DEFINE_TYPE (HearthHttpServer, hearth_http_server, G_TYPE_OBJECT)


/* --- connections and identity ------------------------------------------------ */

/*
 * Every connection is tracked from its first message on, which libsoup 3.2
 * emits as it accepts the connection, before its TLS handshake. The gate
 * (listener.c) admits it or closes it there, and closes one that is not
 * through its handshake in HANDSHAKE_DEADLINE_US; here idle keep-alive
 * connections are closed. The last also works around libsoup 3.2.3, which
 * keeps a connection whose client closed it while idle (CLOSE-WAIT) forever.
 */
#define CONNECTION_KEY "hearth-connection"
#define ACTIVE_KEY "hearth-active"
#define IDLE_TIMEOUT_US (60 * G_USEC_PER_SEC)
/* Connections not yet through their TLS handshake: each holds a handshake
 * thread of glib-networking, a GnuTLS session and a file descriptor. */
#define HANDSHAKE_DEADLINE_US (5 * G_USEC_PER_SEC)

typedef struct {
  gint64 last_active_us;
  guint active;               /* requests between their headers and the end */
  gint64 display_id;          /* of its accepted certificate; 0: none */
  gint64 household_id;
} Connection;

static void
connection_gone (gpointer data, GObject *where_the_socket_was)
{
  HearthHttpServer *self = data;

  g_hash_table_remove (self->connections, where_the_socket_was);
}

static void
connection_untrack (HearthHttpServer *self, GSocket *socket)
{
  if (g_hash_table_remove (self->connections, socket))
    g_object_weak_unref (G_OBJECT (socket), connection_gone, self);
}

static Connection *
connection_track (HearthHttpServer *self, GSocket *socket)
{
  Connection *c = g_object_get_data (G_OBJECT (socket), CONNECTION_KEY);

  if (c == NULL) {
    c = g_new0 (Connection, 1);
    c->last_active_us = g_get_monotonic_time ();
    g_object_set_data_full (G_OBJECT (socket), CONNECTION_KEY, c, g_free);
  }
  if (g_hash_table_add (self->connections, socket))
    g_object_weak_ref (G_OBJECT (socket), connection_gone, self);
  return c;
}

/* TRUE once the peer has closed its side (or the connection broke). */
static gboolean
peer_hung_up (GSocket *socket)
{
  struct pollfd p = { .fd = g_socket_get_fd (socket), .events = POLLRDHUP };

  return poll (&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/*
 * Caps on connections with an accepted certificate, idle ones included
 * (STYLE.md convention 7): one display, or one household's displays, cannot
 * take the connections (max-connections) another household needs. Returns
 * why @display may not hold one more, or NULL; else counts @c as its.
 */
static const char *
connection_claim (HearthHttpServer *self, Connection *c,
                  const HearthDisplayRow *display)
{
  guint same_display = 0, same_household = 0;
  GHashTableIter iter;
  gpointer socket;

  g_hash_table_iter_init (&iter, self->connections);
  while (g_hash_table_iter_next (&iter, &socket, NULL)) {
    Connection *other = g_object_get_data (socket, CONNECTION_KEY);

    /* One the display hung up on is not its any more, though the sweep
     * may not have closed it yet. */
    if (other == c || other->display_id == 0 || g_socket_is_closed (socket) ||
        peer_hung_up (socket))
      continue;
    if (other->display_id == display->id)
      same_display++;
    if (other->household_id == display->household_id)
      same_household++;
  }
  if (same_display >= self->config->max_connections_per_display)
    return "too many connections open for this display";
  if (same_household >= self->config->max_connections_per_household)
    return "too many connections open for this household";
  c->display_id = display->id;
  c->household_id = display->household_id;
  return NULL;
}

static gboolean
on_accept_certificate (SoupServerMessage *msg, GTlsCertificate *peer,
                       GTlsCertificateFlags errors, gpointer user_data)
{
  HearthHttpServer *self = user_data;
  GSocket *socket = soup_server_message_get_socket (msg);
  g_autoptr (GError) error = NULL;
  g_autofree char *fingerprint = NULL;
  g_autoptr (HearthDisplayRow) display = NULL;
  Connection *c;
  const char *over_limit = NULL;

  /* CA validation is ours (per household), so @errors is not consulted. */
  if (socket == NULL)
    return FALSE;
  /* Asked again on one connection: the client renegotiates (TLS 1.2), which
   * glib-networking always goes along with. The handshake fails here, the
   * connection closes and the identity it had goes with it. */
  if (g_object_get_data (G_OBJECT (socket), ASKED_KEY) != NULL) {
    g_object_set_data (G_OBJECT (socket), FINGERPRINT_KEY, NULL);
    g_debug ("Refused a TLS renegotiation");
    return FALSE;
  }
  g_object_set_data (G_OBJECT (socket), ASKED_KEY, GINT_TO_POINTER (1));
  /* max-connections is enforced as connections are accepted (the gate). */
  fingerprint = hearth_access_accept_certificate (
      self->access, soup_server_message_get_remote_address (msg), peer, &error);
  /* Invariant 7: a peer outside the local networks gets no handshake. */
  if (g_error_matches (error, HEARTH_ERROR, HEARTH_ERROR_NOT_LOCAL))
    return FALSE;
  /* A refused certificate (audited and logged, rate-limited, by the access
   * check): the handshake completes as if none had been sent. The socket
   * gets no fingerprint, and an identity only ever comes from an accepted
   * certificate on that very socket, so every request on it is refused in
   * got-headers and the connection closed after the one fixed answer. The
   * gate still counts it as pending until that answer is written. */
  c = g_object_get_data (G_OBJECT (socket), CONNECTION_KEY);
  if (fingerprint != NULL && c != NULL) {
    display = hearth_access_resolve_display (self->access, fingerprint, NULL);
    if (display != NULL)
      over_limit = connection_claim (self, c, display);
  }
  /* Over a cap, the connection is like one without a certificate, but its
   * requests are told why (429) in got-headers. */
  g_object_set_data (G_OBJECT (socket), OVER_LIMIT_KEY, (gpointer) over_limit);
  if (over_limit != NULL) {
    hearth_gate_note_refusal (self->gate, over_limit);
    g_clear_pointer (&fingerprint, g_free);
  }
  if (fingerprint == NULL) {
    g_object_set_data (G_OBJECT (socket), FINGERPRINT_KEY, NULL);
    return TRUE;
  }
  g_object_set_data_full (G_OBJECT (socket), FINGERPRINT_KEY,
                          g_steal_pointer (&fingerprint), g_free);
  hearth_gate_passed (self->gate, socket);
  return TRUE;
}

static Connection *
message_connection (SoupServerMessage *msg)
{
  GSocket *socket = soup_server_message_get_socket (msg);

  return socket ? g_object_get_data (G_OBJECT (socket), CONNECTION_KEY) : NULL;
}

/* The words a device without a display certificate gets for every request,
 * and nothing else: no camera, no household, nothing of the gateway. */
#define NOT_PAIRED_MESSAGE \
  "This device is not paired with this Hearth gateway. Ask someone in the " \
  "household for a pairing code."

static gboolean
accepts_html (SoupServerMessage *msg)
{
  const char *accept = soup_message_headers_get_one (
      soup_server_message_get_request_headers (msg), "Accept");

  return accept != NULL && strstr (accept, "text/html") != NULL;
}

/*
 * A request on a connection with no display certificate: refused (audited
 * and logged, rate-limited per peer), answered 403 "not_paired" (a page for
 * a browser, JSON for anything else), and its connection closed after it.
 * 403, not 401: HTTP has no authentication scheme for a TLS client
 * certificate, and a 401 must name one (WWW-Authenticate).
 */
static void
on_refused_finished (SoupServerMessage *msg, gpointer user_data)
{
  HearthHttpServer *self = user_data;

  /* Answered, and libsoup closes the connection now: its place among the
   * connections without a handshake (it had none with a certificate) is
   * free for the next one. */
  hearth_gate_passed (self->gate, soup_server_message_get_socket (msg));
}

/* Every request on a connection over a cap (connection_claim). */
static void
refuse_over_limit (HearthHttpServer *self, SoupServerMessage *msg,
                   const char *why)
{
  hearth_http_reply_error (msg, 429, "limit", why);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                "Connection", "close");
  g_signal_connect (msg, "finished", G_CALLBACK (on_refused_finished), self);
}

static void
refuse_unpaired (HearthHttpServer *self, SoupServerMessage *msg)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);

  hearth_access_refuse_unpaired (self->access,
                                 soup_server_message_get_remote_address (msg));
  if (accepts_html (msg)) {
    g_autoptr (GBytes) page = g_resource_lookup_data (
        hearth_web_get_resource (), "/org/hearth/web/not-paired.html",
        G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);

    hearth_http_set_status (msg, SOUP_STATUS_FORBIDDEN);
    soup_message_headers_replace (headers, "Cache-Control", "no-store");
    soup_server_message_set_response (msg, "text/html; charset=utf-8",
                                      SOUP_MEMORY_COPY,
                                      g_bytes_get_data (page, NULL),
                                      g_bytes_get_size (page));
  } else {
    hearth_http_reply_error (msg, SOUP_STATUS_FORBIDDEN, "not_paired",
                             NOT_PAIRED_MESSAGE);
  }
  soup_message_headers_replace (headers, "Connection", "close");
  g_signal_connect (msg, "finished", G_CALLBACK (on_refused_finished), self);
}

static gboolean
has_identity (SoupServerMessage *msg)
{
  GSocket *socket = soup_server_message_get_socket (msg);

  return socket != NULL &&
         g_object_get_data (G_OBJECT (socket), FINGERPRINT_KEY) != NULL;
}

static void
on_got_headers (SoupServerMessage *msg, gpointer user_data)
{
  HearthHttpServer *self = user_data;
  Connection *c = message_connection (msg);
  GSocket *socket = soup_server_message_get_socket (msg);
  const char *over_limit = NULL;

  if (c != NULL) {
    c->active++;
    g_object_set_data (G_OBJECT (msg), ACTIVE_KEY, GINT_TO_POINTER (1));
  }
  /* No route of this port takes a body: whatever a request sends is dropped
   * as libsoup reads it, never kept. */
  soup_message_body_set_accumulate (soup_server_message_get_request_body (msg),
                                    FALSE);
  if (socket != NULL)
    over_limit = g_object_get_data (G_OBJECT (socket), OVER_LIMIT_KEY);
  /* Refused before anything else is looked at. */
  if (over_limit != NULL)
    refuse_over_limit (self, msg, over_limit);
  else if (!has_identity (msg))
    refuse_unpaired (self, msg);
  else
    hearth_http_refuse_oversized (msg, 0);
}

static void
on_message_finished (SoupServerMessage *msg, gpointer user_data)
{
  Connection *c = message_connection (msg);

  if (c != NULL && g_object_get_data (G_OBJECT (msg), ACTIVE_KEY) != NULL) {
    c->active--;
    c->last_active_us = g_get_monotonic_time ();
  }
}

/*
 * libsoup 3.2 (Debian 12's) takes a reference to the connection's peer
 * certificate for each message (soup_server_message_set_tls_peer_certificate)
 * and never drops it: its finalize does not. So every connection that
 * presented a client certificate kept that GTlsCertificate (about 16 KiB
 * of GnuTLS state) after it closed, about 18 KiB per display connection
 * (bench/run.sh, and a bare SoupServer alike). The message's reference is
 * dropped here as the message goes, only on the libsoup branch known to
 * leak it (on one that does drop it, it would be dropped twice).
 */
static gboolean
soup_leaks_peer_certificate (void)
{
  return soup_get_major_version () == 3 && soup_get_minor_version () == 2;
}

static void
drop_peer_certificate (gpointer data, GObject *msg)
{
  GTlsCertificate *peer =
      soup_server_message_get_tls_peer_certificate (SOUP_SERVER_MESSAGE (msg));

  if (peer != NULL)
    g_object_unref (peer);
}

static void
on_request_started (SoupServer *soup, SoupServerMessage *msg, gpointer user_data)
{
  HearthHttpServer *self = user_data;
  GSocket *socket = soup_server_message_get_socket (msg);

  if (soup_leaks_peer_certificate ())
    g_object_weak_ref (G_OBJECT (msg), drop_peer_certificate, NULL);
  /* A refused connection is closed already; libsoup lets it go as its
   * handshake fails. */
  if (!hearth_gate_admit (self->gate, msg))
    return;
  connection_track (self, socket);
  g_signal_connect (msg, "accept-certificate",
                    G_CALLBACK (on_accept_certificate), user_data);
  g_signal_connect (msg, "got-headers", G_CALLBACK (on_got_headers), user_data);
  g_signal_connect (msg, "finished", G_CALLBACK (on_message_finished), user_data);
}

static gboolean
sweep_connections (gpointer user_data)
{
  HearthHttpServer *self = user_data;
  g_autoptr (GList) sockets = g_hash_table_get_keys (self->connections);
  gint64 now = g_get_monotonic_time ();

  for (GList *l = sockets; l != NULL; l = l->next) {
    GSocket *socket = l->data;
    Connection *c = g_object_get_data (G_OBJECT (socket), CONNECTION_KEY);
    gboolean authenticated = g_object_get_data (G_OBJECT (socket),
                                                FINGERPRINT_KEY) != NULL;

    /* The gate closes those that never authenticate. */
    if (g_socket_is_closed (socket) ||
        (authenticated && c->active == 0 &&
         (peer_hung_up (socket) || now - c->last_active_us > IDLE_TIMEOUT_US))) {
      hearth_connection_abort (socket);
      connection_untrack (self, socket);
    }
  }
  return G_SOURCE_CONTINUE;
}

/* Every route of the stream port: the API under /v1 and the viewer (`/`,
 * `/app/...`) alike pass the access check here first. */
static void
handle_request (SoupServer *soup, SoupServerMessage *msg, const char *path,
                GHashTable *query, gpointer user_data)
{
  HearthHttpServer *self = user_data;
  GSocket *socket = soup_server_message_get_socket (msg);
  const char *fingerprint = NULL;
  g_autoptr (HearthDisplayRow) display = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) captures = NULL;
  const HearthHttpRoute *route;
  HearthHttpRequest request;

  if (soup_server_message_get_status (msg) != 0)
    return; /* already answered in got-headers */

  /* The one choke point: every route starts here. */
  if (socket != NULL)
    fingerprint = g_object_get_data (G_OBJECT (socket), FINGERPRINT_KEY);
  if (fingerprint == NULL) {
    refuse_unpaired (self, msg);
    return;
  }
  display = hearth_access_resolve_display (self->access, fingerprint, &error);
  if (display == NULL) {
    hearth_http_reply_gerror (msg, error);
    soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                  "Connection", "close");
    return;
  }

  route = hearth_http_routes_match (self->routes, path, &captures);
  if (route == NULL) {
    hearth_http_reply_not_found (msg);
    return;
  }
  request.msg = msg;
  request.path = path;
  request.query = query;
  request.captures = captures;
  request.access = self->access;
  request.display = display;
  request.fingerprint = fingerprint;
  hearth_http_route_dispatch (route, &request);
}

void
hearth_http_server_recheck (HearthHttpServer *self)
{
  g_autoptr (GList) sockets = g_hash_table_get_keys (self->connections);

  /* A display that no longer resolves loses every connection it has: live
   * streams, requests held open and idle keep-alive connections alike. */
  for (GList *l = sockets; l != NULL; l = l->next) {
    const char *fingerprint = g_object_get_data (l->data, FINGERPRINT_KEY);
    g_autoptr (HearthDisplayRow) display =
        hearth_access_resolve_display (self->access, fingerprint, NULL);

    if (display == NULL) {
      hearth_connection_abort (l->data);
      connection_untrack (self, l->data);
    }
  }
}

/* --- object -------------------------------------------------------------------- */

HearthHttpRoutes *
hearth_http_server_get_routes (HearthHttpServer *self)
{
  return self->routes;
}

guint
hearth_http_server_get_n_connections (HearthHttpServer *self)
{
  return g_hash_table_size (self->connections);
}

guint
hearth_http_server_get_n_streams (HearthHttpServer *self)
{
  return hearth_http_server_count_viewers (self, NULL);
}

/* Displays watching @camera_id's live.mp4 now (NULL: every live response
 * still open); none once the server is closed. */
guint
hearth_http_server_count_viewers (HearthHttpServer *self, const char *camera_id)
{
  if (self->routes == NULL)
    return 0;
  return hearth_live_writers_get_n (
      hearth_http_routes_get_state (self->routes, "live"), camera_id);
}

gboolean
hearth_http_server_listen (HearthHttpServer *self, GTlsCertificate *certificate,
                           const char *address, GError **error)
{
  g_autofree char *host = NULL;
  g_autoptr (GInetAddress) inet = NULL;
  g_autoptr (GSocketAddress) sockaddr = NULL;
  g_autoptr (GSocket) listening = NULL;
  guint16 port;

  if (!hearth_parse_host_port (address, &host, &port, error))
    return FALSE;
  inet = g_inet_address_new_from_string (host);
  if (inet == NULL) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                 "“%s” is not an IP address", host);
    return FALSE;
  }
  sockaddr = g_inet_socket_address_new (inet, port);
  listening = hearth_gate_listen_socket (sockaddr, error);
  if (listening == NULL) {
    g_prefix_error (error, "cannot listen on %s: ", address);
    return FALSE;
  }

  self->soup = soup_server_new ("tls-certificate", certificate,
                                "server-header", "hearth", NULL);
  /* Requested, not required: a device without a certificate gets through
   * the handshake only to be told, by every request, that it is not paired.
   * A certificate that is presented is still accepted or refused in the
   * handshake (on_accept_certificate). */
  soup_server_set_tls_auth_mode (self->soup, G_TLS_AUTHENTICATION_REQUESTED);
  g_signal_connect (self->soup, "request-started",
                    G_CALLBACK (on_request_started), self);
  /* Every path, so that none is answered without the choke point. */
  soup_server_add_handler (self->soup, NULL, handle_request, self, NULL);
  self->sweep_source = g_timeout_add_seconds (1, sweep_connections, self);
  if (!soup_server_listen_socket (self->soup, listening, SOUP_SERVER_LISTEN_HTTPS,
                                  error)) {
    g_prefix_error (error, "cannot listen on %s: ", address);
    return FALSE;
  }
  return TRUE;
}

/*
 * libsoup hands the server's certificate to its listeners, which give it to
 * each connection they accept; the open connections keep theirs. (libsoup
 * 3.2's listener keeps its reference to the certificate it replaces: one
 * certificate per renewal stays allocated.)
 */
void
hearth_http_server_set_certificate (HearthHttpServer *self, GTlsCertificate *certificate)
{
  if (self->soup != NULL)
    soup_server_set_tls_certificate (self->soup, certificate);
}

guint16
hearth_http_server_get_port (HearthHttpServer *self)
{
  GSList *listeners;
  g_autoptr (GSocketAddress) local = NULL;

  if (self->soup == NULL)
    return 0;
  listeners = soup_server_get_listeners (self->soup);
  if (listeners == NULL)
    return 0;
  local = g_socket_get_local_address (listeners->data, NULL);
  g_slist_free (listeners);
  return local ? g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local)) : 0;
}

void
hearth_http_server_close (HearthHttpServer *self)
{
  /* The routes first: their responses go before the server does. */
  g_clear_pointer (&self->routes, hearth_http_routes_free);
  g_clear_handle_id (&self->sweep_source, g_source_remove);
  if (self->soup != NULL) {
    soup_server_disconnect (self->soup);
    g_clear_object (&self->soup);
  }
}

static void
hearth_http_server_dispose (GObject *object)
{
  HearthHttpServer *self = HEARTH_HTTP_SERVER (object);

  GHashTableIter iter;
  gpointer socket;

  hearth_http_server_close (self);
  g_hash_table_iter_init (&iter, self->connections);
  while (g_hash_table_iter_next (&iter, &socket, NULL))
    g_object_weak_unref (socket, connection_gone, self);
  g_hash_table_remove_all (self->connections);
  g_clear_pointer (&self->gate, hearth_gate_free);
  g_clear_object (&self->access);
  if (self->cameras != NULL)
    g_signal_handlers_disconnect_by_data (self->cameras, self);
  g_clear_object (&self->cameras);
  G_OBJECT_CLASS (hearth_http_server_parent_class)->dispose (object);
}

static void
hearth_http_server_finalize (GObject *object)
{
  HearthHttpServer *self = HEARTH_HTTP_SERVER (object);

  g_hash_table_unref (self->connections);
  G_OBJECT_CLASS (hearth_http_server_parent_class)->finalize (object);
}

static void
hearth_http_server_class_init (HearthHttpServerClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = hearth_http_server_dispose;
  G_OBJECT_CLASS (klass)->finalize = hearth_http_server_finalize;
}

static void
hearth_http_server_init (HearthHttpServer *self)
{
  self->connections = g_hash_table_new (NULL, NULL);
}

HearthHttpServer *
hearth_http_server_new (HearthAccess *access, HearthCameras *cameras,
                        const HearthConfig *config)
{
  HearthHttpServer *self = g_object_new (HEARTH_TYPE_HTTP_SERVER, NULL);

  HearthGateLimits limits = {
    .name = "stream port",
    .max_connections = config->max_connections,
    .max_pending = MIN (config->max_handshakes, config->max_connections),
    .max_pending_per_peer = config->max_handshakes_per_peer,
    .deadline_us = HANDSHAKE_DEADLINE_US,
    .refuse_outsiders = TRUE,
  };

  self->access = g_object_ref (access);
  self->cameras = g_object_ref (cameras);
  self->config = config;
  self->gate = hearth_gate_new (&limits, access);
  /* First on "access-changed": the connections of displays that are gone
   * close before the routes look at what is left. */
  g_signal_connect_swapped (cameras, "access-changed",
                            G_CALLBACK (hearth_http_server_recheck), self);
  /* Every route of the port, each with the state it owns. */
  self->routes = hearth_http_routes_new ();
  hearth_api_web_register (self->routes);
  hearth_api_cameras_register (self->routes, cameras);
  hearth_api_live_register (self->routes, access, cameras, config);
  hearth_api_snapshot_register (self->routes, access, cameras);
  hearth_api_hls_register (self->routes, access, cameras);
  return self;
}
