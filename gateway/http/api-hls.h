/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "http-routes.h"
#include "cameras.h"

G_BEGIN_DECLS

/* What the route answers (http-routes.h). */
#define HEARTH_API_HLS_PATTERN "/v1/cameras/{id}/hls/{name}"

/* GET /v1/cameras/{id}/hls/{name}, with its indexes (per camera and
 * generation, the segments and parts served). */
void hearth_api_hls_register (HearthHttpRoutes *routes, HearthAccess *access,
                              HearthCameras *cameras);

/* The names (hearth_hls_parse_name (name, "part-", ".m4s", &g, &s)) and the
 * blocking reload's query parameters, apart from any index. */
gboolean hearth_hls_parse_name (const char *name, const char *prefix,
                                const char *suffix, guint64 *generation,
                                guint64 *sequence);
gboolean hearth_hls_parse_blocking (GHashTable *query, gboolean *blocking,
                                    guint64 *msn, gboolean *has_part,
                                    guint64 *part);

/*
 * The indexes themselves, as the route keeps them and as tests drive them
 * without a stream or a socket: the route's state, one index per camera
 * for its current generation.
 */
typedef struct _HearthHlsIndexes HearthHlsIndexes;
typedef struct _HlsIndex HearthHlsIndex;

/* @access, @cameras: (nullable) both NULL for indexes that only file
 * chunks (tests); the route's serve. */
HearthHlsIndexes *hearth_hls_indexes_new (HearthAccess *access,
                                          HearthCameras *cameras);
void hearth_hls_indexes_free (HearthHlsIndexes *self);
/* The index of @camera_id's main stream's @generation: the one held if it
 * is of that generation, else a new one in its place, numbered on from it. Nothing is
 * subscribed: chunks come from hearth_hls_index_feed(). (transfer none) */
HearthHlsIndex *hearth_hls_indexes_open (HearthHlsIndexes *self,
                                         const char *camera_id,
                                         guint64 generation, double fps);
/* (transfer none) (nullable) */
HearthHlsIndex *hearth_hls_indexes_lookup (HearthHlsIndexes *self,
                                           const char *camera_id);
/* Files @chunk as the index's subscription does. */
void hearth_hls_index_feed (HearthHlsIndex *index, HearthChunk *chunk);
/* The generation ended: the index is dropped (freed) with all it held. */
void hearth_hls_index_end (HearthHlsIndex *index);
/* The playlist, or NULL before the first keyframe. (transfer full) */
char *hearth_hls_index_playlist (HearthHlsIndex *index);
/* Whether a blocking reload for @part (-1: the whole segment) of segment
 * @msn would be answered now. */
gboolean hearth_hls_index_has (HearthHlsIndex *index, guint64 msn, gint64 part);
/* The chunks served for @name (init-G.mp4, seg-G-S.m4s, part-G-S.m4s), or
 * NULL for a name this index does not hold. (transfer full) (nullable) */
GPtrArray *hearth_hls_index_lookup (HearthHlsIndex *index, const char *name);

G_END_DECLS
