"""The demo's simulated customers: Chinese questions about the shop's own products, and an
answer when an agent has written to them."""

from __future__ import annotations

from cstool.simulation.demo_customers import ANSWERS_TO_AGENT, CustomerSimulator


def test_simulated_customers_ask_and_answer_the_agent(backend):
    backend.apply({
        "shops": [{"key": "s", "name": "翎衣女装", "service_mode": "human_first"}],
        "agents": [{"handle": "a", "name": "小美", "shops": ["s"], "status": "online",
                    "max_chats": 10}],
        "products": [{"key": "dress", "shop": "s", "title": "法式碎花连衣裙", "price": 299}],
        "customers": [{"key": f"c{i}", "name": f"顾客{i}", "profiles": [{"shop": "s"}]}
                      for i in range(3)],
    })
    sim = CustomerSimulator(backend, "s", seed=1, follow_up_share=0.0, sleep=lambda s: None)
    first = sim.step()
    conv = first["conversation"]
    assert conv["assignee"] == "a" and first["message"]["body"]
    assert sim.message()[1] not in ANSWERS_TO_AGENT  # nobody has answered anyone yet
    backend.reply("a", conv["id"], "亲，有货的")
    customer, text = sim.message()
    assert (customer, text in ANSWERS_TO_AGENT) == (conv["customer"], True)
    backend.reply("a", conv["id"], "还需要别的吗？")
    backend.close_conversation(conv["id"], by="a")  # closed before the customer answers
    assert sim.message()[1] not in ANSWERS_TO_AGENT


def test_a_waiting_customer_does_not_repeat_themselves(backend):
    """Nobody answers: each customer's follow-ups are different lines, at most
    MAX_FOLLOW_UPS of them, however long the demo runs."""
    from collections import defaultdict

    from cstool.simulation.demo_customers import FOLLOW_UPS, MAX_FOLLOW_UPS

    backend.apply({
        "shops": [{"key": "s", "name": "翎衣女装", "service_mode": "human_only"}],
        "products": [{"key": "dress", "shop": "s", "title": "法式碎花连衣裙", "price": 299}],
        "customers": [{"key": f"c{i}", "name": f"顾客{i}", "profiles": [{"shop": "s"}]}
                      for i in range(3)],
    })
    sim = CustomerSimulator(backend, "s", seed=7, follow_up_share=0.9, sleep=lambda s: None)
    follow_ups = defaultdict(list)
    for _ in range(120):
        customer, text = sim.message()
        if text in FOLLOW_UPS:
            follow_ups[customer].append(text)
    assert follow_ups  # the share was high: some customers followed up
    for said in follow_ups.values():
        assert len(said) == len(set(said)) and len(said) <= MAX_FOLLOW_UPS


def test_new_questions_come_from_customers_not_already_waiting(backend):
    """Nobody answers and nobody follows up: each new question is another customer's
    while the shop has customers without an open chat."""
    backend.apply({
        "shops": [{"key": "s", "name": "翎衣女装", "service_mode": "human_only"}],
        "products": [{"key": "dress", "shop": "s", "title": "法式碎花连衣裙", "price": 299}],
        "customers": [{"key": f"c{i}", "name": f"顾客{i}", "profiles": [{"shop": "s"}]}
                      for i in range(4)],
    })
    sim = CustomerSimulator(backend, "s", seed=3, follow_up_share=0.0, sleep=lambda s: None)
    asking = [sim.message()[0] for _ in range(4)]
    assert sorted(asking) == ["c0", "c1", "c2", "c3"]
