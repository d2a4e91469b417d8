"""The quality-inspection engine (cstool/qa, pure): hand-checked findings on written
chats, one rule at a time and together, in Simplified and Traditional Chinese."""

from __future__ import annotations

import pytest

from cstool.qa import Chat, Message, RulesError, check_setting, inspect, rules_of
from cstool.qa.engine import is_question, is_sign_off, normalise, sampled

S = 1000
A, B = 7, 8  # agent ids


def rules(setting=None, target=180):
    return rules_of(setting, response_target_s=target, normalise=normalise)


def chat(*msgs, closed_at=None, needs=None, last=A):
    ms = [Message(i + 1, s, body, at * S, agent) for i, (s, body, at, agent) in
          enumerate(msgs)]
    return Chat(1, ms, closed_at=(closed_at if closed_at is not None else msgs[-1][2] + 600) * S,
                needs_human_at=None if needs is None else needs * S, last_agent_id=last)


def c(body, at):
    return ("customer", body, at, None)


def a(body, at, agent=A):
    return ("agent", body, at, agent)


def found(ins):
    return [(f.rule, f.message_id, f.agent_id, f.detail) for f in ins.findings]


def test_a_clean_chat_scores_100_and_is_not_flagged():
    ins = inspect(chat(c("你好，这款有M码吗？", 0), a("亲，有的，M码现货", 20),
                       c("好的谢谢", 40), a("不客气，祝您购物愉快～", 50), needs=0), rules())
    assert found(ins) == [] and ins.score == 100 and not ins.flagged and ins.agent_id == A


def test_first_response_later_than_the_shop_target():
    ch = chat(c("在吗", 0), a("亲，在的", 200), c("好的", 210), needs=0)
    assert found(inspect(ch, rules())) == [("slow_first_response", 2, A, "200")]
    assert found(inspect(ch, rules(target=300))) == []
    # nobody answered and the chat waited past the target: points at the question
    ch = chat(c("有人吗", 0), c("人呢", 100), closed_at=400, needs=0, last=None)
    assert ("slow_first_response", 1, None, "400") in found(inspect(ch, rules()))


def test_question_left_unanswered_at_close():
    ch = chat(c("你好", 0), a("亲，您好", 10), c("发什么快递", 20), c("大概几天到", 25),
              closed_at=20 + 3600)
    assert found(inspect(ch, rules())) == [("unanswered_question", 3, A, "")]
    # a question answered, then thanks: nothing
    ch = chat(c("发什么快递", 0), a("中通哦", 10), c("谢谢亲", 20), closed_at=30)
    assert found(inspect(ch, rules())) == []


def test_banned_words_and_forbidden_promises_unless_allowed_or_negated():
    ch = chat(c("是正品吗", 0), a("绝对正品，假一赔十！", 10), c("嗯嗯", 20))
    assert found(inspect(ch, rules())) == [("banned_word", 2, A, "绝对"),
                                           ("banned_word", 2, A, "假一赔十")]
    allowed = rules({"allowed_words": ["假一赔十"]})
    assert found(inspect(ch, allowed)) == [("banned_word", 2, A, "绝对")]
    negated = chat(c("能保证明天到吗", 0), a("亲，快递时效我们无法保证哦", 10), c("好吧", 20))
    assert found(inspect(negated, rules())) == []
    # the shop's own list replaces the default one, in either script
    own = rules({"banned_words": ["秒發"]})
    assert found(inspect(chat(c("快吗", 0), a("秒发！保证", 10), c("好", 20)), own)) == \
        [("banned_word", 2, A, "秒发")]


def test_rude_or_dismissive_replies():
    ch = chat(c("尺码怎么选", 0), a("自己看详情页", 10), c("没找到", 20), a("哦", 30),
              c("？", 40), a("说了多少遍了??", 50), c("好吧", 60))
    assert [(r, m, d) for r, m, _, d in found(inspect(ch, rules()))] == [
        ("rude_reply", 2, "自己看"), ("rude_reply", 4, "哦"), ("rude_reply", 6, "说了多少遍")]


