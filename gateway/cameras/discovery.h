/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib-object.h>

#include "hearth-plugin.h"
#include "netaddr.h"

G_BEGIN_DECLS

/*
 * HearthDiscovery: mDNS through the system's avahi-daemon, and the only code
 * of the gateway that talks to Avahi. It browses the service types the
 * camera plugins claim, resolves each service, throws away what is not fit to
 * look at (an address outside the local ranges, TXT records that are huge or
 * malformed) with one log line, and reports what is left. It also announces
 * the gateway itself as _hearth._tcp for displays.
 *
 * Without a D-Bus system bus or an avahi-daemon it says so once and keeps
 * trying; when the daemon appears (or comes back) browsing and the
 * announcement start again by themselves. Runs on the main context.
 */
#define HEARTH_TYPE_DISCOVERY (hearth_discovery_get_type ())
G_DECLARE_FINAL_TYPE (HearthDiscovery, hearth_discovery, HEARTH, DISCOVERY, GObject)

#define HEARTH_SERVICE_TYPE "_hearth._tcp"

/* A resolved service, as the gateway sees it now. Immutable. */
typedef struct {
  char *key;              /* stable for (type, name, domain): 12 hex digits */
  HearthService service;  /* strings owned by this struct */
  gint64 seen_us;         /* g_get_real_time () of the last resolution */
} HearthFound;

/* @service's strings copied, its TXT table referenced; seen now.
 * (transfer full) */
HearthFound *hearth_found_new (const char *key, const HearthService *service);
HearthFound *hearth_found_ref (HearthFound *found);
void hearth_found_unref (HearthFound *found);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HearthFound, hearth_found_unref)

/* The key hearth_found uses for (@type, @name, @domain). (transfer full) */
char *hearth_discovery_key (const char *type, const char *name, const char *domain);

/* @service_types: what to browse (NULL-terminated, may be empty). */
HearthDiscovery *hearth_discovery_new (const char *const *service_types,
                                       const HearthNetRanges *ranges);
void hearth_discovery_start (HearthDiscovery *self);
void hearth_discovery_stop (HearthDiscovery *self);
/* TRUE while an avahi-daemon answers. */
gboolean hearth_discovery_is_running (HearthDiscovery *self);

/* What is resolved now. (element-type HearthFound) (transfer container) */
GPtrArray *hearth_discovery_list (HearthDiscovery *self);
/* (transfer none) (nullable) */
HearthFound *hearth_discovery_lookup (HearthDiscovery *self, const char *key);

/*
 * Announces _hearth._tcp: instance @name, @stream_port, TXT v=1 and
 * fp=@fingerprint (the gateway certificate's SHA-256, which displays already
 * pin). Nothing in it names a camera or a household.
 */
void hearth_discovery_announce (HearthDiscovery *self, const char *name,
                                guint16 stream_port, const char *fingerprint);
/* Adds TXT pair=@port while a pairing window is open; 0 removes it. */
void hearth_discovery_set_pairing_port (HearthDiscovery *self, guint16 port);

/*
 * Devices found by a camera plugin's own discovery (ABI 2, e.g. ONVIF
 * WS-Discovery; started by plugin-discovery.c), reported with the mDNS ones
 * after the same checks: a local address (invariant 7), a name that is text
 * (at most 63 bytes), bounded details (@service->txt) and at most 512 of
 * them. The key is hearth_discovery_key (type, @id, ""). Anything refused is
 * logged once and withdrawn if it was reported before.
 */
void hearth_discovery_report (HearthDiscovery *self, const char *id,
                              const HearthService *service);
void hearth_discovery_withdraw (HearthDiscovery *self, const char *type, const char *id);
void hearth_discovery_source_started (HearthDiscovery *self);
void hearth_discovery_source_stopped (HearthDiscovery *self, const char *type);
/* TRUE while some plugin's own discovery runs (what it lists now is what
 * the network says); hearth_discovery_is_running () is mDNS's. */
gboolean hearth_discovery_sources_running (HearthDiscovery *self);

/*
 * Signals, on the main context:
 *   "found" (HearthFound *found): new, or changed (address, port, TXT)
 *   "lost"  (HearthFound *found): withdrawn, expired, or no longer fit
 */

/* A service's TXT strings (of GBytes, as received) → table of lower-cased
 * key → UTF-8 value; malformed entries dropped, the first of a repeated key
 * kept. NULL with *@why when there are too many or they are too large.
 * (transfer full) */
GHashTable *hearth_discovery_parse_txt (GPtrArray *entries, const char **why);

G_END_DECLS
