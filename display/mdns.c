/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mDNS lookup of the gateway, for hearth-display; the only file of the
 * display that includes Avahi.
 *
 * client.c starts a lookup when none of the gateway's known addresses
 * connects. It asks the system's avahi-daemon over D-Bus (avahi-client,
 * polled by avahi-glib on the thread-default main context) for the
 * _hearth._tcp services on the LAN, resolves each, and keeps those that
 *
 * - carry fp=<the pinned fingerprint> (and v=1, or no v=),
 * - resolve to a local address (loopback, RFC 1918, link-local, ULA: the
 *   default local ranges of netaddr.h), whatever the record says.
 *
 * The lookup ends at its deadline, or earlier once the daemon has said "all
 * for now", every resolver has answered and at least one service was kept.
 * Without a daemon it fails at once. What was left out and why is summed up
 * for the caller's error message.
 *
 * mDNS is not trusted: a kept service is only an address to try, and the
 * connection to it is pinned like any other (client.c).
 */
#define G_LOG_DOMAIN "hearth-display-mdns"

#include "mdns.h"

#include <net/if.h>
#include <string.h>

#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/strlst.h>
#include <avahi-glib/glib-watch.h>

#include "error.h"
#include "netaddr.h"

void
hearth_gateway_service_free (HearthGatewayService *service)
{
  if (service == NULL)
    return;
  g_free (service->name);
  g_free (service->address);
  g_free (service);
}

typedef struct {
  GTask *task;               /* weak: the task owns this */
  GMainContext *context;
  char *fingerprint;
  HearthNetRanges *local;
  AvahiGLibPoll *poll;
  AvahiClient *client;
  AvahiServiceBrowser *browser;
  GPtrArray *resolvers;      /* AvahiServiceResolver*, in flight */
  guint n_services;          /* resolvers started */
  GPtrArray *found;          /* HearthGatewayService* */
  GHashTable *found_keys;    /* "address port" */
  gboolean all_for_now;
  GError *error;             /* the daemon or the browser failed */
  GSource *deadline;
  GSource *finisher;
  GCancellable *cancellable; /* nullable */
  gulong cancelled_id;

  /* What was left out, for the message. */
  guint other_fp;
  guint not_local;
  char *not_local_example;
  guint bad_txt;
  guint unresolved;
  guint too_many;
} Lookup;

static void
lookup_free (Lookup *lookup)
{
  /* Our own reference: the task may have dropped its own by now. */
  if (lookup->cancellable != NULL) {
    g_cancellable_disconnect (lookup->cancellable, lookup->cancelled_id);
    g_object_unref (lookup->cancellable);
  }
  if (lookup->deadline != NULL) {
    g_source_destroy (lookup->deadline);
    g_source_unref (lookup->deadline);
  }
  if (lookup->finisher != NULL) {
    g_source_destroy (lookup->finisher);
    g_source_unref (lookup->finisher);
  }
  for (guint i = 0; i < lookup->resolvers->len; i++)
    avahi_service_resolver_free (lookup->resolvers->pdata[i]);
  g_ptr_array_unref (lookup->resolvers);
  if (lookup->browser != NULL)
    avahi_service_browser_free (lookup->browser);
  if (lookup->client != NULL)
    avahi_client_free (lookup->client);
  if (lookup->poll != NULL)
    avahi_glib_poll_free (lookup->poll);
  g_ptr_array_unref (lookup->found);
  g_hash_table_unref (lookup->found_keys);
  g_clear_error (&lookup->error);
  g_clear_pointer (&lookup->local, hearth_net_ranges_free);
  g_main_context_unref (lookup->context);
  g_free (lookup->fingerprint);
  g_free (lookup->not_local_example);
  g_free (lookup);
}

static char *
describe_ignored (const Lookup *lookup)
{
  g_autoptr (GString) text = g_string_new (NULL);

  if (lookup->other_fp > 0)
    g_string_append_printf (text, ", %u with another certificate fingerprint",
                            lookup->other_fp);
  if (lookup->not_local > 0)
    g_string_append_printf (text, ", %u at an address outside the local networks (%s)",
                            lookup->not_local, lookup->not_local_example);
  if (lookup->bad_txt > 0)
    g_string_append_printf (text, ", %u with an unusable TXT record", lookup->bad_txt);
  if (lookup->unresolved > 0)
    g_string_append_printf (text, ", %u that did not resolve", lookup->unresolved);
  if (lookup->too_many > 0)
    g_string_append_printf (text, ", %u beyond the first %d", lookup->too_many,
                            HEARTH_DISPLAY_MDNS_MAX_SERVICES);
  if (text->len == 0)
    return NULL;
  return g_strdup (text->str + 2);
}

