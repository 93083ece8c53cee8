/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/*
 * HearthStore: the household/camera/display/pairing/audit store (SQLite, WAL,
 * foreign keys on, numbered migrations from schema/ applied under user_version).
 * Every multi-step change is one transaction. Used on the main context only.
 */
#define HEARTH_TYPE_STORE (hearth_store_get_type ())
G_DECLARE_FINAL_TYPE (HearthStore, hearth_store, HEARTH, STORE, GObject)

typedef struct {
  gint64 id;
  char *name;
  char *ca_cert_pem;
  char *ca_key_pem;   /* secret: never log */
  gint64 created;     /* unix seconds */
} HearthHousehold;

/* What a camera is besides its address (invariant 5). Any field may be NULL:
 * that kind of evidence was never seen. */
typedef struct {
  char *mdns_type;      /* the service it was adopted from: "_rtsp._tcp" */
  char *mdns_name;      /* its instance name */
  char *txt_id;         /* TXT id= (or a plugin's equivalent) */
  char *txt_serial;
  char *txt_mac;        /* aa:bb:cc:dd:ee:ff */
  char *neighbour_mac;  /* from the neighbour table while connected to it */
  char *cert_fp;        /* SHA-256 of its RTSPS certificate, 64 hex */
} HearthCameraEvidence;

void hearth_camera_evidence_clear (HearthCameraEvidence *evidence);

typedef struct {
  char *id;           /* UUID, gateway-assigned */
  gint64 household_id;
  char *household;    /* household name */
  char *name;
  char *url;          /* without credentials when they are stored apart */
  gint64 created;
  char *plugin;       /* the driver's name; NULL: by the URL's scheme */
  HearthCameraEvidence evidence;
  gint64 quarantined_at;    /* unix seconds; 0 when not quarantined */
  char *quarantine_reason;  /* NULL when not quarantined */
  gboolean has_credentials; /* the secrets themselves: camera_get_credentials */
  char *service_url;  /* (nullable) the device service its URLs came from (ONVIF) */
  char *sub_url;      /* (nullable) its second, smaller stream (ONVIF), kept so
                       * that it follows the camera; not ingested yet */
} HearthCameraRow;

typedef struct {
  gint64 id;
  gint64 household_id;
  char *household;    /* household name */
  char *name;
  char *fingerprint;  /* 64 hex, SHA-256 of the client cert DER */
  char *cert_pem;
  gint64 created;
  gint64 revoked_at;  /* unix seconds; 0 when not revoked */
} HearthDisplayRow;

typedef struct {
  gint64 id;
  gint64 at;          /* unix microseconds */
  char *kind;         /* e.g. "pairing", "revoke", "access-denied", "egress-mismatch" */
  gint64 household_id;  /* 0 when none */
  char *detail;
} HearthAuditRow;

void hearth_household_free (HearthHousehold *h);
void hearth_camera_row_free (HearthCameraRow *c);
void hearth_display_row_free (HearthDisplayRow *d);
void hearth_audit_row_free (HearthAuditRow *a);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HearthHousehold, hearth_household_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HearthCameraRow, hearth_camera_row_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HearthDisplayRow, hearth_display_row_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (HearthAuditRow, hearth_audit_row_free)

/* Opens (creating, mode 0600) and migrates. (transfer full) */
HearthStore *hearth_store_open (const char *path, GError **error);
/* The schema version after migration (PRAGMA user_version). */
int hearth_store_get_schema_version (HearthStore *self);

/* Households. Names: 1..64 bytes UTF-8, no control characters, unique in the
 * gateway ignoring the case of ASCII letters (as lookups by name compare). */
gint64 hearth_store_household_add (HearthStore *self, const char *name,
                                   const char *ca_cert_pem, const char *ca_key_pem,
                                   GError **error);          /* 0 on error; EXISTS */
HearthHousehold *hearth_store_household_get (HearthStore *self, gint64 id,
                                             GError **error); /* NOT_FOUND */
