"""Numbered schema migrations. Each runs once, in order, and is recorded in the file.

Add a new migration at the end; never edit one that has shipped.

Long because: this is the migration history, the SQL of every migration as it shipped,
in order; it is data, and splitting it would only scatter one ordered list.
"""

from __future__ import annotations

M001_DOMAIN = """
CREATE TABLE shops (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    service_mode TEXT NOT NULL DEFAULT 'human_first',
    off_hours_mode TEXT,
    timezone TEXT NOT NULL DEFAULT 'Asia/Shanghai',
    languages TEXT NOT NULL DEFAULT '["zh"]',
    business_hours TEXT,
    settings TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE groups (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    name TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'other',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX groups_shop ON groups(shop_id);

CREATE TABLE agents (
    id INTEGER PRIMARY KEY,
    handle TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'agent',
    level TEXT NOT NULL DEFAULT 'junior',
    max_chats INTEGER NOT NULL DEFAULT 5,
    status TEXT NOT NULL DEFAULT 'offline',
    skills TEXT NOT NULL DEFAULT '[]',
    status_changed_at INTEGER,
    last_assigned_at INTEGER,
    idle_since INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE agent_shops (
    agent_id INTEGER NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    position INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (agent_id, shop_id)
);
CREATE INDEX agent_shops_shop ON agent_shops(shop_id);

CREATE TABLE group_members (
    group_id INTEGER NOT NULL REFERENCES groups(id),
    agent_id INTEGER NOT NULL REFERENCES agents(id) ON DELETE CASCADE,
    position INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (group_id, agent_id)
);
CREATE INDEX group_members_agent ON group_members(agent_id);

CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    phone TEXT,
    email TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE customer_profiles (
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    position INTEGER NOT NULL DEFAULT 0,
    level INTEGER NOT NULL DEFAULT 0,
    tags TEXT NOT NULL DEFAULT '[]',
    region TEXT,
    channel TEXT,
    credit INTEGER,
    dedicated_agent_id INTEGER REFERENCES agents(id),
    last_agent_id INTEGER REFERENCES agents(id),
    last_served_at INTEGER,
    opted_out_at INTEGER,
    PRIMARY KEY (customer_id, shop_id)
);
CREATE INDEX customer_profiles_shop ON customer_profiles(shop_id, level);

CREATE TABLE products (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    title TEXT NOT NULL,
    category TEXT,
    price INTEGER NOT NULL,
    stock INTEGER NOT NULL DEFAULT 0,
    attributes TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL DEFAULT 'on_sale',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX products_shop ON products(shop_id, category);

CREATE TABLE coupons (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    amount INTEGER,
    rate REAL,
    threshold INTEGER NOT NULL DEFAULT 0,
    valid_from INTEGER,
    valid_to INTEGER,
    stackable INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX coupons_shop ON coupons(shop_id);

CREATE TABLE customer_coupons (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    coupon_id INTEGER NOT NULL REFERENCES coupons(id),
    position INTEGER NOT NULL DEFAULT 0,
    issued_at INTEGER,
    used_at INTEGER,
    order_id INTEGER,
    source TEXT
);
CREATE INDEX customer_coupons_customer ON customer_coupons(customer_id);
CREATE INDEX customer_coupons_coupon ON customer_coupons(coupon_id);

CREATE TABLE promotions (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    tiers TEXT,
    rate REAL,
    gift TEXT,
    products TEXT NOT NULL DEFAULT '[]',
    categories TEXT NOT NULL DEFAULT '[]',
    starts_at INTEGER,
    ends_at INTEGER,
    stackable_with_coupons INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX promotions_shop ON promotions(shop_id);

CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    status TEXT NOT NULL,
    total INTEGER NOT NULL DEFAULT 0,
    discount INTEGER NOT NULL DEFAULT 0,
    region TEXT,
    carrier TEXT,
    tracking_no TEXT,
    created_at INTEGER NOT NULL,
    paid_at INTEGER,
    shipped_at INTEGER,
    delivered_at INTEGER,
    updated_at INTEGER NOT NULL
);
CREATE INDEX orders_customer ON orders(customer_id, shop_id, created_at);
CREATE INDEX orders_shop_status ON orders(shop_id, status, created_at);

CREATE TABLE order_items (
    id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    product_id INTEGER NOT NULL REFERENCES products(id),
    quantity INTEGER NOT NULL,
    price INTEGER NOT NULL
);
CREATE INDEX order_items_order ON order_items(order_id);
CREATE INDEX order_items_product ON order_items(product_id);

CREATE TABLE logistics_events (
    id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    at INTEGER NOT NULL,
    status TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX logistics_events_order ON logistics_events(order_id, at);

CREATE TABLE conversations (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    channel TEXT,
    entry_page TEXT,
    source TEXT,
    search_keyword TEXT,
    time_on_site_s INTEGER,
    pages_viewed INTEGER,
    intent TEXT,
    classification TEXT,
    state TEXT NOT NULL,
    assignee_id INTEGER REFERENCES agents(id),
    group_id INTEGER REFERENCES groups(id),
    pool TEXT,
    rule_key TEXT,
    priority INTEGER NOT NULL DEFAULT 0,
    sensitive INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    handoff_at INTEGER,
    queued_at INTEGER,
    assigned_at INTEGER,
    first_agent_reply_at INTEGER,
    last_message_at INTEGER NOT NULL,
    closed_at INTEGER,
    close_reason TEXT,
    rating INTEGER,
    rated_at INTEGER,
    flow TEXT
);
CREATE INDEX conversations_queue ON conversations(shop_id, state, priority DESC, queued_at);
CREATE INDEX conversations_assignee ON conversations(assignee_id, state);
CREATE INDEX conversations_customer ON conversations(customer_id, shop_id, created_at);
CREATE INDEX conversations_shop_time ON conversations(shop_id, created_at);

CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    sender TEXT NOT NULL,
    agent_id INTEGER REFERENCES agents(id),
    kind TEXT NOT NULL DEFAULT 'text',
    body TEXT NOT NULL DEFAULT '',
    payload TEXT,
    client_id TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX messages_conversation ON messages(conversation_id, id);
CREATE INDEX messages_time ON messages(created_at);
CREATE UNIQUE INDEX messages_client ON messages(conversation_id, client_id)
    WHERE client_id IS NOT NULL;

CREATE TABLE routing_rules (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    position INTEGER NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    conditions TEXT NOT NULL DEFAULT '{}',
    target TEXT NOT NULL DEFAULT '{}',
    strategy TEXT NOT NULL DEFAULT 'least_load',
    priority INTEGER NOT NULL DEFAULT 0,
    when_unavailable TEXT NOT NULL DEFAULT 'queue',
    enabled INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX routing_rules_shop ON routing_rules(shop_id, position);

CREATE TABLE knowledge_entries (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    shop_id INTEGER REFERENCES shops(id),
    question TEXT NOT NULL,
    similar TEXT NOT NULL DEFAULT '[]',
    answer TEXT NOT NULL,
    category TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    enabled INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX knowledge_entries_shop ON knowledge_entries(shop_id);

CREATE TABLE unanswered_questions (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER REFERENCES shops(id),
    conversation_id INTEGER REFERENCES conversations(id),
    question TEXT NOT NULL,
    normalized TEXT NOT NULL,
    action TEXT NOT NULL,
    top_entry TEXT,
    confidence REAL,
    created_at INTEGER NOT NULL
);
CREATE INDEX unanswered_shop ON unanswered_questions(shop_id, normalized);

CREATE TABLE quick_replies (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    agent_id INTEGER REFERENCES agents(id),
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX quick_replies_shop ON quick_replies(shop_id, agent_id);

CREATE TABLE campaigns (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    name TEXT NOT NULL,
    trigger TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active',
    config TEXT NOT NULL DEFAULT '{}',
    audience TEXT NOT NULL DEFAULT '{}',
    template TEXT NOT NULL DEFAULT '',
    benefit TEXT,
    schedule TEXT,
    holdout REAL NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX campaigns_shop ON campaigns(shop_id, status);

CREATE TABLE campaign_sends (
    id INTEGER PRIMARY KEY,
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    trigger_key TEXT NOT NULL,
    outcome TEXT NOT NULL,
    conversation_id INTEGER REFERENCES conversations(id),
    message_id INTEGER REFERENCES messages(id),
    at INTEGER NOT NULL,
    UNIQUE (campaign_id, trigger_key)
);
CREATE INDEX campaign_sends_customer ON campaign_sends(customer_id, at);

CREATE TABLE tickets (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    conversation_id INTEGER REFERENCES conversations(id),
    customer_id INTEGER REFERENCES customers(id),
    order_id INTEGER REFERENCES orders(id),
    type TEXT NOT NULL,
    team TEXT,
    assignee_id INTEGER REFERENCES agents(id),
    priority TEXT NOT NULL DEFAULT 'P3',
    status TEXT NOT NULL DEFAULT 'new',
    title TEXT NOT NULL,
    first_response_due INTEGER,
    resolution_due INTEGER,
    first_responded_at INTEGER,
    resolved_at INTEGER,
    closed_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX tickets_shop_status ON tickets(shop_id, status);
CREATE INDEX tickets_due ON tickets(status, resolution_due);
CREATE INDEX tickets_assignee ON tickets(assignee_id, status);

CREATE TABLE ticket_timeline (
    id INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    agent_id INTEGER REFERENCES agents(id),
    body TEXT,
    payload TEXT
);
CREATE INDEX ticket_timeline_ticket ON ticket_timeline(ticket_id, at);

CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    shop_id INTEGER,
    type TEXT NOT NULL,
    entity TEXT,
    entity_key TEXT,
    payload TEXT
);
CREATE INDEX events_shop ON events(shop_id, id);
"""

