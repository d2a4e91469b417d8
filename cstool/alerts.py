"""Dashboard alerts as pure rules over a snapshot: a long queue, a slow queue, answer
rates under target, keywords surging in what customers write, and low 质检 scores (the
shop's mean today, and each agent's, under the shop's ``qa.low_score``)."""

from __future__ import annotations

from dataclasses import dataclass

SURGE_WORDS = ("发货", "物流", "快递", "退款", "退货", "破损", "质量", "优惠", "发票", "尺码",
               "催", "投诉", "没收到", "坏了")


@dataclass(frozen=True)
class Alert:
    """One alert: a stable key (so the log lists it once while it holds), a level
    (warning or critical), the (Chinese) text, and what it is about: ``kind`` and
    ``fields`` name its catalog entry (``alert.<kind>``, see cstool/i18n) so a front end
    shows it in its own language."""

    key: str
    level: str
    text: str
    kind: str = ""
    fields: tuple[tuple[str, object], ...] = ()


@dataclass(frozen=True)
class Thresholds:
    """When to alert; shops may differ, these are the defaults."""

    queue_max: int = 10
    wait_s_max: int = 180
    answer_rate_min: float = 0.8
    response_rate_min: float = 0.8
    surge_factor: float = 3.0
    # A surge needs volume: at least this many mentions in the last 15 minutes (and
    # surge_factor times the usual rate), so 5 against 0 at the start of a day is none.
    surge_min: int = 10


def keyword_counts(texts: list[str], words: tuple[str, ...] = SURGE_WORDS) -> dict[str, int]:
    """How many texts mention each word (Chinese words match inside unspaced text)."""
    return {w: sum(1 for t in texts if w in t) for w in words}


def check(snapshot: dict, th: Thresholds = Thresholds()) -> list[Alert]:
    """The alerts that hold for a dashboard snapshot (see ``DashboardOps.dashboard``)."""
    out: list[Alert] = []
    queue = snapshot["queue"]
    if queue["waiting"] > th.queue_max:
        level = "critical" if queue["waiting"] > 2 * th.queue_max else "warning"
        out.append(Alert("queue", level, f"排队 {queue['waiting']} 人，超过 {th.queue_max}",
                         "queue", (("waiting", queue["waiting"]), ("max", th.queue_max))))
    if queue["longest_wait_s"] is not None and queue["longest_wait_s"] > th.wait_s_max:
        out.append(Alert("wait", "warning",
                         f"最长等待 {queue['longest_wait_s'] // 60} 分钟，超过 "
                         f"{th.wait_s_max // 60} 分钟", "wait",
                         (("minutes", queue["longest_wait_s"] // 60),
                          ("max", th.wait_s_max // 60))))
    today = snapshot["today"]
    if today.get("answer_rate") is not None and today["answer_rate"] < th.answer_rate_min:
        out.append(Alert("answer_rate", "warning",
                         f"30 秒应答率 {today['answer_rate']:.0%}，低于 {th.answer_rate_min:.0%}",
                         "answer_rate", (("rate", f"{today['answer_rate']:.0%}"),
                                         ("min", f"{th.answer_rate_min:.0%}"))))
    if today.get("response_rate") is not None and today["response_rate"] < th.response_rate_min:
        out.append(Alert("response_rate", "warning",
                         f"3 分钟响应率 {today['response_rate']:.0%}，低于 "
                         f"{th.response_rate_min:.0%}", "response_rate",
                         (("rate", f"{today['response_rate']:.0%}"),
                          ("min", f"{th.response_rate_min:.0%}"))))
    out += qa_alerts(snapshot.get("qa"))
    recent, before = snapshot["keywords"]["recent"], snapshot["keywords"]["before"]
    ratio = snapshot["keywords"]["window_ratio"]  # before-window length / recent-window length
    for word, n in recent.items():
        base = before.get(word, 0) / ratio if ratio else 0
        if n >= th.surge_min and n >= th.surge_factor * max(base, 1):
            out.append(Alert(f"surge:{word}", "warning",
                             f"「{word}」激增：近 15 分钟 {n} 次（此前约 {base:.0f} 次）",
                             "surge", (("word", word), ("count", n),
                                       ("before", f"{base:.0f}"))))
    return out


def qa_alerts(qa: dict | None) -> list[Alert]:
    """Low quality-inspection scores today: the shop's mean, and each agent's, under the
    shop's threshold (``snapshot["qa"]``)."""
    if not qa or qa.get("score") is None:
        return []
    out = []
    low = qa["low_score"]
    if qa["score"] < low:
        out.append(Alert("qa_score", "warning",
                         f"今日质检均分 {qa['score']:g}，低于 {low}", "qa_score",
                         (("score", f"{qa['score']:g}"), ("min", low))))
    for a in qa.get("low_agents", ()):
        out.append(Alert(f"qa_agent:{a['agent']}", "warning",
                         f"客服 {a['agent']} 今日质检均分 {a['score']:g}，低于 {low}",
                         "qa_agent", (("agent", a["agent"]), ("score", f"{a['score']:g}"),
                                      ("min", low))))
    return out
