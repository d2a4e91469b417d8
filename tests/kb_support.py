"""Shared by the knowledge bot tests: a small knowledge base, the kb / bot / reply
commands on the CLI, and a private cache folder for built models."""

from __future__ import annotations

import os
import tempfile

# Models built by the tests go to a folder of this run, not the user's cache.
os.environ.setdefault("CSTOOL_CACHE_DIR", tempfile.mkdtemp(prefix="cstool-test-cache-"))

KB = [
    {"key": "order_status", "question": "我的快递到哪了？",
     "similar": ["帮我查一下物流", "订单发货了吗", "包裹到哪里了", "查一下我的订单"],
     "answer": "在我的订单里可以查看物流。", "category": "shipping",
     "tags": ["flow:order_status"]},
    {"key": "product_spec", "question": "这款有M码吗？",
     "similar": ["有什么颜色", "有没有XL码", "这个多少钱", "还有货吗"],
     "answer": "请看商品页的规格。", "category": "product", "tags": ["flow:product"]},
    {"key": "my_coupons", "question": "有什么优惠券可以用？",
     "similar": ["我的优惠券", "用券后多少钱", "到手价多少", "有什么优惠"],
     "answer": "结算时自动用最优的券。", "category": "promotion", "tags": ["flow:coupons"]},
    {"key": "invoice", "question": "怎么开发票？",
     "similar": ["可以开发票吗", "发票怎么开", "能开专票吗", "电子发票"],
     "answer": "确认收货后在订单详情申请开票。", "category": "invoice"},
    {"key": "return", "question": "怎么退货？",
     "similar": ["不想要了怎么退", "七天无理由退货", "退货流程", "申请退货"],
     "answer": "在订单里点申请售后。", "category": "returns"},
    {"key": "ship_when", "question": "什么时候发货？",
     "similar": ["多久发货", "今天能发吗", "下单后几天发", "付款后多久发出"],
     "answer": "48小时内发货。", "category": "shipping"},
]


def register_commands() -> None:
    """Mount `kb`, `bot` and `reply` on the CLI if commands/main.py does not yet."""
    from commands import bot, kb, reply
    from commands.main import app

    names = {g.name for g in app.registered_groups}
    for name, module in (("kb", kb), ("bot", bot), ("reply", reply)):
        if name not in names:
            app.add_typer(module.app, name=name)
