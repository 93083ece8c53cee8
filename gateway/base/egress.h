/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <gio/gio.h>
#include "netaddr.h"

G_BEGIN_DECLS

/*
 * The egress gate (invariant 7, for every connection hearthd opens).
 *
 * GIO asks the process's default GProxyResolver before each connection a
 * GSocketClient makes, before any name lookup or packet: rtspsrc's, and so
 * also the connection it opens after an RTSP redirect, which Hearth never
 * sees coming. hearth_egress_install() makes HearthEgressResolver that
 * default: it answers "direct" for an IP address literal inside the local
 * networks, and refuses anything else (a public address, a name) with
 * G_IO_ERROR_PERMISSION_DENIED, so the connection fails before it is dialled.
 */
#define HEARTH_TYPE_EGRESS_RESOLVER (hearth_egress_resolver_get_type ())
G_DECLARE_FINAL_TYPE (HearthEgressResolver, hearth_egress_resolver, HEARTH,
                      EGRESS_RESOLVER, GObject)

/*
 * Installs the gate with a copy of @ranges, first thing in main(), before
 * anything may connect. Fails if another resolver was chosen already. May be
 * called again (the ranges are replaced).
 */
gboolean hearth_egress_install (const HearthNetRanges *ranges, GError **error);

/* Would the gate let a connection to @uri go (scheme://host:port...)? */
gboolean hearth_egress_resolver_allows (HearthEgressResolver *self,
                                        const char *uri, GError **error);

G_END_DECLS
