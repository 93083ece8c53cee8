/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Local-only networking (DESIGN.md invariant 7). The gateway refuses peers
 * outside the configured local ranges and only ingests cameras whose URL names
 * an address inside them. The ranges are a setting so that tests can narrow
 * them (e.g. only 127.0.0.1/32 is local, so a peer on 127.0.0.2 is "outside")
 * without ever sending a packet off the machine.
 */
#define G_LOG_DOMAIN "hearth-netaddr"

#include "netaddr.h"
#include "error.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct _HearthNetRanges {
  GPtrArray *masks; /* of GInetAddressMask */
};

void
hearth_net_ranges_free (HearthNetRanges *ranges)
{
  if (ranges == NULL)
    return;
  g_ptr_array_unref (ranges->masks);
  g_free (ranges);
}

static gpointer
ref_mask (gconstpointer mask, gpointer user_data)
{
  return g_object_ref ((gpointer) mask);
}

HearthNetRanges *
hearth_net_ranges_copy (const HearthNetRanges *ranges)
{
  HearthNetRanges *copy = g_new0 (HearthNetRanges, 1);

  copy->masks = g_ptr_array_copy (ranges->masks, ref_mask, NULL);
  g_ptr_array_set_free_func (copy->masks, g_object_unref);
  return copy;
}

HearthNetRanges *
hearth_net_ranges_parse (const char *list, GError **error)
{
  g_autoptr (HearthNetRanges) ranges = g_new0 (HearthNetRanges, 1);
  g_auto (GStrv) parts = NULL;

  g_return_val_if_fail (list != NULL, NULL);

  ranges->masks = g_ptr_array_new_with_free_func (g_object_unref);
  parts = g_strsplit_set (list, ";,", -1);
  for (guint i = 0; parts[i] != NULL; i++) {
    g_autoptr (GError) local_error = NULL;
    GInetAddressMask *mask;
    char *item = g_strstrip (parts[i]);

    if (*item == '\0')
      continue;
    mask = g_inet_address_mask_new_from_string (item, &local_error);
    if (mask == NULL) {
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                   "“%s” is not an address range (want e.g. 192.168.0.0/16): %s",
                   item, local_error->message);
      return NULL;
    }
    g_ptr_array_add (ranges->masks, mask);
  }
  if (ranges->masks->len == 0) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                         "the list of local address ranges is empty");
    return NULL;
  }
  return g_steal_pointer (&ranges);
}

gboolean
hearth_net_ranges_check_local (const HearthNetRanges *ranges, GError **error)
{
  g_autoptr (HearthNetRanges) local =
      hearth_net_ranges_parse (HEARTH_NET_DEFAULT_LOCAL_RANGES, NULL);

  g_return_val_if_fail (ranges != NULL, FALSE);

  for (guint i = 0; i < ranges->masks->len; i++) {
    GInetAddressMask *mask = ranges->masks->pdata[i];
    GInetAddress *base = g_inet_address_mask_get_address (mask);
    gboolean inside = FALSE;

    for (guint j = 0; j < local->masks->len && !inside; j++) {
      GInetAddressMask *outer = local->masks->pdata[j];

      inside = g_inet_address_mask_get_family (outer) == g_inet_address_mask_get_family (mask) &&
               g_inet_address_mask_get_length (mask) >= g_inet_address_mask_get_length (outer) &&
               g_inet_address_mask_matches (outer, base);
    }
    if (!inside) {
      g_autofree char *shown = g_inet_address_mask_to_string (mask);

      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_LOCAL,
                   "%s holds addresses that are not local (every range must lie "
                   "inside %s), so it would let the gateway serve and dial past "
                   "the local network", shown, HEARTH_NET_DEFAULT_LOCAL_RANGES);
      return FALSE;
    }
  }
  return TRUE;
}

char *
hearth_net_ranges_to_string (const HearthNetRanges *ranges)
{
  g_autoptr (GString) out = g_string_new (NULL);

  for (guint i = 0; i < ranges->masks->len; i++) {
    g_autofree char *s = g_inet_address_mask_to_string (ranges->masks->pdata[i]);
    if (i > 0)
      g_string_append_c (out, ';');
    g_string_append (out, s);
  }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* ::ffff:a.b.c.d → a.b.c.d, so a mapped address is judged as what it is. */
static GInetAddress *
unmap_v4 (GInetAddress *address)
{
  static const guint8 prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
  const guint8 *bytes;

  if (g_inet_address_get_family (address) != G_SOCKET_FAMILY_IPV6)
    return g_object_ref (address);
  bytes = g_inet_address_to_bytes (address);
  if (memcmp (bytes, prefix, sizeof prefix) != 0)
    return g_object_ref (address);
  return g_inet_address_new_from_bytes (bytes + 12, G_SOCKET_FAMILY_IPV4);
}

gboolean
hearth_net_ranges_contains (const HearthNetRanges *ranges, GInetAddress *address)
{
  g_autoptr (GInetAddress) plain = NULL;

  g_return_val_if_fail (ranges != NULL, FALSE);
  if (address == NULL)
    return FALSE;

  plain = unmap_v4 (address);
  for (guint i = 0; i < ranges->masks->len; i++) {
    GInetAddressMask *mask = ranges->masks->pdata[i];

    if (g_inet_address_mask_get_family (mask) ==
            g_inet_address_get_family (plain) &&
        g_inet_address_mask_matches (mask, plain))
      return TRUE;
  }
  return FALSE;
}

gboolean
hearth_net_ranges_contains_sockaddr (const HearthNetRanges *ranges,
                                     GSocketAddress *address)
{
  if (!G_IS_INET_SOCKET_ADDRESS (address))
    return FALSE;
  return hearth_net_ranges_contains (
      ranges, g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address)));
}