M002_DESK = """
ALTER TABLE conversations ADD COLUMN route_trace TEXT;
ALTER TABLE conversations ADD COLUMN last_customer_at INTEGER;
ALTER TABLE conversations ADD COLUMN agent_seen_at INTEGER;
ALTER TABLE conversations ADD COLUMN product_key TEXT;
CREATE TABLE shop_routing_state (
    shop_id INTEGER PRIMARY KEY REFERENCES shops(id),
    round_robin TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX messages_client_lookup ON messages(client_id) WHERE client_id IS NOT NULL;
CREATE INDEX conversations_open ON conversations(customer_id, shop_id, state);
CREATE INDEX conversations_idle ON conversations(state, last_message_at)
"""

M003_TOKENS = """
CREATE TABLE tokens (
    id INTEGER PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    label TEXT,
    role TEXT NOT NULL CHECK (role IN ('admin', 'supervisor', 'agent', 'customer')),
    agent_id INTEGER REFERENCES agents(id) ON DELETE CASCADE,
    customer_id INTEGER REFERENCES customers(id) ON DELETE CASCADE,
    shop_id INTEGER REFERENCES shops(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER,
    last_used_at INTEGER,
    CHECK ((role = 'customer') = (customer_id IS NOT NULL AND shop_id IS NOT NULL)),
    CHECK (role IN ('admin', 'customer') OR agent_id IS NOT NULL)
);
CREATE INDEX tokens_agent ON tokens(agent_id);
CREATE INDEX tokens_customer ON tokens(customer_id, shop_id)
"""

