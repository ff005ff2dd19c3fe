-- iotcreds registry, SQLite schema 1.
--
-- Kept in step with iotcreds-store-postgres/migrations/0001_init.sql: same tables, columns and
-- keys; only the types differ. Times are milliseconds since the Unix epoch (BIGINT), flags are
-- 0/1 (BIGINT), enums are stored in their AWS wire spelling (TEXT). The SQL that reads and writes
-- these tables lives in iotcreds-store-sql and runs unchanged on both engines.

-- One row; every committed write increments it.
CREATE TABLE registry_generation (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    generation BIGINT NOT NULL
);
INSERT INTO registry_generation (id, generation) VALUES (1, 0);

CREATE TABLE account_settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE sealing_keys (
    id BIGINT PRIMARY KEY,
    material BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);

CREATE TABLE ca_certificates (
    id TEXT PRIMARY KEY,
    pem TEXT NOT NULL,
    status TEXT NOT NULL,
    auto_registration TEXT NOT NULL,
    mode TEXT NOT NULL,
    subject TEXT NOT NULL,
    not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL,
    customer_version BIGINT NOT NULL,
    generation_id TEXT NOT NULL,
    owned_by TEXT NOT NULL
);
CREATE INDEX ca_certificates_subject ON ca_certificates (subject);

-- ca_certificate_id is deliberately not a foreign key: a CA may be deleted while certificates
-- it issued stay registered (as in AWS IoT).
CREATE TABLE certificates (
    id TEXT PRIMARY KEY,
    pem TEXT NOT NULL,
    status TEXT NOT NULL,
    ca_certificate_id TEXT,
    mode TEXT NOT NULL,
    not_before BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL,
    customer_version BIGINT NOT NULL,
    generation_id TEXT NOT NULL,
    owned_by TEXT NOT NULL
);
CREATE INDEX certificates_created ON certificates (created_at, id);
CREATE INDEX certificates_ca_created ON certificates (ca_certificate_id, created_at, id);

CREATE TABLE thing_types (
    name TEXT PRIMARY KEY,
    id TEXT NOT NULL,
    description TEXT,
    deprecated BIGINT NOT NULL,
    deprecated_at BIGINT,
    created_at BIGINT NOT NULL
);

CREATE TABLE thing_type_attributes (
    thing_type TEXT NOT NULL REFERENCES thing_types (name) ON DELETE CASCADE,
    ordinal BIGINT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (thing_type, ordinal)
);

CREATE TABLE things (
    name TEXT PRIMARY KEY,
    id TEXT NOT NULL,
    thing_type TEXT REFERENCES thing_types (name),
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL
);
CREATE INDEX things_type ON things (thing_type, name);

CREATE TABLE thing_attributes (
    thing_name TEXT NOT NULL REFERENCES things (name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (thing_name, name)
);
CREATE INDEX thing_attributes_value ON thing_attributes (name, value, thing_name);

CREATE TABLE thing_principals (
    thing_name TEXT NOT NULL REFERENCES things (name),
    principal TEXT NOT NULL,
    kind TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (thing_name, principal)
);
CREATE INDEX thing_principals_principal ON thing_principals (principal, thing_name);

-- last_version_id: the highest version id ever created (ids are never reused).
CREATE TABLE iot_policies (
    name TEXT PRIMARY KEY,
    default_version_id BIGINT NOT NULL,
    last_version_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL,
    generation_id TEXT NOT NULL
);

CREATE TABLE iot_policy_versions (
    policy_name TEXT NOT NULL REFERENCES iot_policies (name) ON DELETE CASCADE,
    version_id BIGINT NOT NULL,
    document TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (policy_name, version_id)
);

-- target: a certificate or thing-group ARN.
CREATE TABLE iot_policy_targets (
    policy_name TEXT NOT NULL REFERENCES iot_policies (name),
    target TEXT NOT NULL,
    PRIMARY KEY (policy_name, target)
);
CREATE INDEX iot_policy_targets_target ON iot_policy_targets (target, policy_name);

-- IAM names are unique regardless of case: name_key is the lowercase name.
CREATE TABLE iam_roles (
    name_key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    id TEXT NOT NULL,
    path TEXT NOT NULL,
    trust_policy TEXT NOT NULL,
    description TEXT,
    max_session_duration BIGINT NOT NULL,
    permissions_boundary TEXT,
    created_at BIGINT NOT NULL
);

CREATE TABLE iam_users (
    name_key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    id TEXT NOT NULL,
    path TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE iam_managed_policies (
    arn TEXT PRIMARY KEY,
    name_key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    id TEXT NOT NULL,
    path TEXT NOT NULL,
    description TEXT,
    default_version BIGINT NOT NULL,
    last_version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE iam_managed_policy_versions (
    policy_arn TEXT NOT NULL REFERENCES iam_managed_policies (arn) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    document TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (policy_arn, version)
);

-- holder_kind 'role' or 'user'; holder_key the holder's name_key.
CREATE TABLE iam_policy_attachments (
    holder_kind TEXT NOT NULL,
    holder_key TEXT NOT NULL,
    policy_arn TEXT NOT NULL REFERENCES iam_managed_policies (arn),
    PRIMARY KEY (holder_kind, holder_key, policy_arn)
);
CREATE INDEX iam_policy_attachments_policy ON iam_policy_attachments (policy_arn);

CREATE TABLE iam_inline_policies (
    holder_kind TEXT NOT NULL,
    holder_key TEXT NOT NULL,
    name TEXT NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (holder_kind, holder_key, name)
);

CREATE TABLE iam_access_keys (
    access_key_id TEXT PRIMARY KEY,
    user_key TEXT NOT NULL REFERENCES iam_users (name_key),
    secret TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX iam_access_keys_user ON iam_access_keys (user_key, access_key_id);

CREATE TABLE role_aliases (
    name TEXT PRIMARY KEY,
    role_arn TEXT NOT NULL,
    credential_duration_seconds BIGINT NOT NULL,
    owner TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL
);

-- owner_kind 'role', 'user', 'managed_policy' or 'role_alias'; owner_key the role's or user's
-- name_key, the policy's ARN or the alias' name.
CREATE TABLE tags (
    owner_kind TEXT NOT NULL,
    owner_key TEXT NOT NULL,
    tag_key TEXT NOT NULL,
    tag_value TEXT NOT NULL,
    PRIMARY KEY (owner_kind, owner_key, tag_key)
);
