-- SPDX-License-Identifier: GPL-2.0-or-later
--
-- Migration 5: what a camera found by its plugin's own discovery (ONVIF)
-- needs kept besides its URL, so that it can be asked again after an
-- address change and its second stream can follow:
--   service_url  the device service its stream URLs were resolved from
--                (ONVIF: http://ADDRESS/onvif/device_service), no credentials
--   sub_url      its second, smaller stream (ONVIF: the smallest profile's
--                RTSP URI), without credentials; NULL when it has none
-- Both are NULL for every camera that existed before, and for mDNS and
-- manually added cameras.
ALTER TABLE cameras ADD COLUMN service_url TEXT
  CHECK (service_url IS NULL OR length(service_url) BETWEEN 1 AND 2048);
ALTER TABLE cameras ADD COLUMN sub_url TEXT
  CHECK (sub_url IS NULL OR length(sub_url) BETWEEN 1 AND 2048);
