/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * HearthDiscovery: the gateway's only Avahi user (see discovery.h).
 *
 * avahi-client on the default main context through avahi-glib, created with
 * AVAHI_CLIENT_NO_FAIL so that a missing or restarting avahi-daemon is a
 * state, not an error. avahi_client_new() still fails when there is no D-Bus
 * system bus at all; then a timer tries again every few seconds.
 *
 * One browser per claimed service type (IPv4; mDNS cameras on home LANs
 * announce A records), one long-lived resolver per (interface, service): Avahi
 * resolvers keep watching and report again when the address, port or TXT
 * change. A service seen on several interfaces is reported once, by key.
 *
 * Everything here comes from the network and may be hostile: the number of
 * services is bounded, TXT records are size-checked and parsed into a table
 * of printable keys and UTF-8 values, and a service that resolves outside the
 * local ranges is never reported (invariant 7). Each reason to ignore a
 * service is logged once per service.
 */
#define G_LOG_DOMAIN "hearth-discovery"

#include "discovery.h"

#include <string.h>

#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-client/publish.h>
#include <avahi-common/alternative.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-glib/glib-watch.h>

#define RETRY_SECONDS 5
/* A LAN flooding us with announcements gets no more than this many services
 * looked at; the rest are ignored (and said so once). */
#define MAX_ITEMS 512
#define TXT_MAX_ENTRIES 64
#define TXT_MAX_BYTES 4096
#define TXT_KEY_MAX 32
#define KEY_HEX_DIGITS 12

struct _HearthDiscovery {
  GObject parent_instance;

  char **types;
  HearthNetRanges *ranges;      /* not owned: the config outlives us */

  AvahiGLibPoll *poll;
  AvahiClient *client;
  GPtrArray *browsers;          /* AvahiServiceBrowser* */
  GHashTable *items;            /* "iface/key" → Item */
  GHashTable *found;            /* key → HearthFound (what was reported) */
  GHashTable *ignored;          /* "key reason" already logged */
  GHashTable *external;         /* key → HearthFound, from plugins' own discovery */
  guint n_sources;              /* plugins' discoveries running */
  gboolean said_too_many_external;
  guint retry_id;
  gboolean said_unavailable;
  gboolean said_too_many;
  gboolean running;

  /* The _hearth._tcp announcement. */
  char *announce_name;
  char *group_name;             /* after collisions */
  char *fingerprint;
  guint16 stream_port;
  guint16 pairing_port;
  AvahiEntryGroup *group;
};

G_DEFINE_TYPE (HearthDiscovery, hearth_discovery, G_TYPE_OBJECT)

enum { SIGNAL_FOUND, SIGNAL_LOST, N_SIGNALS };
static guint signals[N_SIGNALS];

typedef struct {
  HearthDiscovery *self;        /* not owned */
  AvahiServiceResolver *resolver;
  char *key;
  HearthFound *found;           /* the last fit resolution, or NULL */
} Item;

static void client_start (HearthDiscovery *self);
static void announce_update (HearthDiscovery *self);

/* --- HearthFound ---------------------------------------------------------------- */

typedef struct {
  HearthFound pub;
  gint ref_count;
} FoundPriv;

/* Also the unit tests' way to make what a resolution would have reported
 * (test-cameras emits "found" with it): the struct's reference count is
 * private. */
HearthFound *
hearth_found_new (const char *key, const HearthService *service)
{
  FoundPriv *priv = g_new0 (FoundPriv, 1);
  HearthFound *found = &priv->pub;

  priv->ref_count = 1;
  found->key = g_strdup (key);
  found->service.type = g_strdup (service->type);
  found->service.name = g_strdup (service->name);
  found->service.domain = g_strdup (service->domain);
  found->service.host_name = g_strdup (service->host_name);
  found->service.address = g_strdup (service->address);
  found->service.port = service->port;
  found->service.txt = g_hash_table_ref (service->txt);
  found->seen_us = g_get_real_time ();
  return found;
}

HearthFound *
hearth_found_ref (HearthFound *found)
{
  g_atomic_int_inc (&((FoundPriv *) found)->ref_count);
  return found;
}

