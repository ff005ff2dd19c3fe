-- A registered CA's certificate revocation list (an iotcreds extension), verified against the
-- CA when imported: the DER (base64), its thisUpdate and nextUpdate (ms), the revoked serials
-- (lowercase hex, one per line) and when it was imported. All NULL: no CRL.
ALTER TABLE ca_certificates ADD COLUMN crl_der TEXT;
ALTER TABLE ca_certificates ADD COLUMN crl_this_update BIGINT;
ALTER TABLE ca_certificates ADD COLUMN crl_next_update BIGINT;
ALTER TABLE ca_certificates ADD COLUMN crl_revoked TEXT;
ALTER TABLE ca_certificates ADD COLUMN crl_imported_at BIGINT;