HearthHousehold *hearth_store_household_get_by_name (HearthStore *self,
                                                     const char *name,
                                                     GError **error);
GPtrArray *hearth_store_household_list (HearthStore *self, GError **error);
/* Deletes the household, its cameras, displays and pairing windows (one tx). */
gboolean hearth_store_household_delete (HearthStore *self, const char *name,
                                        GError **error);

/* Cameras. Names as households', unique in their household ignoring the
 * case of ASCII letters (EXISTS). Returns the new UUID. (transfer full) */
char *hearth_store_camera_add (HearthStore *self, gint64 household_id,
                               const char *name, const char *url, GError **error);
HearthCameraRow *hearth_store_camera_get (HearthStore *self, const char *id,
                                          GError **error);  /* NOT_FOUND */
/* @household_id 0 = every household. (element-type HearthCameraRow) */
GPtrArray *hearth_store_camera_list (HearthStore *self, gint64 household_id,
                                     GError **error);
gboolean hearth_store_camera_remove (HearthStore *self, const char *id,
                                     GError **error);

/* Adopts a camera: like camera_add, plus the driver, the identity evidence it
 * was found with and its credentials (@username, @password nullable; never
 * logged). Audited as "camera-adopt". Returns the new UUID. */
char *hearth_store_camera_adopt (HearthStore *self, gint64 household_id,
                                 const char *name, const char *url,
                                 const char *sub_url, const char *service_url,
                                 const char *plugin,
                                 const HearthCameraEvidence *evidence,
                                 const char *username, const char *password,
                                 GError **error);
/* Adopts a quarantined (or any) camera again: new evidence and URLs, not
 * quarantined any more. Audited as "camera-adopt". */
gboolean hearth_store_camera_readopt (HearthStore *self, const char *id,
                                      const char *url, const char *sub_url,
                                      const char *service_url,
                                      const HearthCameraEvidence *evidence,
                                      GError **error);
/* The same camera at a new address ("camera-follow"): its URL, and where its
 * plugin resolves them (ONVIF) its sub stream and device service with it;
 * NULL for what it does not have. */
gboolean hearth_store_camera_follow (HearthStore *self, const char *id,
                                     const char *url, const char *sub_url,
                                     const char *service_url, GError **error);
/* Nothing of it is ingested or served until it is adopted again
 * ("camera-quarantine", with @reason). Idempotent. */
gboolean hearth_store_camera_quarantine (HearthStore *self, const char *id,
                                         const char *reason, GError **error);
/* Records evidence first seen while connected (trust on first use): only
 * fields that are NULL in the row are set ("camera-evidence"). */
gboolean hearth_store_camera_add_evidence (HearthStore *self, const char *id,
                                           const char *neighbour_mac,
                                           const char *cert_fp, GError **error);
/* The camera's stored credentials, or NULLs. Secrets: wipe after use. */
gboolean hearth_store_camera_get_credentials (HearthStore *self, const char *id,
                                              char **username, char **password,
                                              GError **error);
/* Moves a camera to another household (one transaction, audited for both),
 * renamed @name there when not NULL. EXISTS when that name is taken. */
gboolean hearth_store_camera_move (HearthStore *self, const char *id,
                                   gint64 household_id, const char *name,
                                   GError **error);
/* @name, or the first “@name (N)” free in the household. (transfer full) */
char *hearth_store_camera_free_name (HearthStore *self, gint64 household_id,
                                     const char *name, GError **error);

/* Displays. @household_id 0 = every household. */
GPtrArray *hearth_store_display_list (HearthStore *self, gint64 household_id,
                                      GError **error);
HearthDisplayRow *hearth_store_display_get (HearthStore *self, gint64 id,
                                            GError **error);
/* Includes revoked rows; callers check revoked_at. NOT_FOUND if none. */
HearthDisplayRow *hearth_store_display_get_by_fingerprint (HearthStore *self,
                                                           const char *fingerprint,
                                                           GError **error);