M004_METRICS = """CREATE TABLE IF NOT EXISTS metric_state (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS metric_conversations (
    conversation_id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL,
    customer_id INTEGER NOT NULL,
    channel TEXT,
    group_key TEXT,
    created_at INTEGER NOT NULL,
    closed_at INTEGER,
    entry_mode TEXT NOT NULL,
    bot_engaged INTEGER NOT NULL,
    handoff_at INTEGER,
    needs_human_at INTEGER,
    first_reply_at INTEGER,
    first_reply_agent_id INTEGER,
    last_agent_id INTEGER,
    customer_messages INTEGER NOT NULL,
    agent_messages INTEGER NOT NULL,
    bot_messages INTEGER NOT NULL,
    transfers INTEGER NOT NULL,
    queued INTEGER NOT NULL,
    queue_wait_ms INTEGER NOT NULL,
    queue_since INTEGER,
    rating INTEGER,
    reopened_at INTEGER,
    legs INTEGER NOT NULL,
    legs_ended INTEGER NOT NULL,
    handle_ms INTEGER NOT NULL,
    turns_counted INTEGER NOT NULL,
    turns_in INTEGER NOT NULL,
    turns_answered INTEGER NOT NULL,
    response_ms INTEGER NOT NULL,
    response_target_ms INTEGER NOT NULL,
    answer_target_ms INTEGER NOT NULL,
    frt_agent_id INTEGER,
    c_conversations INTEGER NOT NULL,
    c_customer_messages INTEGER NOT NULL,
    c_agent_messages INTEGER NOT NULL,
    c_bot_messages INTEGER NOT NULL,
    c_transfers INTEGER NOT NULL,
    c_human INTEGER NOT NULL,
    c_answered INTEGER NOT NULL,
    c_frt_sum INTEGER NOT NULL,
    c_frt_counted INTEGER NOT NULL,
    c_frt_in INTEGER NOT NULL,
    c_abandoned INTEGER NOT NULL,
    c_turns_counted INTEGER NOT NULL,
    c_turns_in INTEGER NOT NULL,
    c_turns_answered INTEGER NOT NULL,
    c_response_sum INTEGER NOT NULL,
    c_bot INTEGER NOT NULL,
    c_handoffs INTEGER NOT NULL,
    c_bot_closed INTEGER NOT NULL,
    c_bot_resolved INTEGER NOT NULL,
    c_queued INTEGER NOT NULL,
    c_queue_sum INTEGER NOT NULL,
    c_closed INTEGER NOT NULL,
    c_rated INTEGER NOT NULL,
    c_satisfied INTEGER NOT NULL,
    c_rating_sum INTEGER NOT NULL,
    c_chats INTEGER NOT NULL,
    c_legs_ended INTEGER NOT NULL,
    c_handle_sum INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS metric_conversations_time ON metric_conversations(created_at);
CREATE INDEX IF NOT EXISTS metric_conversations_shop_time
    ON metric_conversations(shop_id, created_at);
CREATE TABLE IF NOT EXISTS metric_turns (
    conversation_id INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    answered_at INTEGER,
    agent_id INTEGER
);
CREATE INDEX IF NOT EXISTS metric_turns_conversation ON metric_turns(conversation_id);
CREATE TABLE IF NOT EXISTS metric_legs (
    conversation_id INTEGER NOT NULL,
    agent_id INTEGER NOT NULL,
    shop_id INTEGER NOT NULL,
    customer_id INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    ended_at INTEGER,
    first_reply_at INTEGER,
    last_reply_at INTEGER,
    messages INTEGER NOT NULL,
    handle_ms INTEGER,
    turns_counted INTEGER NOT NULL,
    turns_in INTEGER NOT NULL,
    turns_answered INTEGER NOT NULL,
    response_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS metric_legs_conversation ON metric_legs(conversation_id);
CREATE INDEX IF NOT EXISTS metric_legs_agent ON metric_legs(agent_id, started_at);
CREATE TABLE IF NOT EXISTS metric_agent_status (
    event_id INTEGER PRIMARY KEY,
    agent_id INTEGER NOT NULL,
    at INTEGER NOT NULL,
    previous TEXT,
    status TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS metric_agent_status_agent ON metric_agent_status(agent_id, at)
"""

M005_TICKETS = """
ALTER TABLE tickets ADD COLUMN sla_policy TEXT;
ALTER TABLE tickets ADD COLUMN first_response_min INTEGER NOT NULL DEFAULT 240;
ALTER TABLE tickets ADD COLUMN resolution_min INTEGER NOT NULL DEFAULT 1440;
ALTER TABLE tickets ADD COLUMN sla_clock TEXT NOT NULL DEFAULT 'business';
ALTER TABLE tickets ADD COLUMN warn_share REAL NOT NULL DEFAULT 0.8;
ALTER TABLE tickets ADD COLUMN on_breach TEXT NOT NULL DEFAULT 'notify';
ALTER TABLE tickets ADD COLUMN escalate_to TEXT;
ALTER TABLE tickets ADD COLUMN warned_first_at INTEGER;
ALTER TABLE tickets ADD COLUMN warned_resolution_at INTEGER;
ALTER TABLE tickets ADD COLUMN breached_first_at INTEGER;
ALTER TABLE tickets ADD COLUMN breached_resolution_at INTEGER;
CREATE TABLE sla_policies (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    position INTEGER,
    name TEXT,
    conditions TEXT NOT NULL DEFAULT '{}',
    first_response_min INTEGER NOT NULL,
    resolution_min INTEGER NOT NULL,
    clock TEXT NOT NULL DEFAULT 'business',
    warn_share REAL NOT NULL DEFAULT 0.8,
    on_breach TEXT NOT NULL DEFAULT 'notify',
    escalate_to_id INTEGER REFERENCES agents(id),
    enabled INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX sla_policies_shop ON sla_policies(shop_id, position);
CREATE INDEX tickets_open_first_due ON tickets(status, first_response_due)
"""

M006_SLA_SCAN = """
ALTER TABLE tickets ADD COLUMN first_warn_due INTEGER;
ALTER TABLE tickets ADD COLUMN resolution_warn_due INTEGER;
ALTER TABLE tickets ADD COLUMN next_sla_at INTEGER;
CREATE INDEX tickets_next_sla ON tickets(next_sla_at) WHERE next_sla_at IS NOT NULL
"""