/* Main context, outside any Avahi callback: Avahi objects may be freed. */
static gboolean
on_finish (gpointer user_data)
{
  Lookup *lookup = user_data;
  GTask *task = lookup->task;

  g_clear_pointer (&lookup->finisher, g_source_unref);
  if (g_cancellable_is_cancelled (lookup->cancellable)) {
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, "cancelled");
  } else if (lookup->found->len == 0 && lookup->error != NULL) {
    g_task_return_error (task, g_steal_pointer (&lookup->error));
  } else {
    /* The task keeps the lookup (its data) until it is freed: the caller
     * reads the "ignored" summary in finish(). */
    g_task_return_pointer (task, g_ptr_array_ref (lookup->found),
                           (GDestroyNotify) g_ptr_array_unref);
  }
  g_object_unref (task);
  return G_SOURCE_REMOVE;
}

static void
finish_soon (Lookup *lookup)
{
  if (lookup->finisher != NULL)
    return;
  lookup->finisher = g_idle_source_new ();
  g_source_set_callback (lookup->finisher, on_finish, lookup, NULL);
  g_source_attach (lookup->finisher, lookup->context);
}

static void
maybe_finish_early (Lookup *lookup)
{
  if (lookup->all_for_now && lookup->resolvers->len == 0 && lookup->found->len > 0)
    finish_soon (lookup);
}

static gboolean
on_deadline (gpointer user_data)
{
  Lookup *lookup = user_data;

  g_clear_pointer (&lookup->deadline, g_source_unref);
  finish_soon (lookup);
  return G_SOURCE_REMOVE;
}

static void
on_cancelled (GCancellable *cancellable, gpointer user_data)
{
  finish_soon (user_data);
}

/* The value of TXT key @key: NULL if absent, "" if it has no value. Values
 * with a NUL byte count as unusable (*bad). (transfer full) */
static char *
txt_value (AvahiStringList *txt, const char *key, gboolean *bad)
{
  AvahiStringList *item = avahi_string_list_find (txt, key);
  char *k = NULL, *v = NULL;
  size_t size = 0;
  char *out;

  if (item == NULL)
    return NULL;
  if (avahi_string_list_get_pair (item, &k, &v, &size) < 0) {
    *bad = TRUE;
    return NULL;
  }
  if (v != NULL && memchr (v, '\0', size) != NULL) {
    *bad = TRUE;
    out = NULL;
  } else {
    out = g_strndup (v != NULL ? v : "", v != NULL ? size : 0);
  }
  avahi_free (k);
  avahi_free (v);
  return out;
}

static guint16
parse_port (const char *text)
{
  guint64 port = 0;

  if (text == NULL || !g_ascii_string_to_unsigned (text, 10, 1, G_MAXUINT16, &port, NULL))
    return 0;
  return (guint16) port;
}