void
hearth_found_unref (HearthFound *found)
{
  HearthService *s;

  if (found == NULL || !g_atomic_int_dec_and_test (&((FoundPriv *) found)->ref_count))
    return;
  s = &found->service;
  g_free (found->key);
  g_free ((char *) s->type);
  g_free ((char *) s->name);
  g_free ((char *) s->domain);
  g_free ((char *) s->host_name);
  g_free ((char *) s->address);
  g_clear_pointer (&s->txt, g_hash_table_unref);
  g_free (found);
}

static gboolean
found_same (const HearthFound *a, const HearthFound *b)
{
  GHashTableIter iter;
  gpointer k, v;

  if (g_strcmp0 (a->service.address, b->service.address) != 0 ||
      a->service.port != b->service.port ||
      g_strcmp0 (a->service.host_name, b->service.host_name) != 0 ||
      g_hash_table_size (a->service.txt) != g_hash_table_size (b->service.txt))
    return FALSE;
  g_hash_table_iter_init (&iter, a->service.txt);
  while (g_hash_table_iter_next (&iter, &k, &v))
    if (g_strcmp0 (v, g_hash_table_lookup (b->service.txt, k)) != 0)
      return FALSE;
  return TRUE;
}

char *
hearth_discovery_key (const char *type, const char *name, const char *domain)
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);

  g_checksum_update (sum, (const guchar *) type, (gssize) strlen (type) + 1);
  g_checksum_update (sum, (const guchar *) name, (gssize) strlen (name) + 1);
  g_checksum_update (sum, (const guchar *) domain, (gssize) strlen (domain) + 1);
  return g_strndup (g_checksum_get_string (sum), KEY_HEX_DIGITS);
}

/* --- hostile input ------------------------------------------------------------- */

/* Text from the network that is safe to show on a terminal or in a log:
 * valid UTF-8 without control or format characters (no escape sequences, no
 * line breaks, no bidi overrides). */
static gboolean
text_is_clean (const char *text)
{
  if (!g_utf8_validate (text, -1, NULL))
    return FALSE;
  for (const char *p = text; *p; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);
    GUnicodeType t = g_unichar_type (c);

    if (t == G_UNICODE_CONTROL || t == G_UNICODE_FORMAT ||
        t == G_UNICODE_LINE_SEPARATOR || t == G_UNICODE_PARAGRAPH_SEPARATOR)
      return FALSE;
  }
  return TRUE;
}

/* Logs why a service is ignored, once per service and reason. */
static void
ignore (HearthDiscovery *self, const char *key, const char *type,
        const char *name, const char *why)
{
  g_autofree char *once = g_strdup_printf ("%s %s", key, why);
  g_autofree char *valid = g_utf8_make_valid (name, -1);
  g_autoptr (GString) shown = g_string_new (NULL);

  if (g_hash_table_size (self->ignored) > 4 * MAX_ITEMS)
    g_hash_table_remove_all (self->ignored);
  if (!g_hash_table_add (self->ignored, g_steal_pointer (&once)))
    return;
  /* Whole characters, control characters as “?”. */
  for (const char *p = valid; *p && shown->len < 63; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);

    if (g_unichar_iscntrl (c) || g_unichar_type (c) == G_UNICODE_FORMAT)
      g_string_append_c (shown, '?');
    else
      g_string_append_unichar (shown, c);
  }
  g_message ("Ignoring %s “%s” (%s): %s", type[0] == '_' ? "mDNS service" : "device",
             shown->str, type, why);
}

/**
 * hearth_discovery_parse_txt:
 * @entries: (element-type GBytes): a service's TXT strings, as received
 * @why: (out): why the whole set is refused
 *
 * TXT → table of key (printable ASCII without '=', lower-cased) → value
 * (UTF-8, no NUL). Entries that are not that are dropped; a key that repeats
 * keeps its first value (RFC 6763 §6.4).
 *
 * Returns: (transfer full) (nullable): the table, or NULL with *@why when
 * the records as a whole are too big to be a camera's.
 */
