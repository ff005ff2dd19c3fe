-- Online revocation checking of a registered CA's devices (an iotcreds extension): OCSP at
-- issuance (OFF, FAIL_OPEN or FAIL_CLOSED), the responder asked instead of the one the device
-- certificate names, and where the CA's CRL is fetched from on a schedule (NULL: none).
ALTER TABLE ca_certificates ADD COLUMN ocsp_mode TEXT NOT NULL DEFAULT 'OFF';
ALTER TABLE ca_certificates ADD COLUMN ocsp_responder_url TEXT;
ALTER TABLE ca_certificates ADD COLUMN crl_url TEXT;
