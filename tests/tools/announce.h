/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * One DNS-SD service announced through the system's avahi-daemon, for the
 * test tools (fake-camera --announce). Runs on the default main context.
 */
typedef struct _HearthAnnounce HearthAnnounce;

HearthAnnounce *hearth_announce_new (const char *name,
                                     const char *type,
                                     guint16 port,
                                     GPtrArray *txt);
void hearth_announce_free (HearthAnnounce *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (HearthAnnounce, hearth_announce_free)

G_END_DECLS
