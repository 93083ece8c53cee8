/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests for the pairing port (gateway/pairing/pairing.c) without a client:
 * what a display's POST /v1/pair and a browser's POST /pair form must hold,
 * and what each requester is told when they do not (the pure parsers the
 * request handlers call first); and pairing windows: opening one for a
 * household gives a link that carries the token, the pinned fingerprint
 * and the addresses of the pairing and stream ports, stores only the
 * token's hash, and opens the listener (on loopback, at a port the kernel
 * picks; nothing connects to it); a household that does not exist, or a
 * lifetime out of range, opens nothing; a window left open by a run before
 * opens the listener at start; closing closes it.
 */
#define G_LOG_DOMAIN "hearth-test-pairing"

#include <string.h>

#include <gio/gio.h>

#include "access.h"
#include "config.h"
#include "error.h"
#include "fixture.h"
#include "pairing.h"
#include "pairing-web.h"
#include "payload.h"
#include "pki.h"
#include "store.h"

#define TOKEN "00112233445566778899aabbccddeeff"

/* ---- parsing what a display and a browser send ---- */

static void
assert_request_refused (const char *body, const char *message)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *key = NULL;
  g_autofree char *name = NULL;
  guint8 hash[32];

  g_assert_false (hearth_pairing_parse_request (body, strlen (body), hash, &key, &name,
                                                &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID);
  if (strstr (error->message, message) == NULL)
    g_error ("%s: told “%s”, not “%s”", body, error->message, message);
  g_assert_null (key);
  g_assert_null (name);
}

/* SHA-256 of the 16 bytes @hex spells. */
static void
token_hash (const char *hex, guint8 hash[32])
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  guint8 token[16];
  gsize len = 32;

  for (guint i = 0; i < 16; i++)
    token[i] = (guint8) (g_ascii_xdigit_value (hex[2 * i]) << 4 |
                         g_ascii_xdigit_value (hex[2 * i + 1]));
  g_checksum_update (sum, token, sizeof token);
  g_checksum_get_digest (sum, hash, &len);
}

static void
test_parse_request (void)
{
  const char *ok = "{\"token\": \"" TOKEN "\", \"public_key\": \"-----BEGIN PUBLIC "
                   "KEY-----\\n...\", \"name\": \"Kitchen tablet\"}";
  g_autoptr (GError) error = NULL;
  g_autofree char *key = NULL;
  g_autofree char *name = NULL;
  g_autofree char *long_name = g_strnfill (65, 'n');
  g_autofree char *long_key = g_strnfill (4097, 'k');
  g_autofree char *body = NULL;
  guint8 hash[32], expected[32];

  g_assert_true (hearth_pairing_parse_request (ok, strlen (ok), hash, &key, &name, &error));
  g_assert_no_error (error);
  token_hash (TOKEN, expected);
  g_assert_cmpmem (hash, 32, expected, 32);
  g_assert_cmpstr (key, ==, "-----BEGIN PUBLIC KEY-----\n...");
  g_assert_cmpstr (name, ==, "Kitchen tablet");

  assert_request_refused ("", "no body");
  assert_request_refused ("   ", "not a JSON object");
  assert_request_refused ("[1, 2]", "not a JSON object");
  assert_request_refused ("{\"token\": ", "not a JSON object");
  assert_request_refused ("{\"token\": \"Ho\\u0000me\"}", "NUL");
  assert_request_refused ("{\"public_key\": \"k\", \"name\": \"n\"}", "token");
  assert_request_refused ("{\"token\": \"00112233\", \"public_key\": \"k\", \"name\": \"n\"}",
                          "token: want 32 hexadecimal digits");
  assert_request_refused ("{\"token\": \"zz112233445566778899aabbccddeeff\", "
                          "\"public_key\": \"k\", \"name\": \"n\"}", "token");
  assert_request_refused ("{\"token\": \"" TOKEN "\", \"name\": \"n\"}", "public_key");
  body = g_strdup_printf ("{\"token\": \"" TOKEN "\", \"public_key\": \"%s\", "
                          "\"name\": \"n\"}", long_key);
  assert_request_refused (body, "public_key");
  assert_request_refused ("{\"token\": \"" TOKEN "\", \"public_key\": \"k\"}", "name");
  assert_request_refused ("{\"token\": \"" TOKEN "\", \"public_key\": \"k\", "
                          "\"name\": \"\"}", "name: want 1 to 64 bytes");
  assert_request_refused ("{\"token\": \"" TOKEN "\", \"public_key\": \"k\", "
                          "\"name\": \"tab\\tlet\"}", "without control characters");
  g_clear_pointer (&body, g_free);
  body = g_strdup_printf ("{\"token\": \"" TOKEN "\", \"public_key\": \"k\", "
                          "\"name\": \"%s\"}", long_name);
  assert_request_refused (body, "name");
}

