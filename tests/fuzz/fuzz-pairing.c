/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target: the body of a pairing request (pairing.c), read both
 * ways the pairing port reads one — the JSON of POST /v1/pair and the
 * browser's form of POST /pair.
 */
#include "pairing-web.h"
#include "pairing.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_autoptr (GHashTable) form = NULL;
  g_autofree char *public_key = NULL;
  g_autofree char *name = NULL;
  const char *form_name;
  guint8 hash[32];

  if (hearth_pairing_parse_request ((const char *) data, size, hash, &public_key,
                                    &name, NULL)) {
    g_assert_true (g_utf8_validate (name, -1, NULL));
    g_assert_nonnull (public_key);
  }

  form = hearth_pairing_web_parse_form ((const char *) data, size, NULL);
  if (form != NULL && hearth_pairing_parse_form (form, hash, &form_name, NULL))
    g_assert_true (g_utf8_validate (form_name, -1, NULL));
  return 0;
}