M007_CAMPAIGNS = """ALTER TABLE campaigns ADD COLUMN delay_min INTEGER;
ALTER TABLE campaigns ADD COLUMN expires_min INTEGER;
ALTER TABLE campaigns ADD COLUMN coupon_id INTEGER REFERENCES coupons(id);
ALTER TABLE campaigns ADD COLUMN product_id INTEGER REFERENCES products(id);
ALTER TABLE campaigns ADD COLUMN code TEXT;
ALTER TABLE campaigns ADD COLUMN categories TEXT NOT NULL DEFAULT '[]';
ALTER TABLE campaigns ADD COLUMN min_level INTEGER;
ALTER TABLE campaigns ADD COLUMN max_level INTEGER;
ALTER TABLE campaigns ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE campaigns ADD COLUMN regions TEXT NOT NULL DEFAULT '[]';
ALTER TABLE campaigns ADD COLUMN classifications TEXT NOT NULL DEFAULT '[]';
ALTER TABLE campaigns ADD COLUMN starts_at INTEGER;
ALTER TABLE campaigns ADD COLUMN ends_at INTEGER;
ALTER TABLE campaigns ADD COLUMN attribution_h INTEGER;
ALTER TABLE campaign_sends ADD COLUMN shop_id INTEGER REFERENCES shops(id);
ALTER TABLE campaign_sends ADD COLUMN reason TEXT;
ALTER TABLE campaign_sends ADD COLUMN order_id INTEGER REFERENCES orders(id);
ALTER TABLE campaign_sends ADD COLUMN coupon_id INTEGER REFERENCES coupons(id);
ALTER TABLE campaign_sends ADD COLUMN body TEXT;
CREATE INDEX campaign_sends_cap ON campaign_sends(shop_id, customer_id, at)
    WHERE outcome = 'sent';
CREATE INDEX campaign_sends_campaign ON campaign_sends(campaign_id, outcome, at);
CREATE TABLE cart_items (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    product_id INTEGER NOT NULL REFERENCES products(id),
    quantity INTEGER NOT NULL DEFAULT 1,
    price INTEGER NOT NULL,
    added_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX cart_items_product ON cart_items(product_id);
CREATE INDEX cart_items_customer ON cart_items(customer_id, shop_id);
CREATE INDEX tickets_customer ON tickets(customer_id, shop_id, status);
CREATE INDEX orders_paid ON orders(shop_id, paid_at) WHERE paid_at IS NOT NULL;
CREATE INDEX orders_shipped ON orders(shop_id, shipped_at) WHERE shipped_at IS NOT NULL;
CREATE INDEX orders_delivered ON orders(shop_id, delivered_at) WHERE delivered_at IS NOT NULL
"""

# Two indexes every post wrote and no query needs: conversations_customer (customer_id,
# shop_id, ...) finds a customer's open chat and, with messages_client (conversation_id,
# client_id), a retried client id; each page less is one WAL frame less per commit.
M008_LEANER_POSTS = """
DROP INDEX IF EXISTS conversations_open;
DROP INDEX IF EXISTS messages_client_lookup
"""

# When a campaign was paused: triggers that fall due while it is paused are not sent
# when it resumes (one span kept, the latest). Created paused (a 追单 campaign by
# default): paused since ever. When a product's price last changed: a price drop falls
# due then, not at the product's next unrelated edit. The triggers read the time the
# write stamped. A shop's routing rules once per version: a routed chat stores its
# decision compactly and names them; explain derives the reasons again.
M009_CAMPAIGN_PAUSES = """
ALTER TABLE campaigns ADD COLUMN paused_from INTEGER;
ALTER TABLE campaigns ADD COLUMN paused_to INTEGER;
UPDATE campaigns SET paused_from = updated_at WHERE status = 'paused';
CREATE TRIGGER campaigns_created_paused AFTER INSERT ON campaigns
    WHEN NEW.status = 'paused'
    BEGIN UPDATE campaigns SET paused_from = 0, paused_to = NULL WHERE id = NEW.id; END;
CREATE TRIGGER campaigns_paused AFTER UPDATE OF status ON campaigns
    WHEN NEW.status = 'paused' AND OLD.status != 'paused'
    BEGIN UPDATE campaigns SET paused_from = NEW.updated_at, paused_to = NULL
    WHERE id = NEW.id; END;
CREATE TRIGGER campaigns_resumed AFTER UPDATE OF status ON campaigns
    WHEN NEW.status = 'active' AND OLD.status = 'paused'
    BEGIN UPDATE campaigns SET paused_to = NEW.updated_at WHERE id = NEW.id; END;
ALTER TABLE products ADD COLUMN price_changed_at INTEGER;
CREATE TRIGGER products_price_changed AFTER UPDATE OF price ON products
    WHEN NEW.price != OLD.price
    BEGIN UPDATE products SET price_changed_at = NEW.updated_at WHERE id = NEW.id; END;
CREATE TABLE routing_rulesets (
    id TEXT PRIMARY KEY,
    shop_id INTEGER REFERENCES shops(id),
    rules TEXT NOT NULL,
    created_at INTEGER NOT NULL
)
"""

# The event log without AUTOINCREMENT: every insert also rewrote sqlite_sequence, one
# page more in every commit. Events are never deleted, so the next id is still the
# highest plus one and an SSE cursor never sees an id twice.
M010_EVENTS_ROWID = """
CREATE TABLE events_new (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    shop_id INTEGER,
    type TEXT NOT NULL,
    entity TEXT,
    entity_key TEXT,
    payload TEXT
);
INSERT INTO events_new (id, at, shop_id, type, entity, entity_key, payload)
    SELECT id, at, shop_id, type, entity, entity_key, payload FROM events ORDER BY id;
DROP TABLE events;
ALTER TABLE events_new RENAME TO events;
CREATE INDEX events_shop ON events(shop_id, id);
DELETE FROM sqlite_sequence WHERE name = 'events'
"""