def test_negative_turn_not_acknowledged():
    ch = chat(c("快递怎么还没到，太慢了！！", 0), a("单号是123", 10), c("嗯", 20))
    assert found(inspect(ch, rules())) == [("negative_unacknowledged", 1, A, "太慢")]
    soothed = chat(c("快递怎么还没到，太慢了！！", 0), a("非常抱歉让您久等了，单号是123", 10),
                   c("嗯", 20))
    assert found(inspect(soothed, rules())) == []
    # two upset messages in one run: one finding, at the first
    run = chat(c("什么破质量", 0), c("我要投诉", 5), a("请提供照片", 10), c("好", 20))
    assert found(inspect(run, rules())) == [("negative_unacknowledged", 1, A, "什么破")]


def test_chat_closed_while_the_customer_was_still_writing():
    ch = chat(c("我想问下", 0), a("亲请说", 5), c("就是那个颜色", 10), closed_at=40)
    assert found(inspect(ch, rules())) == [("closed_while_typing", 3, A, "30")]
    # a sign-off is the end of the talk; a close long after is not "while writing"
    assert found(inspect(chat(c("我想问下", 0), a("亲请说", 5), c("好的谢谢～", 10),
                              closed_at=12), rules())) == []
    assert found(inspect(ch, rules({"typing_grace_s": 20}))) == []


def test_traditional_chinese_is_read_as_simplified():
    ch = chat(c("我的訂單怎麼還沒發貨？？太慢了！！", 0), a("我們絕對保證今天發", 10), c("好", 20))
    assert found(inspect(ch, rules())) == [
        ("banned_word", 2, A, "保证"), ("banned_word", 2, A, "绝对"),
        ("negative_unacknowledged", 1, A, "太慢")]


def test_findings_count_against_the_agent_holding_the_chat_and_scores_add_up():
    ch = chat(c("在吗", 0), a("在的", 10, A), c("还没发货，太差了", 20), a("哦", 30, B),
              a("单号123", 40, B), c("你们绝对是骗子", 50), closed_at=60)
    ins = inspect(ch, rules())
    assert found(ins) == [("rude_reply", 4, B, "哦"),
                          ("negative_unacknowledged", 3, B, "太差"),
                          ("negative_unacknowledged", 6, B, "骗子"),
                          ("closed_while_typing", 6, B, "10")]
    assert ins.score == 100 - 25 - 10 - 10 - 15 and ins.agent_id == B and ins.flagged


def test_points_and_rules_switched_off_from_the_setting():
    ch = chat(c("是正品吗", 0), a("保证正品", 10), c("好", 20))
    assert inspect(ch, rules({"points": {"banned_word": 40}})).score == 60
    assert found(inspect(ch, rules({"off": ["banned_word"]}))) == []
    assert inspect(chat(*[c("a", 0)] * 0, c("x", 0), a("绝对绝对", 1), c("好", 2)),
                   rules({"points": {"banned_word": 100, "rude_reply": 100}})).score == 0


def test_the_sample_is_a_stable_share():
    picked = [i for i in range(1, 2001) if sampled(i, 0.1)]
    assert 150 < len(picked) < 250 and picked == [i for i in range(1, 2001) if sampled(i, 0.1)]
    assert not any(sampled(i, 0) for i in range(100)) and all(sampled(i, 1) for i in range(100))


def test_questions_and_sign_offs():
    r = rules()
    assert is_question(normalise("几号能到"), r) and is_question(normalise("有货吗"), r)
    assert is_question(normalise("發貨了沒"), r)
    assert not is_question(normalise("好的，谢谢！"), r)
    assert is_sign_off(normalise("好的谢谢亲🙏"), r) and not is_sign_off(normalise("还有一件事"), r)


