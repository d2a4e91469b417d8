"""`cstool demo`: the quickest way to see cstool working."""

import operator
import os
from typing import Annotated

import typer

from cstool.plural import count

from .context import state
from .fixtures import load_set
from .output import info, print_table

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
        info("empty file: loading the demo mall (fixtures set 'demo') ...")
        result = load_set(backend, "demo")
        info(f"loaded {count(result.count('create'), 'record')}")
    if summary or not (os.isatty(0) and os.isatty(1)):
        _summary(backend)
        return
    from .console import run_console

    shop = backend.get("agents", agent)["shops"][0]
    info("preparing the knowledge bot ...")
    backend.warm_knowledge(shop)  # build (or load) the bot's model before customers write
    simulator, restore = start_demo(backend, agent, pace_s=pace)
    try:
        run_console(backend, agent, simulator=simulator)
    finally:
        restore()


def start_demo(backend, agent: str, *, pace_s: float = 5.0, seed: int | None = None):
    """Set the desk up for the demo agent and return (the customers' simulator, a function
    that puts the colleagues back as they were).

    Demo hours: the demo shop takes customers to a person at any hour, in this process
    only (while it is closed, the console's header says so and when it opens). The shop's
    other online agents step away until the demo agent has a first customer (the first
    simulated customer asks for a person at once); then the simulator brings them back
    and plays them: they take their share of the chats and close them after a while."""
    from cstool.simulation.demo_customers import CustomerSimulator

    shop = backend.get("agents", agent)["shops"][0]
    if hasattr(backend, "keep_open"):
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


def _summary(backend) -> None:
    data = backend.info()
    typer.echo(f"cstool demo — data file {data['path']}")
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
    print_table(rows, [(h, operator.itemgetter(h)) for h in headers], title="Shops")
    typer.echo(
        f"{count(counts.get('agents', 0), 'agent')}, "
        f"{count(counts.get('customers', 0), 'customer')}, "
        f"{count(counts.get('orders', 0), 'order')}, {count(counts.get('coupons', 0), 'coupon')}, "
        f"{counts.get('promotions', 0)} promotions."
    )
    typer.echo(f"Open the desk: cstool console --agent {DEMO_AGENT} · "
               "cstool conv list · cstool route list · cstool db info")
