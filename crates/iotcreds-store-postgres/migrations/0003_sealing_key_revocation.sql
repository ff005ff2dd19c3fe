-- Emergency revocation of a token-sealing key (`iotcreds keys revoke`): when set, the key's
-- material has been erased and every token it sealed is refused. The row stays until those
-- tokens would have expired, so that refusals can name the key.
ALTER TABLE sealing_keys ADD COLUMN revoked_at BIGINT;