@pytest.mark.parametrize("setting,code", [
    ([], "qa_not_mapping"), ({"nope": 1}, "qa_unknown_key"),
    ({"off": ["nope"]}, "qa_unknown_rule"), ({"points": {"rude_reply": 101}}, "qa_bad_points"),
    ({"banned_words": "保证"}, "qa_not_list"), ({"sample_rate": 2}, "qa_bad_number"),
    ({"low_score": True}, "qa_bad_number"), ({"banned_words": ["a\nb"]}, "qa_bad_item"),
])
def test_bad_settings_are_refused_with_a_code(setting, code):
    with pytest.raises(RulesError) as e:
        check_setting(setting)
    assert e.value.code == code


def test_a_setting_is_kept_as_given():
    assert check_setting({"banned_words": [" 保证 ", "保证", "秒发"], "sample_rate": 1}) == \
        {"banned_words": ["保证", "秒发"], "sample_rate": 1.0}


def test_negation_in_the_clause_and_reassurances_that_negate_nothing():
    r = rules()
    said = [("我们无法百分百保证哦", []), ("不敢说绝对，但一般没问题", []),
            ("不用担心，保证正品", ["保证"]), ("别着急，绝对今天发", ["绝对"]),
            ("不会掉色，保证质量", ["保证"]), ("不客气，假一罚十的", ["假一罚十"]),
            ("不少顾客说绝对好用", ["绝对"]), ("我们无法百分之百保证", [])]
    for text, words in said:
        ch = chat(c("是正品吗", 0), a(text, 10), c("好", 20))
        assert [d for rule, _, _, d in found(inspect(ch, r)) if rule == "banned_word"] == \
            words, text


def test_what_the_customer_writes_after_the_close_is_not_read():
    ch = Chat(1, [Message(1, "customer", "有M码吗", 0), Message(2, "agent", "有的", 10_000, A),
                  Message(3, "customer", "谢谢", 20_000),
                  Message(4, "customer", "客服态度太差了，怎么这么慢？", 700_000)],
              closed_at=600_000, needs_human_at=0, last_agent_id=A)
    assert found(inspect(ch, rules())) == []


def test_unseen_wordings_of_the_same_faults():
    ch = chat(c("请问这个能机洗", 0), a("我也不清楚", 10), c("你们什么态度", 20),
              a("跟你说了看说明", 30), c("算了", 40), closed_at=50)
    assert [(rule, m) for rule, m, _, _ in found(inspect(ch, rules()))] == [
        ("rude_reply", 2), ("rude_reply", 4), ("negative_unacknowledged", 3),
        ("closed_while_typing", 5)]
    assert is_question(normalise("请问这个能机洗"), rules())


# -- hand-checked against a simulated day: general rules, wordings not in the lists ------

@pytest.mark.parametrize("msgs", [
    # facts, suppositions and denials are not upset turns
    [c("那件还没发货的话，能改成L码吗", 0), a("可以的亲，已为您修改成L码", 10), c("好", 20)],
    [c("收到衣服了，颜色挺正的", 0), a("亲喜欢就好～", 10), c("嗯嗯", 20)],
    [c("到底选黑色还是白色好呢", 0), a("黑色更百搭哦", 10), c("行", 20)],
    [c("如果穿着不满意，可以退吗", 0), a("支持七天无理由退换", 10), c("好的", 20)],
    [c("我不是要投诉，就问问发票", 0), a("可以开电子发票的", 10), c("好的", 20)],
    [c("有点担心路上压坏了", 0), a("我们用加厚纸箱发货", 10), c("好的", 20)],
    [c("现在搞什么活动吗", 0), a("满300减40哦", 10), c("好的", 20)],
    [c("上次买的用了一年一直没问题，再来一个", 0), a("感谢支持～", 10), c("好的", 20)],
    # a composition, packing, a promise declined: no forbidden promise
    [c("什么面料", 0), a("这款面料是100%桑蚕丝的，百分百纯羊毛的是另一款", 10), c("好", 20)],
    [c("帮我包一下", 0), a("好的亲，给您打包好了明天发出", 10), c("好的", 20)],
    [c("明天一定能到吗", 0), a("这个时效我们保证不了哦，以物流为准", 10), c("好的", 20)],
    # showing the way and asking which are not brush-offs
    [c("物流在哪看", 0), a("您可以在订单详情里自己查看物流信息哦", 10), c("好的", 20)],
    [c("那款还有吗", 0), a("我不知道您指的是哪一款，能发下链接吗", 10), c("好的", 20)],
    # the customer's last words end the talk: not closed while writing, nothing unanswered
    [c("什么时候发货", 0), a("今天下午发出", 10), c("好的，那我等着收货啦", 20)],
    [c("尺码准吗", 0), a("正常码", 10), c("没什么问题了，谢谢", 20)],
    [c("几天到", 0), a("两三天", 10), c("辛苦了亲", 20)],
])
def test_no_false_findings_on_ordinary_turns(msgs):
    ins = inspect(chat(*msgs, closed_at=msgs[-1][2] + 30), rules())
    assert found(ins) == [], found(ins)


