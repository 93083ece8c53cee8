/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target: the pairing payload a display reads from a QR code,
 * either the hearth:// URI or the https:// pairing link (payload.c). A
 * payload that parses is formatted again in both forms, and each must parse
 * back to the same fields.
 */
#include <string.h>

#include "payload.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static void
assert_same (const HearthPayload *a, const HearthPayload *b)
{
  g_assert_cmpstr (a->fingerprint, ==, b->fingerprint);
  g_assert_cmpstr (a->token, ==, b->token);
  g_assert_cmpstr (a->name, ==, b->name);
  g_assert_cmpuint (a->addresses->len, ==, b->addresses->len);
  for (guint i = 0; i < a->addresses->len; i++) {
    g_autofree char *host_a = NULL;
    g_autofree char *host_b = NULL;
    guint16 port_a, port_b;

    /* The link's own address comes back as its URI reads it ("0444" is
     * 444): the same host and port, not always the same text. */
    g_assert_true (hearth_payload_split_address (a->addresses->pdata[i], &host_a,
                                                 &port_a, NULL));
    g_assert_true (hearth_payload_split_address (b->addresses->pdata[i], &host_b,
                                                 &port_b, NULL));
    g_assert_cmpstr (host_a, ==, host_b);
    g_assert_cmpuint (port_a, ==, port_b);
  }
}

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_autofree char *text = g_strndup ((const char *) data, size);
  g_autoptr (HearthPayload) payload = NULL;
  g_autoptr (HearthPayload) again = NULL;
  g_autofree char *uri = NULL;
  g_autofree char *link = NULL;
  g_autofree char *host = NULL;
  guint16 port;

  hearth_payload_split_address (text, &host, &port, NULL);

  payload = hearth_payload_parse (text, NULL);
  if (payload == NULL)
    return 0;

  uri = hearth_payload_format (payload);
  again = hearth_payload_parse (uri, NULL);
  g_assert_nonnull (again);
  assert_same (payload, again);
  g_clear_pointer (&again, hearth_payload_free);

  link = hearth_payload_format_link (payload);
  again = hearth_payload_parse (link, NULL);
  g_assert_nonnull (again);
  assert_same (payload, again);
  return 0;
}
