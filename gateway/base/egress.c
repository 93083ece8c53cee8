/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The egress gate: HearthEgressResolver, the process's GProxyResolver.
 *
 * Threads: lookup runs on whichever thread connects (rtspsrc's own); the
 * ranges are guarded by a mutex and replaced only by install.
 */
#define G_LOG_DOMAIN "hearth-egress"

#include "egress.h"

#include <string.h>

#define EXTENSION_NAME "hearth-egress"

struct _HearthEgressResolver {
  GObject parent;
  GMutex lock;
  HearthNetRanges *ranges; /* NULL until installed: everything is refused */
};

static void hearth_egress_resolver_iface_init (GProxyResolverInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (HearthEgressResolver, hearth_egress_resolver,
                               G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_PROXY_RESOLVER,
                                                      hearth_egress_resolver_iface_init))

static void
hearth_egress_resolver_finalize (GObject *object)
{
  HearthEgressResolver *self = HEARTH_EGRESS_RESOLVER (object);

  hearth_net_ranges_free (self->ranges);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (hearth_egress_resolver_parent_class)->finalize (object);
}

static void
hearth_egress_resolver_class_init (HearthEgressResolverClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = hearth_egress_resolver_finalize;
}

static void
hearth_egress_resolver_init (HearthEgressResolver *self)
{
  g_mutex_init (&self->lock);
}

gboolean
hearth_egress_resolver_allows (HearthEgressResolver *self, const char *uri,
                               GError **error)
{
  g_autofree char *host = NULL;
  g_autoptr (GInetAddress) address = NULL;
  g_autoptr (GMutexLocker) locker = NULL;

  g_return_val_if_fail (HEARTH_IS_EGRESS_RESOLVER (self), FALSE);

  /* As the camera URL check reads it (netaddr.c): encoded, so that a
   * password that does not decode to UTF-8 does not make it unreadable. */
  if (uri == NULL ||
      !g_uri_split_network (uri, G_URI_FLAGS_ENCODED | G_URI_FLAGS_HAS_PASSWORD, NULL,
                            &host, NULL, NULL) ||
      host == NULL) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                         "Hearth refused a connection to an address it cannot read");
    return FALSE;
  }
  address = g_inet_address_new_from_string (host);
  if (address == NULL) {
    /* A name would be looked up, and the lookup could leave the machine. */
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                 "Hearth refused to connect to “%s”: a name, not a local address",
                 host);
    return FALSE;
  }
  locker = g_mutex_locker_new (&self->lock);
  if (self->ranges == NULL || !hearth_net_ranges_contains (self->ranges, address) ||
      g_inet_address_get_is_any (address) || g_inet_address_get_is_multicast (address)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                 "Hearth refused to connect to %s: not a local address under "
                 "local-networks", host);
    return FALSE;
  }
  return TRUE;
}

static gboolean
egress_is_supported (GProxyResolver *resolver)
{
  return TRUE;
}

static char **
egress_lookup (GProxyResolver *resolver, const char *uri,
               GCancellable *cancellable, GError **error)
{
  g_autoptr (GError) local_error = NULL;

  if (!hearth_egress_resolver_allows (HEARTH_EGRESS_RESOLVER (resolver), uri,
                                      &local_error)) {
    /* The URI may carry a camera's password: log only the reason, which
     * names the host alone. */
    g_warning ("%s", local_error->message);
    g_propagate_error (error, g_steal_pointer (&local_error));
    return NULL;
  }
  return g_strdupv ((char *[]){ "direct://", NULL });
}

/* The answer needs no I/O: given at once, on the caller's context. */
static void
egress_lookup_async (GProxyResolver *resolver, const char *uri,
                     GCancellable *cancellable, GAsyncReadyCallback callback,
                     gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (resolver, cancellable, callback, user_data);
  GError *error = NULL;
  char **proxies;

  g_task_set_source_tag (task, egress_lookup_async);
  proxies = egress_lookup (resolver, uri, cancellable, &error);
  if (proxies == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, proxies, (GDestroyNotify) g_strfreev);
}

static char **
egress_lookup_finish (GProxyResolver *resolver, GAsyncResult *result,
                      GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, resolver), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
hearth_egress_resolver_iface_init (GProxyResolverInterface *iface)
{
  iface->is_supported = egress_is_supported;
  iface->lookup = egress_lookup;
  iface->lookup_async = egress_lookup_async;
  iface->lookup_finish = egress_lookup_finish;
}

gboolean
hearth_egress_install (const HearthNetRanges *ranges, GError **error)
{
  GProxyResolver *resolver;

  /* GIO picks the default once, by priority, unless the environment names
   * one: the gate must be the one picked. */
  g_unsetenv ("GIO_USE_PROXY_RESOLVER");
  g_io_extension_point_register (G_PROXY_RESOLVER_EXTENSION_POINT_NAME);
  g_io_extension_point_implement (G_PROXY_RESOLVER_EXTENSION_POINT_NAME,
                                  HEARTH_TYPE_EGRESS_RESOLVER, EXTENSION_NAME,
                                  G_MAXINT);
  resolver = g_proxy_resolver_get_default ();
  if (!HEARTH_IS_EGRESS_RESOLVER (resolver)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                 "cannot install the egress gate: GIO already uses %s",
                 G_OBJECT_TYPE_NAME (resolver));
    return FALSE;
  }
  {
    HearthEgressResolver *self = HEARTH_EGRESS_RESOLVER (resolver);
    g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&self->lock);

    hearth_net_ranges_free (self->ranges);
    self->ranges = hearth_net_ranges_copy (ranges);
  }
  return TRUE;
}
