"""A queued customer's wait counts from when they started waiting, through transfers and
an agent going offline (a customer who had waited 7 minutes showed "1s")."""

from __future__ import annotations

from cstool.values import format_time
from tests.conftest import NOW


def setup(b):
    b.apply({
        "shops": [{"key": "s", "name": "店", "service_mode": "human_first"}],
        "groups": [{"key": "pre", "shop": "s", "name": "售前"},
                   {"key": "after", "shop": "s", "name": "售后"}],
        "agents": [{"handle": "a", "name": "小美", "shops": ["s"], "groups": ["pre"],
                    "status": "busy", "max_chats": 3},
                   {"handle": "b", "name": "阿杰", "shops": ["s"], "groups": ["after"],
                    "status": "away", "max_chats": 3}],
        "customers": [{"key": "k", "name": "王丽", "profiles": [{"shop": "s"}]}],
    })


def queued_since(b, agent="a"):
    return {q["customer"]: q["waiting_since_ms"] for q in b.agent_desk(agent)["queue"]}


def test_a_transfer_without_an_answer_keeps_the_wait(backend, clock):
    setup(backend)
    conv = backend.post_message("s", "k", "在吗")["conversation"]
    assert conv["state"] == "queued"
    clock.advance(7 * 60)  # 7 minutes in the queue
    backend.set_agent_status("a", "online")  # a takes the chat from the queue
    assert backend.get_conversation(conv["id"], messages=False)["assignee"] == "a"
    clock.advance(5)
    backend.transfer(conv["id"], by="a", to_group="after", note="售后问题")  # b is away
    assert queued_since(backend) == {"k": NOW}  # not 1 second
    assert backend.get_conversation(conv["id"], messages=False)["queued_at"] == \
        backend.get_conversation(conv["id"], messages=False)["created_at"]


def test_after_an_answer_the_wait_starts_at_the_next_question(backend, clock):
    setup(backend)
    backend.set_agent_status("a", "online")
    conv = backend.post_message("s", "k", "在吗")["conversation"]
    clock.advance(30)
    backend.reply("a", conv["id"], "在的亲")
    clock.advance(60)
    backend.post_message("s", "k", "退货怎么弄")
    asked = clock.now_ms()
    clock.advance(120)
    backend.transfer(conv["id"], by="a", to_group="after")
    assert queued_since(backend) == {"k": asked}
    clock.advance(10)
    backend.set_agent_status("b", "online")  # b takes it and answers everything
    assert backend.get_conversation(conv["id"], messages=False)["assignee"] == "b"
    backend.reply("b", conv["id"], "您好，售后这边为您处理")
    clock.advance(10)
    backend.set_agent_status("b", "offline")  # back to the queue: waiting from now
    assert backend.get_conversation(conv["id"], messages=False)["queued_at"] == \
        format_time(clock.now_ms())
