"""`cstool conv ...`: conversations: post, list (and the follow-up lists), show, accept,
reply (text or a file), file (save one), transfer, close, rate, label, note (and whisper),
macro, priority, follow-up, presence."""

from pathlib import Path
from typing import Annotated

import typer

from cstool.errors import UsageError
from cstool.file_saving import read_upload, save_download
from cstool.i18n import error_text, t, value
from cstool.text_rules import terminal_safe
from cstool.values import parse_time, short_time

from .context import state, wants_json
from .crud import JsonOpt
from .output import counted, info, print_json, print_table

app = typer.Typer(help="Conversations: customers post, agents accept, reply, transfer, close.",
                  no_args_is_help=True)

ConvArg = Annotated[int, typer.Argument(metavar="ID", help="The conversation's id.")]
AgentOpt = Annotated[str, typer.Option("--agent", "-a", help="The agent's handle.")]

COLUMNS = [
    ("id", lambda c: c["id"]),
    ("shop", lambda c: c["shop"]),
    ("customer", lambda c: f"{c.get('customer_name') or ''} ({c.get('customer')})"),
    ("state", lambda c: c["state"] + (f" #{c['queue_position']}" if c.get("queue_position")
                                      else "")),
    # a customer's token sees fewer fields of a chat: what is missing shows as -
    ("agent", lambda c: c.get("assignee")),
    ("class", lambda c: c.get("classification")),
    ("channel", lambda c: c.get("channel")),
    ("last message", lambda c: short_time(parse_time(c["last_message_at"]))
     if c.get("last_message_at") else None),
]


def _conv_out(ctx: typer.Context, json_: bool, conv: dict, message: str) -> None:
    if wants_json(ctx, json_):
        print_json(conv)
    else:
        info(message)


