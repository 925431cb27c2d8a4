-- A console session's last use (county/sessions.py): one unused for [security] session_idle_minutes ends at its next
-- request (等保 2.0: 登录连接超时自动退出). NULL for a bearer token of the API, which keeps only its 12 hours, and
-- for the sessions opened before this migration.
ALTER TABLE sessions ADD COLUMN last_seen_at timestamptz;