char *
hearth_url_redact (const char *text)
{
  GString *out;
  const char *p;

  g_return_val_if_fail (text != NULL, NULL);

  out = g_string_new (NULL);
  p = text;
  for (;;) {
    const char *scheme_end = strstr (p, "://");
    const char *authority, *end, *at = NULL;

    if (scheme_end == NULL) {
      g_string_append (out, p);
      break;
    }
    authority = scheme_end + 3;
    g_string_append_len (out, p, authority - p);

    /* The authority ends at the path, query, fragment or anything that
     * cannot be in a URL; its last '@' ends the user information. */
    for (end = authority; *end != '\0' && strchr ("/?#", *end) == NULL &&
         !g_ascii_isspace (*end) && strchr ("\"'<>", *end) == NULL; end++) {
      if (*end == '@')
        at = end;
    }
    if (at != NULL) {
      g_string_append (out, "***");
      g_string_append_len (out, at, end - at);
    } else {
      g_string_append_len (out, authority, end - authority);
    }
    p = end;
  }
  return g_string_free (out, FALSE);
}


char *
hearth_camera_url_check (const char *url, const HearthNetRanges *ranges,
                         GError **error)
{
  g_autoptr (GUri) uri = NULL;
  g_autoptr (GInetAddress) address = NULL;
  g_autofree char *redacted = NULL;
  const char *scheme;
  const char *host;

  if (url == NULL || *url == '\0') {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                         "the camera URL is empty");
    return NULL;
  }
  if (strlen (url) > 2048 || !g_utf8_validate (url, -1, NULL)) {
    g_set_error_literal (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                         "the camera URL is too long or not UTF-8");
    return NULL;
  }
  redacted = hearth_url_redact (url);
  uri = g_uri_parse (url, G_URI_FLAGS_HAS_PASSWORD | G_URI_FLAGS_ENCODED, NULL);
  if (uri == NULL) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                 "“%s” is not a URL (want rtsp://ADDRESS[:PORT]/PATH)", redacted);
    return NULL;
  }
  scheme = g_uri_get_scheme (uri);
  if (g_ascii_strcasecmp (scheme, "rtsp") != 0 &&
      g_ascii_strcasecmp (scheme, "rtsps") != 0) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                 "camera URLs must be rtsp:// or rtsps://, not %s://", scheme);
    return NULL;
  }
  host = g_uri_get_host (uri);
  if (host == NULL || *host == '\0') {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                 "the camera URL “%s” has no address", redacted);
    return NULL;
  }
  address = g_inet_address_new_from_string (host);
  if (address == NULL) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                 "the camera URL must name the camera by its IP address, not “%s” "
                 "(names are not trusted: the address they resolve to can change)",
                 host);
    return NULL;
  }
  if (g_inet_address_get_is_any (address) ||
      g_inet_address_get_is_multicast (address)) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                 "%s is not a camera address", host);
    return NULL;
  }
  if (!hearth_net_ranges_contains (ranges, address)) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_LOCAL,
                 "%s is not a local address: Hearth only talks to cameras on "
                 "this network (loopback, private, link-local ranges)", host);
    return NULL;
  }
  if (g_uri_get_port (uri) == 0 || g_uri_get_port (uri) > 65535) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                 "the camera URL has an invalid port");
    return NULL;
  }
  {
    g_autoptr (GUri) normal = g_uri_build_with_user (
        G_URI_FLAGS_HAS_PASSWORD | G_URI_FLAGS_ENCODED,
        g_ascii_strcasecmp (scheme, "rtsps") == 0 ? "rtsps" : "rtsp",
        g_uri_get_user (uri), g_uri_get_password (uri), NULL, host,
        g_uri_get_port (uri), g_uri_get_path (uri), g_uri_get_query (uri),
        g_uri_get_fragment (uri));
    return g_uri_to_string (normal);
  }
}

gboolean
hearth_parse_host_port (const char *text, char **host, guint16 *port,
                        GError **error)
{
  g_autofree char *h = NULL;
  const char *port_text;
  guint64 value;

  if (text == NULL || *text == '\0')
    goto bad;
  if (text[0] == '[') {
    const char *end = strchr (text, ']');
    if (end == NULL || end[1] != ':')
      goto bad;
    h = g_strndup (text + 1, end - text - 1);
    port_text = end + 2;
  } else {
    const char *colon = strrchr (text, ':');
    if (colon == NULL || strchr (text, ':') != colon)
      goto bad;
    h = g_strndup (text, colon - text);
    port_text = colon + 1;
  }
  /* A bracket is never part of a host: "[[]:80" is not the host "[". */
  if (*h == '\0' || strpbrk (h, "[]") != NULL ||
      !g_ascii_string_to_unsigned (port_text, 10, 0, 65535, &value, NULL))
    goto bad;
  if (host)
    *host = g_steal_pointer (&h);
  if (port)
    *port = (guint16) value;
  return TRUE;

bad:
  g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
               "“%s” is not HOST:PORT (IPv6 as [ADDRESS]:PORT)",
               text ? text : "");
  return FALSE;
}