# The shop queue without reading every waiting chat: two partial indexes over the chats
# in state 'queued' (serving order, and the same per pool); the waiting chats counted per
# (shop, pool, priority) in queue_bands, and per arrival bucket in queue_counts (level k
# counts the chats whose arrival in ms, shifted right by 4k bits, is the bucket: 16 ms,
# 256 ms, 4 s ... 35 years), both kept exact by triggers whoever writes a chat. A post,
# an accept, a page and a queue place then read a few index entries and at most 15
# counts a level per pool instead of every waiting chat. Recent closed chats of a shop by
# an index too (the average handle time a wait estimate divides by). And desk_version:
# a random value drawn anew whenever an agent, their shops or groups change as routing
# sees them, so that the agents a queue place reads can be kept between writes (a
# rolled-back draw is never drawn again).
M011_QUEUE_INDEX = """
CREATE INDEX conversations_serving ON conversations(shop_id, priority DESC,
    COALESCE(queued_at, created_at), id) WHERE state = 'queued';
CREATE INDEX conversations_pool_serving ON conversations(shop_id, pool, priority DESC,
    COALESCE(queued_at, created_at), id) WHERE state = 'queued';
CREATE INDEX conversations_closed ON conversations(shop_id, closed_at)
    WHERE state = 'closed';
CREATE TABLE queue_bands (
    shop_id INTEGER NOT NULL,
    pool TEXT NOT NULL,
    priority INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (shop_id, pool, priority)
) WITHOUT ROWID;
INSERT INTO queue_bands (shop_id, pool, priority, n)
    SELECT shop_id, COALESCE(pool, ''), priority, COUNT(*) FROM conversations
    WHERE state = 'queued' GROUP BY shop_id, COALESCE(pool, ''), priority;
CREATE TABLE queue_counts (
    shop_id INTEGER NOT NULL,
    pool TEXT NOT NULL,
    priority INTEGER NOT NULL,
    level INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (shop_id, pool, priority, level, bucket)
) WITHOUT ROWID;
INSERT INTO queue_counts (shop_id, pool, priority, level, bucket, n)
    SELECT c.shop_id, COALESCE(c.pool, ''), c.priority, k.column1,
    COALESCE(c.queued_at, c.created_at) >> (4 * k.column1), COUNT(*)
    FROM conversations c, (VALUES (1), (2), (3), (4), (5), (6), (7), (8), (9), (10)) AS k
    WHERE c.state = 'queued' GROUP BY 1, 2, 3, 4, 5;
CREATE TABLE desk_version (id INTEGER PRIMARY KEY CHECK (id = 1), v INTEGER NOT NULL);
INSERT INTO desk_version (id, v) VALUES (1, 0);
CREATE TRIGGER desk_version_agents_in AFTER INSERT ON agents
    BEGIN UPDATE desk_version SET v = random(); END;
CREATE TRIGGER desk_version_agents_out AFTER DELETE ON agents
    BEGIN UPDATE desk_version SET v = random(); END;
CREATE TRIGGER desk_version_agents_changed
    AFTER UPDATE OF handle, role, status, max_chats, level, skills ON agents
    BEGIN UPDATE desk_version SET v = random(); END;
CREATE TRIGGER desk_version_agent_shops_in AFTER INSERT ON agent_shops
    BEGIN UPDATE desk_version SET v = random(); END;
CREATE TRIGGER desk_version_agent_shops_out AFTER DELETE ON agent_shops
    BEGIN UPDATE desk_version SET v = random(); END;
CREATE TRIGGER desk_version_agent_shops_changed AFTER UPDATE ON agent_shops
    BEGIN UPDATE desk_version SET v = random(); END;
CREATE TRIGGER desk_version_group_members_in AFTER INSERT ON group_members
    BEGIN UPDATE desk_version SET v = random(); END;
CREATE TRIGGER desk_version_group_members_out AFTER DELETE ON group_members
    BEGIN UPDATE desk_version SET v = random(); END;
CREATE TRIGGER desk_version_group_members_changed AFTER UPDATE ON group_members
    BEGIN UPDATE desk_version SET v = random(); END;
CREATE TRIGGER desk_version_groups_out AFTER DELETE ON "groups"
    BEGIN UPDATE desk_version SET v = random(); END;
CREATE TRIGGER desk_version_groups_changed AFTER UPDATE OF key, shop_id ON "groups"
    BEGIN UPDATE desk_version SET v = random(); END;
CREATE TRIGGER queue_bands_insert AFTER INSERT ON conversations
    WHEN NEW.state = 'queued'
    BEGIN INSERT INTO queue_bands (shop_id, pool, priority, n)
    VALUES (NEW.shop_id, COALESCE(NEW.pool, ''), NEW.priority, 1)
    ON CONFLICT (shop_id, pool, priority) DO UPDATE SET n = n + 1
    ; INSERT INTO queue_counts (shop_id, pool, priority, level, bucket, n)
    SELECT NEW.shop_id, COALESCE(NEW.pool, ''), NEW.priority, k.column1,
    COALESCE(NEW.queued_at, NEW.created_at) >> (4 * k.column1), 1
    FROM (VALUES (1), (2), (3), (4), (5), (6), (7), (8), (9), (10)) AS k
    WHERE 1
    ON CONFLICT (shop_id, pool, priority, level, bucket) DO UPDATE SET n = n + 1
    ; END;
CREATE TRIGGER queue_bands_update_out AFTER UPDATE OF state, pool, priority, shop_id,
    queued_at, created_at ON conversations WHEN OLD.state = 'queued'
    BEGIN UPDATE queue_bands SET n = n - 1 WHERE shop_id = OLD.shop_id
    AND pool = COALESCE(OLD.pool, '') AND priority = OLD.priority
    ; DELETE FROM queue_bands WHERE shop_id = OLD.shop_id
    AND pool = COALESCE(OLD.pool, '') AND priority = OLD.priority AND n <= 0
    ; UPDATE queue_counts SET n = n - 1 WHERE shop_id = OLD.shop_id
    AND pool = COALESCE(OLD.pool, '') AND priority = OLD.priority AND level = 1
    AND bucket = COALESCE(OLD.queued_at, OLD.created_at) >> 4
    ; UPDATE queue_counts SET n = n - 1 WHERE shop_id = OLD.shop_id
    AND pool = COALESCE(OLD.pool, '') AND priority = OLD.priority AND level = 2
    AND bucket = COALESCE(OLD.queued_at, OLD.created_at) >> 8
    ; UPDATE queue_counts SET n = n - 1 WHERE shop_id = OLD.shop_id
    AND pool = COALESCE(OLD.pool, '') AND priority = OLD.priority AND level = 3
    AND bucket = COALESCE(OLD.queued_at, OLD.created_at) >> 12
    ; UPDATE queue_counts SET n = n - 1 WHERE shop_id = OLD.shop_id
    AND pool = COALESCE(OLD.pool, '') AND priority = OLD.priority AND level = 4
    AND bucket = COALESCE(OLD.queued_at, OLD.created_at) >> 16
    ; UPDATE queue_counts SET n = n - 1 WHERE shop_id = OLD.shop_id
    AND pool = COALESCE(OLD.pool, '') AND priority = OLD.priority AND level = 5
    AND bucket = COALESCE(OLD.queued_at, OLD.created_at) >> 20
    ; UPDATE queue_counts SET n = n - 1 WHERE shop_id = OLD.shop_id
    AND pool = COALESCE(OLD.pool, '') AND priority = OLD.priority AND level = 6
    AND bucket = COALESCE(OLD.queued_at, OLD.created_at) >> 24
    ; UPDATE queue_counts SET n = n - 1 WHERE shop_id = OLD.shop_id
    AND pool = COALESCE(OLD.pool, '') AND priority = OLD.priority AND level = 7
    AND bucket = COALESCE(OLD.queued_at, OLD.created_at) >> 28
    ; UPDATE queue_counts SET n = n - 1 WHERE shop_id = OLD.shop_id
    AND pool = COALESCE(OLD.pool, '') AND priority = OLD.priority AND level = 8
    AND bucket = COALESCE(OLD.queued_at, OLD.created_at) >> 32
    ; UPDATE queue_counts SET n = n - 1 WHERE shop_id = OLD.shop_id
    AND pool = COALESCE(OLD.pool, '') AND priority = OLD.priority AND level = 9
    AND bucket = COALESCE(OLD.queued_at, OLD.created_at) >> 36
    ; UPDATE queue_counts SET n = n - 1 WHERE shop_id = OLD.shop_id
    AND pool = COALESCE(OLD.pool, '') AND priority = OLD.priority AND level = 10
    AND bucket = COALESCE(OLD.queued_at, OLD.created_at) >> 40
    ; DELETE FROM queue_counts WHERE shop_id = OLD.shop_id
    AND pool = COALESCE(OLD.pool, '') AND priority = OLD.priority AND level = 1
    AND bucket = COALESCE(OLD.queued_at, OLD.created_at) >> 4 AND n <= 0
    ; DELETE FROM queue_counts WHERE shop_id = OLD.shop_id
    AND pool = COALESCE(OLD.pool, '') AND priority = OLD.priority AND level = 2
    AND bucket = COALESCE(OLD.queued_at, OLD.created_at) >> 8 AND n <= 0
    ; DELETE FROM queue_counts WHERE shop_id = OLD.shop_id
    AND pool = COALESCE(OLD.pool, '') AND priority = OLD.priority AND level = 3
    AND bucket = COALESCE(OLD.queued_at, OLD.created_at) >> 12 AND n <= 0
    ; END;
CREATE TRIGGER queue_bands_update_in AFTER UPDATE OF state, pool, priority, shop_id,
    queued_at, created_at ON conversations WHEN NEW.state = 'queued'
    BEGIN INSERT INTO queue_bands (shop_id, pool, priority, n)
    VALUES (NEW.shop_id, COALESCE(NEW.pool, ''), NEW.priority, 1)
    ON CONFLICT (shop_id, pool, priority) DO UPDATE SET n = n + 1
    ; INSERT INTO queue_counts (shop_id, pool, priority, level, bucket, n)
    SELECT NEW.shop_id, COALESCE(NEW.pool, ''), NEW.priority, k.column1,
    COALESCE(NEW.queued_at, NEW.created_at) >> (4 * k.column1), 1
    FROM (VALUES (1), (2), (3), (4), (5), (6), (7), (8), (9), (10)) AS k
    WHERE 1
    ON CONFLICT (shop_id, pool, priority, level, bucket) DO UPDATE SET n = n + 1
    ; END;
CREATE TRIGGER queue_bands_delete AFTER DELETE ON conversations
    WHEN OLD.state = 'queued'
    BEGIN UPDATE queue_bands SET n = n - 1 WHERE shop_id = OLD.shop_id
    AND pool = COALESCE(OLD.pool, '') AND priority = OLD.priority
    ; DELETE FROM queue_bands WHERE shop_id = OLD.shop_id
    AND pool = COALESCE(OLD.pool, '') AND priority = OLD.priority AND n <= 0
    ; UPDATE queue_counts SET n = n - 1 WHERE shop_id = OLD.shop_id
    AND pool = COALESCE(OLD.pool, '') AND priority = OLD.priority AND level = 1
    AND bucket = COALESCE(OLD.queued_at, OLD.created_at) >> 4
    ; UPDATE queue_counts SET n = n - 1 WHERE shop_id = OLD.shop_id
    AND pool = COALESCE(OLD.pool, '') AND priority = OLD.priority AND level = 2
    AND bucket = COALESCE(OLD.queued_at, OLD.created_at) >> 8
    ; UPDATE queue_counts SET n = n - 1 WHERE shop_id = OLD.shop_id
    AND pool = COALESCE(OLD.pool, '') AND priority = OLD.priority AND level = 3
    AND bucket = COALESCE(OLD.queued_at, OLD.created_at) >> 12
    ; UPDATE queue_counts SET n = n - 1 WHERE shop_id = OLD.shop_id
    AND pool = COALESCE(OLD.pool, '') AND priority = OLD.priority AND level = 4
    AND bucket = COALESCE(OLD.queued_at, OLD.created_at) >> 16
    ; UPDATE queue_counts SET n = n - 1 WHERE shop_id = OLD.shop_id
    AND pool = COALESCE(OLD.pool, '') AND priority = OLD.priority AND level = 5
    AND bucket = COALESCE(OLD.queued_at, OLD.created_at) >> 20
    ; UPDATE queue_counts SET n = n - 1 WHERE shop_id = OLD.shop_id
    AND pool = COALESCE(OLD.pool, '') AND priority = OLD.priority AND level = 6
    AND bucket = COALESCE(OLD.queued_at, OLD.created_at) >> 24
    ; UPDATE queue_counts SET n = n - 1 WHERE shop_id = OLD.shop_id
    AND pool = COALESCE(OLD.pool, '') AND priority = OLD.priority AND level = 7
    AND bucket = COALESCE(OLD.queued_at, OLD.created_at) >> 28
    ; UPDATE queue_counts SET n = n - 1 WHERE shop_id = OLD.shop_id
    AND pool = COALESCE(OLD.pool, '') AND priority = OLD.priority AND level = 8
    AND bucket = COALESCE(OLD.queued_at, OLD.created_at) >> 32
    ; UPDATE queue_counts SET n = n - 1 WHERE shop_id = OLD.shop_id
    AND pool = COALESCE(OLD.pool, '') AND priority = OLD.priority AND level = 9
    AND bucket = COALESCE(OLD.queued_at, OLD.created_at) >> 36
    ; UPDATE queue_counts SET n = n - 1 WHERE shop_id = OLD.shop_id
    AND pool = COALESCE(OLD.pool, '') AND priority = OLD.priority AND level = 10
    AND bucket = COALESCE(OLD.queued_at, OLD.created_at) >> 40
    ; DELETE FROM queue_counts WHERE shop_id = OLD.shop_id
    AND pool = COALESCE(OLD.pool, '') AND priority = OLD.priority AND level = 1
    AND bucket = COALESCE(OLD.queued_at, OLD.created_at) >> 4 AND n <= 0
    ; DELETE FROM queue_counts WHERE shop_id = OLD.shop_id
    AND pool = COALESCE(OLD.pool, '') AND priority = OLD.priority AND level = 2
    AND bucket = COALESCE(OLD.queued_at, OLD.created_at) >> 8 AND n <= 0
    ; DELETE FROM queue_counts WHERE shop_id = OLD.shop_id
    AND pool = COALESCE(OLD.pool, '') AND priority = OLD.priority AND level = 3
    AND bucket = COALESCE(OLD.queued_at, OLD.created_at) >> 12 AND n <= 0
    ; END
"""

