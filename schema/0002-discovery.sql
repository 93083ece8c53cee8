-- SPDX-License-Identifier: GPL-2.0-or-later
--
-- Migration 2: what a camera is besides its address (invariant 5), how it was
-- found, whether it is quarantined, and its credentials.
--
-- Evidence columns are NULL when that kind of evidence was never seen:
--   mdns_type, mdns_name  the service it was adopted from (type, instance)
--   txt_id, txt_serial, txt_mac  what its TXT records said (mac normalised)
--   neighbour_mac         the MAC the kernel's neighbour table showed for its
--                         address when the gateway was connected to it
--   cert_fp               SHA-256 of its RTSPS certificate (rtsps:// only)
-- quarantined_at is NULL while the camera may be ingested and served; when
-- set (unix seconds), nothing of it is ingested or served until it is adopted
-- again. username/password are secrets: never logged, never returned over
-- the control socket or the stream port.
ALTER TABLE cameras ADD COLUMN plugin TEXT
  CHECK (plugin IS NULL OR length(plugin) BETWEEN 1 AND 64);
ALTER TABLE cameras ADD COLUMN mdns_type TEXT
  CHECK (mdns_type IS NULL OR length(mdns_type) BETWEEN 1 AND 64);
ALTER TABLE cameras ADD COLUMN mdns_name TEXT
  CHECK (mdns_name IS NULL OR length(CAST(mdns_name AS BLOB)) BETWEEN 1 AND 63);
ALTER TABLE cameras ADD COLUMN txt_id TEXT
  CHECK (txt_id IS NULL OR length(txt_id) BETWEEN 1 AND 128);
ALTER TABLE cameras ADD COLUMN txt_serial TEXT
  CHECK (txt_serial IS NULL OR length(txt_serial) BETWEEN 1 AND 128);
ALTER TABLE cameras ADD COLUMN txt_mac TEXT
  CHECK (txt_mac IS NULL OR length(txt_mac) = 17);
ALTER TABLE cameras ADD COLUMN neighbour_mac TEXT
  CHECK (neighbour_mac IS NULL OR length(neighbour_mac) = 17);
ALTER TABLE cameras ADD COLUMN cert_fp TEXT
  CHECK (cert_fp IS NULL OR length(cert_fp) = 64);
ALTER TABLE cameras ADD COLUMN quarantined_at INTEGER;
ALTER TABLE cameras ADD COLUMN quarantine_reason TEXT
  CHECK ((quarantined_at IS NULL) = (quarantine_reason IS NULL));
ALTER TABLE cameras ADD COLUMN username TEXT
  CHECK (username IS NULL OR length(CAST(username AS BLOB)) BETWEEN 1 AND 256);
ALTER TABLE cameras ADD COLUMN password TEXT
  CHECK (password IS NULL OR length(CAST(password AS BLOB)) BETWEEN 1 AND 256);
