"""Migration 18 (the macros / follow-ups / presence helper, issue 22 items 4, 5 and 10):

- ``macros``: a shop's (or one agent's) named sequences of desk actions, records of
  ``apply``/``export`` like quick replies;
- ``follow_up_invitations``: each invitation to order an agent sent from a follow-up
  list (the campaigns' frequency cap counts them with the campaigns' sends);
- ``conversation_presence``: who is viewing or typing in a chat, until when (ephemeral:
  rows past their ``expires_at`` are not read and are swept by the next write);
- ``conversation_notes.to_agent_id``: a note addressed to one agent (a supervisor's
  whisper).
"""

M018_MACROS_FOLLOW_UPS_PRESENCE = """
CREATE TABLE macros (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    agent_id INTEGER REFERENCES agents(id),
    name TEXT NOT NULL,
    actions TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX macros_shop ON macros(shop_id, agent_id);

CREATE TABLE follow_up_invitations (
    id INTEGER PRIMARY KEY,
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    message_id INTEGER REFERENCES messages(id),
    agent_id INTEGER NOT NULL REFERENCES agents(id),
    classification TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX follow_up_invitations_customer ON follow_up_invitations(shop_id, customer_id, at);

CREATE TABLE conversation_presence (
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    agent_id INTEGER NOT NULL REFERENCES agents(id),
    shop_id INTEGER NOT NULL REFERENCES shops(id),
    state TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, agent_id)
) WITHOUT ROWID;

ALTER TABLE conversation_notes ADD COLUMN to_agent_id INTEGER REFERENCES agents(id);
"""
