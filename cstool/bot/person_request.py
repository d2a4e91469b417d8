"""Whether a customer asks for a person in words no phrase list has: the grammar of the
request, in Chinese and English (pure).

The fixed phrases (``decision.DEFAULT_HANDOFF_PHRASES``: 转人工, talk to a human ...)
catch the usual wordings. Customers also write 叫你们店长出来, 换个人来, 不想跟机器人聊,
你是不是机器人, 有人吗, get me a manager, are you a bot, stop the automated replies. Three
shapes cover them:

* a request verb before a person of the shop (叫 / 找 / 让 / 喊 / 换 / 转 / 要 / 请 / 想跟,
  get / talk to / connect me to ...), the person named (店长, 主管, 售后的人, 工作人员,
  manager, someone, a real person) or a bare 人 with its measure word (换个人, 来个人);
* a refusal of the bot or a complaint about it (不想跟机器人聊, 别用自动回复敷衍我,
  你是机器人吗, 智能客服太笨了, this bot is useless, are you a bot);
* a call into an empty room (有人吗, 人呢, 你们客服呢, anybody there).

Each shape needs its verb, or the words that follow, or its place in the message, so that
the same nouns in a question stay a question: 老板，能便宜点吗 (customers call the seller
老板), 店长推荐, 人工费, 真人发, 扫地机器人不好用, 有人买过吗, 能换个人收货吗, 要个人发票,
transfer money to someone, can someone else pick it up, is this a human hair wig. The
wordings these were written against are the project's own (tests/test_bot_person_request.py),
not those of the held-out evaluation sets.
"""

from __future__ import annotations

import re

__all__ = ["PROCESS_QUESTION", "asks_for_a_person", "may_ask_for_a_person", "without_requests"]

#: not a request but a question about the process (do I have to talk to someone to close
#: an account?): put before an English request's verb
PROCESS_QUESTION = (r"(?<!do i have to )(?<!do i need to )(?<!do you have to )"
                    r"(?<!should i )(?<!must i )(?<!will i have to )(?<!would i have to )")

# the shop's people, named (a bare 人 needs a measure word: the second pattern of _ZH)
_ZH_PERSON = (r"(?:人工客服|人工(?!费|安装|上门|成本|草|智能|合成)|真人|活人|大活人|客服小姐姐|"
              r"客服|老板|店长|掌柜|主管|经理|领导|负责人|管事的|售后的人|售后人员|售后专员|工作人员|值班的人|专员|上级|"
              r"小姐姐|小哥哥|(?:能做主|说了算|管事|负责|懂行)的人|能做主的|说了算的|明白人|正常人|"
              r"卖家本人|卖家|商家本人|商家|店家|本人)")
# what may follow the person in a request (not 收货 of 换个人收货, not 发票 of 要个人发票)
_ZH_AFTER = (r"(?=$| |来|过来|出来|跟我|和我|同我|与我|联系我|给我|回|说|讲|倾|聊|处理|解决|对话|"
             r"沟通|通话|打电话|通电话|联络|联系|致电|回电|跟进|唠|吧|啊|呀|呢|吗|嘛|么|咯|喔|哦|行吗|好吗|行不|好不好|可以吗|可以不|谢谢|不)")
_ZH_VERB = r"(?:叫|找|让|喊|换|转|要|请|接|揾|搵|来|整|安排|想跟|想和|要跟|要和)(?:给)?"
_ZH_BETWEEN = (r"(?:一下|下)?(?:你们|你们家|你们店|你家|店里|贵店|店铺|商家|店家)?(?:的)?"
               r"(?:个|一个|一位|位|个能|个会)?")
# the bot itself: never a product (扫地机器人, 机器人玩具, 这款机器人)
_ZH_NOT_PRODUCT = (r"(?<!扫地)(?<!擦窗)(?<!拖地)(?<!早教)(?<!陪伴)(?<!编程)(?<!炒菜)"
                   r"(?<!款)(?<!台)(?<!只)")
