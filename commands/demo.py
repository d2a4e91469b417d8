"""`cstool demo`: the quickest way to see cstool with data in it."""

import operator

import typer

from .context import state
from .fixtures import load_set
from .output import info, print_table


def demo_cmd(ctx: typer.Context) -> None:
    """Create or reuse the data file, load the demo mall if it is empty, show what is there."""
    st = state(ctx)
    backend = st.backend
    if not backend.list("shops", limit=1):
        info("empty file: loading the demo mall (fixtures set 'demo') ...")
        result = load_set(backend, "demo")
        info(f"loaded {result.count('create')} records")
    data = backend.info()
    typer.echo(f"cstool demo — data file {data['path']}")
    counts = data["tables"]
    rows = []
    for shop in backend.list("shops"):
        key = shop["key"]
        rows.append(
            {
                "key": key,
                "name": shop["name"],
                "mode": shop["service_mode"],
                "agents": len(backend.list("agents", shop=key)),
                "customers": len(backend.list("customers", shop=key)),
                "products": len(backend.list("products", shop=key)),
                "orders": len(backend.list("orders", shop=key)),
            }
        )
    headers = ("key", "name", "mode", "agents", "customers", "products", "orders")
    print_table(rows, [(h, operator.itemgetter(h)) for h in headers], title="Shops")
    typer.echo(
        f"{counts.get('agents', 0)} agents, {counts.get('customers', 0)} customers, "
        f"{counts.get('orders', 0)} orders, {counts.get('coupons', 0)} coupons, "
        f"{counts.get('promotions', 0)} promotions."
    )
    typer.echo(
        "Try: cstool shop list · cstool agent list --shop KEY · "
        "cstool customer show KEY · cstool export --shop KEY · cstool db info"
    )