/* Marks revoked (idempotent-safe: a second revoke is NOT_FOUND-free, returns TRUE). */
gboolean hearth_store_display_revoke (HearthStore *self, gint64 id, GError **error);

/* Pairing windows: only SHA-256(token) is stored. */
gint64 hearth_store_pairing_window_add (HearthStore *self, gint64 household_id,
                                        const guint8 token_hash[32],
                                        gint64 expires_at_us, GError **error);
/* TRUE while any window is unexpired and unspent at @now_us. */
gboolean hearth_store_pairing_window_any_open (HearthStore *self, gint64 now_us);
/* The earliest expiry among open windows, or 0. */
gint64 hearth_store_pairing_window_next_expiry (HearthStore *self, gint64 now_us);

/*
 * Called inside the redeem transaction, after the display row exists: issue the
 * client certificate for @display_id of @household and return its PEM and
 * fingerprint. Returning FALSE rolls everything back.
 */
typedef gboolean (*HearthIssueFunc) (const HearthHousehold *household,
                                     gint64 display_id,
                                     gpointer user_data,
                                     char **cert_pem,
                                     char **fingerprint,
                                     GError **error);

/*
 * In ONE transaction (BEGIN IMMEDIATE): find the window whose hash equals
 * @token_hash (constant-time comparison over candidate windows), check it is
 * unexpired (TOKEN_EXPIRED) and unspent (TOKEN_SPENT) — no match is
 * TOKEN_INVALID; insert the display row, call @issue, store the certificate and
 * fingerprint, spend the token, write a "pairing" audit row, commit. Any failure
 * rolls back: no row is left behind. Returns the display. (transfer full)
 * @window_id (out, optional): the window the token matched, 0 when none.
 * A refused attempt is audited after the rollback as "pairing-refused".
 */
HearthDisplayRow *hearth_store_pairing_redeem (HearthStore *self,
                                               const guint8 token_hash[32],
                                               gint64 now_us,
                                               const char *display_name,
                                               HearthIssueFunc issue,
                                               gpointer user_data,
                                               gint64 *window_id,
                                               GError **error);

/* Audit log. */
gboolean hearth_store_audit_add (HearthStore *self, const char *kind,
                                 gint64 household_id, const char *detail,
                                 GError **error);
/* Rows with at >= @since_us, oldest first. (element-type HearthAuditRow) */
GPtrArray *hearth_store_audit_list (HearthStore *self, gint64 since_us,
                                    GError **error);

/*
 * Backup and restore. A backup is one SQLite file (0600): a consistent copy of
 * the store made with SQLite's online backup API while the daemon runs, plus
 * the state files that are not in the database (the gateway's key and
 * certificate), so that a restored gateway keeps the identity its displays
 * pinned. Restore is offline: it makes a new database file.
 */
#define HEARTH_STATE_DB_FILE "hearth.db"
#define HEARTH_STATE_KEY_FILE "gateway.key"
#define HEARTH_STATE_CERT_FILE "gateway.crt"

/* @files: (element-type utf8 GBytes) name → content, stored in the backup.
 * @path must not exist; nothing is left there on failure. */
gboolean hearth_store_backup (HearthStore *self, const char *path,
                              GHashTable *files, GError **error);
/* Checks @backup_path and copies its store into @db_path (must not exist).
 * @files: (out) (transfer full) (element-type utf8 GBytes): the carried files. */
gboolean hearth_store_restore (const char *backup_path, const char *db_path,
                               GHashTable **files, GError **error);

/* Text shown to people (names, URLs, settings), checked as the store checks
 * what it keeps: HEARTH_ERROR_INVALID unless it is 1..@max_bytes bytes of
 * UTF-8 without control characters, line breaks or bidi overrides. */
gboolean hearth_store_validate_text (const char *what, const char *value,
                                     gsize max_bytes, GError **error);

G_END_DECLS
