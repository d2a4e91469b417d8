"""The HTTP API as one table: every operation, its method and path, its arguments and
the right it needs. The server builds its routes from this table and the remote
backend builds its methods from it, so exposing a new Backend operation is one entry.

Long because: it is THE table, one entry per operation; one place is the point.

No web framework here (the remote backend imports this module): arguments are plain
Python types; ``cstool.server.app`` turns them into request validation and OpenAPI.

An argument's place follows from the path and the verb: ``{name}`` in the path is a
path parameter, other arguments of GET and DELETE are query parameters, of POST, PUT
and PATCH fields of a JSON object body. ``body=NAME`` makes the argument the whole
body (a record for create and update). ``right`` names a policy of
``cstool.server.policies``. Every operation is a method of ``cstool.api.backend.Backend``;
``target`` says what serves it on the server: ``backend``, ``tokens`` (the server's own
``auth.TokenStore``, the one that authenticates; a Local backend's token methods
delegate to a store of its own) or ``principal`` (the calling token itself).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ..resources import kind as kind_named
from .backend import ApplyResult, Change
from .bounds import check_whole

REQUIRED: Any = object()
DEFAULT_PAGE = 100
MAX_PAGE = 500

ZONE_DOC = ("IANA time zone (e.g. Asia/Shanghai) of hour and day buckets, the report's "
            "times and a date-only period; default: the server's display zone")

# What a customer may tell about where they are when they write (post_message, route_test).
CONTEXT = ("channel", "entry_page", "source", "search_keyword", "time_on_site_s",
           "pages_viewed", "product", "intent")


@dataclass(frozen=True)
class Arg:
    """One argument: name, Python type, default (REQUIRED if none), keyword-only."""

    name: str
    type: Any
    default: Any = REQUIRED
    kw_only: bool = False
    doc: str = ""
    http_optional: bool = False  # may be left out over HTTP (a policy fills it in)

    @property
    def required(self) -> bool:
        """True when the caller must give it."""
        return self.default is REQUIRED


def A(name: str, type_: Any, default: Any = REQUIRED, doc: str = "") -> Arg:  # noqa: N802
    """A positional argument."""
    return Arg(name, type_, default, False, doc)


def K(name: str, type_: Any, default: Any = None, doc: str = "") -> Arg:  # noqa: N802
    """A keyword-only argument."""
    return Arg(name, type_, default, True, doc)


@dataclass(frozen=True)
class Operation:
    """One operation of the API."""

    name: str
    verb: str
    path: str
    right: str
    args: tuple[Arg, ...] = ()
    summary: str = ""
    body: str | None = None
    target: str = "backend"
    result: str = "json"  # json | list | page | apply | none
    tag: str = "desk"
    extra_kwargs: bool = False  # the method takes **context (the table names its fields)

    @property
    def path_args(self) -> list[str]:
        """Names in the path template."""
        return re.findall(r"{(\w+)(?::\w+)?}", self.path)

    def url(self, args: dict) -> str:
        """The path with the arguments filled in (quoted)."""
        return re.sub(r"{(\w+)(?::\w+)?}", lambda m: quote(str(args[m.group(1)]), safe=""),
                      self.path)

    def where(self, arg: Arg) -> str:
        """path, query or body."""
        if arg.name in self.path_args:
            return "path"
        if self.verb in ("GET", "DELETE"):
            return "query"
        return "body"

    @property
    def writes(self) -> bool:
        """True for operations that may change data (they wake the event stream)."""
        return self.verb != "GET"


_CONTEXT_ARGS = (
    K("channel", str, None, "app | mini_program | h5 | pc | web"),
    K("entry_page", str, None), K("source", str, None), K("search_keyword", str, None),
    K("time_on_site_s", int, None), K("pages_viewed", int, None),
    K("product", str, None, "the product the customer was looking at"),
    K("intent", str, None),
)
_PAGE_ARGS = (K("limit", int, None, f"page size (default {DEFAULT_PAGE}, at most {MAX_PAGE})"),)

OPERATIONS: tuple[Operation, ...] = (
    # -- the store -----------------------------------------------------------------------
    Operation("info", "GET", "/v1/info", "admin", summary="Schema version, size, row counts",
              tag="store"),
    Operation("upgrade", "POST", "/v1/upgrade", "admin", result="list",
              summary="Apply pending schema migrations", tag="store"),
    Operation("backup", "POST", "/v1/backup", "backup",
              (A("target", str, doc="a file name in the server's backup folder"),),
              summary="Online backup into the server's backup folder", tag="store"),
    # -- declarative ----------------------------------------------------------------------
    Operation("apply", "POST", "/v1/apply", "apply",
              (A("document", dict), K("dry_run", bool, False)), result="apply",
              summary="Create or update every record of a document, all or nothing",
              tag="records"),
    Operation("export", "GET", "/v1/export", "export", (K("shop", str, None),),
              summary="Every record (or one shop's) in the form apply takes", tag="records"),
    Operation("bulk_load", "POST", "/v1/bulk/{kind}", "bulk",
              (A("kind", str), A("records", list)), summary="Load trusted records fast",
              tag="records"),
    Operation("move_rule", "POST", "/v1/routing_rules/{key}/move", "rule_manage",
              (A("key", str), A("position", int)), summary="Move a routing rule", tag="records"),
    Operation("customer_stats", "GET", "/v1/customers/{key}/stats", "customer_read",
              (A("key", str),), result="list", summary="Per-shop order stats of a customer",
              tag="records"),
    Operation("erase_customer", "POST", "/v1/shops/{shop}/customers/{customer}/erase",
              "shop_manage", (A("shop", str), A("customer", str)),
              summary="Erase a customer's data in one shop (PIPL/GDPR): chats, messages, "
              "notes, files, queued deliveries, profile; orders, sends and tickets stay "
              "with an anonymous stand-in", tag="records"),
    # -- conversations --------------------------------------------------------------------
    Operation("post_message", "POST", "/v1/shops/{shop}/messages", "post",
              (A("shop", str),
               Arg("customer", str, doc="required with a staff token; a customer token "
                   "posts as its own customer", http_optional=True),
               A("text", str), *_CONTEXT_ARGS,
               K("client_id", str, None, "a retry with the same id is stored once"),
               K("kind", str, "text"), K("payload", Any, None)),
              summary="A customer writes to a shop"),
    Operation("accept_next", "POST", "/v1/agents/{agent}/accept", "acts_for",
              (A("agent", str),), summary="Take the best waiting chat (204 when none)"),
    Operation("set_agent_status", "PUT", "/v1/agents/{agent}/status", "acts_for",
              (A("agent", str), A("status", str)), summary="online / busy / away / offline"),
    Operation("reply", "POST", "/v1/conversations/{conversation}/replies", "acts_in_conversation",
              (A("agent", str), A("conversation", int), A("text", str), K("kind", str, "text"),
               K("payload", Any, None)), summary="The assigned agent writes to the customer"),
    Operation("transfer", "POST", "/v1/conversations/{conversation}/transfer",
              "acts_in_conversation",
              (A("conversation", int), K("by", str, REQUIRED), K("to_agent", str, None),
               K("to_group", str, None), K("note", str, "")),
              summary="Hand a chat to an agent or a group"),
    Operation("close_conversation", "POST", "/v1/conversations/{conversation}/close", "close",
              (A("conversation", int), K("by", str, None), K("reason", str, "resolved")),
              summary="Close a chat; the customer is asked for a rating"),
    Operation("reopen_conversation", "POST", "/v1/conversations/{conversation}/reopen",
              "acts_in_conversation", (A("conversation", int), K("by", str, REQUIRED)),
              summary="Reopen a chat its agent just closed"),
    Operation("rate", "POST", "/v1/conversations/{conversation}/rating", "rate",
              (A("conversation", int), A("rating", int), A("comment", str, None)),
              summary="The customer rates a closed chat 1-5"),
    Operation("close_idle", "POST", "/v1/close-idle", "admin", result="list",
              summary="Close chats idle past their shop's limit"),
    Operation("drain_queues", "POST", "/v1/drain-queues", "admin", result="list",
              summary="Hand every shop's waiting chats to agents who can take them now"),
    Operation("keep_open", "POST", "/v1/shops/{shop}/keep-open", "admin",
              (A("shop", str), A("keep", bool, True, "false: give the shop its hours back")),
              result="none", summary="Serve a shop as if inside its business hours, in the "
              "server's process only (the demo's demo hours; nothing is written)"),
    Operation("get_conversation", "GET", "/v1/conversations/{conversation}", "conversation_read",
              (A("conversation", int), K("messages", bool, True)),
              summary="One conversation with its transcript"),
    Operation("list_conversations", "GET", "/v1/conversations", "conversation_list",
              (K("shop", str, None), K("state", str, None), K("agent", str, None),
               K("customer", str, None), K("limit", int, 100), K("after", int, None),
               K("label", str, None, "only chats carrying this label")),
              result="page", summary="Conversations, newest first (cursor: older than after)"),
    Operation("queue", "GET", "/v1/shops/{shop}/queue", "shop_read",
              (A("shop", str), *_PAGE_ARGS,
               K("after", int, None, "the last chat id of the previous page")),
              result="page", summary="A shop's waiting chats in serving order "
              "(cursor: after a chat id)"),
    Operation("route_test", "POST", "/v1/shops/{shop}/route-test", "shop_read",
              (A("shop", str), A("customer", str), A("text", str), *_CONTEXT_ARGS),
              summary="Who would get this chat now, and why", extra_kwargs=True),
    Operation("route_explain", "GET", "/v1/conversations/{conversation}/route",
              "conversation_staff", (A("conversation", int),),
              summary="The recorded routing decision, explained"),
    # -- files in chats: pictures, PDFs, short videos --------------------------------------
    Operation("post_file", "POST", "/v1/shops/{shop}/files", "post",
              (A("shop", str),
               Arg("customer", str, doc="required with a staff token; a customer token "
                   "posts as its own customer", http_optional=True),
               A("name", str, doc="the file's name (shown; its type is read from the bytes)"),
               A("data", str, doc="the file's bytes in base64 (a data: URL prefix allowed)"),
               K("client_id", str, None, "a retry with the same id is stored once"),
               K("channel", str, None, "app | mini_program | h5 | pc | web")),
              summary="A customer sends a picture, PDF or short video (JPEG, PNG, WebP, GIF, "
              "PDF, MP4; 10 MB by default)", tag="files"),
    Operation("reply_file", "POST", "/v1/conversations/{conversation}/files",
              "acts_in_conversation",
              (A("agent", str), A("conversation", int), A("name", str),
               A("data", str, doc="the file's bytes in base64")),
              summary="The assigned agent sends a file to the customer", tag="files"),
    Operation("get_file", "GET", "/v1/conversations/{conversation}/files/{message}",
              "conversation_read", (A("conversation", int), A("message", int)),
              summary="A file of a chat with its bytes (base64 in data)", tag="files"),
    Operation("file_link", "GET", "/v1/conversations/{conversation}/files/{message}/link",
              "conversation_read", (A("conversation", int), A("message", int)),
              summary="A signed link to a chat's file that works without a token for ten "
              "minutes (the widget's <img>)", tag="files"),
    # -- the shop platform's order events ----------------------------------------------------
    Operation("order_event", "POST", "/v1/shops/{shop}/order-events", "shop_manage",
              (A("shop", str), A("event_id", str, doc="the platform's id of the event: a "
                                 "retry with the same id changes nothing"),
               A("type", str, doc="created | paid | shipped | logistics | delivered | "
                 "refund_requested | refunded | cancelled"),
               A("order", str, doc="the order's key"),
               K("at", str | int, None, "when it happened (ISO 8601; default now)"),
               K("customer", str, None, "the customer's key (a new order needs it)"),
               K("items", list[Any], None, "a new order's [{product, quantity, price}]"),
               K("discount", str | float, None), K("region", str, None),
               K("carrier", str, None), K("tracking_no", str, None),
               K("status", str, None, "a logistics step's status (在途, 派送中 …)"),
               K("detail", str, None, "a logistics step's detail")),
              summary="The shop platform pushes an order or logistics change (idempotent "
              "by event id); campaigns fire from it", tag="records"),
    # -- labels and private notes ---------------------------------------------------------
    Operation("add_label", "POST", "/v1/conversations/{conversation}/labels",
              "label_conversation",
              (A("conversation", int), A("label", str), K("by", str, None)),
              summary="Put a label on a chat (售后-破损, 大促, 投诉 …)"),
    Operation("remove_label", "DELETE", "/v1/conversations/{conversation}/labels/{label:path}",
              "label_conversation",
              (A("conversation", int), A("label", str), K("by", str, None)),
              summary="Take a label off a chat"),
    Operation("shop_labels", "GET", "/v1/shops/{shop}/labels", "shop_read", (A("shop", str),),
              result="list", summary="A shop's labels (its setting's and those in use)"),
    Operation("add_note", "POST", "/v1/conversations/{conversation}/notes",
              "acts_in_conversation",
              (A("agent", str), A("conversation", int), A("text", str),
               K("to", str, None, "a whisper: the note addressed to this agent "
                 "(supervisors only)")),
              summary="A private note in a chat: staff only, never sent to the customer"),
    # -- macros, priority, follow-up lists, presence (issue 22 items 4, 5, 10) ------------
    Operation("run_macro", "POST", "/v1/conversations/{conversation}/macro-runs",
              "acts_in_conversation",
              (A("conversation", int), A("agent", str),
               A("macro", str, doc="the macro's key or name")),
              summary="Run a macro on a chat: each action as the agent would (a partial "
              "run is reported step by step)"),
    Operation("set_priority", "POST", "/v1/conversations/{conversation}/priority",
              "label_conversation",
              (A("conversation", int), A("priority", int, doc="-1000..1000, higher first"),
               K("by", str, None)),
              summary="Set a chat's queue priority"),
    Operation("follow_ups", "GET", "/v1/shops/{shop}/follow-ups", "shop_read",
              (A("shop", str),
               A("classification", str, doc="consulted_not_ordered | ordered_not_paid | "
                 "after_sale | paid"),
               K("since", str, "1d", "how far back: 1d, 12h, 90m, 2w or all"),
               K("limit", int, 100)),
              result="list", summary="Customers of recent chats by what became of them "
              "(the conversion figure's test)"),
    Operation("follow_up_invite", "POST",
              "/v1/conversations/{conversation}/follow-up-invitations",
              "acts_in_conversation",
              (A("conversation", int), A("agent", str),
               A("product", str, None, "default: the product the chat was about"),
               A("quantity", int, 1), A("coupon", str, None)),
              summary="Invite a follow-up list's customer to order (the priced card), "
              "under the campaigns' guards", tag="console"),
    Operation("presence", "POST", "/v1/conversations/{conversation}/presence",
              "acts_in_conversation",
              (A("conversation", int), A("agent", str),
               A("state", str, "viewing", "viewing | typing | left")),
              summary="I am viewing or typing in a chat (a short claim); who else is",
              tag="console"),
    # -- the agent console ----------------------------------------------------------------
    Operation("agent_desk", "GET", "/v1/agents/{agent}/desk", "acts_for", (A("agent", str),),
              summary="The agent, their open chats and their shops' queues", tag="console"),
    Operation("mark_seen", "POST", "/v1/conversations/{conversation}/seen",
              "acts_in_conversation", (A("agent", str), A("conversation", int)),
              result="none", summary="The agent has read the chat", tag="console"),
    Operation("customer_context", "GET", "/v1/conversations/{conversation}/customer",
              "conversation_staff", (A("conversation", int),),
              summary="Who the customer is in this chat's shop", tag="console"),
    Operation("search_history", "GET", "/v1/agents/{agent}/history", "acts_for",
              (A("agent", str), A("text", str), A("limit", int, 50)), result="list",
              summary="Messages containing a text in chats this agent served", tag="console"),
    Operation("send_card", "POST", "/v1/conversations/{conversation}/cards",
              "acts_in_conversation",
              (A("agent", str), A("conversation", int), A("kind", str), A("key", str)),
              summary="Send a product card or a coupon", tag="console"),
    # -- prices and invitations to order ------------------------------------------------------
    Operation("price_quote", "POST", "/v1/shops/{shop}/quote", "quote",
              (A("shop", str), A("items", list[Any], doc="[{product, quantity}] or "
                                 "[[product, quantity]]"),
               A("customer", str, None), A("coupon", str, None), K("at", str | int, None)),
              summary="The price after promotions and one coupon, with the breakdown",
              tag="console"),
    Operation("invite", "POST", "/v1/conversations/{conversation}/invitations",
              "acts_in_conversation",
              (A("conversation", int), A("agent", str), A("product", str),
               A("quantity", int, 1), A("coupon", str, None)),
              summary="Send an invitation to order (a priced card)", tag="console"),
    # -- the knowledge bot -------------------------------------------------------------------
    Operation("ask_bot", "POST", "/v1/bot/ask", "shop_scope",
              (A("text", str), K("shop", str, None), K("customer", str, None)),
              summary="What the bot would reply (writes nothing)", tag="knowledge"),
    Operation("search_knowledge", "POST", "/v1/knowledge/search", "shop_scope",
              (A("text", str), K("shop", str, None), K("k", int, 5)), result="list",
              summary="The best knowledge entries for a text", tag="knowledge"),
    Operation("suggest_answers", "GET", "/v1/conversations/{conversation}/suggestions",
              "conversation_staff", (A("conversation", int), A("k", int, 3)), result="list",
              summary="Agent assist: entries for the last customer message", tag="knowledge"),
    Operation("unanswered_questions", "GET", "/v1/knowledge/unanswered", "shop_scope",
              (K("shop", str, None), K("limit", int, 50)), result="list",
              summary="Questions the bot could not answer, grouped", tag="knowledge"),
    Operation("learn_question", "POST", "/v1/knowledge/learn", "learn",
              (A("question", str), K("entry", str, None), K("new", str, None),
               K("answer", str, None), K("shop", str, None), K("category", str, None),
               K("tags", list[str], None)),
              summary="Teach the bot a question (a similar one, or a new entry)",
              tag="knowledge"),
    Operation("dismiss_unanswered", "POST", "/v1/knowledge/dismiss", "unanswered_manage",
              (A("group", str),), summary="Drop a group of unanswered questions",
              tag="knowledge"),
    Operation("suggest_knowledge", "POST", "/v1/knowledge/suggestions", "kb_suggest",
              (A("shop", str), K("since", str, "7d", "how far back: 7d, 12h, 2w or all")),
              result="list",
              summary="Mine closed human chats for knowledge proposals (applies nothing)",
              tag="knowledge"),
    Operation("propose_knowledge", "POST",
              "/v1/conversations/{conversation}/knowledge-proposals", "acts_in_conversation",
              (A("conversation", int), A("agent", str)),
              summary="Propose the chat's last answered question for the knowledge",
              tag="knowledge"),
    Operation("accept_kb_suggestion", "POST", "/v1/knowledge/suggestions/{suggestion}/accept",
              "kb_suggestion",
              (A("suggestion", int), K("shop", str, None), K("key", str, None),
               K("answer", str, None), K("by", str, None)),
              summary="Apply a knowledge proposal (a new entry or similar questions)",
              tag="knowledge"),
    Operation("reject_kb_suggestion", "POST", "/v1/knowledge/suggestions/{suggestion}/reject",
              "kb_suggestion", (A("suggestion", int), K("shop", str, None), K("by", str, None)),
              summary="Turn a knowledge proposal down (never proposed again)", tag="knowledge"),
    Operation("warm_knowledge", "POST", "/v1/knowledge/warm", "shop_scope",
              (A("shop", str, None),), summary="Build the bot's model now", tag="knowledge"),
    # -- orders ---------------------------------------------------------------------------------
    Operation("cancel_order", "POST", "/v1/orders/{key}/cancel", "order_act",
              (A("key", str), K("by", str, None), K("reason", str, None)),
              summary="Cancel an order not paid yet", tag="orders"),
    Operation("change_order_address", "POST", "/v1/orders/{key}/address", "order_act",
              (A("key", str), K("address", str, None), K("phone", str, None),
               K("receiver", str, None), K("by", str, None)),
              summary="Change where an order goes, before it ships", tag="orders"),
    # -- tickets --------------------------------------------------------------------------------
    Operation("create_ticket", "POST", "/v1/tickets", "ticket_create",
              (K("type", str, REQUIRED), K("title", str, REQUIRED), K("shop", str, None),
               K("conversation", int, None), K("priority", str, "P3"), K("team", str, None),
               K("assignee", str, None), K("order", str, None), K("by", str, None),
               K("note", str, None)),
              summary="Raise a ticket (from a conversation or on its own)", tag="tickets"),
    # (literal paths before /v1/tickets/{ticket})
    Operation("sla_scan", "POST", "/v1/tickets/sla-scan", "admin", result="list",
              summary="Warn and escalate tickets near or past their deadlines", tag="tickets"),
    Operation("ticket_report", "GET", "/v1/tickets/report", "shop_scope",
              (K("shop", str, None), K("since", int, None), K("until", int, None),
               K("by", str, None)), result="list", summary="SLA attainment", tag="tickets"),
    Operation("get_ticket", "GET", "/v1/tickets/{ticket}", "ticket", (A("ticket", int),),
              summary="One ticket with its timeline and SLA states", tag="tickets"),
    Operation("list_tickets", "GET", "/v1/tickets", "shop_scope",
              (K("shop", str, None), K("status", str, None), K("assignee", str, None),
               K("breaching", bool, False), K("due_within_s", int, None),
               K("limit", int, 200)), result="list",
              summary="Tickets by resolution deadline", tag="tickets"),
    Operation("update_ticket", "PATCH", "/v1/tickets/{ticket}", "ticket",
              (A("ticket", int), K("by", str, None), K("status", str, None),
               K("priority", str, None), K("team", str, None), K("title", str, None)),
              summary="Change status, priority, team, title", tag="tickets"),
    Operation("assign_ticket", "POST", "/v1/tickets/{ticket}/assign", "ticket",
              (A("ticket", int), A("agent", str), K("by", str, None)),
              summary="Give the ticket to an agent", tag="tickets"),
    Operation("note_ticket", "POST", "/v1/tickets/{ticket}/notes", "ticket",
              (A("ticket", int), A("text", str), K("by", str, None)),
              summary="An internal note", tag="tickets"),
    Operation("reply_ticket", "POST", "/v1/tickets/{ticket}/replies", "ticket",
              (A("ticket", int), A("text", str), K("by", str, REQUIRED)),
              summary="A reply to the customer", tag="tickets"),
    Operation("resolve_ticket", "POST", "/v1/tickets/{ticket}/resolve", "ticket",
              (A("ticket", int), K("by", str, None), K("note", str, "")),
              summary="Resolved: the customer is told", tag="tickets"),
    Operation("close_ticket", "POST", "/v1/tickets/{ticket}/close", "ticket",
              (A("ticket", int), K("by", str, None)), summary="Closed for good", tag="tickets"),
    Operation("reopen_ticket", "POST", "/v1/tickets/{ticket}/reopen", "ticket",
              (A("ticket", int), K("by", str, None), K("reason", str, "")),
              summary="Back to open", tag="tickets"),
    # -- campaigns --------------------------------------------------------------------------
    Operation("run_due_campaigns", "POST", "/v1/campaigns/run-due", "campaign_run",
              (A("now", str | int, None, "replay the pass at this time (ISO 8601)"),
               K("shop", str, None)),
              summary="Decide every due campaign trigger exactly once", tag="campaigns"),
    Operation("campaign_stats", "GET", "/v1/campaigns/{key}/stats", "campaign_read",
              (A("key", str), K("since", str | int, None), K("until", str | int, None)),
              summary="Sends, suppressions, conversions, sales, lift vs the holdout",
              tag="campaigns"),
    Operation("campaign_sends", "GET", "/v1/campaigns/{key}/sends", "campaign_read",
              (A("key", str),
               K("outcome", str, None, "sent | holdout | suppressed | redeemed | undeliverable"),
               K("customer", str, None), K("limit", int, 100), K("after", int, None)),
              result="page", summary="Who got what and when, who was suppressed and why",
              tag="campaigns"),
    Operation("mark_sensitive", "POST", "/v1/conversations/{conversation}/sensitive",
              "conversation_staff", (A("conversation", int), A("sensitive", bool, True)),
              summary="Tag a chat sensitive: campaigns keep away", tag="campaigns"),
    # -- webhooks (the webhooks themselves are records: /v1/webhooks) ---------------------
    Operation("webhook_test", "POST", "/v1/webhooks/{name}/test", "webhook_manage",
              (A("name", str),),
              summary="Queue a webhook.test delivery to the webhook", tag="webhooks"),
    Operation("webhook_deliveries", "GET", "/v1/webhooks/{name}/deliveries", "webhook_manage",
              (A("name", str), K("status", str, None, "pending | done | failed"),
               K("limit", int, 100), K("after", str, None)),
              result="page", summary="A webhook's deliveries, newest first, with attempts",
              tag="webhooks"),
    Operation("webhook_delivery", "GET", "/v1/webhook-deliveries/{delivery}",
              "webhook_delivery_manage", (A("delivery", str),),
              summary="One delivery with its body and attempts", tag="webhooks"),
    Operation("webhook_redeliver", "POST", "/v1/webhook-deliveries/{delivery}/redeliver",
              "webhook_delivery_manage", (A("delivery", str),),
              summary="Send a delivery again (same id, a new window of attempts)",
              tag="webhooks"),
    Operation("claim_webhook_deliveries", "POST", "/v1/webhook-deliveries/claim",
              "webhook_claim",
              (A("worker", str), K("limit", int, 20), K("delivery", str, None),
               K("shop", str, None)),
              result="list",
              summary="Claim due deliveries for one attempt each (workers)", tag="webhooks"),
    Operation("finish_webhook_delivery", "POST",
              "/v1/webhook-deliveries/{delivery}/finish", "webhook_delivery_manage",
              (A("delivery", str), A("attempt", int), A("worker", str),
               K("status_code", int, None), K("error", str, None)),
              summary="Record how an attempt went (workers)", tag="webhooks"),
    # -- channel connectors (the channels themselves are records: /v1/channels; their
    # deliveries are claimed, finished, shown and redelivered with the webhooks' above) ---
    Operation("channel_deliveries", "GET", "/v1/channels/{name}/deliveries", "channel_manage",
              (A("name", str), K("status", str, None, "pending | done | failed"),
               K("limit", int, 100), K("after", str, None)),
              result="page",
              summary="A channel's deliveries (messages to customers), newest first",
              tag="channels"),
    Operation("channel_receipt", "POST", "/v1/channel-deliveries/{delivery}/receipt",
              "webhook_delivery_manage",
              (A("delivery", str), A("status", str, doc="delivered | read | failed")),
              summary="A gateway's delivery receipt of a message (delivered, read, failed)",
              tag="channels"),
    # -- metrics and staffing -------------------------------------------------------------------
    Operation("metrics_refresh", "POST", "/v1/metrics/refresh", "admin",
              summary="Catch the conversation facts up with the event log", tag="metrics"),
    Operation("metrics_rebuild", "POST", "/v1/metrics/rebuild", "admin",
              summary="Fold every conversation again", tag="metrics"),
    Operation("metrics_report", "GET", "/v1/metrics/report", "shop_scope",
              (A("shop", str, None), A("since", str | int, None), A("until", str | int, None),
               A("by", list[str], None), A("zone", str, None, ZONE_DOC)),
              summary="Service figures over a period, optionally broken down", tag="metrics"),
    Operation("agent_metrics", "GET", "/v1/agents/{handle}/metrics", "acts_for",
              (A("handle", str), A("since", str | int, None), A("until", str | int, None),
               A("zone", str, None, ZONE_DOC)),
              summary="One agent's figures", tag="metrics"),
    Operation("qa_report", "GET", "/v1/metrics/qa", "shop_scope",
              (A("shop", str, None), A("since", str | int, None), A("until", str | int, None),
               A("by", str, "agent", "agent or shop"), A("zone", str, None, ZONE_DOC)),
              summary="Quality inspection (质检) figures per agent or shop", tag="metrics"),
    Operation("qa_queue", "GET", "/v1/shops/{shop}/qa/queue", "shop_manage",
              (A("shop", str), K("limit", int, 50, "at most this many chats"),
               K("after", int, None, "past this chat (the previous page's last)")),
              result="list", summary="Chats waiting for a QA review (flagged or sampled)",
              tag="metrics"),
    Operation("qa_chat", "GET", "/v1/conversations/{conversation}/qa", "conversation_staff",
              (A("conversation", int),),
              summary="One chat's quality inspection: score and findings", tag="metrics"),
    Operation("qa_review", "POST", "/v1/shops/{shop}/qa/reviews", "qa_review",
              (A("shop", str), A("conversation", int),
               A("verdict", str, REQUIRED, "confirmed or overturned"),
               K("finding", int, None, "one finding (default: every open one)"),
               K("by", str, None)),
              summary="Confirm or overturn a chat's QA findings", tag="metrics"),
    Operation("agent_radar", "GET", "/v1/shops/{shop}/radar", "shop_read",
              (A("shop", str), A("since", str | int, None), A("until", str | int, None),
               K("agent", str, None, "one agent"), K("zone", str, None, ZONE_DOC)),
              result="list", summary="The agent radar: today's figures, complaint and "
              "attach rates, QA score, training hints", tag="metrics"),
    Operation("dashboard", "GET", "/v1/shops/{shop}/dashboard", "shop_manage",
              (A("shop", str), A("zone", str, None, ZONE_DOC)),
              summary="The supervisor's live dashboard of a shop",
              tag="metrics"),
    Operation("arrivals", "GET", "/v1/shops/{shop}/arrivals", "shop_read",
              (A("shop", str), A("since", int), A("until", int), A("bucket_min", int, 30),
               K("desk_only", bool, False)),
              summary="Conversations received per time bucket", tag="metrics"),
    Operation("desk_profile", "GET", "/v1/shops/{shop}/desk-profile", "shop_read",
              (A("shop", str), A("since", int), A("until", int)),
              summary="How the shop's desk handles chats", tag="metrics"),
    # -- events ---------------------------------------------------------------------------
    Operation("events", "GET", "/v1/events/page", "events",
              (K("after", int, 0), K("limit", int, 100), K("shop", str, None)), result="page",
              summary="Events after a cursor, oldest first (live: GET /v1/events, SSE)",
              tag="events"),
    # -- tokens ---------------------------------------------------------------------------
    Operation("whoami", "GET", "/v1/me", "anyone", summary="The calling token's rights",
              target="principal", tag="tokens"),
    Operation("create_token", "POST", "/v1/tokens", "token_create",
              (A("agent", str, None), A("role", str, None), A("expires", str, "30d"),
               A("label", str, None)), target="tokens", tag="tokens",
              summary="A staff token (the secret is in the answer, once)"),
    Operation("create_customer_token", "POST", "/v1/shops/{shop}/customer-tokens",
              "customer_token",
              (A("shop", str), A("customer", str), A("expires", str, "7d"), A("label", str, None)),
              target="tokens", tag="tokens", summary="A widget token for one customer"),
    Operation("list_tokens", "GET", "/v1/tokens", "token_list",
              (K("agent", str, None), K("shop", str, None), K("include_inactive", bool, False)),
              target="tokens", result="list", tag="tokens", summary="Tokens, newest first"),
    Operation("revoke_token", "DELETE", "/v1/tokens/{token_id}", "token_revoke",
              (A("token_id", int),), target="tokens", tag="tokens",
              summary="Revoke a token at once"),
    # -- records of every kind (last: their paths are the most general) ------------------
    Operation("list", "GET", "/v1/{kind}", "resource_list",
              (A("kind", str), K("shop", str, None), K("limit", int, None),
               K("after", str, None)), result="page", tag="records",
              summary="Records of a kind ordered by key (cursor: after a key)"),
    Operation("create", "POST", "/v1/{kind}", "resource_write",
              (A("kind", str), A("record", dict)), body="record", tag="records",
              summary="Create one record"),
    Operation("get", "GET", "/v1/{kind}/{key:path}", "resource_read",
              (A("kind", str), A("key", str)), tag="records", summary="One record by key"),
    Operation("update", "PATCH", "/v1/{kind}/{key:path}", "resource_write",
              (A("kind", str), A("key", str), A("changes", dict)), body="changes",
              tag="records", summary="Change fields of a record (null clears one)"),
    Operation("delete", "DELETE", "/v1/{kind}/{key:path}", "resource_write",
              (A("kind", str), A("key", str)), result="none", tag="records",
              summary="Delete a record (refused while others use it)"),
)

BY_NAME: dict[str, Operation] = {op.name: op for op in OPERATIONS}


def check_limit(limit: Any) -> None:
    """Refuse a page ``limit`` that is not a whole number of at least 1 (None: no limit).
    Every backend pages through this one check (the Local backend's services, the
    server's pages and the Remote backend's), so a page of nothing is refused alike."""
    if limit is not None:
        check_whole("limit", limit)


def page_size(limit: int | None) -> int:
    """The page size the server uses for a requested ``limit``."""
    if limit is None:
        return DEFAULT_PAGE
    check_limit(limit)
    return min(int(limit), MAX_PAGE)


def next_cursor(op: Operation, args: dict, items: list, size: int) -> Any:
    """The cursor of the next page, or None when this page is the last."""
    if len(items) < size or not items:
        return None
    last = items[-1]
    if op.name == "list":
        try:
            return last[kind_named(args["kind"]).key]
        except KeyError:
            return None
    return last["id"]


# -- results across the wire ----------------------------------------------------------------
def encode_result(op: Operation, value: Any) -> Any:
    """A result in JSON form."""
    if op.result == "apply" and isinstance(value, ApplyResult):
        return {**value.to_dict(), "changes": [c.to_dict() for c in value.changes]}
    return value


def decode_result(op: Operation, data: Any) -> Any:
    """A JSON result back in the form the Backend method returns."""
    if op.result == "apply":
        return ApplyResult([Change(**c) for c in data["changes"]], data["dry_run"])
    if op.result in ("list", "page"):
        return data["items"]
    if op.result == "none":
        return None
    return data