_ZH_BOT = (_ZH_NOT_PRODUCT + r"(?:客服机器人|机器人|机器客服|智能客服|ai客服|自动回复|人工智能|"
           r"机器回复|智能助手|智能助理|复读机|"
           r"机器|程序|ai|bot|robot)")
_ZH_BOT_STRONG = (_ZH_NOT_PRODUCT + r"(?:客服机器人|机器人|机器客服|智能客服|ai客服|自动回复|"
                  r"机器回复|智障客服|智能助手|复读机|bot)")
_ZH_SCORN = (r"(?:听不懂|不懂|答非所问|没用|没有用|太笨|好笨|真笨|蠢|糊弄|敷衍|废话|垃圾|智障|白痴|"
             r"有病|什么鬼|不靠谱|回的什么|说的什么|牛头不对马嘴)")

_ZH = re.compile("|".join((
    _ZH_VERB + _ZH_BETWEEN + _ZH_PERSON + _ZH_AFTER,
    # a bare 人 with its measure word: 换个人, 来个人, 找个人跟我说
    r"(?:换|叫|找|来|要|揾|搵|喊)(?:个|一个|一位|位|个活)人" + _ZH_AFTER,
    r"换人(?=$| |吧|啊|呀|来|行吗|好吗|可以吗)",
    # 你们店长出来 (你们客服在吗 is the room's question: _ZH_SOFT)
    r"(?:你们|你家)(?:的)?(?:老板|店长|主管|经理|领导|负责人|客服|人工|售后)"
    r"(?=出来|人呢|死哪)",
    r"(?:有没有|有冇|有无|有木有|有)(?:真人|活人|人工|人工客服)(?=$| |吗|啊|呀|在|回|么|没)",
    # a refusal of the bot
    r"(?:不想|不要|不用|别|拒绝|受够|不再|不跟|不和|不同|懒得|烦)(?:再)?(?:了)?"
    r"(?:跟|和|同|让|用|听|看)?(?:你|你们|这个|你这个|这种)?(?:的)?" + _ZH_BOT,
    r"(?:跟|和|同)(?:你这个|这个|你)?" + _ZH_BOT + r"(?:说|聊|讲|沟通|对话)(?:不|没|个|什么|啥)",
    r"(?:你|你们)(?:是不是|是|就是|不就是|个|这个|只是|只是个|是个)" + _ZH_BOT +
    r"(?=听|说|回|怎么|什么|太|真|好|根本)",
    r"(?:你|你们)(?:这|这个)?" + _ZH_BOT_STRONG + r"(?=听|说|回|怎么|什么|太|真|好|根本)",
    # a complaint about the bot: 智能客服太笨了, 机器人说的都是废话
    _ZH_BOT_STRONG + r".{0,6}?" + _ZH_SCORN,
    r"(?:糊弄|敷衍)(?:我|人)?(?:的)?" + _ZH_BOT,
    # nobody answers: 没人理我, 人都去哪了
    r"有没有活人|有活人吗|没人理我?|没人管|怎么没人|人都去哪",
    r"^(?:(?:人工|人工客服|真人|活人) ?)+$",
    # the bot again and again: 都是自动回复, 跟个复读机一样
    r"(?:都是|全是|又是|只会|一直|老是|总是|跟个|像个)" + _ZH_BOT_STRONG,
    # a person to come on: 等真人上线了叫我, 让人来, 要跟人讲
    r"(?:真人|活人|人工|客服本人)(?:上线|来回|回复|回我|接手|跟进|处理一下)",
    r"(?:让|叫|喊)(?:个)?(?:正常|真|活)?人(?:来|过来)(?!修|装|取|拿|送|收|量|看房)",
    r"(?:要|想|让我)(?:跟|和|同)(?:真|活)?人(?:讲|说|聊|沟通|对话)",
    r"(?:不跟|不和|别跟|不想跟)电脑(?:讲|说|聊)",
    # 把你们老板叫出来: the person before the verb
    r"把(?:你们|你们家|你们店|你家)?(?:的)?" + _ZH_PERSON
    + r"(?:给我)?(?:叫|喊|请|找)(?:出来|来|过来)",
    # the phone of someone in charge (the shop's service number is a question: 客服电话)
    r"(?:老板|店长|主管|经理|负责人|领导|管事的人|上级)的?(?:电话|手机|手机号|联系方式|微信)",
    # someone who understands, a person to act or call: 找个懂的人来, 人工处理一下, 给我打电话
    r"(?:找|叫|来|换|要)(?:个|一个|一位)(?:懂|会|明白|管|能)[\u4e00-\u9fff]{0,3}的人",
    r"人工(?:处理|回复|介入|服务|接待|对接|跟进)(?!费|时间)",
    r"(?:给我打(?:个)?电话|打(?:个)?电话给我|回(?:个)?电话|电话联系我|来(?:个)?电话|打给我|"
    r"打我电话|给我来电|电话(?:沟通|说|讲|聊)(?:吧|一下)?(?:$| |吗|行|可以))",
)))