GHashTable *
hearth_discovery_parse_txt (GPtrArray *entries, const char **why)
{
  g_autoptr (GHashTable) table = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                        g_free, g_free);
  gsize total = 0;

  if (entries->len > TXT_MAX_ENTRIES) {
    *why = "its TXT records are too large";
    return NULL;
  }
  for (guint i = 0; i < entries->len; i++) {
    gsize len;
    const char *entry = g_bytes_get_data (entries->pdata[i], &len);
    const char *equals;
    g_autofree char *key = NULL;
    const char *value = NULL;
    gsize size = 0;
    gboolean ok;

    total += len;
    if (total > TXT_MAX_BYTES) {
      *why = "its TXT records are too large";
      return NULL;
    }
    /* An empty string has no key (and no data: NULL). */
    if (len == 0)
      continue;
    equals = memchr (entry, '=', len);
    /* "key=value", or "key" alone (RFC 6763 §6.4); the key ends at a NUL. */
    if (equals != NULL) {
      key = g_strndup (entry, (gsize) (equals - entry));
      value = equals + 1;
      size = len - (gsize) (equals - entry) - 1;
    } else {
      key = g_strndup (entry, len);
    }
    ok = key[0] != '\0' && strlen (key) <= TXT_KEY_MAX;
    for (const char *p = key; ok && *p; p++)
      ok = *p >= 0x21 && *p <= 0x7e;
    if (value != NULL)
      ok = ok && memchr (value, '\0', size) == NULL &&
           g_utf8_validate (value, (gssize) size, NULL);
    if (ok) {
      char *lower = g_ascii_strdown (key, -1);

      if (g_hash_table_contains (table, lower))
        g_free (lower);
      else
        g_hash_table_insert (table, lower, g_strndup (value ? value : "", size));
    }
  }
  return g_steal_pointer (&table);
}

static GHashTable *
txt_parse (AvahiStringList *txt, const char **why)
{
  g_autoptr (GPtrArray) entries = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);

  for (AvahiStringList *l = txt; l != NULL; l = avahi_string_list_get_next (l)) {
    /* The count alone can be refused before copying them all. */
    if (entries->len == TXT_MAX_ENTRIES + 1)
      break;
    g_ptr_array_add (entries, g_bytes_new (avahi_string_list_get_text (l),
                                           avahi_string_list_get_size (l)));
  }
  return hearth_discovery_parse_txt (entries, why);
}

/* A resolution fit to report, or NULL with *@why. */
static HearthFound *
found_new (HearthDiscovery *self, const char *key, const char *name,
           const char *type, const char *domain, const char *host_name,
           const AvahiAddress *a, guint16 port, AvahiStringList *txt,
           const char **why)
{
  char address[AVAHI_ADDRESS_STR_MAX];
  g_autoptr (GInetAddress) inet = NULL;
  g_autoptr (GHashTable) table = NULL;

  if (strlen (name) > 63 || !text_is_clean (name)) {
    *why = "its name is not a valid instance name";
    return NULL;
  }
  if (host_name == NULL || strlen (host_name) > 255 || !text_is_clean (host_name)) {
    *why = "its host name is not valid";
    return NULL;
  }
  if (port == 0) {
    *why = "it names port 0";
    return NULL;
  }
  avahi_address_snprint (address, sizeof address, a);
  inet = g_inet_address_new_from_string (address);
  if (inet == NULL || !hearth_net_ranges_contains (self->ranges, inet)) {
    *why = "its address is outside the local networks";
    return NULL;
  }
  table = txt_parse (txt, why);
  if (table == NULL)
    return NULL;

  return hearth_found_new (key, &(HearthService) {
      .type = type, .name = name, .domain = domain, .host_name = host_name,
      .address = address, .port = port, .txt = table });
}

/* --- what is reported ------------------------------------------------------------ */

/* Reports what @key looks like now, over all interfaces it was seen on. */
static void
publish (HearthDiscovery *self, const char *key)
{
  HearthFound *before = g_hash_table_lookup (self->found, key);
  HearthFound *now = NULL;
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->items);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    Item *item = value;

    if (item->found != NULL && strcmp (item->key, key) == 0 &&
        (now == NULL || item->found->seen_us > now->seen_us))
      now = item->found;
  }
  if (now == NULL)
    now = g_hash_table_lookup (self->external, key);

  if (now == NULL) {
    g_autoptr (HearthFound) gone = NULL;
    g_autofree char *stolen_key = NULL;

    if (before == NULL)
      return;
    g_hash_table_steal_extended (self->found, key, (gpointer *) &stolen_key,
                                 (gpointer *) &gone);
    g_debug ("mDNS service %s lost", key);
    g_signal_emit (self, signals[SIGNAL_LOST], 0, gone);
    return;
  }
  if (before != NULL && (before == now || found_same (before, now)))
    return;
  g_hash_table_replace (self->found, g_strdup (key), hearth_found_ref (now));
  g_debug ("mDNS service %s at %s port %u", key, now->service.address,
           now->service.port);
  g_signal_emit (self, signals[SIGNAL_FOUND], 0, now);
}