from .migration_12 import M012_WEBHOOKS  # noqa: E402
from .migration_16 import M016_CHANNELS  # noqa: E402
from .migration_18 import M018_MACROS_FOLLOW_UPS_PRESENCE  # noqa: E402

M013_KB_SUGGESTIONS = """
CREATE TABLE kb_suggestions (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    kind TEXT NOT NULL,
    entry_key TEXT,
    question TEXT NOT NULL,
    similar TEXT NOT NULL DEFAULT '[]',
    answer TEXT,
    evidence TEXT NOT NULL DEFAULT '[]',
    keys TEXT NOT NULL DEFAULT '[]',
    status TEXT NOT NULL DEFAULT 'open',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    decided_at INTEGER,
    decided_by TEXT,
    result_entry TEXT,
    proposed_by TEXT
);
CREATE INDEX kb_suggestions_shop ON kb_suggestions(shop_id, status, id);
"""

# The knowledge bot's entry embeddings, kept in the data file so that a new process
# (or a new cache folder) does not embed every entry again: one row per embedded text
# and model, addressed by a hash of the model's name and the text (an entry that changes
# gets new rows for its changed texts only). Vectors are float16 bytes.
M015_ENTRY_EMBEDDINGS = """
CREATE TABLE entry_embeddings (
    model TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (model, text_hash)
) WITHOUT ROWID;
"""

