-- SPDX-License-Identifier: GPL-2.0-or-later
--
-- Migration 4: a household's id is never given again. The audit trail keeps
-- the id of a deleted household (0001), so a new household that got the same
-- id would show the old one's rows as its own. SQLite reuses the largest
-- rowid once its row is deleted; AUTOINCREMENT would need households rebuilt,
-- and dropping the old table inside the migration's transaction, with
-- foreign keys on, would delete every camera and display by cascade. So the
-- largest id ever given is kept here, starting above every id the households
-- and the audit trail hold now, and gateway/store/store.c gives the next one.
CREATE TABLE household_ids (
  last INTEGER NOT NULL CHECK (last >= 0)
) STRICT;
INSERT INTO household_ids (last)
  SELECT max (coalesce ((SELECT max (id) FROM households), 0),
              coalesce ((SELECT max (household_id) FROM audit), 0));
-- One row, always.
CREATE TRIGGER household_ids_one_row BEFORE INSERT ON household_ids
  BEGIN SELECT raise (ABORT, 'household_ids holds one row'); END;
CREATE TRIGGER household_ids_kept BEFORE DELETE ON household_ids
  BEGIN SELECT raise (ABORT, 'household_ids holds one row'); END;
-- Whatever inserts a household moves the mark past its id.
CREATE TRIGGER households_id_mark AFTER INSERT ON households
  BEGIN UPDATE household_ids SET last = NEW.id WHERE last < NEW.id; END;