static void
item_free (Item *item)
{
  if (item->resolver != NULL)
    avahi_service_resolver_free (item->resolver);
  g_clear_pointer (&item->found, hearth_found_unref);
  g_free (item->key);
  g_free (item);
}

static void
on_resolved (AvahiServiceResolver *resolver, AvahiIfIndex interface,
             AvahiProtocol protocol, AvahiResolverEvent event, const char *name,
             const char *type, const char *domain, const char *host_name,
             const AvahiAddress *address, uint16_t port, AvahiStringList *txt,
             AvahiLookupResultFlags flags, void *user_data)
{
  Item *item = user_data;
  HearthDiscovery *self = item->self;
  g_autofree char *key = g_strdup (item->key);
  const char *why = NULL;

  (void) resolver;
  (void) interface;
  (void) protocol;
  (void) flags;

  g_clear_pointer (&item->found, hearth_found_unref);
  if (event == AVAHI_RESOLVER_FOUND)
    item->found = found_new (self, key, name, type, domain, host_name, address,
                             port, txt, &why);
  else
    g_debug ("mDNS service %s did not resolve: %s", key,
             avahi_strerror (avahi_client_errno (self->client)));
  if (why != NULL)
    ignore (self, key, type, name, why);
  publish (self, key);
}

static void
on_browse (AvahiServiceBrowser *browser, AvahiIfIndex interface,
           AvahiProtocol protocol, AvahiBrowserEvent event, const char *name,
           const char *type, const char *domain, AvahiLookupResultFlags flags,
           void *user_data)
{
  HearthDiscovery *self = user_data;
  g_autofree char *key = NULL;
  g_autofree char *id = NULL;
  Item *item;

  (void) browser;
  (void) flags;

  switch (event) {
  case AVAHI_BROWSER_NEW:
    key = hearth_discovery_key (type, name, domain);
    id = g_strdup_printf ("%d/%s", interface, key);
    if (g_hash_table_contains (self->items, id))
      return;
    if (g_hash_table_size (self->items) >= MAX_ITEMS) {
      if (!self->said_too_many)
        g_warning ("More than %d mDNS services on this network: ignoring the rest",
                   MAX_ITEMS);
      self->said_too_many = TRUE;
      return;
    }
    item = g_new0 (Item, 1);
    item->self = self;
    item->key = g_steal_pointer (&key);
    item->resolver = avahi_service_resolver_new (self->client, interface, protocol,
                                                 name, type, domain,
                                                 AVAHI_PROTO_INET, 0,
                                                 on_resolved, item);
    if (item->resolver == NULL) {
      g_message ("Could not resolve mDNS service %s: %s", item->key,
                 avahi_strerror (avahi_client_errno (self->client)));
      item_free (item);
      return;
    }
    g_hash_table_insert (self->items, g_steal_pointer (&id), item);
    return;

  case AVAHI_BROWSER_REMOVE:
    key = hearth_discovery_key (type, name, domain);
    id = g_strdup_printf ("%d/%s", interface, key);
    if (g_hash_table_remove (self->items, id))
      publish (self, key);
    return;

  case AVAHI_BROWSER_FAILURE:
    g_warning ("mDNS browsing failed: %s",
               avahi_strerror (avahi_client_errno (self->client)));
    return;

  case AVAHI_BROWSER_ALL_FOR_NOW:
  case AVAHI_BROWSER_CACHE_EXHAUSTED:
  default:
    return;
  }
}

/* --- the client ------------------------------------------------------------------ */

