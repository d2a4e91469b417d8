"""`cstool cart ...`: items in customers' carts (price-drop notices watch them)."""

import typer

from . import crud

app = typer.Typer(help="Cart items: what customers put in their carts, at what price.",
                  no_args_is_help=True)
crud.register(
    app,
    "cart_items",
    [
        ("key", lambda r: r["key"]),
        ("shop", lambda r: r["shop"]),
        ("customer", lambda r: r["customer"]),
        ("product", lambda r: r["product"]),
        ("qty", lambda r: r["quantity"]),
        ("price", lambda r: r["price"]),
        ("added", lambda r: r["added_at"]),
    ],
    create_name="add",
    delete_name="remove",
)
