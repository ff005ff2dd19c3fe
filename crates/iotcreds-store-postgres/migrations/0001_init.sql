-- iotcreds registry, PostgreSQL schema 1.
--
-- Kept in step with iotcreds-store-sqlite/migrations/0001_init.sql: same tables, columns and
-- keys; only the types differ. Times are milliseconds since the Unix epoch (BIGINT), flags are
-- 0/1 (BIGINT), enums are stored in their AWS wire spelling (TEXT). Text columns use the "C"
-- collation so that keys sort and compare bytewise, as in SQLite, whatever the database's
-- default collation. The SQL that reads and writes these tables lives in iotcreds-store-sql and
-- runs unchanged on both engines.

-- One row; every committed write increments it.
CREATE TABLE registry_generation (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    generation BIGINT NOT NULL
);
INSERT INTO registry_generation (id, generation) VALUES (1, 0);

CREATE TABLE account_settings (
    name TEXT COLLATE "C" PRIMARY KEY,
    value TEXT COLLATE "C" NOT NULL
);

CREATE TABLE sealing_keys (
    id BIGINT PRIMARY KEY,
    material BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);

CREATE TABLE ca_certificates (
    id TEXT COLLATE "C" PRIMARY KEY,
    pem TEXT COLLATE "C" NOT NULL,
    status TEXT COLLATE "C" NOT NULL,
    auto_registration TEXT COLLATE "C" NOT NULL,
    mode TEXT COLLATE "C" NOT NULL,
    subject TEXT COLLATE "C" NOT NULL,
    not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL,
    customer_version BIGINT NOT NULL,
    generation_id TEXT COLLATE "C" NOT NULL,
    owned_by TEXT COLLATE "C" NOT NULL
);
CREATE INDEX ca_certificates_subject ON ca_certificates (subject);

-- ca_certificate_id is deliberately not a foreign key: a CA may be deleted while certificates
-- it issued stay registered (as in AWS IoT).
CREATE TABLE certificates (
    id TEXT COLLATE "C" PRIMARY KEY,
    pem TEXT COLLATE "C" NOT NULL,
    status TEXT COLLATE "C" NOT NULL,
    ca_certificate_id TEXT COLLATE "C",
    mode TEXT COLLATE "C" NOT NULL,
    not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL,
    customer_version BIGINT NOT NULL,
    generation_id TEXT COLLATE "C" NOT NULL,
    owned_by TEXT COLLATE "C" NOT NULL
);
CREATE INDEX certificates_created ON certificates (created_at, id);
CREATE INDEX certificates_ca_created ON certificates (ca_certificate_id, created_at, id);

CREATE TABLE thing_types (
    name TEXT COLLATE "C" PRIMARY KEY,
    id TEXT COLLATE "C" NOT NULL,
    description TEXT COLLATE "C",
    deprecated BIGINT NOT NULL,
    deprecated_at BIGINT,
    created_at BIGINT NOT NULL
);

CREATE TABLE thing_type_attributes (
    thing_type TEXT COLLATE "C" NOT NULL REFERENCES thing_types (name) ON DELETE CASCADE,
    ordinal BIGINT NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (thing_type, ordinal)
);

CREATE TABLE things (
    name TEXT COLLATE "C" PRIMARY KEY,
    id TEXT COLLATE "C" NOT NULL,
    thing_type TEXT COLLATE "C" REFERENCES thing_types (name),
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL
);
CREATE INDEX things_type ON things (thing_type, name);

CREATE TABLE thing_attributes (
    thing_name TEXT COLLATE "C" NOT NULL REFERENCES things (name) ON DELETE CASCADE,
    name TEXT COLLATE "C" NOT NULL,
    value TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (thing_name, name)
);
CREATE INDEX thing_attributes_value ON thing_attributes (name, value, thing_name);

