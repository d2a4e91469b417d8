"""The data of a simulated shop day: hourly volume shapes (an ordinary day, a promotion
day), the mix of intents, channels and sources, bot resolution by intent, and the texts
customers, the bot and agents write (Chinese, as on a 双11)."""

from __future__ import annotations

HOUR = 3_600_000
MINUTE = 60_000
DAY = 24 * HOUR

# conversations per hour, relative: an ordinary day, and the promotion day's multiple of an
# ordinary day's mean hour (hour 0 is replaced by ``peak``)
ORDINARY = (1.1, 0.6, 0.35, 0.2, 0.15, 0.15, 0.3, 0.6, 1.0, 1.4, 1.6, 1.6,
            1.3, 1.35, 1.45, 1.45, 1.4, 1.35, 1.3, 1.4, 1.6, 1.75, 1.55, 1.1)
PROMOTION = (None, 4.4, 1.8, 0.9, 0.6, 0.5, 0.7, 1.1, 1.8, 2.5, 2.9, 3.0,
             2.6, 2.8, 3.0, 2.9, 2.8, 2.8, 2.9, 3.3, 4.6, 4.2, 3.8, 3.2)
INTENTS = ("order_status", "presale", "promotion", "aftersale")
MIX_SPIKE = (0.58, 0.22, 0.12, 0.08)      # hours 0-2 of the promotion day
MIX_PROMOTION = (0.30, 0.38, 0.14, 0.18)  # the rest of the promotion day
MIX_ORDINARY = (0.24, 0.46, 0.08, 0.22)
BOT_RESOLVES = {"order_status": 0.6, "promotion": 0.55, "presale": 0.3, "aftersale": 0.15}
INTENT_GROUP = {"order_status": "logistics", "presale": "presale", "promotion": "presale",
                "aftersale": "aftersale"}
CHANNELS = ("app", "app", "app", "app", "mini_program", "mini_program", "h5", "pc")
SOURCES = ("search", "home", "live", "ad", "cart", "order_list")

ASKS = {
    "order_status": ["我的快递到哪了？", "刚拍的{t}什么时候发货呀",
                     "订单显示已发货，物流一直没更新",
                     "双十一的单子几天能到？", "物流三天没动了，帮我催一下", "能帮我催一下发货吗",
                     "怎么还没发货啊", "{t}今天能发出吗", "我的订单怎么一直显示待发货"],
    "presale": ["{t}还有货吗？", "{t}有M码吗？我平时穿M", "{t}是正品吗", "{t}适合送人吗",
                "现在拍{t}有赠品吗", "{t}和上一款有什么区别", "{t}能便宜点吗"],
    "promotion": ["满减怎么算？", "优惠券在哪里领", "定金什么时候付尾款",
                  "跨店满减能和店铺券叠加吗",
                  "双十一价格还会降吗", "{t}能用满300减50吗"],
    "aftersale": ["{t}尺码不合适，能换大一码吗", "收到的{t}有破损，怎么办", "退款什么时候到账？",
                  "我要退货", "{t}质量有问题", "少发了一件"],
}
FOLLOW_UPS = {
    "order_status": ["那大概几天能到", "好的，麻烦快点", "能发顺丰吗", "单号是多少", "好的谢谢"],
    "presale": ["还有别的颜色吗", "那我下单了", "今天拍明天能发吗", "有运费险吗", "好的谢谢"],
    "promotion": ["那我现在拍可以吗", "券领不了", "好的我试试", "定金能退吗", "明白了谢谢"],
    "aftersale": ["要我寄回去吗", "运费谁出", "多久能处理好", "照片已经发了", "好的"],
}
REPLIES = {
    "order_status": ["亲，已经帮您查到了，包裹在运输中，预计明天送达哦",
                     "亲，双十一订单量大，会在48小时内按付款顺序发出",
                     "已经帮您催促仓库优先发货了，请耐心等待",
                     "物流单号已经发您了，可以在订单里查看"],
    "presale": ["有的亲，现货当天发", "亲，是官方正品，支持验货", "M码有货的，按平时尺码拍就可以",
                "现在下单还送运费险哦", "亲，这款是今年的新款，面料更好"],
    "promotion": ["亲，满300减50可以和店铺券叠加哦", "优惠券在商品页面领取，下单自动抵扣",
                  "尾款11月11日0点开始付", "双十一当天是全年最低价哦"],
    "aftersale": ["非常抱歉给您带来不便，已经为您登记换货", "亲，麻烦拍一下破损的照片",
                  "退款已经处理，1-3个工作日到账", "您申请退货后我们会安排上门取件"],
}
BOT_ANSWERS = {
    "order_status": "亲，您可以在【我的订单】查看物流详情；双十一订单48小时内发货哦～",
    "presale": "亲，商品详情页有尺码表和库存，有其他问题可以继续问我～",
    "promotion": "亲，跨店每满300减50，店铺券可叠加，尾款11日0点开付～",
    "aftersale": "亲，可以在订单里申请退换货，运费险会自动理赔哦～",
}
HANDOFF_ASKS = ("转人工", "人工客服", "我要找人工", "转人工！！")
STILL_THERE = ("还有人吗？", "人呢", "在吗在吗")
CLOSINGS = ("好的谢谢", "好的", "嗯嗯", "谢谢亲")
RATINGS = ((5, 72), (4, 14), (3, 6), (2, 3), (1, 5))