_EN_PERSON = (r"(?:a |an |the |your |some |one of your |a member of )?(?:real |actual |live |"
              r"human |proper |senior |store |shop )?(?:member of (?:your |the )?(?:staff|team)|"
              r"customer service (?:rep|representative|agent)|person|human|human being|people|"
              r"agent|"
              r"representative|rep|manager|supervisor|someone|somebody|staff|staff member|"
              r"operator|owner|boss|employee|team member|customer service|customer support|"
              r"support team|service team|support agent)")
_EN_BOT = (r"(?:bot|bots|robot|robots|chatbot|machine|automated (?:reply|replies|system|answers?|"
           r"messages?)|auto ?repl(?:y|ies)|canned (?:answers?|replies|responses))")
#: Is anyone there? Are you a bot? Questions a shop may answer itself (a greeting or
#: "I am the shop's assistant" entry): they hand off only when the bot has no confident
#: answer (``decision.may_ask_for_a_person``), not at once.
_ZH_SOFT = re.compile("|".join((
    r"(?:^| )(?:有人吗|有人在吗|有没有人在?|有人没有?|有冇人|人呢|人在吗|人在哪|客服呢|客服在哪|"
    r"客服在吗)(?=$| |啊|呀|吗|呢|了|啦)",
    r"(?:还|店里|那边|这边|你们那?)?有人(?:在)?(?:没|没有|么|不|木有|冇)(?=$| |啊|呀|呢|回)",
    r"(?:店里|你们那?|那边|这边|客服)?没人(?:了|在)?(?:吗|么|啊|嘛)",
    r"(?:你们|你家)(?:的)?(?:老板|店长|主管|经理|领导|负责人|客服|人工|售后)"
    r"(?=呢|在吗|在不在|在哪)",
    r"(?:你|你们)(?:是不是|是|就是|不就是|个|这个|只是|只是个|是个)?" + _ZH_BOT +
    r"(?=吧|吗|啊|呀|嘛|么|$| |还是)",
    r"^(?:(?:客服|在线客服) ?)+$",
)))