static void
assert_form_refused (const char *body, const char *message)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GHashTable) form = hearth_pairing_web_parse_form (body, strlen (body), &error);
  const char *name = NULL;
  guint8 hash[32];

  g_assert_no_error (error);
  g_assert_false (hearth_pairing_parse_form (form, hash, &name, &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID);
  if (strstr (error->message, message) == NULL)
    g_error ("%s: told “%s”, not “%s”", body, error->message, message);
  g_assert_null (name);
}

static void
test_parse_form (void)
{
  const char *ok = "t=" TOKEN "&name=Phone+in+the+hall";
  g_autoptr (GError) error = NULL;
  g_autoptr (GHashTable) form = hearth_pairing_web_parse_form (ok, strlen (ok), &error);
  const char *name = NULL;
  guint8 hash[32], expected[32];

  g_assert_no_error (error);
  g_assert_true (hearth_pairing_parse_form (form, hash, &name, &error));
  g_assert_no_error (error);
  token_hash (TOKEN, expected);
  g_assert_cmpmem (hash, 32, expected, 32);
  g_assert_cmpstr (name, ==, "Phone in the hall");

  assert_form_refused ("name=Phone", "The pairing link is incomplete");
  assert_form_refused ("t=0011&name=Phone", "The pairing link is incomplete");
  assert_form_refused ("t=" TOKEN, "The name must be 1 to 64 bytes");
  assert_form_refused ("t=" TOKEN "&name=", "The name must be 1 to 64 bytes");
  assert_form_refused ("t=" TOKEN "&name=a%0Ab", "without control characters");
}

/* ---- windows ---- */

typedef struct {
  HearthTestFixture base;
  HearthConfig *config;
  HearthStore *store;
  HearthAccess *access;
  GTlsCertificate *certificate;
  char *ca_pem;
  HearthPairing *pairing;
  guint listener_changes;
} Fixture;

static void
on_listener_changed (HearthPairing *pairing, gpointer user_data)
{
  ((Fixture *) user_data)->listener_changes++;
}

static HearthPairing *
pairing_new (Fixture *f)
{
  HearthPairing *pairing = hearth_pairing_new (f->store, f->access, f->config,
                                               f->certificate, f->ca_pem);

  g_signal_connect (pairing, "listener-changed", G_CALLBACK (on_listener_changed), f);
  hearth_pairing_set_stream_port (pairing, 8443);
  return pairing;
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  const char *text = "[gateway]\nname = Test gateway\n"
                     "listen = 127.0.0.1:8443\npairing-listen = 127.0.0.1:0\n";
  g_autoptr (GError) error = NULL;
  g_autofree char *db = NULL;
  g_autofree char *ca_key = NULL;
  g_autofree char *both = NULL;
  g_autofree char *household_cert = NULL;
  g_autofree char *household_key = NULL;

  hearth_test_fixture_setup (&f->base, NULL);
  f->config = hearth_config_load_data (text, strlen (text), "test.conf", &error);
  g_assert_no_error (error);
  db = g_build_filename (f->base.state_dir, "hearth.db", NULL);
  f->store = hearth_store_open (db, &error);
  g_assert_no_error (error);
  f->access = hearth_access_new (f->store, f->config->local_ranges);
  /* The gateway's root CA serves as its own server certificate here. */
  g_assert_true (hearth_pki_make_ca ("Test gateway", 30, &f->ca_pem, &ca_key, &error));
  both = g_strconcat (f->ca_pem, ca_key, NULL);
  f->certificate = g_tls_certificate_new_from_pem (both, -1, &error);
  g_assert_no_error (error);
  g_assert_true (hearth_pki_make_ca ("Home", 30, &household_cert, &household_key, &error));
  hearth_store_household_add (f->store, "Home", household_cert, household_key, &error);
  g_assert_no_error (error);
  f->pairing = pairing_new (f);
  g_assert_true (hearth_pairing_start (f->pairing, &error));
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  if (f->pairing != NULL)
    hearth_pairing_close (f->pairing);
  g_clear_object (&f->pairing);
  g_clear_object (&f->access);
  g_clear_object (&f->store);
  g_clear_object (&f->certificate);
  g_clear_pointer (&f->ca_pem, g_free);
  g_clear_pointer (&f->config, hearth_config_free);
  hearth_test_fixture_teardown (&f->base, NULL);
}

/* Stands in for the household CA's signature: the store only keeps it. */
static gboolean
issue_dummy (const HearthHousehold *household, gint64 display_id, gpointer user_data,
             char **cert_pem, char **fingerprint, GError **error)
{
  *cert_pem = g_strdup ("test certificate");
  *fingerprint = g_strnfill (64, 'a');
  return TRUE;
}