# 14 (the desk-basics helper; 12 and 13 are reserved for others): labels on conversations
# (a shop's own, by text) and staff-only private notes in a chat (never a message: nothing
# that reads messages for a customer can see them).
M014_LABELS_NOTES = """
CREATE TABLE conversation_labels (
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    label TEXT NOT NULL,
    added_by TEXT,
    added_at INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, label)
) WITHOUT ROWID;
CREATE INDEX conversation_labels_shop ON conversation_labels(shop_id, label, conversation_id);

CREATE TABLE conversation_notes (
    id INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    agent_id INTEGER NOT NULL REFERENCES agents(id),
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX conversation_notes_conversation ON conversation_notes(conversation_id, id)
"""

# Files sent in chats (one per file message, addressed by the message) and their bytes
# by SHA-256: in a folder beside a SQLite data file, in ``file_blobs`` on PostgreSQL;
# the key that signs the widget's expiring file links; the shop platform's order events
# (idempotent by the platform's event id, per shop).
M017_FILES_ORDER_EVENTS = """
CREATE TABLE chat_files (
    message_id INTEGER PRIMARY KEY REFERENCES messages(id),
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    sha256 TEXT NOT NULL,
    name TEXT NOT NULL,
    mime TEXT NOT NULL,
    category TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    width INTEGER,
    height INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX chat_files_sha ON chat_files(sha256);
CREATE INDEX chat_files_conversation ON chat_files(conversation_id, message_id);

CREATE TABLE file_blobs (
    sha256 TEXT PRIMARY KEY,
    data BLOB NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE file_link_keys (
    id INTEGER PRIMARY KEY,
    secret TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE order_events (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    event_id TEXT NOT NULL,
    order_id INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    type TEXT NOT NULL,
    at INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    result TEXT NOT NULL,
    UNIQUE (shop_id, event_id)
);
CREATE INDEX order_events_order ON order_events(order_id, at)
"""

