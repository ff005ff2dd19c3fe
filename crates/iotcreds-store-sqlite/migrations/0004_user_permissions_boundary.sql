-- A user's permissions boundary (the ARN of a managed policy), as roles already have:
-- `CreateUser --permissions-boundary`, `PutUserPermissionsBoundary`.
ALTER TABLE iam_users ADD COLUMN permissions_boundary TEXT;