@pytest.mark.parametrize("msgs, rule, at", [
    ([c("在吗", 0), a("爱要不要，就这价", 10), c("好吧", 20)], "rude_reply", 2),
    ([c("发货没", 0), a("急什么急，排队呢", 10), c("好吧", 20)], "rude_reply", 2),
    ([c("都五天了还没发货，什么情况", 0), a("单号稍后更新", 10), c("好", 20)],
     "negative_unacknowledged", 1),
    ([c("你们又给我发错颜色了", 0), a("请拍照发一下", 10), c("好", 20)],
     "negative_unacknowledged", 1),
    ([c("收到的杯子坏了", 0), a("请拍照发一下", 10), c("好", 20)],
     "negative_unacknowledged", 1),
    ([c("特别失望，质量一般", 0), a("请问哪里有问题", 10), c("好", 20)],
     "negative_unacknowledged", 1),
    ([c("物流五天没动了，帮忙看下", 0), a("请提供订单号", 10), c("好", 20)],
     "negative_unacknowledged", 1),
    ([c("这个杯子有质量问题", 0), a("请提供订单号", 10), c("好", 20)],
     "negative_unacknowledged", 1),
    ([c("包裹里漏发了一样", 0), a("请提供订单号", 10), c("好", 20)],
     "negative_unacknowledged", 1),
    ([c("几天到", 0), a("两三天", 10), c("好的，那我还想问下有没有S码", 20)],
     "unanswered_question", 3),
    ([c("几天到", 0), a("两三天", 10), c("好的，另外我想改个地址", 20)],
     "closed_while_typing", 3),
    ([c("能保证正品吗", 0), a("绝对正品，假一赔十", 10), c("好", 20)], "banned_word", 2),
])
def test_findings_on_unseen_wordings(msgs, rule, at):
    ins = inspect(chat(*msgs, closed_at=msgs[-1][2] + 30), rules())
    assert (rule, at) in [(f[0], f[1]) for f in found(ins)], found(ins)


def test_a_chat_the_customer_closed_is_not_closed_while_they_wrote():
    msgs = [c("几天到", 0), a("两三天", 10), c("那我再看看别家", 20)]
    ms = [Message(i + 1, s, body, at * S, agent) for i, (s, body, at, agent) in
          enumerate(msgs)]
    by_agent = Chat(1, ms, closed_at=30 * S, last_agent_id=A, close_reason="resolved")
    by_customer = Chat(1, ms, closed_at=30 * S, last_agent_id=A, close_reason="customer")
    assert ("closed_while_typing", 3) in [(f[0], f[1]) for f in found(inspect(by_agent,
                                                                              rules()))]
    assert found(inspect(by_customer, rules())) == []


def test_a_shop_names_its_own_benign_phrases():
    ch = chat(c("误差多大", 0), a("温差的绝对值在2度以内", 10), c("好的", 20), closed_at=50)
    assert [f[0] for f in found(inspect(ch, rules()))] == ["banned_word"]
    assert found(inspect(ch, rules({"benign_phrases": ["绝对值"]}))) == []
    assert check_setting({"benign_phrases": ["絕對值"]}) == {"benign_phrases": ["絕對值"]}
    with pytest.raises(RulesError):
        check_setting({"benign_phrases": "绝对值"})
