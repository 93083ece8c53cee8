-- SPDX-License-Identifier: GPL-2.0-or-later
--
-- Migration 3: names people tell apart. A household's name is unique in the
-- gateway and a camera's name unique in its household, ignoring the case of
-- ASCII letters (SQLite's NOCASE, as every lookup by name compares them).
--
-- Before these statements run, gateway/store/store.c renames the later of any
-- names that an older release let in twice ("Door" and "door" in one
-- household): "door" becomes "door (2)", with a log line and a "rename"
-- audit row each. An upgrade never fails on them and loses nothing.
CREATE UNIQUE INDEX households_name_nocase ON households (name COLLATE NOCASE);
CREATE UNIQUE INDEX cameras_household_name_nocase
  ON cameras (household_id, name COLLATE NOCASE);
