/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one choke point: a display sees its own household's cameras and nothing
 * else; a camera of another household answers exactly like one that does not
 * exist; revoked, foreign-CA and unknown certificates are refused; peers
 * outside the local ranges are refused; a change to the store bites on the
 * very next check; every refusal is audited.
 */
#include <gio/gio.h>
#include <string.h>

#include "access.h"
#include "error.h"
#include "fixture.h"
#include "pki.h"
#include "store.h"

typedef struct {
  HearthTestFixture base;  /* the store in its state directory */
  HearthStore *store;
  HearthNetRanges *ranges;
  HearthAccess *access;
  gint64 home, flat;
  char *camera_home, *camera_flat;
} Fixture;

typedef struct {
  const char *public_key;
  const HearthHousehold *signer; /* (nullable) another household's CA, to forge */
} Issue;

static gboolean
issue (const HearthHousehold *household, gint64 display_id, gpointer user_data,
       char **cert_pem, char **fingerprint, GError **error)
{
  Issue *data = user_data;
  const HearthHousehold *ca = data->signer ? data->signer : household;

  *cert_pem = hearth_pki_issue_client_cert (ca->ca_cert_pem, ca->ca_key_pem,
                                            data->public_key, "test display",
                                            (guint64) display_id, 30, error);
  if (*cert_pem == NULL)
    return FALSE;
  *fingerprint = hearth_pki_fingerprint_pem (*cert_pem, error);
  return *fingerprint != NULL;
}

static gint64
household (Fixture *f, const char *name)
{
  g_autofree char *cert = NULL, *key = NULL;
  g_autoptr (GError) error = NULL;
  gint64 id;

  g_assert_true (hearth_pki_make_ca (name, 30, &cert, &key, &error));
  id = hearth_store_household_add (f->store, name, cert, key, &error);
  g_assert_no_error (error);
  return id;
}

/* Pairs a display into @household_id, its certificate signed by @signer's CA
 * (NULL: its own household's, as the gateway does). */
static HearthDisplayRow *
pair_signed_by (Fixture *f, gint64 household_id, const HearthHousehold *signer,
                GTlsCertificate **tls)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *key = hearth_pki_generate_key (&error);
  g_autofree char *pub = hearth_pki_public_key_from_private (key, &error);
  g_autofree char *both = NULL;
  guint8 token[16], hash[32];
  gsize len = sizeof hash;
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  Issue data = { pub, signer };
  HearthDisplayRow *display;

  g_assert_true (hearth_pki_random (token, sizeof token, NULL));
  g_checksum_update (sum, token, sizeof token);
  g_checksum_get_digest (sum, hash, &len);
  g_assert_cmpint (hearth_store_pairing_window_add (f->store, household_id, hash,
                                                   g_get_real_time () + G_USEC_PER_SEC * 60,
                                                   &error), >, 0);
  display = hearth_store_pairing_redeem (f->store, hash, g_get_real_time (), "tv",
                                         issue, &data, NULL, &error);
  g_assert_no_error (error);
  both = g_strconcat (display->cert_pem, key, NULL);
  *tls = g_tls_certificate_new_from_pem (both, -1, &error);
  g_assert_no_error (error);
  return display;
}

static HearthDisplayRow *
pair (Fixture *f, gint64 household_id, GTlsCertificate **tls)
{
  return pair_signed_by (f, household_id, NULL, tls);
}

static GSocketAddress *
peer (const char *ip)
{
  g_autoptr (GInetAddress) a = g_inet_address_new_from_string (ip);
  return g_inet_socket_address_new (a, 40000);
}

static void
setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *db = NULL;

  hearth_test_fixture_setup (&f->base, NULL);
  db = g_build_filename (f->base.state_dir, "hearth.db", NULL);
  f->store = hearth_store_open (db, &error);
  g_assert_no_error (error);
  f->ranges = hearth_net_ranges_parse ("127.0.0.1/32;192.168.0.0/16", &error);
  f->access = hearth_access_new (f->store, f->ranges);
  f->home = household (f, "Home");
  f->flat = household (f, "Flat");
  f->camera_home = hearth_store_camera_add (f->store, f->home, "Door",
                                            "rtsp://192.168.1.2/a", &error);
  f->camera_flat = hearth_store_camera_add (f->store, f->flat, "Yard",
                                            "rtsp://192.168.1.3/a", &error);
  g_assert_no_error (error);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->access);
  g_clear_object (&f->store);
  hearth_net_ranges_free (f->ranges);
  hearth_test_fixture_teardown (&f->base, NULL);
  g_free (f->camera_home);
  g_free (f->camera_flat);
}

static guint
audit_count (Fixture *f, const char *kind)
{
  g_autoptr (GPtrArray) rows = hearth_store_audit_list (f->store, 0, NULL);
  guint n = 0;

  for (guint i = 0; i < rows->len; i++)
    if (g_str_equal (((HearthAuditRow *) rows->pdata[i])->kind, kind))
      n++;
  return n;
}

