/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * HearthAnnounce: a test tool's mDNS announcement (fake-camera --announce).
 *
 * Talks to the system's avahi-daemon over D-Bus with avahi-client, polled by
 * avahi-glib on the default main context. It behaves like a camera's own
 * responder should, which is what the gateway's discovery is tested against:
 *
 * - the client is made with AVAHI_CLIENT_NO_FAIL, so a missing daemon is
 *   waited for, and when the daemon goes away the client is made again and
 *   the service published anew once the daemon is back; if even the system
 *   bus is missing, a new client is tried every second;
 * - a name collision (another host announces the same instance name) makes
 *   it pick Avahi's alternative name ("Name #2") and try again;
 * - hearth_announce_free() withdraws the service before it returns, so the
 *   daemon sends its goodbye even if the process exits right after.
 *
 * Every state change is one line on stderr, prefixed "announce:".
 */
#define G_LOG_DOMAIN "hearth-announce"

#include "announce.h"

#include <avahi-client/client.h>
#include <avahi-client/publish.h>
#include <avahi-common/alternative.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/strlst.h>
#include <avahi-glib/glib-watch.h>

#define RETRY_S 1

struct _HearthAnnounce {
  AvahiGLibPoll *poll;
  AvahiClient *client;     /* NULL while waiting to retry */
  AvahiEntryGroup *group;  /* NULL until the daemon runs */
  guint retry_id;

  char *name;              /* changes on collisions */
  char *type;
  guint16 port;
  AvahiStringList *txt;
};

static void start_client (HearthAnnounce *self);

static void
say (const char *format, ...) G_GNUC_PRINTF (1, 2);

static void
say (const char *format, ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  g_printerr ("announce: %s\n", text);
}

static void
pick_alternative_name (HearthAnnounce *self)
{
  char *alternative = avahi_alternative_service_name (self->name);

  say ("the name \"%s\" is taken, trying \"%s\"", self->name, alternative);
  g_free (self->name);
  self->name = g_strdup (alternative);
  avahi_free (alternative);
}

static void publish (HearthAnnounce *self, AvahiClient *client);

static void
on_group_state (AvahiEntryGroup *group, AvahiEntryGroupState state, void *user_data)
{
  HearthAnnounce *self = user_data;

  switch (state) {
  case AVAHI_ENTRY_GROUP_ESTABLISHED:
    say ("\"%s\" %s is announced on port %u", self->name, self->type, self->port);
    break;
  case AVAHI_ENTRY_GROUP_COLLISION:
    pick_alternative_name (self);
    avahi_entry_group_reset (group);
    publish (self, avahi_entry_group_get_client (group));
    break;
  case AVAHI_ENTRY_GROUP_FAILURE:
    say ("announcing \"%s\" failed: %s", self->name,
         avahi_strerror (avahi_client_errno (avahi_entry_group_get_client (group))));
    break;
  case AVAHI_ENTRY_GROUP_UNCOMMITED:
  case AVAHI_ENTRY_GROUP_REGISTERING:
  default:
    break;
  }
}

/* Adds the service to the (empty) entry group and commits it. */
static void
publish (HearthAnnounce *self, AvahiClient *client)
{
  int ret;

  if (self->group == NULL) {
    self->group = avahi_entry_group_new (client, on_group_state, self);
    if (self->group == NULL) {
      say ("cannot make an entry group: %s", avahi_strerror (avahi_client_errno (client)));
      return;
    }
  }
  if (!avahi_entry_group_is_empty (self->group))
    return;

  for (;;) {
    ret = avahi_entry_group_add_service_strlst (self->group, AVAHI_IF_UNSPEC,
                                                AVAHI_PROTO_UNSPEC, 0, self->name,
                                                self->type, NULL, NULL, self->port,
                                                self->txt);
    if (ret != AVAHI_ERR_COLLISION)
      break;
    /* A local service has that name already. */
    pick_alternative_name (self);
  }
  if (ret < 0) {
    say ("cannot add \"%s\" %s: %s", self->name, self->type, avahi_strerror (ret));
    return;
  }
  ret = avahi_entry_group_commit (self->group);
  if (ret < 0)
    say ("cannot commit \"%s\": %s", self->name, avahi_strerror (ret));
}

