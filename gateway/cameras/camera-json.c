/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A camera as one JSON object: its row (what the store knows) and its ingest
 * (HearthCamera, NULL when it does not run). Used by the stream port's
 * /v1/cameras (api-cameras.c), which displays read, and by the admin
 * socket's camera.list and camera.stats (admin.c). What a display may see
 * and what only the admin may see is decided here, by flags, so that a
 * member added for the admin cannot reach a display by accident.
 * Runs on the main context, as its callers do.
 */
#define G_LOG_DOMAIN "hearth-camera-json"

#include "camera-json.h"
#include "json-text.h"
#include "netaddr.h"

/* States for people: adopted (not streaming yet), streaming, offline,
 * quarantined; with the reason where there is one. */
static const char *
admin_state (const HearthCameraRow *row, HearthCamera *camera, const char **reason)
{
  *reason = NULL;
  if (row->quarantined_at != 0) {
    *reason = row->quarantine_reason;
    return "quarantined";
  }
  if (camera == NULL)
    return "adopted";
  switch (hearth_camera_get_state (camera)) {
  case HEARTH_CAMERA_STREAMING:
    return "streaming";
  case HEARTH_CAMERA_OFFLINE:
  case HEARTH_CAMERA_REFUSED:
    *reason = hearth_camera_get_last_error (camera);
    return "offline";
  case HEARTH_CAMERA_CONNECTING:
  case HEARTH_CAMERA_STOPPED:
  default:
    return "adopted";
  }
}

static void
add_evidence (JsonBuilder *b, const HearthCameraEvidence *e)
{
  json_builder_set_member_name (b, "evidence");
  json_builder_begin_object (b);
  hearth_json_add_string_or_null (b, "mdns_type", e->mdns_type);
  hearth_json_add_string_or_null (b, "mdns_name", e->mdns_name);
  hearth_json_add_string_or_null (b, "txt_id", e->txt_id);
  hearth_json_add_string_or_null (b, "txt_serial", e->txt_serial);
  hearth_json_add_string_or_null (b, "txt_mac", e->txt_mac);
  hearth_json_add_string_or_null (b, "mac", e->neighbour_mac);
  hearth_json_add_string_or_null (b, "certificate", e->cert_fp);
  json_builder_end_object (b);
}

static void
add_int_or_null (JsonBuilder *b, const char *name, gboolean known, gint64 value)
{
  json_builder_set_member_name (b, name);
  if (known)
    json_builder_add_int_value (b, value);
  else
    json_builder_add_null_value (b);
}

static void
add_stats (JsonBuilder *b, const HearthStreamStats *stats)
{
  json_builder_set_member_name (b, "generation");
  json_builder_add_int_value (b, stats->generation);
  json_builder_set_member_name (b, "bitrate_kbps");
  json_builder_add_double_value (b, stats->bitrate_bps / 1000.0);
  json_builder_set_member_name (b, "fps");
  json_builder_add_double_value (b, stats->fps);
  json_builder_set_member_name (b, "keyframe_interval_frames");
  json_builder_add_int_value (b, stats->keyframe_interval);
  json_builder_set_member_name (b, "keyframe_interval_s");
  json_builder_add_double_value (b, stats->keyframe_interval_s);
}

static void
add_counters (JsonBuilder *b, const HearthStreamStats *stats)
{
  json_builder_set_member_name (b, "drops");
  json_builder_add_int_value (b, stats->dropped);
  json_builder_set_member_name (b, "frames");
  json_builder_add_int_value (b, stats->frames);
  json_builder_set_member_name (b, "audio_fragments");
  json_builder_add_int_value (b, stats->audio_fragments);
  json_builder_set_member_name (b, "bytes");
  json_builder_add_int_value (b, stats->bytes);
}

/*
 * The "sub" member: null for a camera without a sub stream; else its own
 * object, with MEDIA: state, codec, width, height, fps (as it sends it);
 * with STATS: state, codec, width, height and the stream's figures as the
 * main stream's (but displays, which count both).
 */
static void
add_sub (JsonBuilder *b, const HearthCameraRow *row, HearthCamera *camera,
         gboolean stats_wanted)
{
  HearthCamera *sub = camera != NULL ? hearth_camera_get_sub (camera) : NULL;
  const char *codec = NULL;
  int width = 0, height = 0;
  double fps = 0;
  gboolean known = FALSE;
  HearthStreamStats stats = { 0 };

  json_builder_set_member_name (b, "sub");
  if (row->sub_url == NULL) {
    json_builder_add_null_value (b);
    return;
  }
  if (sub != NULL) {
    known = hearth_camera_get_video_info (sub, &codec, &width, &height, &fps);
    if (stats_wanted)
      hearth_stream_get_stats (hearth_camera_get_stream (sub), &stats);
  }
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "state");
  json_builder_add_string_value (b, hearth_camera_get_state_name (sub));
  hearth_json_add_string_or_null (b, "codec", known ? codec : NULL);
  add_int_or_null (b, "width", known, width);
  add_int_or_null (b, "height", known, height);
  if (stats_wanted) {
    add_stats (b, &stats);
    add_counters (b, &stats);
  } else {
    json_builder_set_member_name (b, "fps");
    if (known && fps > 0)
      json_builder_add_double_value (b, fps);
    else
      json_builder_add_null_value (b);
  }
  json_builder_end_object (b);
}

