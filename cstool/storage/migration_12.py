"""Migration 12: webhooks (subscriptions, their deliveries and every attempt) and the
delivery state of campaign sends (what a channel reported: delivered, read, failed)."""

M012_WEBHOOKS = """
CREATE TABLE webhooks (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    secret TEXT NOT NULL,
    cursor INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX webhooks_shop ON webhooks(shop_id);
CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,
    webhook_id INTEGER NOT NULL REFERENCES webhooks(id),
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
    created_at INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_order ON webhook_deliveries(webhook_id, order_key, id)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries(webhook_id, id);
CREATE TABLE webhook_attempts (
    id INTEGER PRIMARY KEY,
    delivery_id INTEGER NOT NULL REFERENCES webhook_deliveries(id),
    n INTEGER NOT NULL,
    worker TEXT,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    status_code INTEGER,
    error TEXT,
    UNIQUE (delivery_id, n)
);
ALTER TABLE campaign_sends ADD COLUMN delivery TEXT;
"""
