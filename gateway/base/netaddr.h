/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * Local-only networking (invariant 7): which peer and camera addresses count
 * as "local", camera URL validation, and host:port parsing.
 */
typedef struct _HearthNetRanges HearthNetRanges;

/* Loopback, RFC 1918, IPv4 link-local, ULA (fc00::/7), IPv6 link-local. */
#define HEARTH_NET_DEFAULT_LOCAL_RANGES \
  "127.0.0.0/8;10.0.0.0/8;172.16.0.0/12;192.168.0.0/16;169.254.0.0/16;" \
  "::1/128;fc00::/7;fe80::/10"

/* Parses a ';'- or ','-separated list of CIDR masks. (transfer full) */
HearthNetRanges *hearth_net_ranges_parse (const char *list, GError **error);
void hearth_net_ranges_free (HearthNetRanges *ranges);
HearthNetRanges *hearth_net_ranges_copy (const HearthNetRanges *ranges);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HearthNetRanges, hearth_net_ranges_free)
/* Fails unless every range lies inside HEARTH_NET_DEFAULT_LOCAL_RANGES: a
 * wider one (e.g. 0.0.0.0/0) would switch the local-only guarantee off. */
gboolean hearth_net_ranges_check_local (const HearthNetRanges *ranges,
                                        GError **error);
/* The ranges as given, normalised, for status output. (transfer full) */
char *hearth_net_ranges_to_string (const HearthNetRanges *ranges);

/* IPv4-mapped IPv6 addresses are checked as the IPv4 address they carry. */
gboolean hearth_net_ranges_contains (const HearthNetRanges *ranges,
                                     GInetAddress *address);
gboolean hearth_net_ranges_contains_sockaddr (const HearthNetRanges *ranges,
                                              GSocketAddress *address);

/*
 * Checks a camera URL an admin typed: rtsp:// or rtsps:// only, a host that is
 * an IP address literal inside @ranges, a valid port. Every refusal says why,
 * and never repeats a password from the URL. Returns the scheme-normalised URL.
 * (transfer full)
 */
char *hearth_camera_url_check (const char *url, const HearthNetRanges *ranges,
                               GError **error);

/* @text with the user:password@ part of every URL in it replaced by "***@",
 * for logs, messages and listings. (transfer full) */
char *hearth_url_redact (const char *text);

/* "host:port", "[v6]:port" → host (without brackets) and port 0..65535. */
gboolean hearth_parse_host_port (const char *text, char **host, guint16 *port,
                                 GError **error);
/* The inverse, bracketing IPv6 hosts. (transfer full) */
char *hearth_format_host_port (const char *host, guint16 port);

/* Addresses of this machine's up interfaces that are inside @ranges, global
 * LAN ones first, loopback last. (element-type utf8) (transfer full) */
GPtrArray *hearth_net_local_addresses (const HearthNetRanges *ranges);

/*
 * The MAC address the kernel's neighbour table holds for @address (an IPv4
 * literal) while the entry is REACHABLE, i.e. confirmed by recent traffic, as
 * "aa:bb:cc:dd:ee:ff"; NULL when there is none (no recent traffic, loopback,
 * IPv6, another subnet). (transfer full) (nullable)
 */
char *hearth_net_neighbour_mac (const char *address);

G_END_DECLS
