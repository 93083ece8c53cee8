-- SPDX-License-Identifier: GPL-2.0-or-later
--
-- Migration 1: households, cameras, displays, pairing windows and the audit log.
--
-- Applied by gateway/store/store.c inside one transaction together with the
-- PRAGMA user_version bump, so it must not contain BEGIN/COMMIT itself.
-- Times: "created" and "revoked_at" are unix seconds; "expires_at" and audit
-- "at" are unix microseconds (g_get_real_time ()).

-- A household owns its own CA: display certificates are signed by it, and the
-- stream listener accepts a display only under its household's CA.
-- ca_key_pem is a secret: never logged, never returned over the control socket.
CREATE TABLE households (
  id          INTEGER PRIMARY KEY,
  name        TEXT    NOT NULL UNIQUE CHECK (length(CAST(name AS BLOB)) BETWEEN 1 AND 64),
  ca_cert_pem TEXT    NOT NULL,
  ca_key_pem  TEXT    NOT NULL,
  created     INTEGER NOT NULL
) STRICT;

-- A camera's identity is the gateway-assigned UUID, never its address. The
-- identity evidence it was adopted with (mDNS instance, TXT id, MAC, RTSPS
-- certificate) is added by later migrations as extra columns of this table.
CREATE TABLE cameras (
  id           TEXT    PRIMARY KEY NOT NULL CHECK (length(id) = 36),
  household_id INTEGER NOT NULL REFERENCES households (id) ON DELETE CASCADE,
  name         TEXT    NOT NULL CHECK (length(CAST(name AS BLOB)) BETWEEN 1 AND 64),
  url          TEXT    NOT NULL CHECK (length(url) > 0),
  created      INTEGER NOT NULL
) STRICT;
CREATE INDEX cameras_household ON cameras (household_id);

-- A display's identity is its client certificate. fingerprint and cert_pem are
-- NULL only inside the pairing transaction, between the insert of the row and
-- the issue of its certificate (whose serial is the row id); a committed row
-- always has both. revoked_at is NULL while the display is allowed in.
CREATE TABLE displays (
  id           INTEGER PRIMARY KEY,
  household_id INTEGER NOT NULL REFERENCES households (id) ON DELETE CASCADE,
  name         TEXT    NOT NULL CHECK (length(CAST(name AS BLOB)) BETWEEN 1 AND 64),
  fingerprint  TEXT    UNIQUE
               CHECK (fingerprint IS NULL OR
                      (length(fingerprint) = 64 AND fingerprint NOT GLOB '*[^0-9a-f]*')),
  cert_pem     TEXT,
  created      INTEGER NOT NULL,
  revoked_at   INTEGER,
  CHECK ((fingerprint IS NULL) = (cert_pem IS NULL))
) STRICT;
CREATE INDEX displays_household ON displays (household_id);

-- Only SHA-256 of the 128-bit pairing token is stored.
CREATE TABLE pairing_windows (
  id           INTEGER PRIMARY KEY,
  household_id INTEGER NOT NULL REFERENCES households (id) ON DELETE CASCADE,
  token_hash   BLOB    NOT NULL UNIQUE CHECK (length(token_hash) = 32),
  expires_at   INTEGER NOT NULL,
  uses_left    INTEGER NOT NULL DEFAULT 1 CHECK (uses_left >= 0),
  created      INTEGER NOT NULL
) STRICT;
CREATE INDEX pairing_windows_household ON pairing_windows (household_id);
CREATE INDEX pairing_windows_open ON pairing_windows (expires_at) WHERE uses_left > 0;

-- household_id has no foreign key on purpose: the audit trail outlives the
-- household it talks about.
CREATE TABLE audit (
  id           INTEGER PRIMARY KEY,
  at           INTEGER NOT NULL,
  kind         TEXT    NOT NULL CHECK (length(kind) > 0),
  household_id INTEGER,
  detail       TEXT    NOT NULL
) STRICT;
CREATE INDEX audit_at ON audit (at);