char *
hearth_format_host_port (const char *host, guint16 port)
{
  if (strchr (host, ':') != NULL)
    return g_strdup_printf ("[%s]:%u", host, port);
  return g_strdup_printf ("%s:%u", host, port);
}

GPtrArray *
hearth_net_local_addresses (const HearthNetRanges *ranges)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) loopback = g_ptr_array_new_with_free_func (g_free);
  struct ifaddrs *list = NULL;

  if (getifaddrs (&list) != 0)
    return out;
  for (struct ifaddrs *i = list; i != NULL; i = i->ifa_next) {
    g_autoptr (GSocketAddress) sa = NULL;
    GInetAddress *address;
    gsize len;

    if (i->ifa_addr == NULL || !(i->ifa_flags & IFF_UP))
      continue;
    if (i->ifa_addr->sa_family == AF_INET)
      len = sizeof (struct sockaddr_in);
    else if (i->ifa_addr->sa_family == AF_INET6)
      len = sizeof (struct sockaddr_in6);
    else
      continue;
    sa = g_socket_address_new_from_native (i->ifa_addr, len);
    if (sa == NULL)
      continue;
    address = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (sa));
    /* Link-local IPv6 needs a zone to be dialled; displays get v4 or ULA. */
    if (g_inet_address_get_is_link_local (address) &&
        g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV6)
      continue;
    if (!hearth_net_ranges_contains (ranges, address))
      continue;
    g_ptr_array_add (g_inet_address_get_is_loopback (address) ? loopback : out,
                     g_inet_address_to_string (address));
  }
  freeifaddrs (list);
  for (guint i = 0; i < loopback->len; i++)
    g_ptr_array_add (out, g_strdup (loopback->pdata[i]));
  return out;
}

/*
 * Asks the kernel (rtnetlink RTM_GETNEIGH dump, IPv4) for @address's entry.
 * Only a REACHABLE (or permanent) entry counts: a STALE one may be years old
 * and name a device that has long left that address.
 */
char *
hearth_net_neighbour_mac (const char *address)
{
  struct {
    struct nlmsghdr nh;
    struct ndmsg nd;
  } request = {
    .nh = { .nlmsg_len = NLMSG_LENGTH (sizeof (struct ndmsg)),
            .nlmsg_type = RTM_GETNEIGH,
            .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
            .nlmsg_seq = 1 },
    .nd = { .ndm_family = AF_INET },
  };
  struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
  struct in_addr want;
  char *found = NULL;
  gboolean done = FALSE;
  int fd;

  if (address == NULL || inet_pton (AF_INET, address, &want) != 1)
    return NULL;
  fd = socket (AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0)
    return NULL;
  if (sendto (fd, &request, request.nh.nlmsg_len, 0, (struct sockaddr *) &kernel,
              sizeof kernel) < 0) {
    close (fd);
    return NULL;
  }
  while (!done) {
    guint8 buffer[16384];
    ssize_t n = recv (fd, buffer, sizeof buffer, 0);
    int len = (int) n;

    if (n <= 0)
      break;
    for (struct nlmsghdr *nh = (struct nlmsghdr *) buffer; NLMSG_OK (nh, (guint) len);
         nh = NLMSG_NEXT (nh, len)) {
      struct ndmsg *nd;
      struct rtattr *rta;
      int rta_len;
      const guint8 *mac = NULL;
      gboolean match = FALSE;

      if (nh->nlmsg_type == NLMSG_DONE || nh->nlmsg_type == NLMSG_ERROR) {
        done = TRUE;
        break;
      }
      if (nh->nlmsg_type != RTM_NEWNEIGH || found != NULL)
        continue;
      nd = NLMSG_DATA (nh);
      if (nd->ndm_family != AF_INET ||
          (nd->ndm_state & (NUD_REACHABLE | NUD_PERMANENT)) == 0)
        continue;
      rta_len = (int) RTM_PAYLOAD (nh);
      for (rta = RTM_RTA (nd); RTA_OK (rta, rta_len); rta = RTA_NEXT (rta, rta_len)) {
        if (rta->rta_type == NDA_DST && RTA_PAYLOAD (rta) == sizeof want)
          match = memcmp (RTA_DATA (rta), &want, sizeof want) == 0;
        else if (rta->rta_type == NDA_LLADDR && RTA_PAYLOAD (rta) == 6)
          mac = RTA_DATA (rta);
      }
      if (match && mac != NULL && (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
        found = g_strdup_printf ("%02x:%02x:%02x:%02x:%02x:%02x",
                                 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
    }
  }
  close (fd);
  return found;
}