@app.command("post")
def post_cmd(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="What the customer writes.")],
    shop: Annotated[str, typer.Option(help="The shop written to.")],
    customer: Annotated[str, typer.Option(help="The customer's key (new keys are created).")],
    channel: Annotated[str | None, typer.Option(help="app, mini_program, h5, pc or web.")] = None,
    entry_page: Annotated[str | None, typer.Option(help="Page the chat was opened from.")] = None,
    source: Annotated[str | None, typer.Option(help="Traffic source (search, ad, live ...).")]
    = None,
    keyword: Annotated[str | None, typer.Option(help="Search term that led here.")] = None,
    time_on_site: Annotated[int | None, typer.Option(help="Seconds on site before the chat.")]
    = None,
    pages_viewed: Annotated[int | None, typer.Option(help="Pages viewed before the chat.")]
    = None,
    product: Annotated[str | None, typer.Option(help="Key of the product the chat is about.")]
    = None,
    intent: Annotated[str | None, typer.Option(
        help="presale or aftersale (default: from the words and the orders).")] = None,
    client_id: Annotated[str | None, typer.Option(
        help="Client message id: a retried post with the same id is stored once.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Post a customer message (as the web widget or an app would)."""
    result = state(ctx).backend.post_message(
        shop, customer, text, channel=channel, entry_page=entry_page, source=source,
        search_keyword=keyword, time_on_site_s=time_on_site, pages_viewed=pages_viewed,
        product=product, intent=intent, client_id=client_id)
    if wants_json(ctx, json_):
        print_json(result)
        return
    c = result["conversation"]
    where = t("cli.conv_with", agent=c["assignee"]) if c["assignee"] else \
        value("state", c["state"])
    typer.echo(t("cli.conv_posted", id=c["id"], where=where)
               + (t("cli.conv_duplicate") if result["duplicate"] else ""))
    for r in result["replies"]:
        typer.echo(f"  {value('sender', r['sender'])}: "
                   f"{terminal_safe(r['body'], keep_lines=True)}")


@app.command("list")
def list_cmd(
    ctx: typer.Context,
    shop: Annotated[str | None, typer.Option(help="Only this shop's.")] = None,
    state_: Annotated[str | None, typer.Option(
        "--state", help="bot, queued, active, closed, or open (the first three).")] = None,
    agent: Annotated[str | None, typer.Option(help="Only this agent's.")] = None,
    customer: Annotated[str | None, typer.Option(help="Only this customer's.")] = None,
    label: Annotated[str | None, typer.Option(help="Only those carrying this label.")] = None,
    classification: Annotated[str | None, typer.Option(
        help="A follow-up list: consulted_not_ordered, ordered_not_paid, after_sale (or "
        "paid): one row per customer, their newest chat of the period.")] = None,
    since: Annotated[str | None, typer.Option(
        help="With --classification: how far back (1d, 12h, 90m, 2w or all; default "
        "1d).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="At most this many.")] = 100,
    json_: JsonOpt = False,
) -> None:
    """List conversations, newest first; with --classification, a follow-up list."""
    if classification is not None:
        _follow_up_list(ctx, shop, classification, since or "1d", limit, json_,
                        state_=state_, agent=agent, customer=customer, label=label)
        return
    if since is not None:
        raise UsageError("--since goes with --classification", key="since_needs_class")
    rows = state(ctx).backend.list_conversations(shop=shop, state=state_, agent=agent,
                                                 customer=customer, limit=limit, label=label)
    if wants_json(ctx, json_):
        print_json(rows)
    else:
        print_table(rows, [*COLUMNS, ("labels", lambda c: terminal_safe(
            ", ".join(c.get("labels") or [])) or None)])


@app.command("queue")
def queue_cmd(
    ctx: typer.Context,
    shop: Annotated[str, typer.Option(help="The shop.")],
    limit: Annotated[int | None, typer.Option(
        min=1, max=10000, help="At most this many (default: all).")] = None,
    after: Annotated[int | None, typer.Option(
        metavar="ID", help="Only the chats after this one in serving order (the last id "
        "of the previous page).")] = None,
    json_: JsonOpt = False,
) -> None:
    """A shop's waiting chats in serving order, with position and estimated wait; paged
    with --limit and --after."""
    # one chat more than the page tells whether there is a next page
    rows = state(ctx).backend.queue(shop, limit=None if limit is None else limit + 1,
                                    after=after)
    more = limit is not None and len(rows) > limit
    rows = rows[:limit]
    if wants_json(ctx, json_):
        print_json(rows)
    else:
        if more:
            info(t("cli.queue_next_page", after=rows[-1]["id"]))
        print_table(rows, [("pos", lambda c: c["queue_position"]), *COLUMNS[:3],
                           ("priority", lambda c: c["priority"]),
                           ("wait (est.)", lambda c: "" if c["estimated_wait_s"] is None
                            else f"{c['estimated_wait_s']}s")])


@app.command("show")
def show_cmd(ctx: typer.Context, conversation: ConvArg, json_: JsonOpt = False) -> None:
    """Show a conversation and its transcript."""
    c = state(ctx).backend.get_conversation(conversation)
    if wants_json(ctx, json_):
        print_json(c)
        return
    typer.echo(t("cli.conv_header", id=c["id"], shop=c["shop"],
                 name=terminal_safe(c.get("customer_name") or ""), customer=c.get("customer"),
                 state=value("state", c["state"]), agent=c.get("assignee") or "-",
                 classification=value("classification", c.get("classification")) or "-"))
    if c.get("labels"):
        typer.echo(t("cli.conv_labels", labels=terminal_safe(", ".join(c["labels"]))))
    # the transcript with the private notes in their place, marked as staff-only
    lines = [(parse_time(m["at"]), 0, m["id"], m) for m in c["messages"]]
    lines += [(parse_time(n["at"]), 1, n["id"], n) for n in c.get("notes") or []]
    for at, is_note, _id, m in sorted(lines, key=lambda x: x[:3]):
        if is_note:
            typer.echo(t("cli.conv_whisper_line" if m.get("to") else "cli.conv_note_line",
                         at=short_time(at),
                         agent=terminal_safe(m.get("agent_name") or m["agent"]),
                         to=terminal_safe(m.get("to_name") or m.get("to") or ""),
                         body=terminal_safe(m["body"], keep_lines=True)))
            continue
        who = (m.get("agent") or value("sender", "agent")) if m["sender"] == "agent" \
            else value("sender", m["sender"])
        typer.echo(f"[{short_time(at)}] {terminal_safe(str(who))}: "
                   f"{terminal_safe(m['body'], keep_lines=True)}")


@app.command("accept")
def accept_cmd(ctx: typer.Context, agent: AgentOpt, json_: JsonOpt = False) -> None:
    """Take the next waiting chat you may serve (highest priority, then oldest)."""
    conv = state(ctx).backend.accept_next(agent)
    if conv is None:
        if wants_json(ctx, json_):
            print_json(None)
        info(t("cli.conv_nothing_waiting"))
        return
    _conv_out(ctx, json_, conv, t("cli.conv_accepted", id=conv["id"],
                                            name=conv["customer_name"]))


@app.command("reply")
def reply_cmd(ctx: typer.Context, conversation: ConvArg,
              agent: AgentOpt,
              text: Annotated[str | None, typer.Argument(help="The reply.")] = None,
              file: Annotated[Path | None, typer.Option(
                  "--file", "-f", help="Send this picture, PDF or short video (JPEG, PNG, "
                  "WebP, GIF, PDF, MP4).")] = None,
              json_: JsonOpt = False) -> None:
    """Reply to a conversation assigned to you (a text, a file, or both)."""
    if text is None and file is None:
        raise UsageError("give the reply's text or --file PATH", key="reply_needs_text")
    data = read_upload(file) if file is not None else None
    be = state(ctx).backend
    msg = None
    if text is not None:
        msg = be.reply(agent, conversation, text)
    if data is not None:
        msg = be.reply_file(agent, conversation, file.name, data)
    _conv_out(ctx, json_, msg, t("cli.conv_sent", id=msg["id"]))


@app.command("file")
def file_cmd(
    ctx: typer.Context, conversation: ConvArg,
    message: Annotated[int, typer.Argument(metavar="MESSAGE", help="The message's id.")],
    save: Annotated[Path, typer.Option(help="The folder to save it in.")] = Path("."),
    json_: JsonOpt = False,
) -> None:
    """Save a picture, PDF or video of a conversation to a folder."""
    got = state(ctx).backend.get_file(conversation, message)
    path = save_download(got, save)
    if wants_json(ctx, json_):
        print_json({**{k: v for k, v in got.items() if k != "data"}, "saved": str(path)})
    else:
        info(t("cli.file_saved", name=terminal_safe(got["name"]), path=str(path)))


@app.command("transfer")
def transfer_cmd(
    ctx: typer.Context, conversation: ConvArg, agent: AgentOpt,
    to_agent: Annotated[str | None, typer.Option(help="Hand it to this agent.")] = None,
    to_group: Annotated[str | None, typer.Option(help="Hand it to this group.")] = None,
    note: Annotated[str, typer.Option(help="A note the next agent sees.")] = "",
    json_: JsonOpt = False,
) -> None:
    """Transfer a conversation to another agent or a group, with a note."""
    conv = state(ctx).backend.transfer(conversation, by=agent, to_agent=to_agent,
                                       to_group=to_group, note=note)
    where = t("cli.conv_to_agent", agent=conv["assignee"]) if conv["assignee"] else \
        t("cli.conv_to_queue")
    _conv_out(ctx, json_, conv, t("cli.conv_transferred", id=conversation, where=where))


@app.command("close")
def close_cmd(
    ctx: typer.Context, conversation: ConvArg,
    agent: Annotated[str | None, typer.Option("--agent", "-a", help="The closing agent.")] = None,
    reason: Annotated[str, typer.Option(help="Why (resolved, no_reply ...).")] = "resolved",
    json_: JsonOpt = False,
) -> None:
    """Close a conversation; the customer is asked for a 1-5 rating."""
    conv = state(ctx).backend.close_conversation(conversation, by=agent, reason=reason)
    _conv_out(ctx, json_, conv, t("cli.conv_closed", id=conversation))


@app.command("rate")
def rate_cmd(
    ctx: typer.Context, conversation: ConvArg,
    rating: Annotated[int, typer.Argument(help="1 (bad) to 5 (great).")],
    comment: Annotated[str | None, typer.Option(help="The customer's words.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Record the customer's rating of a closed conversation."""
    conv = state(ctx).backend.rate(conversation, rating, comment)
    _conv_out(ctx, json_, conv, t("cli.conv_rated", id=conversation,
                                                   rating=rating))


@app.command("close-idle")
def close_idle_cmd(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """Close chats idle past their shop's limit (the worker runs this on its own)."""
    closed = state(ctx).backend.close_idle()
    if wants_json(ctx, json_):
        print_json(closed)
    else:
        info(t("cli.conv_closed_idle", conversations=counted(len(closed), "idle conversation")))


@app.command("sensitive")
def sensitive_cmd(
    ctx: typer.Context, conversation: ConvArg,
    off: Annotated[bool, typer.Option("--off", help="Clear the tag.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Tag a conversation sensitive (a complaint, a dispute): no campaign message goes
    into it, nor to the customer while it is open."""
    out = state(ctx).backend.mark_sensitive(conversation, not off)
    if wants_json(ctx, json_):
        print_json(out)
    else:
        info(t("cli.conv_not_sensitive" if off else "cli.conv_sensitive", id=conversation))


@app.command("label")
def label_cmd(
    ctx: typer.Context, conversation: ConvArg,
    action: Annotated[str, typer.Argument(metavar="add|remove", help="add or remove.")],
    label: Annotated[str, typer.Argument(help="The label (售后-破损, 大促, 投诉 …).")],
    agent: Annotated[str | None, typer.Option("--agent", "-a",
                                              help="Who labels (recorded).")] = None,
    json_: JsonOpt = False,
) -> None:
    """Put a label on a conversation or take it off (a shop's labels are its own: with
    the shop's ``labels`` setting, only those)."""
    if action not in ("add", "remove"):
        raise UsageError(f"action must be add or remove, not {action!r}",
                         key="label_action", action=action)
    backend = state(ctx).backend
    if action == "add":
        out = backend.add_label(conversation, label, by=agent)
    else:
        out = backend.remove_label(conversation, label, by=agent)
    if wants_json(ctx, json_):
        print_json(out)
    else:
        info(t("cli.conv_labelled", id=conversation,
               labels=terminal_safe(", ".join(out["labels"])) or "-"))


@app.command("labels")
def labels_cmd(
    ctx: typer.Context, shop: Annotated[str, typer.Option(help="The shop.")],
    json_: JsonOpt = False,
) -> None:
    """A shop's labels: those its setting lists and those on its chats, with counts."""
    rows = state(ctx).backend.shop_labels(shop)
    if wants_json(ctx, json_):
        print_json(rows)
    else:
        print_table(rows, [("label", lambda r: terminal_safe(r["label"])),
                           ("conversations", lambda r: r["conversations"]),
                           ("listed", lambda r: "✓" if r["listed"] else "")])


@app.command("note")
def note_cmd(
    ctx: typer.Context, conversation: ConvArg,
    text: Annotated[str, typer.Argument(help="The note (staff only).")], agent: AgentOpt,
    to: Annotated[str | None, typer.Option(
        help="Whisper: address the note to this agent (supervisors only).")] = None,
    json_: JsonOpt = False,
) -> None:
    """Write a private note in a conversation: staff see it, the customer never does."""
    note = state(ctx).backend.add_note(agent, conversation, text, to=to)
    if wants_json(ctx, json_):
        print_json(note)
    elif to is not None:
        info(t("cli.conv_whispered", id=conversation, to=to))
    else:
        info(t("cli.conv_noted", id=conversation))


def _follow_up_list(ctx: typer.Context, shop: str | None, classification: str, since: str,
                    limit: int, json_: bool, **others: str | None) -> None:
    """``conv list --classification``: the follow-up list of one shop, or of every shop
    the caller sees (merged, newest chat first)."""
    used = [f"--{k.rstrip('_')}" for k, v in others.items() if v is not None]
    if used:
        raise UsageError(f"--classification does not combine with {', '.join(used)}",
                         key="class_combination", options=", ".join(used))
    backend = state(ctx).backend
    shops = [shop] if shop is not None else [s["key"] for s in backend.list("shops")]
    rows: list[dict] = []
    for key in shops:
        rows += backend.follow_ups(key, classification, since=since, limit=limit)
    rows = sorted(rows, key=lambda r: (r["created_at"], r["id"]), reverse=True)[:limit]
    if wants_json(ctx, json_):
        print_json(rows)
        return
    print_table(rows, [
        ("id", lambda c: c["id"]), ("shop", lambda c: c["shop"]),
        ("customer", lambda c: f"{terminal_safe(c.get('customer_name') or '')} "
                               f"({c['customer']})"),
        ("class", lambda c: value("classification", c["classification"])),
        ("product", lambda c: c.get("product")), ("order", lambda c: c.get("order")),
        ("state", lambda c: value("state", c["state"])),
        ("started", lambda c: short_time(parse_time(c["created_at"]))),
        ("invited", lambda c: short_time(parse_time(c["invited_at"]))
         if c.get("invited_at") else ("退订" if c.get("opted_out") else None))])


@app.command("follow-up")
def follow_up_cmd(
    ctx: typer.Context, conversation: ConvArg, agent: AgentOpt,
    product: Annotated[str | None, typer.Option(
        help="The product's key (default: the one the chat was about).")] = None,
    quantity: Annotated[int, typer.Option(min=1, help="How many.")] = 1,
    coupon: Annotated[str | None, typer.Option(
        help="Use this coupon (default: the customer's best).")] = None,
    json_: JsonOpt = False,
) -> None:
    """Send a follow-up list's customer an invitation to order (the priced card), under
    the campaigns' guards: refused with the reason after an opt-out, in a sensitive
    matter, in quiet hours or past the shop's cap."""
    msg = state(ctx).backend.follow_up_invite(conversation, agent, product, quantity, coupon)
    if wants_json(ctx, json_):
        print_json(msg)
    else:
        typer.echo(terminal_safe(msg["body"], keep_lines=True))
        info(t("cli.invitation_sent", id=msg["id"], conversation=conversation))


@app.command("macro")
def macro_cmd(
    ctx: typer.Context, conversation: ConvArg,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The macro's name or key.")],
    agent: AgentOpt, json_: JsonOpt = False,
) -> None:
    """Run a macro on a conversation: its actions in order, each as you would do it by
    hand. Refused with nothing done when an action cannot be done; a step refused midway
    stops the run (exit 1) and the report says what was done."""
    out = state(ctx).backend.run_macro(conversation, agent, name)
    if wants_json(ctx, json_):
        print_json(out)
    else:
        for step in out["steps"]:
            line = t(f"cli.macro_step_{step['status']}", what=terminal_safe(step["what"]))
            if step["status"] == "failed":
                line += t("cli.macro_step_reason", reason=error_text(_Refusal(step["error"])))
            typer.echo(line)
        info(t("cli.macro_done" if out["complete"] else "cli.macro_partial",
               name=terminal_safe(out["name"]), id=conversation))
    if not out["complete"]:
        raise typer.Exit(1)


class _Refusal(Exception):
    """A step's refusal as reported (its key and parameters), shown through the
    catalogs like any error."""

    def __init__(self, error: dict):
        super().__init__(error.get("message", ""))
        self.key, self.params = error.get("key"), error.get("params") or {}


@app.command("macros")
def macros_cmd(
    ctx: typer.Context, shop: Annotated[str, typer.Option(help="The shop.")],
    agent: Annotated[str | None, typer.Option(
        "--agent", "-a", help="Only those this agent may run.")] = None,
    json_: JsonOpt = False,
) -> None:
    """A shop's macros (apply/export them as records of kind macros)."""
    rows = [m for m in state(ctx).backend.list("macros", shop=shop)
            if agent is None or m.get("agent") in (None, agent)]
    if wants_json(ctx, json_):
        print_json(rows)
    else:
        print_table(rows, [("key", lambda m: m["key"]),
                           ("name", lambda m: terminal_safe(m["name"])),
                           ("agent", lambda m: m.get("agent")),
                           ("actions", lambda m: terminal_safe(", ".join(
                               next(iter(a)) for a in m["actions"])))])


@app.command("priority")
def priority_cmd(
    ctx: typer.Context, conversation: ConvArg,
    priority: Annotated[int, typer.Argument(help="-1000..1000, higher served first.")],
    agent: Annotated[str | None, typer.Option("--agent", "-a",
                                              help="Who sets it (recorded).")] = None,
    json_: JsonOpt = False,
) -> None:
    """Set a conversation's queue priority."""
    out = state(ctx).backend.set_priority(conversation, priority, by=agent)
    if wants_json(ctx, json_):
        print_json(out)
    else:
        info(t("cli.conv_priority", id=conversation, priority=out["priority"]))


@app.command("presence")
def presence_cmd(
    ctx: typer.Context, conversation: ConvArg, agent: AgentOpt,
    state_: Annotated[str, typer.Option(
        "--state", help="viewing, typing or left.")] = "viewing",
    json_: JsonOpt = False,
) -> None:
    """Say you are viewing or typing in a conversation (for a few seconds) and see who
    else is there."""
    out = state(ctx).backend.presence(conversation, agent, state_)
    if wants_json(ctx, json_):
        print_json(out)
    elif not out["others"]:
        info(t("cli.presence_alone", id=conversation))
    else:
        for o in out["others"]:
            typer.echo(t("cli.presence_line", name=terminal_safe(o["name"]), agent=o["agent"],
                         role=value("role", o["role"]), state=value("presence", o["state"])))
