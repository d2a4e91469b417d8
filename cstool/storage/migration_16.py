"""Migration 16: channel connectors (a shop's ``http`` channels to its messaging gateway),
their deliveries and attempts (the same shape as webhooks', so the same claim, lease,
retry and dead-letter code sends them), the receipts a gateway reports, the connector a
chat came through and each message's delivery state (queued, sent, delivered, read,
failed)."""

M016_CHANNELS = """
CREATE TABLE channels (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    kind TEXT NOT NULL DEFAULT 'http',
    url TEXT,
    client TEXT,
    active INTEGER NOT NULL DEFAULT 1,
    secret TEXT,
    cursor INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX channels_shop ON channels(shop_id);
CREATE TABLE channel_deliveries (
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,
    channel_id INTEGER NOT NULL REFERENCES channels(id),
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    event_id INTEGER,
    event_type TEXT NOT NULL,
    order_key TEXT,
    body TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    first_at INTEGER NOT NULL,
    next_at INTEGER NOT NULL,
    lease_until INTEGER,
    lease_owner TEXT,
    last_code INTEGER,
    last_error TEXT,
    done_at INTEGER,
    created_at INTEGER NOT NULL,
    message_id INTEGER REFERENCES messages(id),
    receipt TEXT,
    receipt_at INTEGER
);
CREATE INDEX channel_deliveries_due ON channel_deliveries(next_at) WHERE status = 'pending';
CREATE INDEX channel_deliveries_order ON channel_deliveries(channel_id, order_key, id)
    WHERE status = 'pending';
CREATE INDEX channel_deliveries_hook ON channel_deliveries(channel_id, id);
CREATE INDEX channel_deliveries_message ON channel_deliveries(message_id);
CREATE TABLE channel_attempts (
    id INTEGER PRIMARY KEY,
    delivery_id INTEGER NOT NULL REFERENCES channel_deliveries(id),
    n INTEGER NOT NULL,
    worker TEXT,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    status_code INTEGER,
    error TEXT,
    UNIQUE (delivery_id, n)
);
ALTER TABLE conversations ADD COLUMN channel_id INTEGER REFERENCES channels(id);
ALTER TABLE messages ADD COLUMN delivery TEXT;
"""
