-- `iotcreds thing revoke-sessions` (RevokeThingSessions, an iotcreds extension): the sessions
-- issued to the thing before this time (ms) are refused on the service endpoint.
ALTER TABLE things ADD COLUMN sessions_revoked_before BIGINT;