static void
on_resolved (AvahiServiceResolver *resolver,
             AvahiIfIndex interface,
             AvahiProtocol protocol,
             AvahiResolverEvent event,
             const char *name,
             const char *type,
             const char *domain,
             const char *host_name,
             const AvahiAddress *a,
             uint16_t port,
             AvahiStringList *txt,
             AvahiLookupResultFlags flags,
             void *user_data)
{
  Lookup *lookup = user_data;
  g_autofree char *shown_name = g_utf8_make_valid (name != NULL ? name : "", -1);
  g_autofree char *fp = NULL;
  g_autofree char *version = NULL;
  g_autofree char *pair = NULL;
  g_autoptr (GInetAddress) inet = NULL;
  g_autofree char *address = NULL;
  g_autofree char *key = NULL;
  char text[AVAHI_ADDRESS_STR_MAX];
  gboolean bad = FALSE;
  HearthGatewayService *service;

  if (event != AVAHI_RESOLVER_FOUND || a == NULL) {
    g_debug ("“%s” did not resolve: %s", shown_name,
             avahi_strerror (avahi_client_errno (avahi_service_resolver_get_client (resolver))));
    lookup->unresolved++;
  }
  /* One answer is all a resolver is for. */
  g_ptr_array_remove_fast (lookup->resolvers, resolver);
  avahi_service_resolver_free (resolver);
  if (event != AVAHI_RESOLVER_FOUND || a == NULL)
    goto out;

  fp = txt_value (txt, "fp", &bad);
  version = txt_value (txt, "v", &bad);
  pair = txt_value (txt, "pair", &bad);
  if (bad || (version != NULL && !g_str_equal (version, "1")) || port == 0) {
    g_debug ("“%s”: unusable TXT record or port, ignoring", shown_name);
    lookup->bad_txt++;
    goto out;
  }
  if (fp == NULL || !g_str_equal (fp, lookup->fingerprint)) {
    g_debug ("“%s”: another gateway (fingerprint %s), ignoring", shown_name,
             fp != NULL && g_utf8_validate (fp, -1, NULL) ? fp : "missing");
    lookup->other_fp++;
    goto out;
  }

  avahi_address_snprint (text, sizeof text, a);
  inet = g_inet_address_new_from_string (text);
  if (inet == NULL || !hearth_net_ranges_contains (lookup->local, inet)) {
    g_debug ("“%s”: %s is not a local address, ignoring", shown_name, text);
    lookup->not_local++;
    if (lookup->not_local_example == NULL)
      lookup->not_local_example = g_strdup (text);
    goto out;
  }

  /* A link-local IPv6 address is dialled through the interface it came from. */
  if (g_inet_address_get_family (inet) == G_SOCKET_FAMILY_IPV6 &&
      g_inet_address_get_is_link_local (inet)) {
    char ifname[IF_NAMESIZE];

    if (if_indextoname ((unsigned) interface, ifname) == NULL) {
      lookup->unresolved++;
      goto out;
    }
    address = g_strdup_printf ("%s%%%s", text, ifname);
  } else {
    address = g_strdup (text);
  }

  key = g_strdup_printf ("%s %u", address, port);
  if (g_hash_table_contains (lookup->found_keys, key))
    goto out;
  g_hash_table_add (lookup->found_keys, g_steal_pointer (&key));

  service = g_new0 (HearthGatewayService, 1);
  service->name = g_steal_pointer (&shown_name);
  service->address = g_steal_pointer (&address);
  service->port = port;
  service->pair_port = parse_port (pair);
  g_debug ("“%s” at %s port %u (pairing port %u)", service->name, service->address,
           service->port, service->pair_port);
  g_ptr_array_add (lookup->found, service);

out:
  maybe_finish_early (lookup);
}

static void
on_browse (AvahiServiceBrowser *browser,
           AvahiIfIndex interface,
           AvahiProtocol protocol,
           AvahiBrowserEvent event,
           const char *name,
           const char *type,
           const char *domain,
           AvahiLookupResultFlags flags,
           void *user_data)
{
  Lookup *lookup = user_data;
  AvahiServiceResolver *resolver;

  switch (event) {
  case AVAHI_BROWSER_NEW:
    if (lookup->n_services >= HEARTH_DISPLAY_MDNS_MAX_SERVICES) {
      lookup->too_many++;
      break;
    }
    lookup->n_services++;
    resolver = avahi_service_resolver_new (avahi_service_browser_get_client (browser),
                                           interface, protocol, name, type, domain,
                                           AVAHI_PROTO_UNSPEC, 0, on_resolved, lookup);
    if (resolver == NULL)
      lookup->unresolved++;
    else
      g_ptr_array_add (lookup->resolvers, resolver);
    break;
  case AVAHI_BROWSER_ALL_FOR_NOW:
    lookup->all_for_now = TRUE;
    maybe_finish_early (lookup);
    break;
  case AVAHI_BROWSER_FAILURE:
    g_clear_error (&lookup->error);
    lookup->error = g_error_new (HEARTH_ERROR, HEARTH_ERROR_FAILED, "browsing failed: %s",
                                 avahi_strerror (avahi_client_errno (
                                     avahi_service_browser_get_client (browser))));
    finish_soon (lookup);
    break;
  case AVAHI_BROWSER_REMOVE:
  case AVAHI_BROWSER_CACHE_EXHAUSTED:
  default:
    break;
  }
}

