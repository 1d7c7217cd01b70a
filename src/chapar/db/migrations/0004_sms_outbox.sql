-- The SMS outbox (services/sms_delivery.py): a message is written here in the caller's
-- transaction and sent by a background worker, so auth.sendCode answers at once and a
-- restart between the request and the send loses nothing. Times are milliseconds.
-- depends: 0003_search

INSERT INTO counters (name, value) VALUES ('sms_id', 0);

CREATE TABLE sms_outbox (
    id BIGINT PRIMARY KEY,
    kind TEXT NOT NULL,
    phone TEXT NOT NULL,
    -- erased once the message is finished or expired: a code is readable no longer than needed
    body TEXT NOT NULL,
    code TEXT NOT NULL DEFAULT '',
    -- queued (to send at due_at) | sent (accepted; awaiting its report until due_at, if any)
    -- | delivered | failed | expired
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    -- when the worker must look at it next; NULL: nothing to do
    due_at BIGINT,
    -- the node sending it now, and until when that claim holds (then another node may)
    lease_owner TEXT,
    lease_until BIGINT,
    attempts INTEGER NOT NULL DEFAULT 0,
    rounds INTEGER NOT NULL DEFAULT 0,
    -- providers already tried in this round, comma-separated: failover skips them
    tried TEXT NOT NULL DEFAULT '',
    provider TEXT,
    accepted_at BIGINT,
    finished_at BIGINT,
    error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sms_outbox_due ON sms_outbox (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX sms_outbox_created ON sms_outbox (created_at);

-- One row per hand-over to a provider; delivery reports find their message through it.
CREATE TABLE sms_attempts (
    message_id BIGINT NOT NULL,
    n INTEGER NOT NULL,
    provider TEXT NOT NULL,
    provider_id TEXT NOT NULL DEFAULT '',
    started_at BIGINT NOT NULL,
    finished_at BIGINT NOT NULL,
    -- accepted | rejected | error | timeout | no_report | delivered | undelivered
    outcome TEXT NOT NULL,
    error TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (message_id, n)
);
CREATE INDEX sms_attempts_provider_id ON sms_attempts (provider, provider_id);

-- A report that arrived before the attempt it belongs to was recorded (a fast provider can
-- call back before the send's own answer is committed); applied when the attempt is.
CREATE TABLE sms_early_reports (
    provider TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT NOT NULL DEFAULT '',
    received_at BIGINT NOT NULL,
    PRIMARY KEY (provider, provider_id)
);
