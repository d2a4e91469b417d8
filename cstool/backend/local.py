"""The Local backend: every operation over one SQLite file, in-process.

Each change and the event that records it commit in the same transaction.

Long because: a facade with one short delegating method per operation of the table.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..api.backend import ApplyResult, Backend
from ..auth import DEFAULT_EXPIRY
from ..bot.knowledge_bot import KnowledgeBot
from ..bot.step import BotStep
from ..clock import Clock, default_clock
from ..services.campaigns import CampaignService
from ..services.console import ConsoleService
from ..services.context import ServiceContext
from ..services.conversation_view import ConversationView
from ..services.dashboard import DashboardService
from ..services.desk import DeskService
from ..services.erasure import ErasureService
from ..services.files import FileService
from ..services.follow_ups import FollowUpService
from ..services.invitations import InvitationService
from ..services.kb_suggestions import KnowledgeSuggestions
from ..services.knowledge import KnowledgeService
from ..services.labels_notes import LabelsNotesService
from ..services.macros import MacroService
from ..services.metrics import MetricsService
from ..services.order_events import OrderEventService
from ..services.orders import OrdersService
from ..services.presence import PresenceService
from ..services.qa import QaService
from ..services.queue_places import QueuePlacesService
from ..services.radar import RadarService
from ..services.records import RecordsService
from ..services.records import merge_shop_parts as merge_shop_parts  # server/record_rights
from ..services.routing_flow import RoutingFlow
from ..services.staffing import StaffingService
from ..services.tickets import TicketService
from ..services.tokens import TokenStore
from ..services.webhooks import WebhookService
from ..services.worker import WorkerService
from ..storage.database import open_database


class LocalBackend(Backend):
    """The Backend over one SQLite file: a facade that builds the services' context
    (``self.ctx``) and delegates each operation to its service (``cstool.services``)."""

    has_database_file = True

    # Moved by every change that may alter who may do what (every event but
    # storage.events.ACCESS_NEUTRAL_EVENTS): the token store's principal cache holds
    # while it stands.
    access_epoch: int | None = 0

    def __init__(
        self, path: str | Path, *, clock: Clock | None = None, bot: BotStep | None = None,
        create: bool = True, background_builds: bool = False,
    ):
        """Open the file at ``path`` (made, with its folder, when missing, unless
        ``create`` is false: then a missing file raises ``NoDataFile``).

        The knowledge bot answers by default (any ``bot`` may replace it); with
        ``background_builds`` (a long-running server) it builds a changed knowledge's
        index in a thread while questions are answered from the previous one."""
        clock = clock or default_clock()
        if bot is None:
            bot = KnowledgeBot()
            bot.cache.background = background_builds
        self.bot = bot
        self.database = open_database(path, clock.now_ms(), create=create)
        self.path = self.database.path
        self.ctx = ctx = ServiceContext(self.database, clock, self.bot,
                                        self._move_access_epoch)
        ctx.knowledge = KnowledgeService(ctx)
        self.suggestions = KnowledgeSuggestions(ctx, ctx.knowledge)
        ctx.metrics = MetricsService(ctx)
        ctx.staffing = StaffingService(ctx)
        ctx.tokens = TokenStore(self)
        ctx.places = QueuePlacesService(ctx)
        ctx.routing = RoutingFlow(ctx, ctx.places)
        ctx.views = ConversationView(ctx, ctx.places, ctx.routing)
        ctx.desk = DeskService(ctx, ctx.places, ctx.routing, ctx.views)
        ctx.dashboard = DashboardService(ctx)
        ctx.worker = WorkerService(ctx)
        ctx.console = ConsoleService(ctx)
        ctx.records = RecordsService(ctx)
        ctx.campaigns = CampaignService(ctx)
        ctx.webhooks = WebhookService(ctx)
        ctx.tickets = TicketService(ctx)
        ctx.invitations = InvitationService(ctx)
        ctx.labels = LabelsNotesService(ctx)
        ctx.files = FileService(ctx)
        ctx.order_events = OrderEventService(ctx)
        ctx.erasure = ErasureService(ctx)
        ctx.macros = MacroService(ctx)
        ctx.follow_ups = FollowUpService(ctx)
        ctx.presence = PresenceService(ctx)
        ctx.qa = QaService(ctx)
        ctx.radar = RadarService(ctx)
        ctx.orders = OrdersService(ctx)

    @property
    def clock(self) -> Clock:
        """The clock of every operation (the context's: replacing it here replaces it
        for every service)."""
        return self.ctx.clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        self.ctx.clock = clock

    def _move_access_epoch(self) -> None:
        """A committed change may have changed who may do what: cached rights expire."""
        self.access_epoch += 1

    # -- the desk (services.desk, .conversation_view) ----------------------------------------
    @property
    def kept_open(self) -> frozenset[str]:
        """Shops this process serves as if inside their business hours (``keep_open``)."""
        return self.ctx.routing.kept_open

    def keep_open(self, shop: str, keep: bool = True) -> None:
        """Serve ``shop`` as if inside its business hours, in this process only (the demo
        at any hour); ``keep=False`` gives its hours back. NotFound for no shop."""
        self.get("shops", shop)
        kept = self.ctx.routing.kept_open
        self.ctx.routing.kept_open = (kept | {shop}) if keep else (kept - {shop})

    def post_message(self, shop: str, customer: str, text: str, *,
                     channel: str | None = None, entry_page: str | None = None,
                     source: str | None = None, search_keyword: str | None = None,
                     time_on_site_s: int | None = None, pages_viewed: int | None = None,
                     product: str | None = None, intent: str | None = None,
                     client_id: str | None = None, kind: str = "text",
                     payload: Any = None) -> dict:
        """A customer writes to a shop (see ``DeskService.post_message``)."""
        return self.ctx.desk.post_message(
            shop, customer, text, channel=channel, entry_page=entry_page, source=source,
            search_keyword=search_keyword, time_on_site_s=time_on_site_s,
            pages_viewed=pages_viewed, product=product, intent=intent, client_id=client_id,
            kind=kind, payload=payload)

    def accept_next(self, agent: str) -> dict | None:
        """The agent takes the best waiting chat they may serve; None when none waits."""
        return self.ctx.desk.accept_next(agent)

    def set_agent_status(self, agent: str, status: str) -> dict:
        """Online, busy, away or offline (see ``DeskService.set_agent_status``)."""
        return self.ctx.desk.set_agent_status(agent, status)

    def reply(self, agent: str, conversation: int, text: str, *, kind: str = "text",
              payload: Any = None) -> dict:
        """The assigned agent writes to the customer."""
        return self.ctx.desk.reply(agent, conversation, text, kind=kind, payload=payload)

    def transfer(self, conversation: int, *, by: str, to_agent: str | None = None,
                 to_group: str | None = None, note: str = "") -> dict:
        """Hand a chat to another agent or a group, with a note."""
        return self.ctx.desk.transfer(conversation, by=by, to_agent=to_agent,
                                      to_group=to_group, note=note)

    def close_conversation(self, conversation: int, *, by: str | None = None,
                           reason: str = "resolved") -> dict:
        """Close a chat and ask the customer for a rating."""
        return self.ctx.desk.close_conversation(conversation, by=by, reason=reason)

    def reopen_conversation(self, conversation: int, *, by: str) -> dict:
        """Reopen a chat ``by`` closed, within ten minutes of the close."""
        return self.ctx.desk.reopen_conversation(conversation, by=by)

    def rate(self, conversation: int, rating: int, comment: str | None = None) -> dict:
        """The customer rates a closed chat, once, 1 to 5."""
        return self.ctx.desk.rate(conversation, rating, comment)

    def close_idle(self) -> list[int]:
        """Close chats idle past their shop's limit; returns their ids."""
        return self.ctx.desk.close_idle()

    def get_conversation(self, conversation: int, *, messages: bool = True) -> dict:
        """One conversation, with its messages."""
        return self.ctx.views.get_conversation(conversation, messages=messages)

    def list_conversations(self, *, shop: str | None = None, state: str | None = None,
                           agent: str | None = None, customer: str | None = None,
                           limit: int = 100, after: int | None = None,
                           label: str | None = None) -> list[dict]:
        """Conversations, newest first, filtered and paged."""
        return self.ctx.views.list_conversations(shop=shop, state=state, agent=agent,
                                                 customer=customer, limit=limit, after=after,
                                                 label=label)

    def add_label(self, conversation: int, label: str, *, by: str | None = None) -> dict:
        """``LabelsNotesService.label``."""
        return self.ctx.labels.label(conversation, label, by=by)

    def remove_label(self, conversation: int, label: str, *, by: str | None = None) -> dict:
        """``LabelsNotesService.label`` (remove)."""
        return self.ctx.labels.label(conversation, label, remove=True, by=by)

    def shop_labels(self, shop: str) -> list[dict]:
        """``LabelsNotesService.shop_labels``."""
        return self.ctx.labels.shop_labels(shop)

    def add_note(self, agent: str, conversation: int, text: str, *,
                 to: str | None = None) -> dict:
        """``LabelsNotesService.add_note``."""
        return self.ctx.labels.add_note(agent, conversation, text, to=to)

    def run_macro(self, conversation: int, agent: str, macro: str) -> dict:
        """``MacroService.run_macro``."""
        return self.ctx.macros.run_macro(conversation, agent, macro)

    def set_priority(self, conversation: int, priority: int, *,
                     by: str | None = None) -> dict:
        """``MacroService.set_priority``."""
        return self.ctx.macros.set_priority(conversation, priority, by=by)

    def follow_ups(self, shop: str, classification: str, *, since: str = "1d",
                   limit: int = 100) -> list[dict]:
        """``FollowUpService.follow_ups``."""
        return self.ctx.follow_ups.follow_ups(shop, classification, since=since, limit=limit)

    def follow_up_invite(self, conversation: int, agent: str, product: str | None = None,
                         quantity: int = 1, coupon: str | None = None) -> dict:
        """``FollowUpService.follow_up_invite``."""
        return self.ctx.follow_ups.follow_up_invite(conversation, agent, product, quantity,
                                                    coupon)

    def presence(self, conversation: int, agent: str, state: str = "viewing") -> dict:
        """``PresenceService.presence``."""
        return self.ctx.presence.presence(conversation, agent, state)

    def post_file(self, shop: str, customer: str, name: str, data: str, *,
                  client_id: str | None = None, channel: str | None = None) -> dict:
        """``FileService.post_file``."""
        return self.ctx.files.post_file(shop, customer, name, data, client_id=client_id,
                                        channel=channel)

    def reply_file(self, agent: str, conversation: int, name: str, data: str) -> dict:
        """``FileService.reply_file``."""
        return self.ctx.files.reply_file(agent, conversation, name, data)

    def get_file(self, conversation: int, message: int) -> dict:
        """``FileService.get_file``."""
        return self.ctx.files.get_file(conversation, message)

    def file_link(self, conversation: int, message: int) -> dict:
        """``FileService.file_link``."""
        return self.ctx.files.file_link(conversation, message)

    def erase_customer(self, shop: str, customer: str) -> dict:
        """``ErasureService.erase_customer``."""
        return self.ctx.erasure.erase_customer(shop, customer)

    def order_event(self, shop: str, event_id: str, type: str, order: str, *,  # noqa: A002
                    at: str | int | None = None, customer: str | None = None,
                    items: list | None = None, discount: str | float | None = None,
                    region: str | None = None, carrier: str | None = None,
                    tracking_no: str | None = None, status: str | None = None,
                    detail: str | None = None) -> dict:
        """``OrderEventService.order_event``."""
        return self.ctx.order_events.order_event(
            shop, event_id, type, order, at=at, customer=customer, items=items,
            discount=discount, region=region, carrier=carrier, tracking_no=tracking_no,
            status=status, detail=detail)

    def queue(self, shop: str, *, limit: int | None = None,
              after: int | None = None) -> list[dict]:
        """A shop's waiting chats in serving order, with positions and waits."""
        return self.ctx.views.queue(shop, limit=limit, after=after)

    def route_test(self, shop: str, customer: str, text: str, **context: Any) -> dict:
        """Who would get this chat now, and why (a dry run)."""
        return self.ctx.views.route_test(shop, customer, text, **context)

    def route_explain(self, conversation: int) -> dict:
        """The routing decision recorded for a conversation, with the reasons."""
        return self.ctx.views.route_explain(conversation)

    def drain_queues(self) -> list[list]:
        """Hand every shop's waiting chats to agents who can take them now: the
        ``[conversation, agent]`` pairs."""
        return self.ctx.worker.drain_queues()

    def dashboard(self, shop: str, zone: str | None = None) -> dict:
        """A snapshot of one shop's desk for the supervisor dashboard (hours in ``zone``;
        see ``DashboardService.dashboard``)."""
        return self.ctx.dashboard.dashboard(shop, zone)

    # -- metrics and staffing (services.metrics, services.staffing) --------------------------
    def metrics_refresh(self) -> dict:
        """Catch the stored conversation facts up with the event log (reports do it
        first on their own); returns how many conversations were folded."""
        return self.ctx.metrics.refresh()

    def metrics_rebuild(self) -> dict:
        """Fold every conversation again from its messages."""
        return self.ctx.metrics.rebuild()

    def metrics_report(self, shop: str | None = None, since: str | int | None = None,
                       until: str | int | None = None,
                       by: str | Sequence[str] | None = None,
                       zone: str | None = None) -> dict:
        """Service figures of the conversations created in ``[since, until)``, of one
        shop or all, in total and grouped ``by`` (see ``MetricsService.report``);
        hours, days and times in ``zone`` (None: this process's display zone)."""
        return self.ctx.metrics.report(shop, since, until, by, zone)

    def agent_metrics(self, handle: str, since: str | int | None = None,
                      until: str | int | None = None, zone: str | None = None) -> dict:
        """One agent's figures over their shops' conversations created in
        ``[since, until)`` (see ``MetricsService.agent_report``)."""
        return self.ctx.metrics.agent_report(handle, since, until, zone)

    # -- quality inspection and the agent radar (services.qa, services.radar) --------------
    def qa_report(self, shop: str | None = None, since: str | int | None = None,
                  until: str | int | None = None, by: str = "agent",
                  zone: str | None = None) -> dict:
        """``QaService.report``."""
        return self.ctx.qa.report(shop, since, until, by, zone)

    def qa_queue(self, shop: str, *, limit: int = 50, after: int | None = None) -> list[dict]:
        """``QaService.queue``."""
        return self.ctx.qa.queue(shop, limit, after)

    def qa_chat(self, conversation: int) -> dict:
        """``QaService.chat``."""
        return self.ctx.qa.chat(conversation)

    def qa_review(self, shop: str, conversation: int, verdict: str, *,
                  finding: int | None = None, by: str | None = None) -> dict:
        """``QaService.review``."""
        return self.ctx.qa.review(shop, conversation, verdict, finding=finding, by=by)

    def agent_radar(self, shop: str, since: str | int | None = None,
                    until: str | int | None = None, *, agent: str | None = None,
                    zone: str | None = None) -> list[dict]:
        """``RadarService.radar``."""
        return self.ctx.radar.radar(shop, since, until, agent=agent, zone=zone)

    def arrivals(self, shop: str, since: int, until: int, bucket_min: int = 30, *,
                 desk_only: bool = False) -> dict:
        """Conversations the shop received in [since, until) per ``bucket_min``-minute
        bucket of the shop's local clock (see ``StaffingService.arrivals``)."""
        return self.ctx.staffing.arrivals(shop, since, until, bucket_min,
                                          desk_only=desk_only)

    def desk_profile(self, shop: str, since: int, until: int) -> dict:
        """How the shop's desk handles chats (see ``StaffingService.desk_profile``)."""
        return self.ctx.staffing.desk_profile(shop, since, until)

    # -- tokens (services.tokens) -----------------------------------------------------------
    def whoami(self) -> dict:
        """Whoever opens the data file may do it all: an admin without a token."""
        return {"token": None, "role": "admin", "agent": None, "shops": None,
                "customer": None, "shop": None}

    def create_token(self, agent: str | None = None, role: str | None = None,
                     expires: str = DEFAULT_EXPIRY["staff"], label: str | None = None) -> dict:
        """A staff token (``TokenStore.create_token``); the secret is in the answer, once."""
        return self.ctx.tokens.create_token(agent, role, expires, label)

    def create_customer_token(self, shop: str, customer: str,
                              expires: str = DEFAULT_EXPIRY["customer"],
                              label: str | None = None) -> dict:
        """A widget token for one customer (``TokenStore.create_customer_token``)."""
        return self.ctx.tokens.create_customer_token(shop, customer, expires, label)

    def list_tokens(self, *, agent: str | None = None, shop: str | None = None,
                    include_inactive: bool = False) -> list[dict]:
        """Tokens, newest first (``TokenStore.list_tokens``)."""
        return self.ctx.tokens.list_tokens(agent=agent, shop=shop,
                                           include_inactive=include_inactive)

    def revoke_token(self, token_id: int) -> dict:
        """Revoke a token at once (``TokenStore.revoke_token``)."""
        return self.ctx.tokens.revoke_token(token_id)

    # -- the agent console (services.console) ----------------------------------------------
    def agent_desk(self, agent: str) -> dict:
        """The agent, their open chats and their shops' queues, in one read."""
        return self.ctx.console.agent_desk(agent)

    def mark_seen(self, agent: str, conversation: int) -> None:
        """The agent has read the chat up to now."""
        self.ctx.console.mark_seen(agent, conversation)

    def customer_context(self, conversation: int) -> dict:
        """Who the customer is in this chat's shop."""
        return self.ctx.console.customer_context(conversation)

    def search_history(self, agent: str, text: str, limit: int = 50) -> list[dict]:
        """Messages containing ``text`` in chats this agent has served, newest first."""
        return self.ctx.console.search_history(agent, text, limit)

    def send_card(self, agent: str, conversation: int, kind: str, key: str) -> dict:
        """Send a product card, or a coupon, into a chat."""
        return self.ctx.console.send_card(agent, conversation, kind, key)

    # -- the knowledge bot (services.knowledge) --------------------------------------------
    def ask_bot(self, text: str, *, shop: str | None = None,
                customer: str | None = None) -> dict:
        """``KnowledgeService.ask_bot``: what the bot would reply; writes nothing."""
        return self.ctx.knowledge.ask_bot(text, shop=shop, customer=customer)

    def search_knowledge(self, text: str, *, shop: str | None = None, k: int = 5) -> list[dict]:
        """``KnowledgeService.search_knowledge``."""
        return self.ctx.knowledge.search_knowledge(text, shop=shop, k=k)

    def suggest_answers(self, conversation: int, k: int = 3) -> list[dict]:
        """``KnowledgeService.suggest_answers`` (agent assist)."""
        return self.ctx.knowledge.suggest_answers(conversation, k)

    def unanswered_questions(self, *, shop: str | None = None, limit: int = 50) -> list[dict]:
        """``KnowledgeService.unanswered_questions``."""
        return self.ctx.knowledge.unanswered_questions(shop=shop, limit=limit)

    def learn_question(self, question: str, *, entry: str | None = None,
                       new: str | None = None, answer: str | None = None,
                       shop: str | None = None, category: str | None = None,
                       tags: list[str] | None = None) -> dict:
        """``KnowledgeService.learn_question``."""
        return self.ctx.knowledge.learn_question(question, entry=entry, new=new,
                                                 answer=answer, shop=shop,
                                                 category=category, tags=tags)

    def suggest_knowledge(self, shop: str, *, since: str | None = "7d") -> list[dict]:
        """``KnowledgeSuggestions.suggest``: mine closed human chats for proposals."""
        return self.suggestions.suggest(shop, since)

    def propose_knowledge(self, conversation: int, agent: str) -> dict:
        """``KnowledgeSuggestions.propose_from_chat`` (the console's one-key proposal)."""
        return self.suggestions.propose_from_chat(conversation, agent)

    def accept_kb_suggestion(self, suggestion: int, *, shop: str | None = None,
                             key: str | None = None, answer: str | None = None,
                             by: str | None = None) -> dict:
        """``KnowledgeSuggestions.accept``."""
        return self.suggestions.accept(suggestion, shop=shop, key=key, answer=answer, by=by)

    def reject_kb_suggestion(self, suggestion: int, *, shop: str | None = None,
                             by: str | None = None) -> dict:
        """``KnowledgeSuggestions.reject``."""
        return self.suggestions.reject(suggestion, shop=shop, by=by)

    def dismiss_unanswered(self, group: str) -> int:
        """``KnowledgeService.dismiss_unanswered``."""
        return self.ctx.knowledge.dismiss_unanswered(group)

    def warm_knowledge(self, shop: str | None = None) -> dict:
        """``KnowledgeService.warm_knowledge``."""
        return self.ctx.knowledge.warm_knowledge(shop)

    def info(self) -> dict:
        """Where the file is, its schema version, size and row counts."""
        return self.ctx.records.info()

    def upgrade(self) -> list[int]:
        """Apply pending migrations (opening the file already does; this reports)."""
        return self.ctx.records.upgrade()

    def backup(self, target: str) -> dict:
        """Online backup to ``target``."""
        return self.ctx.records.backup(target)

    def create(self, kind: str, record: dict) -> dict:
        """Create one record; Conflict if the key exists."""
        return self.ctx.records.create(kind, record)

    def get(self, kind: str, key: str) -> dict:
        """One record by key."""
        return self.ctx.records.get(kind, key)

    def list(self, kind: str, *, shop: str | None = None, limit: int | None = None,
             after: str | None = None) -> list[dict]:
        """Records ordered by key, optionally of one shop and after a key cursor."""
        return self.ctx.records.list(kind, shop=shop, limit=limit, after=after)

    def update(self, kind: str, key: str, changes: dict) -> dict:
        """Change fields of a record; a field set to None is cleared."""
        return self.ctx.records.update(kind, key, changes)

    def delete(self, kind: str, key: str) -> None:
        """Delete a record; Conflict while others depend on it."""
        self.ctx.records.delete(kind, key)

    def move_rule(self, key: str, position: int) -> dict:
        """Move a routing rule within its shop's order; positions become 1..n."""
        return self.ctx.records.move_rule(key, position)

    def customer_stats(self, key: str) -> list[dict]:
        """Per shop: orders, paid spend, average order value, last order."""
        return self.ctx.records.customer_stats(key)

    def apply(self, document: dict[str, list[dict]], *, dry_run: bool = False) -> ApplyResult:
        """Create or update every record of ``document``, all or nothing."""
        return self.ctx.records.apply(document, dry_run=dry_run)

    def export(self, *, shop: str | None = None) -> dict[str, list[dict]]:
        """Every record, or one shop's, as ``apply`` accepts them."""
        return self.ctx.records.export(shop=shop)

    def bulk_load(self, kind: str, records: Iterable[dict[str, Any]]) -> int:
        """Load trusted internal-form records in one transaction (``storage.bulk``)."""
        return self.ctx.records.bulk_load(kind, records)

    def events(self, *, after: int = 0, limit: int = 100, shop: str | None = None) -> list[dict]:
        """Events after id ``after``, oldest first."""
        return self.ctx.records.events(after=after, limit=limit, shop=shop)

    def close(self) -> None:
        """Close the file."""
        self.database.close()

    # -- campaigns, tickets, invitations: delegated to their services ---------------------
    def run_due_campaigns(self, now: str | int | None = None, *,
                          shop: str | None = None) -> dict:
        """``CampaignService.run_due_campaigns``."""
        return self.ctx.campaigns.run_due_campaigns(now, shop=shop)

    def campaign_stats(self, key: str, *, since: str | int | None = None,
                       until: str | int | None = None) -> dict:
        """``CampaignService.campaign_stats``."""
        return self.ctx.campaigns.campaign_stats(key, since=since, until=until)

    def campaign_sends(self, key: str, *, outcome: str | None = None,
                       customer: str | None = None, limit: int = 100,
                       after: int | None = None) -> list[dict]:
        """``CampaignService.campaign_sends``."""
        return self.ctx.campaigns.campaign_sends(key, outcome=outcome, customer=customer,
                                                 limit=limit, after=after)

    def mark_sensitive(self, conversation: int, sensitive: bool = True) -> dict:
        """``CampaignService.mark_sensitive``."""
        return self.ctx.campaigns.mark_sensitive(conversation, sensitive)

    # -- webhooks: delegated to their service ---------------------------------------------
    def webhook_test(self, name: str) -> dict:
        """``WebhookService.test``."""
        return self.ctx.webhooks.test(name)

    def webhook_deliveries(self, name: str, *, status: str | None = None, limit: int = 100,
                           after: str | None = None) -> list[dict]:
        """``WebhookService.deliveries``."""
        return self.ctx.webhooks.deliveries(name, status=status, limit=limit, after=after)

    def webhook_delivery(self, delivery: str) -> dict:
        """``WebhookService.delivery``."""
        return self.ctx.webhooks.delivery(delivery)

    def webhook_redeliver(self, delivery: str) -> dict:
        """``WebhookService.redeliver``."""
        return self.ctx.webhooks.redeliver(delivery)

    def claim_webhook_deliveries(self, worker: str, *, limit: int = 20,
                                 delivery: str | None = None,
                                 shop: str | None = None) -> list[dict]:
        """``WebhookService.claim``."""
        return self.ctx.webhooks.claim(worker, limit=limit, delivery=delivery, shop=shop)

    def channel_deliveries(self, name: str, *, status: str | None = None, limit: int = 100,
                           after: str | None = None) -> list[dict]:
        """See :meth:`Backend.channel_deliveries`."""
        return self.ctx.webhooks.channel_deliveries(name, status=status, limit=limit,
                                                    after=after)

    def channel_receipt(self, delivery: str, status: str) -> dict:
        """See :meth:`Backend.channel_receipt`."""
        return self.ctx.webhooks.receipt(delivery, status)

    def finish_webhook_delivery(self, delivery: str, attempt: int, worker: str, *,
                                status_code: int | None = None,
                                error: str | None = None) -> dict:
        """``WebhookService.finish``."""
        return self.ctx.webhooks.finish(delivery, attempt, worker, status_code=status_code,
                                        error=error)

    def cancel_order(self, key: str, *, by: str | None = None,
                     reason: str | None = None) -> dict:
        """``OrdersService.cancel_order``."""
        return self.ctx.orders.cancel_order(key, by=by, reason=reason)

    def change_order_address(self, key: str, *, address: str | None = None,
                             phone: str | None = None, receiver: str | None = None,
                             by: str | None = None) -> dict:
        """``OrdersService.change_order_address``."""
        return self.ctx.orders.change_order_address(key, address=address, phone=phone,
                                                    receiver=receiver, by=by)

    def create_ticket(self, *, type: str, title: str, shop: str | None = None,
                      conversation: int | None = None, priority: str = "P3",
                      team: str | None = None, assignee: str | None = None,
                      order: str | None = None, by: str | None = None,
                      note: str | None = None) -> dict:
        """``TicketService.create_ticket``."""
        return self.ctx.tickets.create_ticket(
            type=type, title=title, shop=shop, conversation=conversation, priority=priority,
            team=team, assignee=assignee, order=order, by=by, note=note)

    def get_ticket(self, ticket: int) -> dict:
        """``TicketService.get_ticket``."""
        return self.ctx.tickets.get_ticket(ticket)

    def list_tickets(self, *, shop: str | None = None, status: str | None = None,
                     assignee: str | None = None, breaching: bool = False,
                     due_within_s: int | None = None, limit: int = 200) -> list[dict]:
        """``TicketService.list_tickets``."""
        return self.ctx.tickets.list_tickets(shop=shop, status=status, assignee=assignee,
                                             breaching=breaching, due_within_s=due_within_s,
                                             limit=limit)

    def update_ticket(self, ticket: int, *, by: str | None = None, status: str | None = None,
                      priority: str | None = None, team: str | None = None,
                      title: str | None = None) -> dict:
        """``TicketService.update_ticket``."""
        return self.ctx.tickets.update_ticket(ticket, by=by, status=status,
                                              priority=priority, team=team, title=title)

    def assign_ticket(self, ticket: int, agent: str, *, by: str | None = None) -> dict:
        """``TicketService.assign_ticket``."""
        return self.ctx.tickets.assign_ticket(ticket, agent, by=by)

    def note_ticket(self, ticket: int, text: str, *, by: str | None = None) -> dict:
        """``TicketService.note_ticket``."""
        return self.ctx.tickets.note_ticket(ticket, text, by=by)

    def reply_ticket(self, ticket: int, text: str, *, by: str) -> dict:
        """``TicketService.reply_ticket``."""
        return self.ctx.tickets.reply_ticket(ticket, text, by=by)

    def resolve_ticket(self, ticket: int, *, by: str | None = None, note: str = "") -> dict:
        """``TicketService.resolve_ticket``."""
        return self.ctx.tickets.resolve_ticket(ticket, by=by, note=note)

    def close_ticket(self, ticket: int, *, by: str | None = None) -> dict:
        """``TicketService.close_ticket``."""
        return self.ctx.tickets.close_ticket(ticket, by=by)

    def reopen_ticket(self, ticket: int, *, by: str | None = None, reason: str = "") -> dict:
        """``TicketService.reopen_ticket``."""
        return self.ctx.tickets.reopen_ticket(ticket, by=by, reason=reason)

    def sla_scan(self) -> list[dict]:
        """``TicketService.sla_scan``."""
        return self.ctx.tickets.sla_scan()

    def ticket_report(self, *, shop: str | None = None, since: int | None = None,
                      until: int | None = None, by: str | None = None) -> list[dict]:
        """``TicketService.ticket_report``."""
        return self.ctx.tickets.ticket_report(shop=shop, since=since, until=until, by=by)

    def price_quote(self, shop: str, items: Iterable[Any], customer: str | None = None,
                    coupon: str | None = None, *, at: str | int | None = None) -> dict:
        """``InvitationService.price_quote``."""
        return self.ctx.invitations.price_quote(shop, items, customer, coupon, at=at)

    def invite(self, conversation: int, agent: str, product: str, quantity: int = 1,
               coupon: str | None = None) -> dict:
        """``InvitationService.invite``."""
        return self.ctx.invitations.invite(conversation, agent, product, quantity, coupon)