static void
test_own_household_only (Fixture *f, gconstpointer data)
{
  g_autoptr (GTlsCertificate) tls = NULL;
  g_autoptr (HearthDisplayRow) display = pair (f, f->home, &tls);
  g_autoptr (GSocketAddress) remote = peer ("192.168.1.50");
  g_autoptr (GError) error = NULL;
  g_autofree char *fp = hearth_access_accept_certificate (f->access, remote, tls,
                                                         &error);
  g_autoptr (HearthDisplayRow) resolved = NULL;
  g_autoptr (HearthCameraRow) mine = NULL;
  g_autoptr (HearthCameraRow) theirs = NULL;
  g_autoptr (HearthCameraRow) missing = NULL;
  g_autoptr (GPtrArray) list = NULL;
  g_autoptr (GError) error_theirs = NULL;
  g_autoptr (GError) error_missing = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (fp, ==, display->fingerprint);
  resolved = hearth_access_resolve_display (f->access, fp, &error);
  g_assert_no_error (error);
  g_assert_cmpint (resolved->household_id, ==, f->home);

  list = hearth_access_cameras (f->access, resolved, &error);
  g_assert_cmpuint (list->len, ==, 1);
  g_assert_cmpstr (((HearthCameraRow *) list->pdata[0])->id, ==, f->camera_home);

  mine = hearth_access_camera (f->access, resolved, f->camera_home, &error);
  g_assert_nonnull (mine);
  theirs = hearth_access_camera (f->access, resolved, f->camera_flat, &error_theirs);
  missing = hearth_access_camera (f->access, resolved,
                                  "00000000-0000-4000-8000-000000000000",
                                  &error_missing);
  g_assert_null (theirs);
  g_assert_null (missing);
  g_assert_error (error_theirs, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND);
  g_assert_error (error_missing, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND);
  /* Same answer for "not yours" and "does not exist". */
  g_assert_cmpstr (error_theirs->message, ==, error_missing->message);
  g_assert_cmpuint (audit_count (f, "access-denied"), ==, 1);
}

static void
test_hostile_ids (Fixture *f, gconstpointer data)
{
  g_autoptr (GTlsCertificate) tls = NULL;
  g_autoptr (HearthDisplayRow) display = pair (f, f->flat, &tls);
  g_autofree char *upper = g_ascii_strup (f->camera_home, -1);
  g_autofree char *dotted = g_strconcat ("../", f->camera_home, NULL);
  g_autofree char *long_id = g_strnfill (4096, 'a');
  const char *ids[] = { "", "..", "%2e%2e", upper, dotted, long_id, "\xff\xfe",
                        "00000000-0000-0000-0000-00000000000g" };

  for (guint i = 0; i < G_N_ELEMENTS (ids); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (HearthCameraRow) c = hearth_access_camera (f->access, display,
                                                          ids[i], &error);
    g_assert_null (c);
    g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_FOUND);
  }
}

static void
test_revocation_bites_at_once (Fixture *f, gconstpointer data)
{
  g_autoptr (GTlsCertificate) tls = NULL;
  g_autoptr (HearthDisplayRow) display = pair (f, f->home, &tls);
  g_autoptr (GSocketAddress) remote = peer ("127.0.0.1");
  g_autoptr (GError) error = NULL;
  g_autofree char *fp = hearth_access_accept_certificate (f->access, remote, tls,
                                                         &error);
  g_autoptr (HearthDisplayRow) again = NULL;
  g_autofree char *refused = NULL;

  g_assert_nonnull (fp);
  g_assert_true (hearth_store_display_revoke (f->store, display->id, &error));
  /* The very next request on the same connection is refused... */
  again = hearth_access_resolve_display (f->access, fp, &error);
  g_assert_null (again);
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_DENIED);
  g_clear_error (&error);
  /* ...and so is the next handshake, with an audit entry. */
  refused = hearth_access_accept_certificate (f->access, remote, tls, &error);
  g_assert_null (refused);
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_DENIED);
  g_assert_cmpuint (audit_count (f, "access-denied"), ==, 1);
}

static void
test_household_deleted (Fixture *f, gconstpointer data)
{
  g_autoptr (GTlsCertificate) tls = NULL;
  g_autoptr (HearthDisplayRow) display = pair (f, f->home, &tls);
  g_autoptr (HearthDisplayRow) again = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_true (hearth_store_household_delete (f->store, "Home", &error));
  again = hearth_access_resolve_display (f->access, display->fingerprint, &error);
  g_assert_null (again);
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_DENIED);
}