/* Drops browsers, resolvers and the announcement; reports every service lost. */
static void
client_reset (HearthDiscovery *self)
{
  g_autoptr (GPtrArray) keys = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  gpointer key;

  g_ptr_array_set_size (self->browsers, 0);
  g_hash_table_remove_all (self->items);
  g_hash_table_iter_init (&iter, self->found);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (keys, g_strdup (key));
  for (guint i = 0; i < keys->len; i++)
    publish (self, keys->pdata[i]);
  if (self->group != NULL) {
    avahi_entry_group_free (self->group);
    self->group = NULL;
  }
  self->running = FALSE;
}

static void
say_unavailable (HearthDiscovery *self, const char *why)
{
  if (self->said_unavailable)
    return;
  self->said_unavailable = TRUE;
  g_warning ("mDNS is not available (%s): cameras are not discovered and displays "
             "must be given the gateway's address; manually added cameras work. "
             "Discovery starts by itself when an avahi-daemon runs.", why);
}

static gboolean
on_retry (gpointer user_data)
{
  HearthDiscovery *self = user_data;

  self->retry_id = 0;
  client_start (self);
  return G_SOURCE_REMOVE;
}

static void
retry_later (HearthDiscovery *self)
{
  if (self->retry_id == 0)
    self->retry_id = g_timeout_add_seconds (RETRY_SECONDS, on_retry, self);
}

static void
client_running (HearthDiscovery *self)
{
  if (self->running) {
    /* Back from S_REGISTERING or S_COLLISION (the host name changed): the
     * entry group was reset, announce again under the new name. */
    announce_update (self);
    return;
  }
  self->running = TRUE;
  if (self->said_unavailable)
    g_message ("mDNS is available again: discovering cameras");
  else
    g_message ("mDNS discovery running");
  self->said_unavailable = FALSE;

  for (char **type = self->types; *type != NULL; type++) {
    AvahiServiceBrowser *browser =
      avahi_service_browser_new (self->client, AVAHI_IF_UNSPEC, AVAHI_PROTO_INET,
                                 *type, NULL, 0, on_browse, self);

    if (browser == NULL)
      g_warning ("Could not browse mDNS for %s: %s", *type,
                 avahi_strerror (avahi_client_errno (self->client)));
    else
      g_ptr_array_add (self->browsers, browser);
  }
  announce_update (self);
}

static void
on_client_state (AvahiClient *client, AvahiClientState state, void *user_data)
{
  HearthDiscovery *self = user_data;

  switch (state) {
  case AVAHI_CLIENT_S_RUNNING:
    /* The first call comes from inside avahi_client_new (). */
    if (self->client == NULL)
      self->client = client;
    client_running (self);
    break;
  case AVAHI_CLIENT_S_COLLISION:
  case AVAHI_CLIENT_S_REGISTERING:
    /* The host name changes: announce again once it settles. */
    if (self->group != NULL)
      avahi_entry_group_reset (self->group);
    break;
  case AVAHI_CLIENT_CONNECTING:
    client_reset (self);
    say_unavailable (self, "no avahi-daemon on the system bus");
    break;
  case AVAHI_CLIENT_FAILURE:
  default:
    /* E.g. the D-Bus system bus went away: start over later. */
    client_reset (self);
    say_unavailable (self, avahi_strerror (avahi_client_errno (client)));
    if (self->client == client) {
      self->client = NULL;
      avahi_client_free (client);
    }
    retry_later (self);
    break;
  }
}

static void
client_start (HearthDiscovery *self)
{
  AvahiClient *client;
  int error = 0;

  if (self->client != NULL)
    return;
  client = avahi_client_new (avahi_glib_poll_get (self->poll), AVAHI_CLIENT_NO_FAIL,
                             on_client_state, self, &error);
  if (client == NULL) {
    say_unavailable (self, avahi_strerror (error));
    retry_later (self);
    return;
  }
  self->client = client;
  /* NO_FAIL: a missing daemon is the CONNECTING state, already handled. */
}

/* --- the _hearth._tcp announcement ------------------------------------------------- */

static AvahiStringList *
announce_txt (HearthDiscovery *self)
{
  AvahiStringList *txt = avahi_string_list_new ("v=1", NULL);

  txt = avahi_string_list_add_printf (txt, "fp=%s", self->fingerprint);
  if (self->pairing_port != 0)
    txt = avahi_string_list_add_printf (txt, "pair=%u", self->pairing_port);
  return txt;
}