static gboolean
on_retry (gpointer user_data)
{
  HearthAnnounce *self = user_data;

  self->retry_id = 0;
  start_client (self);
  return G_SOURCE_REMOVE;
}

static void
on_client_state (AvahiClient *client, AvahiClientState state, void *user_data)
{
  HearthAnnounce *self = user_data;

  /* @client, not self->client: this runs inside avahi_client_new() too. */
  switch (state) {
  case AVAHI_CLIENT_S_RUNNING:
    publish (self, client);
    break;
  case AVAHI_CLIENT_S_COLLISION:
  case AVAHI_CLIENT_S_REGISTERING:
    /* The host name is being (re)established: publish again once running. */
    if (self->group != NULL)
      avahi_entry_group_reset (self->group);
    break;
  case AVAHI_CLIENT_CONNECTING:
    say ("waiting for avahi-daemon");
    break;
  case AVAHI_CLIENT_FAILURE:
    say ("lost avahi-daemon (%s), waiting for it to come back",
         avahi_strerror (avahi_client_errno (client)));
    /* Frees the group too. */
    avahi_client_free (client);
    self->client = NULL;
    self->group = NULL;
    start_client (self);
    break;
  default:
    break;
  }
}

static void
start_client (HearthAnnounce *self)
{
  int error = 0;
  AvahiClient *client;

  client = avahi_client_new (avahi_glib_poll_get (self->poll), AVAHI_CLIENT_NO_FAIL,
                             on_client_state, self, &error);
  if (client == NULL) {
    /* Even NO_FAIL needs the system bus. */
    say ("cannot reach avahi-daemon (%s), trying again in %d s", avahi_strerror (error),
         RETRY_S);
    if (self->retry_id == 0)
      self->retry_id = g_timeout_add_seconds (RETRY_S, on_retry, self);
    return;
  }
  self->client = client;
}

/**
 * hearth_announce_new:
 * @name: the service instance name
 * @type: e.g. "_rtsp._tcp"
 * @port: the service's port
 * @txt: (element-type GBytes): TXT strings in order, bytes as they are
 *
 * Starts announcing; the daemon is reached from the default main context.
 *
 * Returns: (transfer full): the announcement; free it to withdraw it.
 */
HearthAnnounce *
hearth_announce_new (const char *name, const char *type, guint16 port, GPtrArray *txt)
{
  HearthAnnounce *self = g_new0 (HearthAnnounce, 1);

  self->name = g_strdup (name);
  self->type = g_strdup (type);
  self->port = port;
  for (guint i = 0; i < txt->len; i++) {
    gsize len;
    const guint8 *data = g_bytes_get_data (txt->pdata[i], &len);

    self->txt = avahi_string_list_add_arbitrary (self->txt, data, len);
  }
  /* add_arbitrary() prepends. */
  self->txt = avahi_string_list_reverse (self->txt);
  self->poll = avahi_glib_poll_new (NULL, G_PRIORITY_DEFAULT);
  start_client (self);
  return self;
}

/**
 * hearth_announce_free:
 *
 * Withdraws the service (the daemon sends the goodbye) and frees everything.
 */
void
hearth_announce_free (HearthAnnounce *self)
{
  if (self == NULL)
    return;
  if (self->retry_id != 0)
    g_source_remove (self->retry_id);
  if (self->group != NULL) {
    /* A synchronous D-Bus call: the daemon has dropped the records (and
     * sends their goodbye) when it returns. */
    avahi_entry_group_free (self->group);
    say ("\"%s\" withdrawn", self->name);
  }
  if (self->client != NULL)
    avahi_client_free (self->client);
  if (self->poll != NULL)
    avahi_glib_poll_free (self->poll);
  avahi_string_list_free (self->txt);
  g_free (self->name);
  g_free (self->type);
  g_free (self);
}
