"""Text normalisation, tokenisation and synonyms for Chinese and English questions.

Everything here is plain Python over strings; no segmenter is needed. Chinese text is
cut into character unigrams and bigrams (which cover the 2-character words that carry
most meaning and keep partial matches when one character is mistyped), English text
into lightly stemmed words, word bigrams and character n-grams inside word boundaries
(typo tolerance). Synonyms are applied to the normalised text before tokenising, by
replacing every variant of a group with the group's canonical form, so "物流", "快件"
and "快递" all become "快递" on both the knowledge side and the question side.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence

__all__ = [
    "DEFAULT_SYNONYMS",
    "SynonymTable",
    "default_synonyms",
    "features",
    "is_cjk",
    "normalise",
    "stem",
    "tokens",
]

# A small traditional -> simplified table for characters common in shop questions.
_TRAD = (
    "貨货發发單单錢钱號号碼码換换購购買买賣卖價价優优惠惠運运費费臺台麼么們们這这個个"
    "為为裡里裏里來来過过還还讓让說说話话請请問问題题時时間间幾几點点認认識识東东車车"
    "門门開开關关給给對对後后會会從从長长張张訊讯郵邮遞递寄寄務务帳账戶户紅红包包鞋鞋"
    "尺尺寸寸實实際际廣广樣样線线網网頁页圖图導导處处辦办張张動动態态與与專专業业電电"
    "腦脑機机聯联係系隊队貼贴盤盘據据證证稅税額额減减滿满紀纪錄录歷历掃扫碼码壞坏損损"
    "維维護护嗎吗哪哪兒儿頭头聽听見见觀观盧卢氣气"
)
_TRAD_MAP = {ord(_TRAD[i]): _TRAD[i + 1] for i in range(0, len(_TRAD) - 1, 2)}

_NUM_RE = re.compile(r"\d{5,}")
_WS_RE = re.compile(r"\s+")
_RUN_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+|[a-z0-9]+")


def is_cjk(ch: str) -> bool:
    """Return True when ``ch`` is a CJK unified ideograph (a Chinese character)."""
    o = ord(ch)
    return 0x3400 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF


def normalise(text: str) -> str:
    """Normalise ``text`` for matching.

    NFKC (which also turns full-width letters, digits and punctuation into half-width
    ones), lower case, a few traditional characters to simplified, apostrophes dropped
    inside words ("don't" -> "dont"), every other punctuation or symbol character to a
    space, long digit runs (order numbers, phone numbers) to ``0``, spaces collapsed.
    """
    t = unicodedata.normalize("NFKC", text or "").lower().translate(_TRAD_MAP)
    t = t.replace("'", "").replace("\u2019", "").replace("`", "")
    out = []
    for ch in t:
        cat = unicodedata.category(ch)
        if cat[0] in "PSZC":
            out.append(" ")
        else:
            out.append(ch)
    t = "".join(out)
    t = _NUM_RE.sub("0", t)
    return _WS_RE.sub(" ", t).strip()


# ---------------------------------------------------------------------------------------
# Synonyms

#: Default synonym groups; the first item of each group is the canonical form. An empty
#: canonical form ("") removes the variants (greetings and fillers that carry no intent).
DEFAULT_SYNONYMS: tuple[tuple[str, ...], ...] = (
    # --- Chinese: shipping
    ("快递", "物流", "快件", "包裹", "邮包", "单号信息"),
    ("发货", "寄出", "出货", "出库", "发出来"),
    ("签收", "收到货", "收货"),
    ("多久", "多长时间", "几天", "多少天"),
    # --- returns, refunds, exchanges
    ("退款", "退钱", "返钱", "退费", "钱退", "返款"),
    ("退货", "退回去", "退掉", "退了"),
    ("换货", "调换", "换一个", "换个", "换一件"),
    ("七天无理由", "7天无理由", "七天无理", "7天无理"),
    # --- sizing
    ("尺码", "码数", "码子", "尺寸"),
    ("偏大", "大了", "太大", "有点大"),
    ("偏小", "小了", "太小", "有点小"),
    # --- coupons and promotions
    ("优惠券", "优惠卷", "抵用券", "代金券", "折扣券", "券"),
    ("满减", "满额减", "凑单"),
    ("活动", "促销", "大促"),
    # --- invoices, warranty, payment, account
    ("发票", "开票", "票据", "fa票"),
    ("保修", "质保", "保固", "包修"),
    ("付款", "支付", "付钱", "买单", "给钱"),
    ("账号", "账户", "帐号", "帐户"),
    ("手机号", "手机号码", "电话号码"),
    ("修改", "更改", "改一下", "改下", "改"),
    ("地址", "收货地址", "寄送地址"),
    # --- colloquial function words
    ("怎么", "咋", "咋么", "怎样", "如何", "怎么样", "咋样", "肿么", "怎么办", "咋办", "咋整"),
    ("什么时候", "啥时候", "几时", "何时", "啥时"),
    ("什么", "啥", "神马", "什么样"),
    ("没有", "木有", "没", "莫有"),
    ("可以", "能不能", "可不可以", "行不行", "能否"),
    ("", "亲亲", "亲", "在吗", "在不在", "您好", "你好", "请问", "麻烦问下", "问一下", "问下"),
    # --- English
    ("refund", "money back", "reimburse", "reimbursement", "refunded", "refunds"),
    ("parcel", "package"),
    ("coupon", "voucher", "promo code", "discount code", "coupon code"),
    ("cancel", "cancellation"),
)


class SynonymTable:
    """Groups of interchangeable words; every variant is rewritten to its canonical form.

    Chinese variants are replaced wherever they occur (Chinese has no word boundaries),
    Latin variants only as whole words. Longer variants win over shorter ones, so
    "优惠券" is not half-replaced by the group containing "券".
    """

    def __init__(self, groups: Iterable[Sequence[str]] = ()) -> None:
        """Build the table from ``groups`` (first item canonical)."""
        self.groups: list[tuple[str, ...]] = []
        self._map: dict[str, str] = {}
        for g in groups:
            self.add_group(g)

    def add_group(self, group: Sequence[str]) -> None:
        """Add one group; its first item is the canonical form, the others map to it.

        A variant that already belongs to another group is moved to this one, so a shop
        can override the default list.
        """
        items = [normalise(x) if x else "" for x in group]
        if not items:
            return
        canon = items[0]
        self.groups.append(tuple(items))
        if canon:
            # the canonical form maps to itself, so that a longer canonical word wins
            # over a shorter variant inside it (优惠券 is not rewritten through 券)
            self._map[canon] = canon
        for v in items[1:]:
            if v and v != canon:
                self._map[v] = canon
        self._regex: re.Pattern[str] | None = None

    def extended(self, groups: Iterable[Sequence[str]]) -> SynonymTable:
        """Return a copy of this table with ``groups`` added (e.g. a shop's own list)."""
        t = SynonymTable(self.groups)
        for g in groups:
            t.add_group(g)
        return t

    def _pattern(self) -> re.Pattern[str] | None:
        if getattr(self, "_regex", None) is None and self._map:
            parts = []
            for v in sorted(self._map, key=len, reverse=True):
                p = re.escape(v)
                if re.search(r"[a-z0-9]", v):
                    p = r"(?<![a-z0-9])" + p + r"(?![a-z0-9])"
                parts.append(p)
            self._regex = re.compile("|".join(parts))
        return getattr(self, "_regex", None)

    def apply(self, normalised_text: str) -> str:
        """Rewrite variants in already normalised text to their canonical forms."""
        pat = self._pattern()
        if pat is None:
            return normalised_text
        out = pat.sub(lambda m: " " + self._map[m.group(0)] + " ", normalised_text)
        return _WS_RE.sub(" ", out).strip()

    def to_list(self) -> list[list[str]]:
        """The groups as JSON-able lists."""
        return [list(g) for g in self.groups]

    def __len__(self) -> int:
        return len(self.groups)


def default_synonyms(extra: Iterable[Sequence[str]] | None = None) -> SynonymTable:
    """Return the default Chinese+English synonym table, extended by ``extra`` groups."""
    t = SynonymTable(DEFAULT_SYNONYMS)
    if extra:
        t = t.extended(extra)
    return t


# ---------------------------------------------------------------------------------------
# Tokens and features

_VOWELS = set("aeiouy")


def stem(word: str) -> str:
    """Light English stemming: plural ``s``/``es``/``ies``, ``-ing`` and ``-ed``.

    Deliberately conservative: "cards" -> "card", "charged" -> "charg", "charging" ->
    "charg", "topping" -> "top", "delivery" stays. Non-alphabetic tokens are returned
    as they are.
    """
    w = word
    if not w.isascii() or not w.isalpha() or len(w) <= 3:
        return w
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("sses"):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")) and len(w) > 3:
        w = w[:-1]
    for suf in ("ing", "ed"):
        if w.endswith(suf) and len(w) - len(suf) >= 3:
            base = w[: -len(suf)]
            if not any(c in _VOWELS for c in base):
                break
            if len(base) > 3 and base[-1] == base[-2] and base[-1] not in "lsz":
                base = base[:-1]
            w = base
            break
    if w.endswith("e") and len(w) > 4:
        w = w[:-1]
    return w


def tokens(text: str, synonyms: SynonymTable | None = None) -> list[str]:
    """Split ``text`` into word-level tokens.

    Latin words are stemmed; every Chinese character is one token (use :func:`features`
    for bigrams). ``synonyms`` (default: none) are applied first.
    """
    t = normalise(text)
    if synonyms is not None:
        t = synonyms.apply(t)
    out: list[str] = []
    for run in _RUN_RE.findall(t):
        if is_cjk(run[0]):
            out.extend(run)
        else:
            out.append(stem(run))
    return out


_WORD_CACHE: dict[tuple[str, int, int], tuple[str, tuple[str, ...]]] = {}


def _word_features(run: str, lo: int, hi: int) -> tuple[str, tuple[str, ...]]:
    """Stem and character n-grams of one Latin word, memoised (words repeat a lot)."""
    key = (run, lo, hi)
    hit = _WORD_CACHE.get(key)
    if hit is not None:
        return hit
    grams: list[str] = []
    if hi > 0 and not run.isdigit():
        p = "<" + run + ">"
        for n in range(lo, min(hi, len(p)) + 1):
            grams.extend(["c:" + p[i : i + n] for i in range(len(p) - n + 1)])
    res = (stem(run), tuple(grams))
    if len(_WORD_CACHE) > 200_000:
        _WORD_CACHE.clear()
    _WORD_CACHE[key] = res
    return res


def features(
    text: str,
    synonyms: SynonymTable | None = None,
    *,
    char_ngrams: tuple[int, int] = (2, 5),
    word_bigrams: bool = True,
) -> list[str]:
    """Return the matching features of ``text`` (with repetitions, for term frequency).

    Feature kinds, prefixed so that they never collide:

    * ``w:`` a stemmed Latin word or number; ``b:`` two consecutive words (a Chinese run
      counts as a word boundary);
    * ``c:`` a character n-gram of a Latin word padded with ``<`` and ``>``
      (``char_ngrams`` gives the n range), for typos and word variants;
    * ``z:`` one Chinese character; ``y:`` two consecutive Chinese characters (within a
      run of Chinese text); ``x:`` a Latin word glued to a Chinese run, as in "xl码".
    """
    t = normalise(text)
    if synonyms is not None:
        t = synonyms.apply(t)
    out: list[str] = []
    lo, hi = char_ngrams
    prev_word: str | None = None
    prev_run: str | None = None
    prev_end = -1
    for m in _RUN_RE.finditer(t):
        run = m.group(0)
        if is_cjk(run[0]):
            out.extend(["z:" + c for c in run])
            out.extend(["y:" + run[i : i + 2] for i in range(len(run) - 1)])
            if prev_run is not None and m.start() == prev_end:
                out.append("x:" + prev_run + run[0])
            prev_word = None
            prev_run = run
        else:
            w, grams = _word_features(run, lo, hi)
            out.append("w:" + w)
            if word_bigrams and prev_word is not None:
                out.append("b:" + prev_word + " " + w)
            if prev_run is not None and is_cjk(prev_run[0]) and m.start() == prev_end:
                out.append("x:" + prev_run[-1] + w)
            out.extend(grams)
            prev_word = w
            prev_run = run
        prev_end = m.end()
    return out


def merge_synonym_groups(
    base: Iterable[Sequence[str]], extra: Mapping[str, Sequence[str]] | Iterable[Sequence[str]]
) -> list[list[str]]:
    """Return ``base`` groups followed by ``extra`` ones as plain lists (helper for config).

    ``extra`` may be a list of groups or a mapping ``canonical -> variants``.
    """
    groups = [list(g) for g in base]
    if isinstance(extra, Mapping):
        groups.extend([k, *v] for k, v in extra.items())
    else:
        groups.extend(list(g) for g in extra)
    return groups
