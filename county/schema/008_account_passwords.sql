-- The platform's accounts choose their own passwords (county/passwords.py). county.toml gives each account's first
-- password as a hash; the platform keeps what its owner changed it to until the file gives another hash (file_hash:
-- the one the file last gave). A password from the file marked temporary_password, and one older than
-- [security] password_max_age_days, must be changed before anything else (等保 2.0: 身份鉴别信息定期更换).
ALTER TABLE accounts ADD COLUMN file_hash text;
ALTER TABLE accounts ADD COLUMN password_changed_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE accounts ADD COLUMN must_change_password boolean NOT NULL DEFAULT false;
UPDATE accounts SET file_hash = password_hash;
