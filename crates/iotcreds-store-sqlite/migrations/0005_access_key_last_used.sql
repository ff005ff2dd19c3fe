-- When, with which service and in which region each access key last signed a request that
-- was verified (IAM `GetAccessKeyLastUsed`). Written in batches by the server, without moving
-- registry_generation.
ALTER TABLE iam_access_keys ADD COLUMN last_used_at BIGINT;
ALTER TABLE iam_access_keys ADD COLUMN last_used_service TEXT;
ALTER TABLE iam_access_keys ADD COLUMN last_used_region TEXT;