static void
on_group_state (AvahiEntryGroup *group, AvahiEntryGroupState state, void *user_data)
{
  HearthDiscovery *self = user_data;

  switch (state) {
  case AVAHI_ENTRY_GROUP_ESTABLISHED:
    g_message ("Announced as “%s” (%s) on mDNS", self->group_name, HEARTH_SERVICE_TYPE);
    break;
  case AVAHI_ENTRY_GROUP_COLLISION: {
    char *alt = avahi_alternative_service_name (self->group_name);

    g_free (self->group_name);
    self->group_name = g_strdup (alt);
    avahi_free (alt);
    g_message ("mDNS name taken; announcing as “%s”", self->group_name);
    avahi_entry_group_reset (group);
    announce_update (self);
    break;
  }
  case AVAHI_ENTRY_GROUP_FAILURE:
    g_warning ("Could not announce the gateway on mDNS: %s",
               avahi_strerror (avahi_client_errno (avahi_entry_group_get_client (group))));
    break;
  case AVAHI_ENTRY_GROUP_UNCOMMITED:
  case AVAHI_ENTRY_GROUP_REGISTERING:
  default:
    break;
  }
}

/* (Re)publishes the announcement as it should be now. */
static void
announce_update (HearthDiscovery *self)
{
  AvahiStringList *txt;
  int rc;

  if (!self->running || self->announce_name == NULL || self->client == NULL ||
      avahi_client_get_state (self->client) != AVAHI_CLIENT_S_RUNNING)
    return;
  if (self->group_name == NULL)
    self->group_name = g_strdup (self->announce_name);
  if (self->group == NULL) {
    self->group = avahi_entry_group_new (self->client, on_group_state, self);
    if (self->group == NULL) {
      g_warning ("Could not announce the gateway on mDNS: %s",
                 avahi_strerror (avahi_client_errno (self->client)));
      return;
    }
  }

  txt = announce_txt (self);
  if (avahi_entry_group_is_empty (self->group)) {
    rc = avahi_entry_group_add_service_strlst (self->group, AVAHI_IF_UNSPEC,
                                               AVAHI_PROTO_UNSPEC, 0,
                                               self->group_name, HEARTH_SERVICE_TYPE,
                                               NULL, NULL, self->stream_port, txt);
    if (rc == AVAHI_ERR_COLLISION) {
      avahi_string_list_free (txt);
      on_group_state (self->group, AVAHI_ENTRY_GROUP_COLLISION, self);
      return;
    }
    if (rc >= 0)
      rc = avahi_entry_group_commit (self->group);
  } else {
    rc = avahi_entry_group_update_service_txt_strlst (self->group, AVAHI_IF_UNSPEC,
                                                      AVAHI_PROTO_UNSPEC, 0,
                                                      self->group_name,
                                                      HEARTH_SERVICE_TYPE, NULL, txt);
  }
  avahi_string_list_free (txt);
  if (rc < 0)
    g_warning ("Could not announce the gateway on mDNS: %s", avahi_strerror (rc));
}

void
hearth_discovery_announce (HearthDiscovery *self, const char *name,
                           guint16 stream_port, const char *fingerprint)
{
  g_return_if_fail (HEARTH_IS_DISCOVERY (self));

  g_free (self->announce_name);
  /* An instance name is one DNS label: at most 63 bytes, whole characters,
   * with room for the " #2" of a collision. */
  self->announce_name = g_strndup (name, 56);
  while (!g_utf8_validate (self->announce_name, -1, NULL))
    self->announce_name[strlen (self->announce_name) - 1] = '\0';
  g_clear_pointer (&self->group_name, g_free);
  g_free (self->fingerprint);
  self->fingerprint = g_strdup (fingerprint);
  self->stream_port = stream_port;
  if (self->group != NULL)
    avahi_entry_group_reset (self->group);
  announce_update (self);
}

void
hearth_discovery_set_pairing_port (HearthDiscovery *self, guint16 port)
{
  g_return_if_fail (HEARTH_IS_DISCOVERY (self));

  if (self->pairing_port == port)
    return;
  self->pairing_port = port;
  announce_update (self);
}

