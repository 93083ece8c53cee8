/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The HEARTH_ERROR domain: every GError the gateway makes uses it.
 */
#include "error.h"

G_DEFINE_QUARK (hearth-error-quark, hearth_error)