static void
test_window_opens_listener (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *link = NULL;
  g_autofree char *code = NULL;
  g_autofree char *fingerprint = hearth_pki_fingerprint_pem (f->ca_pem, NULL);
  g_autofree char *pairing_address = NULL;
  g_autoptr (HearthPayload) payload = NULL;
  g_autoptr (HearthDisplayRow) display = NULL;
  gint64 window_id = 0, expires = 0, redeemed = 0, before = g_get_real_time ();
  guint8 hash[32];

  g_assert_cmpuint (hearth_pairing_get_port (f->pairing), ==, 0);
  g_assert_cmpuint (f->listener_changes, ==, 0);

  link = hearth_pairing_open_window (f->pairing, "Home", 300, &window_id, &expires,
                                     &code, &error);
  g_assert_no_error (error);
  g_assert_nonnull (link);
  g_assert_cmpint (window_id, >, 0);
  g_assert_cmpint (expires, >=, before + 300 * G_USEC_PER_SEC);
  g_assert_cmpint (expires, <=, g_get_real_time () + 300 * G_USEC_PER_SEC);
  g_assert_cmpuint (hearth_pairing_get_port (f->pairing), >, 0);
  g_assert_cmpuint (f->listener_changes, ==, 1);
  g_assert_true (hearth_store_pairing_window_any_open (f->store, g_get_real_time ()));

  /* The one-time code: twelve symbols in groups of four, nothing that reads
   * as another (no 1, i, l or o). */
  g_assert_cmpuint (strlen (code), ==, 14);
  g_assert_true (code[4] == '-' && code[9] == '-');
  for (const char *p = code; *p; p++)
    g_assert_nonnull (strchr ("-023456789abcdefghjkmnpqrstuvwxyz", *p));

  /* The link: https:// to the pairing port, the pinned root CA, the
   * token, and where the stream port answers after the window. */
  g_assert_true (g_str_has_prefix (link, "https://127.0.0.1:"));
  payload = hearth_payload_parse (link, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (payload->fingerprint, ==, fingerprint);
  g_assert_cmpstr (payload->name, ==, "Test gateway");
  g_assert_cmpuint (strlen (payload->token), ==, 32);
  pairing_address = g_strdup_printf ("127.0.0.1:%u", hearth_pairing_get_port (f->pairing));
  g_assert_cmpuint (payload->addresses->len, ==, 1);
  g_assert_cmpstr (payload->addresses->pdata[0], ==, pairing_address);
  g_assert_cmpuint (payload->stream_addresses->len, ==, 1);
  g_assert_cmpstr (payload->stream_addresses->pdata[0], ==, "127.0.0.1:8443");
  /* The code is not in the link, and the link's token opens this window
   * (the store holds only its hash). */
  g_assert_null (strstr (link, code));
  token_hash (payload->token, hash);
  display = hearth_store_pairing_redeem (f->store, hash, g_get_real_time (), "Tablet",
                                         issue_dummy, NULL, &redeemed, &error);
  g_assert_no_error (error);
  g_assert_cmpint (redeemed, ==, window_id);
  g_assert_cmpstr (display->household, ==, "Home");

  /* A second window: the listener is open already. */
  g_clear_pointer (&link, g_free);
  link = hearth_pairing_open_window (f->pairing, "Home", 60, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (f->listener_changes, ==, 1);

  hearth_pairing_close (f->pairing);
  g_assert_cmpuint (hearth_pairing_get_port (f->pairing), ==, 0);
  g_assert_cmpuint (f->listener_changes, ==, 2);
}

static void
test_window_refused (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *link = NULL;

  link = hearth_pairing_open_window (f->pairing, "Nowhere", 300, NULL, NULL, NULL, &error);
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND);
  g_assert_null (link);
  g_clear_error (&error);
  link = hearth_pairing_open_window (f->pairing, "Home", 0, NULL, NULL, NULL, &error);
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID);
  g_assert_null (link);
  g_clear_error (&error);
  link = hearth_pairing_open_window (f->pairing, "Home", 86401, NULL, NULL, NULL, &error);
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_INVALID);
  g_assert_null (link);

  g_assert_cmpuint (hearth_pairing_get_port (f->pairing), ==, 0);
  g_assert_cmpuint (f->listener_changes, ==, 0);
  g_assert_false (hearth_store_pairing_window_any_open (f->store, g_get_real_time ()));
}

/* hearthd restarted while a window was open: the listener opens at start. */
static void
test_window_from_before_restart (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *link = hearth_pairing_open_window (f->pairing, "Home", 300, NULL, NULL,
                                                      NULL, &error);

  g_assert_no_error (error);
  hearth_pairing_close (f->pairing);
  g_clear_object (&f->pairing);
  f->listener_changes = 0;

  f->pairing = pairing_new (f);
  g_assert_cmpuint (hearth_pairing_get_port (f->pairing), ==, 0);
  g_assert_true (hearth_pairing_start (f->pairing, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (hearth_pairing_get_port (f->pairing), >, 0);
  g_assert_cmpuint (f->listener_changes, ==, 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/hearth/pairing/parse-request", test_parse_request);
  g_test_add_func ("/hearth/pairing/parse-form", test_parse_form);
#define ADD(path, func) \
  g_test_add ("/hearth/pairing/" path, Fixture, NULL, fixture_setup, (func), \
              fixture_teardown)
  ADD ("window/opens-listener", test_window_opens_listener);
  ADD ("window/refused", test_window_refused);
  ADD ("window/from-before-restart", test_window_from_before_restart);
#undef ADD
  return g_test_run ();
}
