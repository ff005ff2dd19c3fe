-- iotcreds registry, PostgreSQL: the web console's tables.
--
-- Kept in step with iotcreds-store-sqlite/migrations/0002_console.sql.

-- An IAM user's console password (CreateLoginProfile), as an argon2id PHC string.
CREATE TABLE iam_login_profiles (
    user_key TEXT COLLATE "C" PRIMARY KEY REFERENCES iam_users (name_key),
    password_hash TEXT COLLATE "C" NOT NULL,
    password_reset_required BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    password_set_at BIGINT NOT NULL
);

-- The credentials endpoint's recent decisions from every instance (the console's Activity
-- page). A bounded log: each append deletes all but the newest rows (setting
-- `[console] activity_events`). Appends do not move registry_generation, so they never make
-- another instance drop its cache.
CREATE TABLE credential_events (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    decided_at BIGINT NOT NULL,
    request_id TEXT COLLATE "C" NOT NULL,
    issued BIGINT NOT NULL,
    status BIGINT NOT NULL,
    certificate_id TEXT COLLATE "C" NOT NULL,
    thing TEXT COLLATE "C" NOT NULL,
    role_alias TEXT COLLATE "C" NOT NULL,
    role_name TEXT COLLATE "C" NOT NULL,
    access_key_id TEXT COLLATE "C" NOT NULL,
    expiration TEXT COLLATE "C" NOT NULL,
    reason TEXT NOT NULL,
    statement TEXT NOT NULL,
    source_ip TEXT COLLATE "C" NOT NULL
);