/* --- devices found by a plugin's own discovery ---------------------------------- */

/* TXT-like details a plugin reported, checked as TXT records are: bounded,
 * keys printable ASCII, values UTF-8. NULL with *@why otherwise. */
static GHashTable *
external_txt (GHashTable *txt, const char **why)
{
  g_autoptr (GPtrArray) entries = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  GHashTableIter iter;
  gpointer k, v;

  if (txt != NULL) {
    g_hash_table_iter_init (&iter, txt);
    while (g_hash_table_iter_next (&iter, &k, &v) && entries->len <= TXT_MAX_ENTRIES)
      g_ptr_array_add (entries, g_bytes_new_take (g_strdup_printf ("%s=%s", (char *) k,
                                                                   v ? (char *) v : ""),
                                                  strlen (k) + 1 + (v ? strlen (v) : 0)));
  }
  return hearth_discovery_parse_txt (entries, why);
}

/**
 * hearth_discovery_report:
 * @id: the reporting plugin's stable name for the device
 *
 * A device a plugin's own discovery found (or that changed), checked as an
 * mDNS service is (invariant 7: its address must be local; its name text;
 * its details bounded) and then reported like one.
 */
void
hearth_discovery_report (HearthDiscovery *self, const char *id,
                         const HearthService *service)
{
  g_autofree char *key = NULL;
  g_autoptr (GInetAddress) inet = NULL;
  g_autoptr (GHashTable) table = NULL;
  const char *why = NULL;
  const char *name;

  g_return_if_fail (HEARTH_IS_DISCOVERY (self));
  g_return_if_fail (id != NULL && service != NULL && service->type != NULL);

  key = hearth_discovery_key (service->type, id, "");
  name = service->name != NULL ? service->name : "";
  if (!g_hash_table_contains (self->external, key) &&
      g_hash_table_size (self->external) >= MAX_ITEMS) {
    if (!self->said_too_many_external)
      g_warning ("More than %d %s devices on this network: ignoring the rest", MAX_ITEMS,
                 service->type);
    self->said_too_many_external = TRUE;
    return;
  }
  if (name[0] == '\0' || strlen (name) > 63 || !text_is_clean (name))
    why = "its name is not valid";
  else if (service->host_name != NULL &&
           (strlen (service->host_name) > 255 || !text_is_clean (service->host_name)))
    why = "its host name is not valid";
  else if (service->port == 0)
    why = "it names port 0";
  else if (service->address == NULL ||
           (inet = g_inet_address_new_from_string (service->address)) == NULL ||
           !hearth_net_ranges_contains (self->ranges, inet))
    why = "its address is outside the local networks";
  else
    table = external_txt (service->txt, &why);

  if (table == NULL) {
    ignore (self, key, service->type, name, why);
    /* What was reported before is not true any more. */
    if (g_hash_table_remove (self->external, key))
      publish (self, key);
    return;
  }
  g_hash_table_replace (self->external, g_strdup (key), hearth_found_new (key,
      &(HearthService) {
        .type = service->type, .name = name, .domain = "",
        .host_name = service->host_name ? service->host_name : service->address,
        .address = service->address, .port = service->port, .txt = table }));
  publish (self, key);
}

/* The device @id of @type said goodbye. */
void
hearth_discovery_withdraw (HearthDiscovery *self, const char *type, const char *id)
{
  g_autofree char *key = NULL;

  g_return_if_fail (HEARTH_IS_DISCOVERY (self));

  key = hearth_discovery_key (type, id, "");
  if (g_hash_table_remove (self->external, key))
    publish (self, key);
}

void
hearth_discovery_source_started (HearthDiscovery *self)
{
  g_return_if_fail (HEARTH_IS_DISCOVERY (self));
  self->n_sources++;
}