/**
 * hearth_camera_json_add:
 * @b: a builder inside an array (or after a member name)
 * @row: the camera's row
 * @camera: (nullable): its ingest, NULL when it does not run
 * @flags: which members besides id, name and state
 * @admin: (nullable): what the admin side knows; only read with
 *   HEARTH_CAMERA_JSON_ADMIN or HEARTH_CAMERA_JSON_STATS, then required
 *
 * Adds one object. Its members, in this order (null where unknown):
 *
 *   id                          always
 *   household                   ADMIN
 *   name                        always
 *   url, sub_url, plugin        ADMIN (the URLs without credentials; sub_url:
 *                               the second stream an ONVIF camera named)
 *   state                       always: with ADMIN as people read it (adopted,
 *                               streaming, offline, quarantined), else the
 *                               ingest's state (hearth_camera_get_state_name)
 *   reason                      ADMIN
 *   codec, audio                MEDIA or STATS
 *   audio_source, audio_ignored STATS
 *   width, height               MEDIA
 *   generation, bitrate_kbps    STATS
 *   fps                         MEDIA: as the camera sends it (null if unknown);
 *                               STATS: as measured (MEDIA and STATS do not mix)
 *   keyframe_interval_frames, keyframe_interval_s, displays, drops, frames,
 *   audio_fragments, bytes      STATS
 *   sub                         MEDIA or STATS: the sub stream (add_sub), null
 *                               when the camera has none
 *   announced, evidence         ADMIN
 *
 * /v1/cameras passes MEDIA (a display never sees a URL, a plugin, the
 * identity evidence or the counters); camera.stats passes STATS, camera.list
 * ADMIN.
 */
void
hearth_camera_json_add (JsonBuilder *b, const HearthCameraRow *row, HearthCamera *camera,
                        HearthCameraJsonFlags flags, const HearthCameraJsonAdmin *admin)
{
  gboolean is_admin = (flags & HEARTH_CAMERA_JSON_ADMIN) != 0;
  gboolean media = (flags & HEARTH_CAMERA_JSON_MEDIA) != 0;
  gboolean stats_wanted = (flags & HEARTH_CAMERA_JSON_STATS) != 0;
  const char *codec = NULL, *audio = NULL, *audio_source = NULL;
  const char *audio_ignored = NULL, *reason = NULL;
  int width = 0, height = 0;
  double fps = 0;
  gboolean known = FALSE;
  HearthStreamStats stats = { 0 };

  g_return_if_fail (!(media && stats_wanted));
  g_return_if_fail (admin != NULL || !(is_admin || stats_wanted));

  if (camera != NULL) {
    known = hearth_camera_get_video_info (camera, &codec, &width, &height, &fps);
    hearth_camera_get_audio_info (camera, &audio, &audio_source, &audio_ignored);
    if (stats_wanted)
      hearth_stream_get_stats (hearth_camera_get_stream (camera), &stats);
  }

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, row->id);
  if (is_admin) {
    json_builder_set_member_name (b, "household");
    json_builder_add_string_value (b, row->household);
  }
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, row->name);
  if (is_admin) {
    g_autofree char *url = hearth_url_redact (row->url);

    g_autofree char *sub_url = row->sub_url ? hearth_url_redact (row->sub_url) : NULL;

    json_builder_set_member_name (b, "url");
    json_builder_add_string_value (b, url);
    /* Resolved (ONVIF); ingested beside the main one. */
    hearth_json_add_string_or_null (b, "sub_url", sub_url);
    hearth_json_add_string_or_null (b, "plugin", admin->plugin);
  }
  json_builder_set_member_name (b, "state");
  json_builder_add_string_value (b, is_admin ? admin_state (row, camera, &reason)
                                             : hearth_camera_get_state_name (camera));
  if (is_admin)
    hearth_json_add_string_or_null (b, "reason", reason);
  if (media || stats_wanted) {
    hearth_json_add_string_or_null (b, "codec", known ? codec : NULL);
    /* "aac" or "none": what live.mp4 carries besides the video. */
    hearth_json_add_string_or_null (b, "audio", audio);
  }
  if (stats_wanted) {
    /* "aac", or "pcma"/"pcmu" transcoded to AAC: what the camera sends. */
    hearth_json_add_string_or_null (b, "audio_source", audio_source);
    hearth_json_add_string_or_null (b, "audio_ignored", audio_ignored);
  }
  if (media) {
    add_int_or_null (b, "width", known, width);
    add_int_or_null (b, "height", known, height);
    json_builder_set_member_name (b, "fps");
    if (known && fps > 0)
      json_builder_add_double_value (b, fps);
    else
      json_builder_add_null_value (b);
  }
  if (stats_wanted) {
    add_stats (b, &stats);
    json_builder_set_member_name (b, "displays");
    json_builder_add_int_value (b, admin->displays);
    add_counters (b, &stats);
  }
  if (media || stats_wanted)
    add_sub (b, row, camera, stats_wanted);
  if (is_admin) {
    json_builder_set_member_name (b, "announced");
    json_builder_add_boolean_value (b, admin->announced);
    add_evidence (b, &row->evidence);
  }
  json_builder_end_object (b);
}
