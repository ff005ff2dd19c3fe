-- The cRLNumber of a CA's stored CRL (RFC 5280 section 5.2.3), lowercase hex without leading
-- zeros; NULL when the CRL has none. With it a CRL issued in the same second as the stored one
-- is ordered by its number, so a replayed CRL of that second cannot un-revoke.
ALTER TABLE ca_certificates ADD COLUMN crl_number TEXT;
