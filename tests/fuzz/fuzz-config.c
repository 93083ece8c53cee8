/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target: the configuration file (config.c), loaded from the
 * input as hearthd loads hearth.conf, then validated.
 */
#include "config.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

int
LLVMFuzzerTestOneInput (const guint8 *data, size_t size)
{
  g_autoptr (HearthConfig) config = NULL;
  g_autoptr (GError) error = NULL;

  config = hearth_config_load_data ((const char *) data, size, "hearth.conf", &error);
  if (config == NULL) {
    g_assert_nonnull (error);
    return 0;
  }
  if (!hearth_config_validate (config, &error))
    g_assert_nonnull (error);
  return 0;
}
