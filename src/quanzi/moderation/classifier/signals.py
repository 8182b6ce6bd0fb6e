"""Hand-written, explainable signals: each is a named feature the linear model weighs like any n-gram.

They exist so that the model generalises to ads whose exact wording is in none of the training sets (a new
crypto group, a new loan app) and so that moderators read *why* a message was held ("contact lure: WeChat",
"part-time / 刷单 job offer") rather than a list of character fragments.

Matching is kept cheap (a few µs per message): Chinese keywords are substring tests on the normalised text, Latin
keywords are tested against the message's words joined by single spaces (" earn " matches the word, " invest"
any word starting with it), and only a few signals need a regular expression.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .normalise import (
    ACCOUNT_ID,
    EMAIL,
    HANDLE,
    NUM,
    PHONE,
    PLACEHOLDERS,
    QQ,
    SHORTURL,
    TELEGRAM,
    URL,
    WECHAT,
    WHATSAPP,
)


@dataclass(frozen=True, slots=True)
class Signal:
    name: str  # stable feature name (part of the model: renaming one needs a retrain)
    label: str  # what a moderator reads
    cjk: tuple[str, ...] = ()  # substrings of the normalised text (Chinese, placeholders)
    words: tuple[str, ...] = ()  # " word " / " prefix" / " two words " tests on the padded word string
    pattern: re.Pattern[str] | None = None  # for the few cases keywords cannot express


def _words(spec: str) -> tuple[str, ...]:
    """'earn|invest*|make money' → (' earn ', ' invest', ' make money ')."""
    out = []
    for w in spec.split("|"):
        out.append(" " + w[:-1] if w.endswith("*") else " " + w + " ")
    return tuple(out)


def _cjk(spec: str) -> tuple[str, ...]:
    return tuple(spec.split("|"))


SIGNALS: tuple[Signal, ...] = (
    Signal("contact_wechat", "contact lure: WeChat (加V/vx/薇信)", cjk=(WECHAT,)),
    Signal("contact_qq", "contact lure: QQ (扣扣/企鹅)", cjk=(QQ,)),
    Signal("contact_telegram", "contact lure: Telegram (飞机/t.me)", cjk=(TELEGRAM,)),
    Signal("contact_whatsapp", "contact lure: WhatsApp", cjk=(WHATSAPP,)),
    Signal(
        "contact_private",
        "asks to move to private contact (私聊/加我/DM me)",
        cjk=_cjk(
            "私聊|私信|私我|加我|加好友|联系我|找我|详聊|咨询我|滴滴我|戳我|扫码|二维码|进群|拉你|联系方式|详情咨询"
        ),
        words=_words(
            "dm me|inbox me|pm me|message me|text me|contact me|whatsapp me|reach me|reach out|hit me up|add me|addme|"
            "dm her|dm him|message her|message him|contact her|contact him|dm for|dm now|send a dm|get in touch|"
            "write to me|write me|inbox|dm"
        ),
    ),
    Signal("phone_number", "phone number", cjk=(PHONE,)),
    Signal("account_id", "contact/account id (letters + digits)", cjk=(ACCOUNT_ID,)),
    Signal("long_number", "long number (QQ/account-like)", cjk=(NUM,)),
    Signal("handle", "@handle", cjk=(HANDLE,)),
    Signal("email", "e-mail address", cjk=(EMAIL,)),
    Signal("short_url", "URL shortener", cjk=(SHORTURL,)),
    Signal(
        "money_earn",
        "earn-money promise (日赚/月入/$ per day)",
        cjk=_cjk(
            "日赚|日入|日结|月入|月赚|周结|躺赚|稳赚|赚钱|挣钱|收益|回报|返利|返现|佣金|提成|高薪|轻松赚|轻松挣|一天赚|每天赚|赚米|副收入"
        ),
        words=_words(
            "earn|earned|earning|earnings|earns|profit|profits|income|make money|making money|made over|passive|"
            "invest*|returns|per day|a day|per week|a week|daily profit|weekly profit|financial freedom|"
            "start up capital|capital"
        ),
        pattern=re.compile(
            r"[0-9]+\s*(?:元|块|w|万|k)?\s*[+/]\s*(?:天|日|月)"
            r"|[$£€]\s?[0-9][0-9, ]*k?\s*(?:/|per|a)\s*(?:day|week|hour)"
        ),
    ),
    Signal(
        "part_time",
        "part-time / 刷单 job offer",
        cjk=_cjk(
            "兼职|刷单|刷信誉|做单|垫付|宝妈|学生党|在家做|在家赚|在家工作|手机就能|手机即可|副业|打字员|点赞员|"
            "任务单|招代理|招学员|招兼职|无需经验|零门槛|日结工资|招聘"
        ),
        words=_words(
            "part time|part-time|parttime|work from home|work at home|online job|online work|onliners|hiring|"
            "no experience|work online|side hustle|side income|recruit*|job offer|earn from home"
        ),
    ),
    Signal(
        "crypto",
        "crypto / trading signal",
        cjk=_cjk(
            "币圈|炒币|虚拟币|虚拟货币|合约|跑分|出u|收u|u商|承兑|挖矿|带单|喊单|k线|稳赚不赔|翻倍|空投|交易所|"
            "老师带|内幕消息|牛股|荐股|股票群|炒股群"
        ),
        words=_words(
            "usdt|btc|eth|bnb|bitcoin*|crypto*|signal|signals|pump|airdrop*|presale|to the moon|token|tokens|forex|"
            "trade|trader|traders|trading|mining|staking|account manager|binary options|wallet|dex|"
            "contract address|100x|10x|1000x|50x|20x|altcoin*|memecoin*|defi"
        ),
    ),
    Signal(
        "loan",
        "loan offer (贷款/无抵押)",
        cjk=_cjk("贷款|借钱|借款|无抵押|免抵押|秒批|秒到|放款|下款|网贷|信用贷|车贷|房贷|口子|黑户|白户|额度|低息"),
        words=_words(
            "loan|loans|credit card|credit score|credit repair|no collateral|instant approval|debt|debts|lender|"
            "low interest|bad credit"
        ),
    ),
    Signal(
        "account_selling",
        "account selling (出号/卖号)",
        cjk=_cjk("卖号|收号|出号|实名号|老号|白号|接码|出售账号|账号出售|账号批发|账号租|微信号出|q号出|出售微信"),
        words=_words(
            "aged account|aged accounts|verified account|verified accounts|buy followers|sell accounts|"
            "selling accounts|buy accounts|cheap followers|followers|buy likes|pva"
        ),
    ),
    Signal(
        "recovery_scam",
        "fund-recovery / hacker scam",
        cjk=_cjk("追回|挽回损失|黑客|追款|出黑|被黑|不给出款|不给提现|找回资金|找回被骗"),
        words=_words(
            "recover|recovery|recovered|recovering|hacker|hackers|hack|hacked|scammed|ripped off|lost funds|"
            "lost money|retrieve*|funds back|money back|scam victim|scam victims"
        ),
    ),
    Signal(
        "gambling",
        "gambling (博彩/盘口/casino)",
        cjk=_cjk("博彩|棋牌|彩票|百家乐|娱乐城|菠菜|盘口|网赌|下注|赌场|体育投注|彩金"),
        words=_words("casino|bet|betting|jackpot|slots|sportsbook"),
    ),
    Signal(
        "adult",
        "adult content lure",
        cjk=_cjk("约炮|裸聊|看片|成人视频|色情|援交|上门服务|一夜情|黄片|同城约|同城交友|少妇|有福利|福利视频"),
        words=_words("av|nudes|nude|sexy|hot girls|hot singles|xxx|porn*|onlyfans"),
    ),
    Signal(
        "promo_urgency",
        "promotion / urgency (免费/限时/claim now)",
        cjk=_cjk(
            "免费领|限时|名额有限|先到先得|点击链接|点击领取|速来|抢购|优惠|特价|包邮|中奖|恭喜您|领取|免费送|送礼"
        ),
        words=_words(
            "free|claim|winner|won|prize|urgent|guaranteed|guarantee|limited|act now|call now|congratulations|cash|"
            "voucher|gift card|giftcard|bonus|don't miss|dont miss|click here|click the link|offer"
        ),
    ),
    Signal(
        "testimonial",
        'paid testimonial ("thanks to @…", "I invested … got …")',
        cjk=_cjk("信了老师|跟着老师|感谢老师"),
        words=_words(
            "thanks to|thank to|recommend her|recommend him|i invested|we invested|i deposited|i started with|"
            "changed my life|legit and reliable|highly recommend|testify|testifying|got paid|withdrew|credited"
        ),
    ),
    Signal(
        "self_promo",
        "self-promotion (check out my channel / subscribe)",
        cjk=_cjk("关注我|公众号|点个关注|我的频道|订阅"),
        words=_words(
            "check out my|check my|subscribe|my channel|sub4sub|sub 4 sub|follow me|my page|my video|my music|"
            "my mixtape|my new song|visit my"
        ),
    ),
)


_PLACEHOLDER_CHAR = {name: chr(0xE000 + i) for i, name in enumerate(PLACEHOLDERS)}


def _build_index():
    """Inverted indexes from a message's cheap-to-get pieces (its characters, bigrams, words) to the keywords
    that could match there, so a message only verifies the few keywords it can contain."""
    by_char: dict[str, list[Signal]] = {}
    by_bigram: dict[str, list[tuple[str, Signal]]] = {}
    by_word: dict[str, list[tuple[str, Signal]]] = {}
    prefixes: list[tuple[str, Signal]] = []
    for sig in SIGNALS:
        for k in sig.cjk:
            k = _PLACEHOLDER_CHAR.get(k, k)
            if len(k) == 1:
                by_char.setdefault(k, []).append(sig)
            else:
                by_bigram.setdefault(k[:2], []).append((k, sig))
        for w in sig.words:
            if not w.endswith(" "):  # "invest*": any word starting with it
                prefixes.append((w.strip(), sig))
            else:
                by_word.setdefault(w.split()[0], []).append((w, sig))
    return by_char, by_bigram, by_word, prefixes


_BY_CHAR, _BY_BIGRAM, _BY_WORD, _PREFIXES = _build_index()
_CHAR_KEYS = frozenset(_BY_CHAR)
_BIGRAM_KEYS = frozenset(_BY_BIGRAM)
_WORD_KEYS = frozenset(_BY_WORD)
_PREFIX_TUPLE = tuple(p for p, _ in _PREFIXES)
_PATTERN_SIGNALS = tuple(s for s in SIGNALS if s.pattern is not None)


def fired(bigrams: set[str], compact: str, words: set[str], padded_words: str) -> list[Signal]:
    """The signals present in a message, from what features.extract already computed: the character bigrams and
    compact text (placeholders as single characters) of its n-gram channel, its word set and " w1 w2 … "."""
    hit: set[str] = set()
    for ch in _CHAR_KEYS.intersection(compact):
        hit.update(s.name for s in _BY_CHAR[ch])
    for bg in _BIGRAM_KEYS.intersection(bigrams):
        for k, s in _BY_BIGRAM[bg]:
            if s.name not in hit and (len(k) == 2 or k in compact):
                hit.add(s.name)
    if words:
        for w in _WORD_KEYS.intersection(words):
            for phrase, s in _BY_WORD[w]:
                if s.name not in hit and (phrase.count(" ") == 2 or phrase in padded_words):
                    hit.add(s.name)
        for w in words:
            if w.startswith(_PREFIX_TUPLE):
                hit.update(s.name for p, s in _PREFIXES if w.startswith(p))
    for s in _PATTERN_SIGNALS:
        if s.name not in hit and s.pattern.search(compact):
            hit.add(s.name)
    return [s for s in SIGNALS if s.name in hit]


_ZERO_WIDTH_RE = re.compile("[\u200b-\u200f\u2060-\u2064\u00ad\u034f\u180e]|\ufeff(?!$)")
_STYLED_RE = re.compile(
    "[\U0001d400-\U0001d7ff\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\u2460-\u24ff\u2776-\u2793\u3220-\u3229]"
)
_MIXED_SCRIPT_RE = re.compile("[a-zA-Z][\u0400-\u04ff\u0370-\u03ff]|[\u0400-\u04ff\u0370-\u03ff][a-zA-Z]")
_SPACED_RE = re.compile(r"(?:\b\w[ .·\-*_]){4,}\w\b")
_SYMBOL_BETWEEN_CJK_RE = re.compile(
    "[\u4e00-\u9fff][^\u4e00-\u9fff\\w\\s,.!?，。！？、:：；;（）()“”\"'…]{1,3}[\u4e00-\u9fff]"
)
_CN_NUMERAL_RUN_RE = re.compile("[零〇一二三四五六七八九壹贰叁肆伍陆柒捌玖幺两]{5,}")
_ANY_SUSPECT_RE = re.compile(
    "[^\\x00-\\x7f\u4e00-\u9fff\u3000-\u303f\uff0c\uff01\uff1f\uff1a\uff1b\uff08\uff09]|(?:\\w ){4}"
)


def obfuscation_count(raw: str) -> int:
    """How many kinds of disguise the raw text uses (0–6): invisible chars, styled letters, mixed scripts, …"""
    if not _ANY_SUSPECT_RE.search(raw) and not _CN_NUMERAL_RUN_RE.search(raw):
        return 0  # plain ASCII/CJK text: skip the detailed checks
    return (
        bool(_ZERO_WIDTH_RE.search(raw))
        + bool(_STYLED_RE.search(raw))
        + bool(_MIXED_SCRIPT_RE.search(raw))
        + bool(_SPACED_RE.search(raw))
        + bool(_SYMBOL_BETWEEN_CJK_RE.search(raw))
        + bool(_CN_NUMERAL_RUN_RE.search(raw))
    )


def url_count(normalised: str) -> int:
    return normalised.count(URL) + normalised.count(SHORTURL)
