/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Pairing, the display's half (DESIGN.md "Pairing (QR)").
 *
 * main.c reads the payload, either as text or from a picture of the QR code
 * (decoded by GStreamer's zbar element), then calls
 * hearth_display_pair_request(): it makes the display's ECDSA P-256 key and
 * POSTs the token, the public key and the display name to the pairing
 * listener through a HearthDisplayClient (made by main.c for the payload)
 * that pins the gateway certificate by the payload's fingerprint. The answer is checked (gateway certificate is the
 * pinned one, client certificate issued by the household CA) before
 * hearth_display_pairing_save() writes anything.
 */
#define G_LOG_DOMAIN "hearth-display-pair"

#include "pair.h"

#include <string.h>

#include <gst/gst.h>

#include "error.h"
#include "pki.h"
#include "json-text.h"

/* How long decoding one picture may take. */
#define QR_DECODE_TIMEOUT_S 10

void
hearth_pairing_free (HearthPairing *pairing)
{
  if (pairing == NULL)
    return;
  hearth_display_config_free (pairing->config);
  if (pairing->key_pem != NULL)
    memset (pairing->key_pem, 0, strlen (pairing->key_pem));
  g_free (pairing->key_pem);
  g_free (pairing->cert_pem);
  g_free (pairing->ca_cert_pem);
  g_free (pairing->gateway_cert_pem);
  g_free (pairing);
}

/**
 * hearth_display_read_qr_image:
 * @path: a picture (PNG, JPEG…) holding a QR code
 *
 * Decodes the first barcode found in the picture.
 *
 * Returns: (transfer full): the barcode's text, or NULL with @error set
 *   (HEARTH_ERROR_INVALID if the file is unreadable or holds no barcode).
 */
char *
hearth_display_read_qr_image (const char *path, GError **error)
{
  g_autoptr (GstElement) pipeline = NULL;
  g_autoptr (GstElement) src = NULL;
  g_autoptr (GstBus) bus = NULL;
  g_autoptr (GError) local_error = NULL;
  g_autofree char *symbol = NULL;
  gint64 deadline;

  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR)) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                 "cannot read the QR image %s: no such file", path);
    return NULL;
  }

  pipeline = gst_parse_launch ("filesrc name=src ! decodebin ! videoconvert ! "
                               "imagefreeze num-buffers=2 ! zbar ! fakesink",
                               &local_error);
  if (pipeline == NULL) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_MEDIA,
                 "cannot decode QR images (is gstreamer1.0-plugins-bad installed?): %s",
                 local_error->message);
    return NULL;
  }
  src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  g_object_set (src, "location", path, NULL);
  bus = gst_element_get_bus (pipeline);

  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                 "cannot read the QR image %s", path);
    gst_element_set_state (pipeline, GST_STATE_NULL);
    return NULL;
  }

  deadline = g_get_monotonic_time () + QR_DECODE_TIMEOUT_S * G_USEC_PER_SEC;
  while (symbol == NULL) {
    gint64 left = deadline - g_get_monotonic_time ();
    g_autoptr (GstMessage) msg = NULL;

    if (left <= 0) {
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                   "decoding the QR image %s took too long", path);
      break;
    }
    msg = gst_bus_timed_pop_filtered (bus, left * GST_USECOND,
                                      GST_MESSAGE_ELEMENT | GST_MESSAGE_EOS |
                                      GST_MESSAGE_ERROR);
    if (msg == NULL)
      continue;

    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT) {
      const GstStructure *s = gst_message_get_structure (msg);
      const char *text;

      if (!gst_structure_has_name (s, "barcode"))
        continue;
      text = gst_structure_get_string (s, "symbol");
      if (text != NULL)
        symbol = g_strdup (text);
    } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS) {
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                   "no QR code found in %s", path);
      break;
    } else {
      g_autoptr (GError) gst_error = NULL;

      gst_message_parse_error (msg, &gst_error, NULL);
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID,
                   "cannot read a picture from %s: %s", path, gst_error->message);
      break;
    }
  }

  gst_element_set_state (pipeline, GST_STATE_NULL);
  return g_steal_pointer (&symbol);
}

