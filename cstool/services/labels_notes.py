"""Labels on conversations and private notes in a chat (``ctx.labels``).

A label (售后-破损, 大促, 投诉 …) is a short text on a chat, kept with the chat's shop:
a shop's labels are its own. When the shop lists its labels (the ``labels`` shop
setting, in ``apply``/``export`` with the shop), only those may be put on its chats;
without the setting any short text may. Labelling writes ``conversation.labelled`` /
``conversation.unlabelled`` through the one event writer.

A private note is written by staff into a chat and read by staff only (a supervisor's
whisper is a note addressed to one agent, ``to``, drawn apart in the console): it is stored
apart from the messages (nothing that reads messages for a customer, the widget, the
customer's events or a delivery, can see it), its event carries no text, and metrics
never count it as a response.
"""

from __future__ import annotations

from ..errors import Conflict
from ..storage.repos.labels import Labels, Notes
from ..storage.unit_of_work import UnitOfWork
from ..text_rules import check_label
from ..values import format_time
from .context import ServiceContext
from .desk_checks import check_text


def note_dict(r: tuple) -> dict:
    """A note row (``Notes.of``) in the public shape."""
    return {"id": r[0], "conversation": r[1], "agent": r[2], "agent_name": r[3],
            "body": r[4], "at": format_time(r[5]), "private": True, "to": r[6],
            "to_name": r[7]}


class LabelsNotesService:
    """Labels and private notes of conversations."""

    def __init__(self, ctx: ServiceContext):
        self.ctx = ctx

    # -- labels ---------------------------------------------------------------------------
    def shop_allows(self, uow: UnitOfWork, shop_id: int, label: str) -> None:
        """Refuse a label the shop's ``labels`` setting does not list (when it has one)."""
        shop = uow.shops.by_id(shop_id)
        allowed = (shop.get("settings") or {}).get("labels")
        if allowed and label not in allowed:
            raise Conflict(f"shop {shop['key']!r} has no label {label!r} (its labels: "
                           f"{', '.join(allowed)})", key="label_not_in_shop", label=label,
                           shop=shop["key"], labels=", ".join(allowed))

    def check_staff(self, uow: UnitOfWork, by: str | None, shop_id: int) -> None:
        """Refuse a staff member ``by`` (None: nobody named) who does not work for the shop."""
        if by is None:
            return
        agent = uow.agents.by_handle(by)
        if not uow.agents.in_shop(agent["id"], shop_id):
            shop = uow.shops.by_id(shop_id)
            raise Conflict(f"agent {by!r} does not work for shop {shop['key']!r}",
                           key="agent_not_in_shop", agent=by, shop=shop["key"])

    def label(self, conversation: int, label: str, *, remove: bool = False,
              by: str | None = None) -> dict:
        """Put ``label`` on the chat (or take it off); the chat's labels after."""
        label = check_label(label)
        with self.ctx.write() as uow:
            conv = uow.conversations.get(conversation)
            self.check_staff(uow, by, conv["shop_id"])
            labels = uow.repo(Labels)
            if remove:
                changed = labels.remove(conv["id"], label)
                kind = "conversation.unlabelled"
            else:
                self.shop_allows(uow, conv["shop_id"], label)
                changed = labels.add(conv["id"], conv["shop_id"], label, by, uow.now)
                kind = "conversation.labelled"
            if changed:
                uow.event(kind, "conversation", str(conv["id"]), conv["shop_id"],
                          {"label": label, "by": by})
            return {"conversation": conv["id"], "labels": labels.of(conv["id"]),
                    "changed": changed}

    def shop_labels(self, shop: str) -> list[dict]:
        """The shop's labels: those its setting lists and those on its chats, each with
        how many chats carry it."""
        with self.ctx.read() as uow:
            s = uow.shops.by_key(shop)
            counts = dict(uow.repo(Labels).in_use(s["id"]))
            listed = list((s.get("settings") or {}).get("labels") or [])
            names = listed + sorted(k for k in counts if k not in listed)
            return [{"label": n, "conversations": counts.get(n, 0), "listed": n in listed}
                    for n in names]

    # -- private notes --------------------------------------------------------------------
    def add_note(self, agent: str, conversation: int, text: str, *,
                 to: str | None = None) -> dict:
        """A private note by staff member ``agent`` (who works for the chat's shop) in the
        chat: never sent to the customer. ``to``: a whisper, the note addressed to one
        agent of the shop; only a supervisor (or an admin) whispers."""
        check_text(text, what="note")
        with self.ctx.write() as uow:
            conv = uow.conversations.get(conversation)
            a = uow.agents.by_handle(agent)
            self.check_staff(uow, agent, conv["shop_id"])
            target = None
            if to is not None:
                role = uow.records.read("agents", agent)["role"]
                if role not in ("supervisor", "admin"):
                    raise Conflict(f"only a supervisor whispers; {agent!r} is {role!r}",
                                   key="whisper_supervisors_only", agent=agent)
                target = uow.agents.by_handle(to)
                self.check_staff(uow, to, conv["shop_id"])
            note_id = uow.repo(Notes).add(conv["id"], conv["shop_id"], a["id"], text,
                                          uow.now, None if target is None else target["id"])
            # no text in the event: events reach webhooks and streams
            uow.event("conversation.noted", "conversation", str(conv["id"]), conv["shop_id"],
                      {"note": note_id, "by": agent, **({"to": to} if to else {})})
            return {"id": note_id, "conversation": conv["id"], "agent": agent,
                    "agent_name": a["name"], "body": text, "at": format_time(uow.now),
                    "private": True, "to": to,
                    "to_name": None if target is None else target["name"]}

    def notes(self, uow: UnitOfWork, conversation: int) -> list[dict]:
        """The chat's notes, oldest first (staff reads only)."""
        return [note_dict(r) for r in uow.repo(Notes).of(conversation)]
