"""The Backend interface: the operations of the system, not table access.

Long because: it declares every operation of the table, one abstract method each, with
its docstring; split, the contract would live in several places.

Every front end (CLI, TUI, server) talks to a Backend. Records cross it in the
external form of ``cstool.resources`` (keys as references, money in yuan, times as
ISO 8601), so the same shapes serve fixture files, ``--json`` output and HTTP.
Nothing here is SQLite-specific: the Local backend stores in one SQLite file, the
Remote one speaks HTTP to ``cstool serve``.

The class declares exactly the operations of the table (``cstool.api.operations``),
with the table's argument names and defaults (``tests/test_api_contract.py`` compares
them). What a backend may offer beyond the operations is declared here too, as
capability flags with defaults that implementations override; callers read the flags
and never ask ``hasattr``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from ..clock import Clock


@dataclass
class Change:
    """One record that ``apply`` creates or updates (or leaves as it is)."""

    kind: str
    key: str
    action: str  # create | update | unchanged
    fields: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON form."""
        return {"kind": self.kind, "key": self.key, "action": self.action, "fields": self.fields}


@dataclass
class ApplyResult:
    """What ``apply`` did (or, with dry_run, would do)."""

    changes: list[Change]
    dry_run: bool

    def count(self, action: str) -> int:
        """How many changes have ``action``."""
        return sum(1 for c in self.changes if c.action == action)

    def to_dict(self) -> dict:
        """JSON form: counts plus the changed records."""
        return {
            "dry_run": self.dry_run,
            "created": self.count("create"),
            "updated": self.count("update"),
            "unchanged": self.count("unchanged"),
            "changes": [c.to_dict() for c in self.changes if c.action != "unchanged"],
        }


