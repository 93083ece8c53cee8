/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target: what netaddr.c parses from configuration and from
 * hearthctl — camera URLs and the local-address check, lists of CIDR
 * ranges, "host:port" — URL redaction for logs, and the egress gate, which
 * must let through every camera URL the check accepts. The input is split at
 * its first newline: a list of ranges, then the text (the default ranges
 * when there is no newline).
 */
#include <string.h>

#include "egress.h"
#include "netaddr.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_autofree char *input = g_strndup ((const char *) data, size);
  g_autoptr (HearthNetRanges) ranges = NULL;
  g_autoptr (HearthNetRanges) defaults = NULL;
  g_autofree char *normal = NULL;
  g_autofree char *checked = NULL;
  g_autofree char *redacted = NULL;
  g_autofree char *host = NULL;
  char *text = input;
  char *newline = strchr (input, '\n');
  guint16 port;

  if (newline != NULL) {
    *newline = '\0';
    text = newline + 1;
    ranges = hearth_net_ranges_parse (input, NULL);
    if (ranges != NULL) {
      g_autoptr (HearthNetRanges) again = NULL;

      /* What status shows must read back as the same ranges. */
      normal = hearth_net_ranges_to_string (ranges);
      again = hearth_net_ranges_parse (normal, NULL);
      g_assert_nonnull (again);
    }
  }
  defaults = hearth_net_ranges_parse (HEARTH_NET_DEFAULT_LOCAL_RANGES, NULL);
  g_assert_nonnull (defaults);

  checked = hearth_camera_url_check (text, ranges != NULL ? ranges : defaults, NULL);
  g_assert_true (hearth_egress_install (ranges != NULL ? ranges : defaults, NULL));
  if (checked != NULL)
    g_assert_true (hearth_egress_resolver_allows (
        HEARTH_EGRESS_RESOLVER (g_proxy_resolver_get_default ()), checked, NULL));
  redacted = hearth_url_redact (text);
  g_assert_nonnull (redacted);
  if (hearth_parse_host_port (text, &host, &port, NULL)) {
    g_autofree char *formatted = hearth_format_host_port (host, port);
    g_autofree char *host2 = NULL;
    guint16 port2;

    g_assert_true (hearth_parse_host_port (formatted, &host2, &port2, NULL));
    g_assert_cmpstr (host, ==, host2);
    g_assert_cmpuint (port, ==, port2);
  }
  return 0;
}
