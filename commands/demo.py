"""`cstool demo`: the quickest way to see cstool working."""

import operator
import os
from typing import Annotated

import typer

from cstool.api.backend import Backend
from cstool.i18n import t

from .context import state
from .fixtures import load_set
from .output import counted, info, print_table
from .progress import embedding_progress

DEMO_SHOP = "lingyi-fashion"
DEMO_AGENT = "lf-xiaomei"


def demo_cmd(
    ctx: typer.Context,
    agent: Annotated[str, typer.Option(help="The demo agent you play.")] = DEMO_AGENT,
    pace: Annotated[float, typer.Option(
        min=0.5, max=600, help="Seconds between simulated customer messages.")] = 5.0,
    summary: Annotated[bool, typer.Option(
        "--summary", help="Only print what is in the file (no console).")] = False,
) -> None:
    """Load the demo mall into the data file if it is empty, then open the agent console
    as a demo agent while simulated customers write in (a summary when not on a terminal)."""
    st = state(ctx)
    backend = st.backend
    if not backend.list("shops", limit=1):
        info(t("cli.demo_loading"))
        result = load_set(backend, "demo")
        info(t("cli.demo_loaded", records=counted(result.count("create"), "record")))
    if summary or not (os.isatty(0) and os.isatty(1)):
        _summary(backend)
        return
    from .console import run_console

    shop = backend.get("agents", agent)["shops"][0]
    _prepare_bot(backend, shop)
    simulator, restore = start_demo(backend, agent, pace_s=pace)
    try:
        run_console(backend, agent, simulator=simulator)
    finally:
        restore()


def _prepare_bot(backend: Backend, shop: str) -> None:
    """Build (or load) the bot's model before customers write, with a spinner on stderr
    (a first start embeds the entries: tens of seconds on a slow machine, and a still
    screen would look like a hang); the spinner goes when done."""
    with embedding_progress(spinner=t("cli.demo_preparing_bot"), transient=True):
        backend.warm_knowledge(shop)


def start_demo(backend: Backend, agent: str, *, pace_s: float = 5.0, seed: int | None = None):
    """Set the desk up for the demo agent and return (the customers' simulator, a function
    that puts the colleagues back as they were).

    Demo hours: the demo shop takes customers to a person at any hour, in this process
    only (while it is closed, the console's header says so and when it opens). The shop's
    other online agents step away until the demo agent has a first customer (the first
    simulated customer asks for a person at once); then the simulator brings them back
    and plays them: they take their share of the chats and close them after a while."""
    from cstool.simulation.demo_customers import CustomerSimulator

    shop = backend.get("agents", agent)["shops"][0]
    backend.keep_open(shop)
    colleagues = {a["handle"]: a["status"] for a in backend.list("agents", shop=shop)
                  if a["handle"] != agent and a["status"] == "online"}
    for other in colleagues:
        backend.set_agent_status(other, "busy")
    # the demo agent serves every group of the shop, so no simulated chat waits for a
    # group of absent colleagues (after-sale and logistics questions reach you too)
    me = backend.get("agents", agent)
    groups = sorted({*me["groups"], *(g["key"] for g in backend.list("groups", shop=shop))})
    if groups != sorted(me["groups"]):
        backend.update("agents", agent, {"groups": groups})
    backend.set_agent_status(agent, "online")
    simulator = CustomerSimulator(backend, shop, pace_s=pace_s, seed=seed, me=agent,
                                  colleagues=tuple(colleagues))

    def restore() -> None:
        for other, status in colleagues.items():
            backend.set_agent_status(other, status)

    return simulator, restore


def _summary(backend: Backend) -> None:
    data = backend.info()
    typer.echo(t("cli.demo_title", path=data["path"]))
    counts = data["tables"]
    rows = []
    for shop in backend.list("shops"):
        key = shop["key"]
        rows.append({
            "key": key,
            "name": shop["name"],
            "mode": shop["service_mode"],
            "agents": len(backend.list("agents", shop=key)),
            "customers": len(backend.list("customers", shop=key)),
            "products": len(backend.list("products", shop=key)),
            "orders": len(backend.list("orders", shop=key)),
        })
    headers = ("key", "name", "mode", "agents", "customers", "products", "orders")
    print_table(rows, [(h, operator.itemgetter(h)) for h in headers], title=t("cli.demo_shops"))
    typer.echo(t("cli.demo_counts", agents=counted(counts.get("agents", 0), "agent"),
                 customers=counted(counts.get("customers", 0), "customer"),
                 orders=counted(counts.get("orders", 0), "order"),
                 coupons=counted(counts.get("coupons", 0), "coupon"),
                 promotions=counts.get("promotions", 0)))
    typer.echo(t("cli.demo_next", agent=DEMO_AGENT))
