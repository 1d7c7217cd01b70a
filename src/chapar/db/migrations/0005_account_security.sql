-- Account security (issue 5): how each login code was delivered and may be resent,
-- two-step verification with email recovery, deleted accounts, and the system account
-- that speaks to users (login codes in-app, login alerts), like Telegram's 777000.
-- depends: 0004_sms_outbox 0010_media

-- type: how the current code went out (app, sms, call); next_type: what auth.resendCode
-- does next (NULL: nothing); sent_at: when it went out (resend timeout, send cooldown);
-- verified: the code was right but the account has a password (auth.checkPassword next).
ALTER TABLE login_codes ADD COLUMN type TEXT NOT NULL DEFAULT 'sms';
ALTER TABLE login_codes ADD COLUMN next_type TEXT;
ALTER TABLE login_codes ADD COLUMN sent_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE login_codes ADD COLUMN verified SMALLINT NOT NULL DEFAULT 0;
UPDATE login_codes SET sent_at = created_at;

-- kind: 'user'; 'deleted' (a tombstone that keeps the other side's history readable and
-- receives nothing); 'system' (the service account, which never receives either).
ALTER TABLE users ADD COLUMN kind TEXT NOT NULL DEFAULT 'user';
-- '42777' is no valid number, so no one can sign in as the system account.
INSERT INTO users (id, phone, first_name, created_at, kind, name_norm)
    VALUES (777000, '42777', 'Chapar', 0, 'system', 'chapar');

-- Two-step verification: an argon2id hash (PHC string), the hint shown at sign-in, the
-- confirmed recovery email, and an address waiting for its confirmation code.
CREATE TABLE passwords (
    user_id BIGINT PRIMARY KEY,
    hash TEXT NOT NULL,
    hint TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    pending_email TEXT NOT NULL DEFAULT '',
    updated_at BIGINT NOT NULL
);

-- One outstanding email code per user and purpose ('confirm' a recovery address,
-- 'recover' the account), stored as a salted hash like login codes.
CREATE TABLE email_codes (
    user_id BIGINT NOT NULL,
    purpose TEXT NOT NULL,
    email TEXT NOT NULL,
    salt TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, purpose)
);