/* Forgets what the source reported of @type. */
void
hearth_discovery_source_stopped (HearthDiscovery *self, const char *type)
{
  g_autoptr (GPtrArray) keys = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  gpointer key, value;

  g_return_if_fail (HEARTH_IS_DISCOVERY (self));

  if (self->n_sources > 0)
    self->n_sources--;
  g_hash_table_iter_init (&iter, self->external);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (g_strcmp0 (((HearthFound *) value)->service.type, type) == 0)
      g_ptr_array_add (keys, g_strdup (key));
  for (guint i = 0; i < keys->len; i++) {
    g_hash_table_remove (self->external, keys->pdata[i]);
    publish (self, keys->pdata[i]);
  }
}

gboolean
hearth_discovery_sources_running (HearthDiscovery *self)
{
  g_return_val_if_fail (HEARTH_IS_DISCOVERY (self), FALSE);
  return self->n_sources > 0;
}

/* --- public ---------------------------------------------------------------------- */

gboolean
hearth_discovery_is_running (HearthDiscovery *self)
{
  g_return_val_if_fail (HEARTH_IS_DISCOVERY (self), FALSE);
  return self->running;
}

GPtrArray *
hearth_discovery_list (HearthDiscovery *self)
{
  GPtrArray *list = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer value;

  g_return_val_if_fail (HEARTH_IS_DISCOVERY (self), list);

  g_hash_table_iter_init (&iter, self->found);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (list, value);
  return list;
}

HearthFound *
hearth_discovery_lookup (HearthDiscovery *self, const char *key)
{
  g_return_val_if_fail (HEARTH_IS_DISCOVERY (self), NULL);
  return key != NULL ? g_hash_table_lookup (self->found, key) : NULL;
}

void
hearth_discovery_start (HearthDiscovery *self)
{
  g_return_if_fail (HEARTH_IS_DISCOVERY (self));
  client_start (self);
}

void
hearth_discovery_stop (HearthDiscovery *self)
{
  g_return_if_fail (HEARTH_IS_DISCOVERY (self));

  g_clear_handle_id (&self->retry_id, g_source_remove);
  if (self->client != NULL) {
    g_ptr_array_set_size (self->browsers, 0);
    g_hash_table_remove_all (self->items);
    if (self->group != NULL) {
      avahi_entry_group_free (self->group);
      self->group = NULL;
    }
    avahi_client_free (self->client);
    self->client = NULL;
  }
  self->running = FALSE;
}

static void
hearth_discovery_finalize (GObject *object)
{
  HearthDiscovery *self = HEARTH_DISCOVERY (object);

  hearth_discovery_stop (self);
  g_ptr_array_unref (self->browsers);
  g_hash_table_unref (self->items);
  g_hash_table_unref (self->found);
  g_hash_table_unref (self->ignored);
  g_hash_table_unref (self->external);
  avahi_glib_poll_free (self->poll);
  g_strfreev (self->types);
  g_free (self->announce_name);
  g_free (self->group_name);
  g_free (self->fingerprint);
  G_OBJECT_CLASS (hearth_discovery_parent_class)->finalize (object);
}

static void
hearth_discovery_class_init (HearthDiscoveryClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = hearth_discovery_finalize;

  signals[SIGNAL_FOUND] = g_signal_new ("found", G_TYPE_FROM_CLASS (klass),
                                        G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                        G_TYPE_NONE, 1, G_TYPE_POINTER);
  signals[SIGNAL_LOST] = g_signal_new ("lost", G_TYPE_FROM_CLASS (klass),
                                       G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                       G_TYPE_NONE, 1, G_TYPE_POINTER);
}

static void
hearth_discovery_init (HearthDiscovery *self)
{
  self->browsers = g_ptr_array_new_with_free_func (
      (GDestroyNotify) (void (*) (void)) avahi_service_browser_free);
  self->items = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                       (GDestroyNotify) item_free);
  self->found = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                       (GDestroyNotify) hearth_found_unref);
  self->ignored = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->external = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify) hearth_found_unref);
}

HearthDiscovery *
hearth_discovery_new (const char *const *service_types, const HearthNetRanges *ranges)
{
  HearthDiscovery *self = g_object_new (HEARTH_TYPE_DISCOVERY, NULL);

  self->types = g_strdupv ((char **) service_types);
  if (self->types == NULL)
    self->types = g_new0 (char *, 1);
  self->ranges = (HearthNetRanges *) ranges;
  self->poll = avahi_glib_poll_new (NULL, G_PRIORITY_DEFAULT);
  return self;
}