CREATE TABLE thing_principals (
    thing_name TEXT COLLATE "C" NOT NULL REFERENCES things (name),
    principal TEXT COLLATE "C" NOT NULL,
    kind TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (thing_name, principal)
);
CREATE INDEX thing_principals_principal ON thing_principals (principal, thing_name);

-- last_version_id: the highest version id ever created (ids are never reused).
CREATE TABLE iot_policies (
    name TEXT COLLATE "C" PRIMARY KEY,
    default_version_id BIGINT NOT NULL,
    last_version_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL,
    generation_id TEXT COLLATE "C" NOT NULL
);

CREATE TABLE iot_policy_versions (
    policy_name TEXT COLLATE "C" NOT NULL REFERENCES iot_policies (name) ON DELETE CASCADE,
    version_id BIGINT NOT NULL,
    document TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (policy_name, version_id)
);

-- target: a certificate or thing-group ARN.
CREATE TABLE iot_policy_targets (
    policy_name TEXT COLLATE "C" NOT NULL REFERENCES iot_policies (name),
    target TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (policy_name, target)
);
CREATE INDEX iot_policy_targets_target ON iot_policy_targets (target, policy_name);

-- IAM names are unique regardless of case: name_key is the lowercase name.
CREATE TABLE iam_roles (
    name_key TEXT COLLATE "C" PRIMARY KEY,
    name TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    path TEXT COLLATE "C" NOT NULL,
    trust_policy TEXT COLLATE "C" NOT NULL,
    description TEXT COLLATE "C",
    max_session_duration BIGINT NOT NULL,
    permissions_boundary TEXT COLLATE "C",
    created_at BIGINT NOT NULL
);

CREATE TABLE iam_users (
    name_key TEXT COLLATE "C" PRIMARY KEY,
    name TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    path TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE iam_managed_policies (
    arn TEXT COLLATE "C" PRIMARY KEY,
    name_key TEXT COLLATE "C" NOT NULL UNIQUE,
    name TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    path TEXT COLLATE "C" NOT NULL,
    description TEXT COLLATE "C",
    default_version BIGINT NOT NULL,
    last_version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE iam_managed_policy_versions (
    policy_arn TEXT COLLATE "C" NOT NULL REFERENCES iam_managed_policies (arn) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    document TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (policy_arn, version)
);

-- holder_kind 'role' or 'user'; holder_key the holder's name_key.
CREATE TABLE iam_policy_attachments (
    holder_kind TEXT COLLATE "C" NOT NULL,
    holder_key TEXT COLLATE "C" NOT NULL,
    policy_arn TEXT COLLATE "C" NOT NULL REFERENCES iam_managed_policies (arn),
    PRIMARY KEY (holder_kind, holder_key, policy_arn)
);
CREATE INDEX iam_policy_attachments_policy ON iam_policy_attachments (policy_arn);

CREATE TABLE iam_inline_policies (
    holder_kind TEXT COLLATE "C" NOT NULL,
    holder_key TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    document TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (holder_kind, holder_key, name)
);

CREATE TABLE iam_access_keys (
    access_key_id TEXT COLLATE "C" PRIMARY KEY,
    user_key TEXT COLLATE "C" NOT NULL REFERENCES iam_users (name_key),
    secret TEXT COLLATE "C" NOT NULL,
    status TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX iam_access_keys_user ON iam_access_keys (user_key, access_key_id);

CREATE TABLE role_aliases (
    name TEXT COLLATE "C" PRIMARY KEY,
    role_arn TEXT COLLATE "C" NOT NULL,
    credential_duration_seconds BIGINT NOT NULL,
    owner TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL
);

-- owner_kind 'role', 'user', 'managed_policy' or 'role_alias'; owner_key the role's or user's
-- name_key, the policy's ARN or the alias' name.
CREATE TABLE tags (
    owner_kind TEXT COLLATE "C" NOT NULL,
    owner_key TEXT COLLATE "C" NOT NULL,
    tag_key TEXT COLLATE "C" NOT NULL,
    tag_value TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (owner_kind, owner_key, tag_key)
);
