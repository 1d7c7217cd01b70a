-- Expired codes are swept on every code request (db/auth.py insert_code): by index, not by
-- scanning the table.
-- depends: 0011_chat_message_pts
CREATE INDEX login_codes_expiry ON login_codes (expires_at);
