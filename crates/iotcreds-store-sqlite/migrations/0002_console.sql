-- iotcreds registry, SQLite: the web console's tables.
--
-- Kept in step with iotcreds-store-postgres/migrations/0002_console.sql.

-- An IAM user's console password (CreateLoginProfile), as an argon2id PHC string.
CREATE TABLE iam_login_profiles (
    user_key TEXT PRIMARY KEY REFERENCES iam_users (name_key),
    password_hash TEXT NOT NULL,
    password_reset_required BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    password_set_at BIGINT NOT NULL
);

-- The credentials endpoint's recent decisions (the console's Activity page). A bounded log:
-- each append deletes all but the newest rows (setting `[console] activity_events`). Appends do
-- not move registry_generation.
CREATE TABLE credential_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    decided_at BIGINT NOT NULL,
    request_id TEXT NOT NULL,
    issued BIGINT NOT NULL,
    status BIGINT NOT NULL,
    certificate_id TEXT NOT NULL,
    thing TEXT NOT NULL,
    role_alias TEXT NOT NULL,
    role_name TEXT NOT NULL,
    access_key_id TEXT NOT NULL,
    expiration TEXT NOT NULL,
    reason TEXT NOT NULL,
    statement TEXT NOT NULL,
    source_ip TEXT NOT NULL
);