static void
test_foreign_and_unknown_certificates (Fixture *f, gconstpointer data)
{
  g_autoptr (GTlsCertificate) tls = NULL;
  g_autoptr (HearthDisplayRow) display = pair (f, f->home, &tls);
  g_autoptr (GSocketAddress) remote = peer ("127.0.0.1");
  g_autoptr (GError) error = NULL;
  g_autofree char *key = hearth_pki_generate_key (NULL);
  g_autofree char *self_signed = hearth_pki_make_server_cert (key, "rogue", NULL,
                                                              NULL, 30, NULL);
  g_autofree char *both = g_strconcat (self_signed, key, NULL);
  g_autoptr (GTlsCertificate) rogue = g_tls_certificate_new_from_pem (both, -1,
                                                                      NULL);
  g_autofree char *fp = NULL;
  g_autofree char *none = NULL;

  fp = hearth_access_accept_certificate (f->access, remote, rogue, &error);
  g_assert_null (fp);
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_DENIED);
  g_clear_error (&error);

  none = hearth_access_accept_certificate (f->access, remote, NULL, &error);
  g_assert_null (none);
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_DENIED);
  g_clear_error (&error);

  /* No identity on a connection is never "allowed". */
  g_assert_null (hearth_access_resolve_display (f->access, NULL, &error));
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_DENIED);
}

/* A display row of Home whose certificate another household's CA signed:
 * the row alone is not enough, the household's CA must have issued it. */
static void
test_certificate_of_another_households_ca (Fixture *f, gconstpointer data)
{
  g_autoptr (HearthHousehold) flat = hearth_store_household_get (f->store, f->flat,
                                                                 NULL);
  g_autoptr (GTlsCertificate) tls = NULL;
  g_autoptr (HearthDisplayRow) forged = pair_signed_by (f, f->home, flat, &tls);
  g_autoptr (GSocketAddress) remote = peer ("127.0.0.1");
  g_autoptr (GError) error = NULL;
  g_autofree char *fp = hearth_access_accept_certificate (f->access, remote, tls,
                                                         &error);

  g_assert_null (fp);
  g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_DENIED);
  g_assert_cmpuint (audit_count (f, "access-denied"), ==, 1);
}

static void
test_outside_peer (Fixture *f, gconstpointer data)
{
  g_autoptr (GTlsCertificate) tls = NULL;
  g_autoptr (HearthDisplayRow) display = pair (f, f->home, &tls);
  const char *outside[] = { "127.0.0.2", "8.8.8.8", "10.0.0.1", "::ffff:8.8.8.8" };

  for (guint i = 0; i < G_N_ELEMENTS (outside); i++) {
    g_autoptr (GSocketAddress) remote = peer (outside[i]);
    g_autoptr (GError) error = NULL;
    g_autofree char *fp = hearth_access_accept_certificate (f->access, remote,
                                                           tls, &error);
    g_assert_null (fp);
    g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_NOT_LOCAL);
  }
  g_assert_cmpuint (audit_count (f, "peer-refused"), ==, G_N_ELEMENTS (outside));
}

/* A flood of refused handshakes from one peer is audited 20 times a minute
 * plus one entry that says the rest is not; another peer is still audited. */
static void
test_refusal_audit_bounded (Fixture *f, gconstpointer data)
{
  g_autofree char *key = hearth_pki_generate_key (NULL);
  g_autofree char *self_signed = hearth_pki_make_server_cert (key, "rogue", NULL,
                                                              NULL, 30, NULL);
  g_autofree char *both = g_strconcat (self_signed, key, NULL);
  g_autoptr (GTlsCertificate) rogue = g_tls_certificate_new_from_pem (both, -1, NULL);
  g_autoptr (GSocketAddress) flood = peer ("127.0.0.1");
  g_autoptr (GSocketAddress) other = peer ("192.168.1.9");
  g_autoptr (GPtrArray) rows = NULL;
  guint noted = 0;

  for (guint i = 0; i < 500; i++) {
    g_autoptr (GError) error = NULL;
    g_autofree char *fp = hearth_access_accept_certificate (f->access, flood, rogue,
                                                           &error);
    g_assert_null (fp);
    g_assert_error (error, HEARTH_ERROR, HEARTH_ERROR_DENIED);
  }
  g_assert_cmpuint (audit_count (f, "access-denied"), ==, 21);
  rows = hearth_store_audit_list (f->store, 0, NULL);
  for (guint i = 0; i < rows->len; i++)
    if (strstr (((HearthAuditRow *) rows->pdata[i])->detail, "not audited") != NULL)
      noted++;
  g_assert_cmpuint (noted, ==, 1);

  {
    g_autoptr (GError) error = NULL;
    g_autofree char *fp = hearth_access_accept_certificate (f->access, other, rogue,
                                                           &error);
    g_assert_null (fp);
  }
  g_assert_cmpuint (audit_count (f, "access-denied"), ==, 22);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, setup, func, teardown)
  ADD ("/hearth/access/own-household-only", test_own_household_only);
  ADD ("/hearth/access/hostile-ids", test_hostile_ids);
  ADD ("/hearth/access/revocation-bites-at-once", test_revocation_bites_at_once);
  ADD ("/hearth/access/household-deleted", test_household_deleted);
  ADD ("/hearth/access/foreign-and-unknown-certificates",
       test_foreign_and_unknown_certificates);
  ADD ("/hearth/access/certificate-of-another-households-ca",
       test_certificate_of_another_households_ca);
  ADD ("/hearth/access/outside-peer", test_outside_peer);
  ADD ("/hearth/access/refusal-audit-bounded", test_refusal_audit_bounded);
#undef ADD
  return g_test_run ();
}