static char *
dup_required_string (JsonObject *obj, const char *name, GError **error)
{
  const char *value = hearth_json_get_string (obj, name);

  if (value == NULL || *value == '\0') {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_FAILED,
                 "the gateway's pairing answer has no “%s”", name);
    return NULL;
  }
  return g_strdup (value);
}

static char **
parse_addresses (JsonObject *obj, GError **error)
{
  JsonNode *node = json_object_get_member (obj, "stream_addresses");
  g_autoptr (GPtrArray) addresses = g_ptr_array_new_with_free_func (g_free);
  JsonArray *array;
  guint i;

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node) ||
      json_array_get_length (json_node_get_array (node)) == 0) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_FAILED,
                 "the gateway's pairing answer has no “stream_addresses”");
    return NULL;
  }

  array = json_node_get_array (node);
  for (i = 0; i < json_array_get_length (array); i++) {
    JsonNode *element = json_array_get_element (array, i);
    g_autofree char *host = NULL;
    guint16 port = 0;
    const char *address;

    if (!JSON_NODE_HOLDS_VALUE (element) ||
        json_node_get_value_type (element) != G_TYPE_STRING) {
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_FAILED,
                   "the gateway's pairing answer has a stream address that is not a string");
      return NULL;
    }
    address = json_node_get_string (element);
    if (!hearth_payload_split_address (address, &host, &port, error)) {
      g_prefix_error (error, "the gateway's pairing answer has a bad stream address: ");
      return NULL;
    }
    g_ptr_array_add (addresses, g_strdup (address));
  }
  g_ptr_array_add (addresses, NULL);
  return (char **) g_ptr_array_steal (addresses, NULL);
}

/* Checks that the answer belongs to this pairing before anything is written. */
static gboolean
check_answer (const HearthPayload *payload, HearthPairing *pairing, GError **error)
{
  g_autofree char *gateway_fp = NULL;
  g_autoptr (GBytes) der = NULL;

  gateway_fp = hearth_pki_fingerprint_pem (pairing->gateway_cert_pem, error);
  if (gateway_fp == NULL) {
    g_prefix_error (error, "the gateway sent a bad gateway certificate: ");
    return FALSE;
  }
  if (!g_str_equal (gateway_fp, payload->fingerprint)) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_TLS,
                 "certificate rejected: the gateway certificate in the answer has "
                 "fingerprint %s, the QR code says %s", gateway_fp, payload->fingerprint);
    return FALSE;
  }

  der = hearth_pki_cert_der_from_pem (pairing->cert_pem, error);
  if (der == NULL) {
    g_prefix_error (error, "the gateway sent a bad display certificate: ");
    return FALSE;
  }
  if (!hearth_pki_verify_issued_by (g_bytes_get_data (der, NULL), g_bytes_get_size (der),
                                    pairing->ca_cert_pem, error)) {
    g_prefix_error (error, "the gateway sent a display certificate its household CA did not issue: ");
    return FALSE;
  }
  return TRUE;
}

/**
 * hearth_display_pair_request:
 * @client: from hearth_display_client_new_for_pairing() for @payload
 * @payload: the gateway's pairing payload
 * @display_name: the name this display asks for
 *
 * Makes a key and asks the gateway for a certificate, trying each address of
 * the payload until one answers (then the gateway's pairing port found by
 * mDNS). Nothing is written.
 *
 * Returns: (transfer full): the pairing, or NULL with @error set (the
 *   gateway's own message when it refused, e.g. a spent token; a
 *   HEARTH_ERROR_TOKEN_* code when the gateway does not accept the code,
 *   also when its pairing port is closed but the gateway answers).
 */