_EN = re.compile(r"(?<![a-z0-9])(?:" + "|".join((
    # (not the process question: do I have to talk to someone to close an account)
    PROCESS_QUESTION + r"(?:talk|speak|chat)(?: to| with) " + _EN_PERSON,
    r"(?:get|connect|transfer|put|pass|switch|send|hand|escalate|forward) me(?: through| over| on)?"
    r" (?:to|with) " + _EN_PERSON,
    r"(?:get|find|give|bring|call|fetch)(?: me)? " + _EN_PERSON +
    r"(?=$| please| now| here| on| asap| pls| plz| not| who| that)",
    r"put (?:someone|somebody|a person|a human|an agent|a real person|your manager|a manager|"
    r"your supervisor|staff) on",
    r"(?:please |pls |can you |could you |can someone |could someone |someone )?(?:call|phone|ring)"
    r" me(?: back)?(?= please| pls| plz| asap| now|$| my| on| at)",
    r"(?:i want|i need|id like|i would like|can i (?:get|have)|could i (?:get|have)|may i have|"
    r"let me have)(?: to (?:talk|speak|chat) (?:to|with))? " + _EN_PERSON +
    r"(?=$| please| now| asap| here| not| who| that| pls| plz| on the)",
    r"(?:this|the|your|stupid|useless|dumb) " + _EN_BOT +
    r"(?: is| isnt| cant| doesnt| keeps| does not| can not| cannot| sucks| useless| not| wont|"
    r" never)",
    r"(?:stop|enough|no more|quit|sick of|tired of|done with|fed up with|dont want|do not want)"
    r"(?: (?:the|this|your|these|a|talking to|chatting with|speaking to|to chat with|to talk to|"
    r"to speak to|to deal with|to talk with)){0,2} " + _EN_BOT,
    r"(?:someone|somebody|anyone|anybody|a person|a human) (?:with a pulse|who is real|"
    r"who is alive|that is real|living and breathing)",
    r"(?:on|over) the phone with " + _EN_PERSON,
    r"(?:jump|hop|get) on a (?:quick )?(?:phone )?call",
    r"^(?:human|person|agent|operator|representative|real person)(?: (?:please|now|pls|plz))?$",
    # (not "can someone help me unblock my pin?": a question about the pin)
    r"(?:can|could|will|would|may) (?:a |an |some |one of your )?(?:human|person|real person|"
    r"agent|staff member|manager|supervisor|representative|someone from your (?:team|shop|store))"
    r" (?:help|take over|give me a (?:ring|call|buzz)|call|contact|look at|check|reply|"
    r"answer|respond|get back|phone|ring|email)",
    r"(?:help|an answer|a reply|a response) from (?:a |an )?(?:real |actual |live )?"
    r"(?:person|human|agent|staff member|manager)",
    r"(?:please |pls |can you |could you )escalate"
    r"(?: this| it| my (?:case|issue|complaint|ticket))?",
    r"(?:any|are there any|is there a) (?:actual |real |live )?(?:humans?|people|person) "
    r"(?:here|there|around|working|available|on)",
    r"^(?:hello |hi |hey )*(?:any(?:one|body) (?:there|here|home|around))",
)) + r")(?![a-z0-9])")


_EN_SOFT = re.compile(r"(?<![a-z0-9])(?:" + "|".join((
    r"(?:are you|is this|am i (?:talking|chatting|speaking) (?:to|with)|is it) (?:a |an |just a |"
    r"only a )?(?:bot|robot|machine|ai|computer|real person|human|automated|chatbot)"
    r"(?=$| or| right| lol| haha| huh| too| again)",
    r"(?:is|are) (?:there )?(?:anyone|anybody|someone|somebody|any humans?|a human|a person)"
    r"(?: actually| even| really)? (?:there|here|around|real|alive|awake|available|working|"
    r"reading|listening|seeing|monitoring|on)",
)) + r")(?![a-z0-9])")


def asks_for_a_person(text: str) -> bool:
    """Whether ``text`` (already normalised: lower case, punctuation as spaces,
    Simplified) asks for a person of the shop in one of the shapes of the module's
    docstring."""
    return bool(_ZH.search(text) or _EN.search(text))


def may_ask_for_a_person(text: str) -> bool:
    """Whether ``text`` (normalised) is a question a shop may answer itself but that
    otherwise means "a person, please": is anyone there (有人吗, 你们客服在吗), are you a
    bot (你是机器人吗, are you a bot)."""
    return bool(_ZH_SOFT.search(text) or _EN_SOFT.search(text))


def without_requests(text: str) -> str:
    """``text`` (normalised) without the words of its requests for a person (退款的事说不清
    找个人 → 退款的事说不清; 叫你们店长出来 → 出来): what else the customer said, for the
    questions the bot could not answer."""
    rest = _EN.sub(" ", _ZH.sub(" ", text))
    return " ".join(rest.split())