# 19 (the quality-inspection helper): 质检 of closed chats. One inspection per chat (its
# score, the chat's agent, whether it goes to review: flagged or sampled; when reviewed),
# its findings (each at a message, against an agent, with points and the reviewer's
# verdict), and the event the inspections caught up to.
M019_QUALITY = """
CREATE TABLE qa_inspections (
    conversation_id INTEGER PRIMARY KEY REFERENCES conversations(id),
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    agent_id INTEGER REFERENCES agents(id),
    created_at INTEGER NOT NULL,
    closed_at INTEGER NOT NULL,
    score INTEGER NOT NULL,
    flagged INTEGER NOT NULL,
    sampled INTEGER NOT NULL,
    inspected_at INTEGER NOT NULL,
    reviewed_at INTEGER,
    reviewed_by TEXT
);
CREATE INDEX qa_inspections_shop ON qa_inspections(shop_id, created_at);
CREATE INDEX qa_inspections_review ON qa_inspections(shop_id, reviewed_at, closed_at);
CREATE INDEX qa_inspections_agent ON qa_inspections(agent_id, created_at);
CREATE TABLE qa_findings (
    id INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    agent_id INTEGER REFERENCES agents(id),
    rule TEXT NOT NULL,
    message_id INTEGER REFERENCES messages(id),
    points INTEGER NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    verdict TEXT,
    reviewed_by TEXT,
    reviewed_at INTEGER
);
CREATE INDEX qa_findings_conversation ON qa_findings(conversation_id, id);
CREATE INDEX qa_findings_agent ON qa_findings(agent_id, rule);
CREATE TABLE qa_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    cursor INTEGER NOT NULL
)
"""

# 20 (the bot-that-acts helper): where an order goes (receiver, phone, address), which a
# customer may change until it ships (``cstool order address``, the bot's 改地址).
M020_ORDER_ADDRESS = """
ALTER TABLE orders ADD COLUMN receiver TEXT;
ALTER TABLE orders ADD COLUMN phone TEXT;
ALTER TABLE orders ADD COLUMN address TEXT
"""

# 21: PostgreSQL's commit counter, the sequence cstool_commits that
# every write transaction takes a number of (storage/pg_engine.py: what the in-process
# caches compare to see other processes' commits). Made here, by the upgrade, rather
# than each time a database is opened, so an application role without CREATE rights
# opens an upgraded database. SQLite's file has its own counter (PRAGMA data_version):
# there the migration is only recorded.
M021_COMMIT_COUNTER = """
-- PostgreSQL only (POSTGRES_OVERRIDES[21]); nothing to do in a SQLite file
"""

MIGRATIONS: list[tuple[int, str, str]] = [
    (1, "the whole domain: shops to events", M001_DOMAIN),
    (2, "conversation desk: routing traces, unread marks, round-robin state", M002_DESK),
    (3, "API tokens: hashed, with role, scope, expiry and revocation", M003_TOKENS),
    (4, "service metrics: conversation facts kept current from the event log", M004_METRICS),
    (5, "tickets: SLA policies, targets, reminders and escalations", M005_TICKETS),
    (6, "tickets: warning instants and the next SLA instant, indexed for the scan",
     M006_SLA_SCAN),
    (7, "campaigns: triggers, audience, guards, sends with outcomes; carts", M007_CAMPAIGNS),
    (8, "leaner posts: two redundant indexes dropped", M008_LEANER_POSTS),
    (9, "campaigns: the latest pause (what fell due then is not sent later); when a "
        "product's price changed; routing rules kept once per version for explain",
     M009_CAMPAIGN_PAUSES),
    (10, "the event log without AUTOINCREMENT: one page less in every commit",
     M010_EVENTS_ROWID),
    (11, "the queue by index: serving order per shop and per pool, waiting chats counted "
         "per pool and priority by triggers (no cost that grows with the queue)",
     M011_QUEUE_INDEX),
    (12, "webhooks: subscriptions, deliveries and attempts; campaign sends' delivery state",
     M012_WEBHOOKS),
    (13, "knowledge suggestions mined from human chats, with the decisions on them (a "
         "rejected one is not proposed again)", M013_KB_SUGGESTIONS),
    (14, "labels on conversations and staff-only private notes", M014_LABELS_NOTES),
    (15, "the knowledge bot's entry embeddings, stored by model and text fingerprint "
         "(computed again only for texts that change)", M015_ENTRY_EMBEDDINGS),
    (16, "channel connectors: a shop's http channels, their signed deliveries and "
         "attempts, delivery receipts, a chat's connector, a message's delivery state",
     M016_CHANNELS),
    (17, "files in chats by SHA-256 (with the link-signing key) and the shop platform's "
         "order events, idempotent by event id", M017_FILES_ORDER_EVENTS),
    (18, "macros, follow-up invitations, who is in a chat (presence), whispers (notes to "
         "one agent)", M018_MACROS_FOLLOW_UPS_PRESENCE),
    (19, "quality inspection (质检): a score and findings per closed chat, the review",
     M019_QUALITY),
    (20, "orders: receiver, phone and address (changed until the order ships)",
     M020_ORDER_ADDRESS),
    (21, "PostgreSQL's commit counter made by the upgrade, not at every opening (a role "
         "without CREATE rights opens the database)", M021_COMMIT_COUNTER),
]

LATEST = MIGRATIONS[-1][0]

# Migrations whose PostgreSQL form differs beyond what storage/dialect.py translates
# (by number; the SQLite text stays the history). A new migration needs no entry when
# its SQL translates (plain DDL, indexes, triggers, INSERT ... SELECT); the test
# tests/test_postgres_engine.py runs every migration on a real PostgreSQL.
POSTGRES_OVERRIDES: dict[int, str] = {
    21: "CREATE SEQUENCE IF NOT EXISTS cstool_commits",
}