static void
on_client_state (AvahiClient *client, AvahiClientState state, void *user_data)
{
  Lookup *lookup = user_data;

  /* @client: this runs inside avahi_client_new() too, before lookup->client is set. */
  if (state == AVAHI_CLIENT_FAILURE) {
    g_clear_error (&lookup->error);
    lookup->error = g_error_new (HEARTH_ERROR, HEARTH_ERROR_FAILED, "avahi-daemon: %s",
                                 avahi_strerror (avahi_client_errno (client)));
    finish_soon (lookup);
    return;
  }
  if (lookup->browser != NULL || state == AVAHI_CLIENT_CONNECTING)
    return;
  lookup->browser = avahi_service_browser_new (client, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC,
                                               HEARTH_DISPLAY_MDNS_SERVICE_TYPE, NULL, 0,
                                               on_browse, lookup);
  if (lookup->browser == NULL) {
    g_clear_error (&lookup->error);
    lookup->error = g_error_new (HEARTH_ERROR, HEARTH_ERROR_FAILED, "cannot browse: %s",
                                 avahi_strerror (avahi_client_errno (client)));
    finish_soon (lookup);
  }
}

/**
 * hearth_display_mdns_find_async:
 * @fingerprint: the pinned gateway fingerprint (64 lowercase hex)
 * @timeout_ms: the longest the lookup may take
 *
 * Looks for the gateway's _hearth._tcp announcements on the LAN.
 */
void
hearth_display_mdns_find_async (const char *fingerprint,
                                guint timeout_ms,
                                GCancellable *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  Lookup *lookup = g_new0 (Lookup, 1);
  int error = 0;

  g_task_set_source_tag (task, hearth_display_mdns_find_async);
  lookup->task = task;
  lookup->context = g_main_context_ref_thread_default ();
  lookup->fingerprint = g_strdup (fingerprint);
  lookup->local = hearth_net_ranges_parse (HEARTH_NET_DEFAULT_LOCAL_RANGES, NULL);
  lookup->resolvers = g_ptr_array_new ();
  lookup->found = g_ptr_array_new_with_free_func ((GDestroyNotify) hearth_gateway_service_free);
  lookup->found_keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_task_set_task_data (task, lookup, (GDestroyNotify) lookup_free);

  /* The task holds itself until on_finish() returns it. */
  lookup->deadline = g_timeout_source_new (timeout_ms);
  g_source_set_callback (lookup->deadline, on_deadline, lookup, NULL);
  g_source_attach (lookup->deadline, lookup->context);
  if (cancellable != NULL) {
    lookup->cancellable = g_object_ref (cancellable);
    lookup->cancelled_id = g_cancellable_connect (cancellable, G_CALLBACK (on_cancelled),
                                                  lookup, NULL);
  }

  lookup->poll = avahi_glib_poll_new (lookup->context, G_PRIORITY_DEFAULT);
  /* No AVAHI_CLIENT_NO_FAIL: without a daemon there is nothing to wait for. */
  lookup->client = avahi_client_new (avahi_glib_poll_get (lookup->poll), 0,
                                     on_client_state, lookup, &error);
  if (lookup->client == NULL) {
    g_clear_error (&lookup->error);
    lookup->error = g_error_new (HEARTH_ERROR, HEARTH_ERROR_FAILED, "avahi-daemon: %s",
                                 avahi_strerror (error));
    finish_soon (lookup);
  }
}

/**
 * hearth_display_mdns_find_finish:
 * @ignored: (out) (optional) (transfer full) (nullable): what was left out and
 *   why, e.g. "1 with another certificate fingerprint"; NULL if nothing was
 *
 * Returns: (transfer full) (element-type HearthGatewayService): the gateway's
 *   services (possibly none), or NULL with @error set when there was no
 *   lookup (no avahi-daemon).
 */
GPtrArray *
hearth_display_mdns_find_finish (GAsyncResult *result, char **ignored, GError **error)
{
  Lookup *lookup;

  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);

  lookup = g_task_get_task_data (G_TASK (result));
  if (ignored != NULL)
    *ignored = describe_ignored (lookup);
  return g_task_propagate_pointer (G_TASK (result), error);
}
