-- A role alias's session-tag mapping (an iotcreds extension): `key<TAB>source` lines; empty
-- means none (the thing's attributes become the session tags, as before).
ALTER TABLE role_aliases ADD COLUMN session_tags TEXT NOT NULL DEFAULT '';