class Backend(ABC):
    """The operations every storage implementation provides."""

    # -- capabilities (flags with defaults; implementations override them) -------------
    #: The data lives in a file this process opens itself (the Local backend's
    #: ``database``): what reads the file directly (the dashboard's replay clock,
    #: ``simulate --write-db``, the migrations a just-opened file went through) needs it.
    has_database_file: ClassVar[bool] = False
    #: A counter moved by every change that may alter who may do what; a token store's
    #: principal cache holds while it stands. None: the backend keeps no such counter
    #: (nothing may be cached).
    access_epoch: int | None = None
    #: The shops served as if inside their business hours (``keep_open``), as this
    #: client knows them: the console's header says "demo hours" for them.
    kept_open: frozenset[str] = frozenset()
    #: The clock the backend reads (a remote backend: this machine's; the server keeps
    #: its own). Every implementation sets it.
    clock: Clock

    # -- the store itself -----------------------------------------------------
    @abstractmethod
    def info(self) -> dict:
        """Where the data lives, its schema version, size and row counts."""

    @abstractmethod
    def upgrade(self) -> list[int]:
        """Apply pending schema migrations; return the versions applied."""

    @abstractmethod
    def backup(self, target: str) -> dict:
        """Copy the whole store to ``target`` while others keep writing."""

    # -- resources: shops, groups, agents, customers, products, coupons, ... ----
    @abstractmethod
    def create(self, kind: str, record: dict) -> dict:
        """Create one record of ``kind``; refuse if its key exists. Returns the stored record."""

    @abstractmethod
    def get(self, kind: str, key: str) -> dict:
        """The record of ``kind`` with ``key``; NotFound if there is none."""

    @abstractmethod
    def list(
        self,
        kind: str,
        *,
        shop: str | None = None,
        limit: int | None = None,
        after: str | None = None,
    ) -> list[dict]:
        """Records of ``kind`` ordered by key, optionally of one shop, after a key cursor."""

    @abstractmethod
    def update(self, kind: str, key: str, changes: dict) -> dict:
        """Change some fields of a record (the key stays); returns the stored record."""

    @abstractmethod
    def delete(self, kind: str, key: str) -> None:
        """Remove a record; refused (Conflict) while other records depend on it."""

    @abstractmethod
    def customer_stats(self, key: str) -> list[dict]:
        """Per shop: orders, spend, average order value and last order time of a customer."""

    # -- declarative configuration ----------------------------------------------
    @abstractmethod
    def apply(self, document: dict[str, list[dict]], *, dry_run: bool = False) -> ApplyResult:
        """Create or update every record of ``document`` (kind -> records), all or nothing.

        Idempotent by stable keys. A bad record raises FieldError whose path names
        ``kind[index].field`` and nothing changes.
        """

    @abstractmethod
    def export(self, *, shop: str | None = None) -> dict[str, list[dict]]:
        """Every record (or one shop's), in the form ``apply`` accepts."""

    @abstractmethod
    def bulk_load(self, kind: str, records: Iterable[dict[str, Any]]) -> int:
        """Load many trusted internal-form records fast (generators, benchmarks)."""

    @abstractmethod
    def move_rule(self, key: str, position: int) -> dict:
        """Move a routing rule to ``position`` (1 = first) in its shop's order."""

    # -- conversations (the desk) -------------------------------------------------
    @abstractmethod
    def post_message(self, shop: str, customer: str, text: str, *,
                     channel: str | None = None, entry_page: str | None = None,
                     source: str | None = None, search_keyword: str | None = None,
                     time_on_site_s: int | None = None, pages_viewed: int | None = None,
                     product: str | None = None, intent: str | None = None,
                     client_id: str | None = None, kind: str = "text",
                     payload: Any = None) -> dict:
        """A customer writes to a shop; returns conversation, message, replies, duplicate.

        Where the customer is (channel, entry_page, source, search_keyword,
        time_on_site_s, pages_viewed, product, intent); ``client_id``: a retry with it
        is stored once; ``kind`` and ``payload``: a message other than text.
        """

    @abstractmethod
    def accept_next(self, agent: str) -> dict | None:
        """The agent takes the best waiting chat they may serve, atomically."""

    @abstractmethod
    def set_agent_status(self, agent: str, status: str) -> dict:
        """online / busy / away / offline, with the queue hand-outs and hand-backs."""

    @abstractmethod
    def reply(self, agent: str, conversation: int, text: str, *, kind: str = "text",
              payload: Any = None) -> dict:
        """The assigned agent writes to the customer."""

    @abstractmethod
    def transfer(self, conversation: int, *, by: str, to_agent: str | None = None,
                 to_group: str | None = None, note: str = "") -> dict:
        """Hand a chat to another agent or a group, with a note."""

    @abstractmethod
    def close_conversation(self, conversation: int, *, by: str | None = None,
                           reason: str = "resolved") -> dict:
        """Close a chat; the customer is asked for a rating."""

    @abstractmethod
    def reopen_conversation(self, conversation: int, *, by: str) -> dict:
        """Reopen a chat ``by`` just closed (within ten minutes, not rated, the customer
        not written again): it is theirs again."""

    @abstractmethod
    def rate(self, conversation: int, rating: int, comment: str | None = None) -> dict:
        """The customer rates a closed chat 1-5, once."""

    @abstractmethod
    def close_idle(self) -> list[int]:
        """Close chats idle past their shop's limit."""

    @abstractmethod
    def get_conversation(self, conversation: int, *, messages: bool = True) -> dict:
        """One conversation with its transcript."""

    @abstractmethod
    def list_conversations(self, *, shop: str | None = None, state: str | None = None,
                           agent: str | None = None, customer: str | None = None,
                           limit: int = 100, after: int | None = None,
                           label: str | None = None) -> list[dict]:
        """Conversations, newest first (``label``: only those carrying it)."""

    # -- labels and private notes ---------------------------------------------------------
    @abstractmethod
    def add_label(self, conversation: int, label: str, *, by: str | None = None) -> dict:
        """Put a label on a chat: ``{conversation, labels, changed}``."""

    @abstractmethod
    def remove_label(self, conversation: int, label: str, *, by: str | None = None) -> dict:
        """Take a label off a chat: ``{conversation, labels, changed}``."""

    @abstractmethod
    def shop_labels(self, shop: str) -> list[dict]:
        """A shop's labels: ``{label, conversations, listed}`` each."""

    @abstractmethod
    def add_note(self, agent: str, conversation: int, text: str, *,
                 to: str | None = None) -> dict:
        """A private note by staff member ``agent`` in a chat (never to the customer);
        ``to``: a supervisor's whisper to that agent."""

    # -- macros, priority, follow-up lists, presence ----------------------------------------
    @abstractmethod
    def run_macro(self, conversation: int, agent: str, macro: str) -> dict:
        """Run a macro on a chat as ``agent``: ``{macro, name, conversation, complete,
        steps: [{action, what, status, result | error}]}``."""

    @abstractmethod
    def set_priority(self, conversation: int, priority: int, *,
                     by: str | None = None) -> dict:
        """Set a chat's queue priority: ``{conversation, priority, changed}``."""

    @abstractmethod
    def follow_ups(self, shop: str, classification: str, *, since: str = "1d",
                   limit: int = 100) -> list[dict]:
        """The shop's customers of recent chats of a follow-up class, newest first."""

    @abstractmethod
    def follow_up_invite(self, conversation: int, agent: str, product: str | None = None,
                         quantity: int = 1, coupon: str | None = None) -> dict:
        """An invitation to order for a follow-up list's customer (the message), under
        the campaigns' guards."""

    @abstractmethod
    def presence(self, conversation: int, agent: str, state: str = "viewing") -> dict:
        """``agent`` is viewing / typing in / has left the chat: ``{conversation,
        others}``."""

    @abstractmethod
    def post_file(self, shop: str, customer: str, name: str, data: str, *,
                  client_id: str | None = None, channel: str | None = None) -> dict:
        """A customer sends a file (base64 ``data``): as ``post_message``, a ``file``
        message."""

    @abstractmethod
    def reply_file(self, agent: str, conversation: int, name: str, data: str) -> dict:
        """The assigned agent sends a file (base64 ``data``): the ``file`` message."""

    @abstractmethod
    def get_file(self, conversation: int, message: int) -> dict:
        """A chat's file: name, type, size, SHA-256 and ``data`` (base64)."""

    @abstractmethod
    def file_link(self, conversation: int, message: int) -> dict:
        """A signed, expiring link to a chat's file: ``{url, expires_at}``."""

    @abstractmethod
    def erase_customer(self, shop: str, customer: str) -> dict:
        """Erase ``customer``'s data in ``shop``: what went and the stand-in that keeps
        the shop's orders, sends and tickets."""

    @abstractmethod
    def order_event(self, shop: str, event_id: str, type: str, order: str, *,  # noqa: A002
                    at: str | int | None = None, customer: str | None = None,
                    items: list | None = None, discount: str | float | None = None,
                    region: str | None = None, carrier: str | None = None,
                    tracking_no: str | None = None, status: str | None = None,
                    detail: str | None = None) -> dict:
        """The shop platform's order or logistics change, once per ``event_id``."""

    @abstractmethod
    def queue(self, shop: str, *, limit: int | None = None,
              after: int | None = None) -> list[dict]:
        """A shop's waiting chats in serving order: at most ``limit`` (None: all), after
        chat ``after`` (the last id of the previous page)."""

    @abstractmethod
    def route_test(self, shop: str, customer: str, text: str, **context: Any) -> dict:
        """A routing dry run: who would get this chat and why."""

    @abstractmethod
    def route_explain(self, conversation: int) -> dict:
        """The recorded routing decision of a conversation, explained."""

    # -- events ------------------------------------------------------------------
    @abstractmethod
    def events(self, *, after: int = 0, limit: int = 100, shop: str | None = None) -> list[dict]:
        """Events with id greater than ``after``, oldest first."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the backend holds."""

    # -- prices and invitations to order -------------------------------------------
    @abstractmethod
    def price_quote(self, shop: str, items: Iterable[Any], customer: str | None = None,
                    coupon: str | None = None, *, at: str | int | None = None) -> dict:
        """The price of ``items`` (``(product, quantity)`` pairs or ``{product, quantity}``)
        after the shop's promotions and one coupon, with the breakdown (``cstool.pricing``).

        With ``customer`` their held coupons are tried and the best is used unless
        ``coupon`` names one; ``at`` prices at another time (default now).
        """

    @abstractmethod
    def invite(self, conversation: int, agent: str, product: str, quantity: int = 1,
               coupon: str | None = None) -> dict:
        """The assigned agent sends an invitation to order (kind ``invitation``): a card
        with the item, quantity, unit price, promotions, coupon and price after stacking."""

    # -- the knowledge bot -----------------------------------------------------------
    @abstractmethod
    def ask_bot(self, text: str, *, shop: str | None = None,
                customer: str | None = None) -> dict:
        """What the bot would reply to ``text`` in ``shop`` (None: all knowledge), for
        ``customer`` when given: question, action (answer | suggest | handoff), entry,
        confidence, answer, choices, reason, text, flow. Writes nothing."""

    @abstractmethod
    def search_knowledge(self, text: str, *, shop: str | None = None, k: int = 5) -> list[dict]:
        """The ``k`` best knowledge entries for ``text`` as ``shop`` sees them."""

    @abstractmethod
    def suggest_answers(self, conversation: int, k: int = 3) -> list[dict]:
        """Agent assist: the ``k`` best entries (entry, question, answer, score) for the
        conversation's last customer message."""

    @abstractmethod
    def unanswered_questions(self, *, shop: str | None = None, limit: int = 50) -> list[dict]:
        """Questions the bot could not answer, grouped by normalised text, with counts."""

    @abstractmethod
    def learn_question(self, question: str, *, entry: str | None = None,
                       new: str | None = None, answer: str | None = None,
                       shop: str | None = None, category: str | None = None,
                       tags: list[str] | None = None) -> dict:
        """Teach the bot a question (text or ``#group``): a similar question of ``entry``
        or a new entry ``new`` with ``answer``; the group leaves the unanswered list."""

    @abstractmethod
    def dismiss_unanswered(self, group: str) -> int:
        """Drop a group (``#id``) of unanswered questions; returns how many."""

    @abstractmethod
    def suggest_knowledge(self, shop: str, *, since: str | None = "7d") -> list[dict]:
        """Mine the shop's closed human chats (of the last ``since``: 7d, 12h, 2w, all)
        for customer questions and the agent replies that answered them, grouped; the
        shop's open proposals (id, kind new | similar, entry, question, similar, answer,
        conversations, evidence), the best evidenced first. Applies nothing."""

    @abstractmethod
    def propose_knowledge(self, conversation: int, agent: str) -> dict:
        """The agent's one-key proposal from a chat: its last question the agent answered
        (the bot did not know it) as an open proposal for a supervisor. Applies nothing."""

    @abstractmethod
    def accept_kb_suggestion(self, suggestion: int, *, shop: str | None = None,
                             key: str | None = None, answer: str | None = None,
                             by: str | None = None) -> dict:
        """Apply a proposal through the knowledge write path: similar questions of its
        entry, or a new entry of the shop (``key``; ``answer`` in place of the agents')."""

    @abstractmethod
    def reject_kb_suggestion(self, suggestion: int, *, shop: str | None = None,
                             by: str | None = None) -> dict:
        """Turn a proposal down; its questions are never proposed again."""

    @abstractmethod
    def warm_knowledge(self, shop: str | None = None) -> dict:
        """Prepare the bot's model for ``shop`` now (an optimisation)."""

    # -- staffing ---------------------------------------------------------------------
    @abstractmethod
    def arrivals(self, shop: str, since: int, until: int, bucket_min: int = 30, *,
                 desk_only: bool = False) -> dict:
        """Conversations per local-clock bucket in [since, until) (UTC ms)."""

    @abstractmethod
    def desk_profile(self, shop: str, since: int, until: int) -> dict:
        """Mean handling time, agents' median max_chats, time zone, hours, service modes."""

    # -- the worker --------------------------------------------------------------------
    @abstractmethod
    def drain_queues(self) -> list:
        """Hand every shop's waiting chats to agents who can take them now."""

    # -- service metrics and the dashboard -----------------------------------------------
    @abstractmethod
    def metrics_report(self, shop: str | None = None, since: str | int | None = None,
                       until: str | int | None = None, by: Any = None,
                       zone: str | None = None) -> dict:
        """Service figures (docs/DESIGN.md, §9 "Metrics") of the conversations created in
        [since, until), in total and grouped ``by``; hours, days and times in ``zone``
        (an IANA name; None: the display zone of the process that answers)."""

    @abstractmethod
    def agent_metrics(self, handle: str, since: str | int | None = None,
                      until: str | int | None = None, zone: str | None = None) -> dict:
        """One agent's figures (times in ``zone``)."""

    @abstractmethod
    def metrics_refresh(self) -> dict:
        """Catch the stored conversation facts up with the event log."""

    @abstractmethod
    def metrics_rebuild(self) -> dict:
        """Fold every conversation again from its messages."""

    @abstractmethod
    def qa_report(self, shop: str | None = None, since: str | int | None = None,
                  until: str | int | None = None, by: str = "agent",
                  zone: str | None = None) -> dict:
        """Quality-inspection figures of the chats created in [since, until), per agent or
        shop, and in total (``cstool.qa.figures``)."""

    @abstractmethod
    def qa_queue(self, shop: str, *, limit: int = 50, after: int | None = None) -> list[dict]:
        """The shop's chats waiting for a QA review, each with its findings."""

    @abstractmethod
    def qa_chat(self, conversation: int) -> dict:
        """One chat's inspection: score, findings (each at its message), review."""

    @abstractmethod
    def qa_review(self, shop: str, conversation: int, verdict: str, *,
                  finding: int | None = None, by: str | None = None) -> dict:
        """Confirm or overturn one finding of a chat, or all its open ones."""

    @abstractmethod
    def agent_radar(self, shop: str, since: str | int | None = None,
                    until: str | int | None = None, *, agent: str | None = None,
                    zone: str | None = None) -> list[dict]:
        """Per agent of the shop: the period's figures (today by default), complaint
        rate, attach rate, QA score and training hints."""

    @abstractmethod
    def dashboard(self, shop: str, zone: str | None = None) -> dict:
        """A snapshot of one shop's desk for the supervisor dashboard; hourly volume and
        times in ``zone`` (an IANA name; None: the display zone, as ``metrics_report``)."""

    # -- orders -----------------------------------------------------------------------------
    @abstractmethod
    def cancel_order(self, key: str, *, by: str | None = None,
                     reason: str | None = None) -> dict:
        """Cancel an order not paid yet (refused once paid, shipped or cancelled); the
        order as it is now."""

    @abstractmethod
    def change_order_address(self, key: str, *, address: str | None = None,
                             phone: str | None = None, receiver: str | None = None,
                             by: str | None = None) -> dict:
        """Change where an order goes before it ships (refused once it has)."""

    # -- tickets ----------------------------------------------------------------------------
    @abstractmethod
    def create_ticket(self, *, type: str, title: str, shop: str | None = None,
                      conversation: int | None = None, priority: str = "P3",
                      team: str | None = None, assignee: str | None = None,
                      order: str | None = None, by: str | None = None,
                      note: str | None = None) -> dict:
        """Raise a ticket from a conversation or on its own, with SLA deadlines."""

    @abstractmethod
    def get_ticket(self, ticket: int) -> dict:
        """One ticket with its timeline and SLA states."""

    @abstractmethod
    def list_tickets(self, *, shop: str | None = None, status: str | None = None,
                     assignee: str | None = None, breaching: bool = False,
                     due_within_s: int | None = None, limit: int = 200) -> list[dict]:
        """Tickets by deadline, optionally breaching or due soon."""

    @abstractmethod
    def update_ticket(self, ticket: int, *, by: str | None = None, status: str | None = None,
                      priority: str | None = None, team: str | None = None,
                      title: str | None = None) -> dict:
        """Change a ticket (deadlines recomputed; waiting on the customer pauses)."""

    @abstractmethod
    def assign_ticket(self, ticket: int, agent: str, *, by: str | None = None) -> dict:
        """Give a ticket to an agent."""

    @abstractmethod
    def note_ticket(self, ticket: int, text: str, *, by: str | None = None) -> dict:
        """Add an internal note."""

    @abstractmethod
    def reply_ticket(self, ticket: int, text: str, *, by: str) -> dict:
        """Reply to the customer about a ticket."""

    @abstractmethod
    def resolve_ticket(self, ticket: int, *, by: str | None = None, note: str = "") -> dict:
        """Resolve a ticket; the customer is told and asked for a rating."""

    @abstractmethod
    def close_ticket(self, ticket: int, *, by: str | None = None) -> dict:
        """Close a ticket."""

    @abstractmethod
    def reopen_ticket(self, ticket: int, *, by: str | None = None, reason: str = "") -> dict:
        """Reopen a ticket."""

    @abstractmethod
    def sla_scan(self) -> list[dict]:
        """Warn and escalate against SLA deadlines, each exactly once."""

    @abstractmethod
    def ticket_report(self, *, shop: str | None = None, since: int | None = None,
                      until: int | None = None, by: str | None = None) -> list[dict]:
        """SLA attainment by type, team or agent."""

    # -- campaigns ---------------------------------------------------------------------------
    @abstractmethod
    def run_due_campaigns(self, now: str | int | None = None, *,
                          shop: str | None = None) -> dict:
        """Decide every due campaign trigger exactly once (send, hold out or suppress)."""

    @abstractmethod
    def campaign_stats(self, key: str, *, since: str | int | None = None,
                       until: str | int | None = None) -> dict:
        """Sends, suppressions, conversions, sales and lift against the holdout."""

    @abstractmethod
    def campaign_sends(self, key: str, *, outcome: str | None = None,
                       customer: str | None = None, limit: int = 100,
                       after: int | None = None) -> list[dict]:
        """A campaign's decisions in order: who got what when, who was suppressed why."""

    @abstractmethod
    def mark_sensitive(self, conversation: int, sensitive: bool = True) -> dict:
        """Tag a conversation sensitive (campaigns keep away) or clear the tag."""

    # -- webhooks ----------------------------------------------------------------------------
    @abstractmethod
    def webhook_test(self, name: str) -> dict:
        """Queue a ``webhook.test`` delivery to the webhook (one attempt, no retries)."""

    @abstractmethod
    def webhook_deliveries(self, name: str, *, status: str | None = None, limit: int = 100,
                           after: str | None = None) -> list[dict]:
        """A webhook's deliveries, newest first, each with its attempts."""

    @abstractmethod
    def webhook_delivery(self, delivery: str) -> dict:
        """One delivery with its body and attempts."""

    @abstractmethod
    def webhook_redeliver(self, delivery: str) -> dict:
        """Send a delivery again: pending from now, same id, a new window of attempts."""

    @abstractmethod
    def claim_webhook_deliveries(self, worker: str, *, limit: int = 20,
                                 delivery: str | None = None,
                                 shop: str | None = None) -> list[dict]:
        """Claim due deliveries for one attempt each: URL, body, signed headers."""

    @abstractmethod
    def finish_webhook_delivery(self, delivery: str, attempt: int, worker: str, *,
                                status_code: int | None = None,
                                error: str | None = None) -> dict:
        """Record how an attempt went: done on 2xx, else retried or dead-lettered."""

    # -- channel connectors ---------------------------------------------------------------
    @abstractmethod
    def channel_deliveries(self, name: str, *, status: str | None = None, limit: int = 100,
                           after: str | None = None) -> list[dict]:
        """A channel connector's deliveries (messages to customers), newest first, each
        with its attempts and the gateway's receipt."""

    @abstractmethod
    def channel_receipt(self, delivery: str, status: str) -> dict:
        """A gateway's receipt of a delivered message: delivered, read or failed."""

    # -- the agent console ----------------------------------------------------------------
    @abstractmethod
    def agent_desk(self, agent: str) -> dict:
        """The agent, their open chats (unread, waiting since) and their shops' queues."""

    @abstractmethod
    def mark_seen(self, agent: str, conversation: int) -> None:
        """The agent has read the chat up to now (clears its unread mark)."""

    @abstractmethod
    def customer_context(self, conversation: int) -> dict:
        """Who the customer is in this chat's shop: profile, level, tags, recent orders,
        usable coupons, the last agent who served them."""

    @abstractmethod
    def search_history(self, agent: str, text: str, limit: int = 50) -> list[dict]:
        """Messages containing ``text`` in chats this agent has served, newest first."""

    @abstractmethod
    def send_card(self, agent: str, conversation: int, kind: str, key: str) -> dict:
        """Send a product card, or a coupon (which the customer then holds), into a chat."""

    # -- demo hours -------------------------------------------------------------------------
    @abstractmethod
    def keep_open(self, shop: str, keep: bool = True) -> None:
        """Serve ``shop`` as if inside its business hours (the demo at any hour), in the
        process that serves the data only and never written to it; ``keep=False`` gives
        its hours back. ``kept_open`` lists the shops this client keeps open."""

    # -- tokens -----------------------------------------------------------------------------
    @abstractmethod
    def whoami(self) -> dict:
        """The caller's rights: the calling token's (remote), or every right (whoever
        opens a data file may do it all)."""

    @abstractmethod
    def create_token(self, agent: str | None = None, role: str | None = None,
                     expires: str = "30d", label: str | None = None) -> dict:
        """A staff token for ``agent`` (role: the agent's own or a lower one; only an
        admin token may have no agent); the secret is in the answer, once."""

    @abstractmethod
    def create_customer_token(self, shop: str, customer: str, expires: str = "7d",
                              label: str | None = None) -> dict:
        """A widget token for one customer in one shop; the secret is in the answer, once."""

    @abstractmethod
    def list_tokens(self, *, agent: str | None = None, shop: str | None = None,
                    include_inactive: bool = False) -> list[dict]:
        """Tokens, newest first; of one agent or one shop; inactive ones on request."""

    @abstractmethod
    def revoke_token(self, token_id: int) -> dict:
        """Revoke a token at once; refused if it is revoked already."""