HearthPairing *
hearth_display_pair_request (HearthDisplayClient *client,
                             const HearthPayload *payload,
                             const char *display_name,
                             GError **error)
{
  g_autoptr (HearthPairing) pairing = g_new0 (HearthPairing, 1);
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) request = NULL;
  g_autoptr (JsonNode) answer = NULL;
  g_autofree char *public_pem = NULL;
  g_autoptr (GError) local_error = NULL;
  HearthDisplayConfig *config;
  JsonObject *obj;
  double id = 0;

  pairing->key_pem = hearth_pki_generate_key (error);
  if (pairing->key_pem == NULL)
    return NULL;
  public_pem = hearth_pki_public_key_from_private (pairing->key_pem, error);
  if (public_pem == NULL)
    return NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "token");
  json_builder_add_string_value (builder, payload->token);
  json_builder_set_member_name (builder, "public_key");
  json_builder_add_string_value (builder, public_pem);
  json_builder_set_member_name (builder, "name");
  json_builder_add_string_value (builder, display_name);
  json_builder_end_object (builder);
  request = json_builder_get_root (builder);

  answer = hearth_display_client_request_json (client, "POST", "/v1/pair", request,
                                               NULL, &local_error);
  if (answer == NULL) {
    /* The gateway said no to the code itself, or has no window open for any
     * code (client.c): a new code is what helps. */
    if (local_error->domain == HEARTH_ERROR &&
        (local_error->code == HEARTH_ERROR_TOKEN_INVALID ||
         local_error->code == HEARTH_ERROR_TOKEN_EXPIRED ||
         local_error->code == HEARTH_ERROR_TOKEN_SPENT)) {
      g_set_error (error, HEARTH_ERROR, local_error->code,
                   "the gateway is not accepting this pairing code (it was used or "
                   "has expired): %s.\nAsk for a new code: “hearthctl pair” on the "
                   "gateway.", local_error->message);
      return NULL;
    }
    /* No whole answer: the gateway may have paired this display and
     * stopped before its answer left (it commits first, then answers). */
    if (g_error_matches (local_error, HEARTH_ERROR, HEARTH_ERROR_FAILED))
      g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_FAILED,
                   "%s\nIf the gateway stopped while this display was pairing, it "
                   "may list this display although this display got no certificate: "
                   "see “hearthctl display list” on the gateway, revoke that "
                   "display, and pair again with a new code.", local_error->message);
    else
      g_propagate_error (error, g_steal_pointer (&local_error));
    return NULL;
  }
  if (!JSON_NODE_HOLDS_OBJECT (answer)) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_FAILED,
                 "the gateway's pairing answer is not a JSON object");
    return NULL;
  }
  obj = json_node_get_object (answer);

  config = pairing->config = g_new0 (HearthDisplayConfig, 1);
  if (!hearth_display_json_get_number (obj, "display_id", &id) || id < 1 ||
      id != (double) (gint64) id) {
    g_set_error (error, HEARTH_ERROR, HEARTH_ERROR_FAILED,
                 "the gateway's pairing answer has no valid “display_id”");
    return NULL;
  }
  config->display_id = (gint64) id;
  config->display_name = g_strdup (display_name);
  config->gateway_fingerprint = g_strdup (payload->fingerprint);
  config->gateway_name = g_strdup (payload->name != NULL ? payload->name : "");
  if ((config->household = dup_required_string (obj, "household", error)) == NULL ||
      (pairing->cert_pem = dup_required_string (obj, "certificate", error)) == NULL ||
      (pairing->ca_cert_pem = dup_required_string (obj, "ca_certificate", error)) == NULL ||
      (pairing->gateway_cert_pem = dup_required_string (obj, "gateway_certificate", error)) == NULL ||
      (config->stream_addresses = parse_addresses (obj, error)) == NULL)
    return NULL;

  if (!check_answer (payload, pairing, error))
    return NULL;

  return g_steal_pointer (&pairing);
}

/**
 * hearth_display_pairing_save:
 * @pairing: a pairing from hearth_display_pair_request()
 * @config_dir: where to keep it
 *
 * Returns: TRUE, or FALSE with @error set.
 */
gboolean
hearth_display_pairing_save (const HearthPairing *pairing,
                             const char *config_dir,
                             GError **error)
{
  return hearth_display_config_save (config_dir, pairing->config, pairing->key_pem,
                                     pairing->cert_pem, pairing->ca_cert_pem,
                                     pairing->gateway_cert_pem, error);
}
