"""Hand-written, explainable signals: each is a named feature the linear model weighs like any n-gram.

They exist so that the model generalises to ads whose exact wording is in none of the training sets (a new
crypto group, a new loan app) and so that moderators read *why* a message was held ("contact lure: WeChat",
"part-time / 刷单 job offer") rather than a list of character fragments. Every pattern runs on the normalised
text (see normalise.py), except the obfuscation count, which looks at the raw text to measure disguise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .normalise import ACCOUNT_ID, EMAIL, HANDLE, NUM, PHONE, QQ, SHORTURL, TELEGRAM, URL, WECHAT, WHATSAPP


@dataclass(frozen=True, slots=True)
class Signal:
    name: str  # stable feature name (part of the model: renaming one needs a retrain)
    label: str  # what a moderator reads
    pattern: re.Pattern[str]


def _re(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


SIGNALS: tuple[Signal, ...] = (
    Signal("contact_wechat", "contact lure: WeChat (加V/vx/薇信)", _re(re.escape(WECHAT))),
    Signal("contact_qq", "contact lure: QQ (扣扣/企鹅)", _re(re.escape(QQ))),
    Signal("contact_telegram", "contact lure: Telegram (飞机/t.me)", _re(re.escape(TELEGRAM))),
    Signal("contact_whatsapp", "contact lure: WhatsApp", _re(re.escape(WHATSAPP))),
    Signal(
        "contact_private",
        "asks to move to private contact (私聊/加我/DM me)",
        _re(
            r"私聊|私信|私我|加我|加好友|联系我|找我|详聊|咨询我|滴滴我|戳我|扫码|二维码|进群|拉你|"
            r"\b(?:dm|inbox|pm|message|text|contact|whatsapp|reach|hit)\s*(?:me|us|him|her)\b|\badd\s*me\b|addme|"
            r"\bdm\s+(?:for|now)\b|\bsend (?:me )?a (?:dm|message)\b|\bget in touch\b|\bwrite (?:to )?(?:me|her|him)\b"
        ),
    ),
    Signal("phone_number", "phone number", _re(re.escape(PHONE))),
    Signal("account_id", "contact/account id (letters + digits)", _re(re.escape(ACCOUNT_ID))),
    Signal("long_number", "long number (QQ/account-like)", _re(re.escape(NUM))),
    Signal("handle", "@handle", _re(re.escape(HANDLE))),
    Signal("email", "e-mail address", _re(re.escape(EMAIL))),
    Signal("short_url", "URL shortener", _re(re.escape(SHORTURL))),
    Signal(
        "money_earn",
        "earn-money promise (日赚/月入/$ per day)",
        _re(
            r"日赚|日入|日结|月入|月赚|周结|躺赚|稳赚|赚钱|挣钱|收益|回报|返利|返现|佣金|提成|高薪|轻松.{0,4}[赚挣]|"
            r"[0-9]+\s*(?:元|块|w|万|k)?\s*[+/]\s*(?:天|日|月)|一天.{0,4}[0-9]+|"
            r"\bearn(?:ed|ing|s)?\b|\bprofits?\b|\bincome\b|\bmake money\b|\bmade (?:over )?[$£€]|"
            r"[$£€]\s?[0-9][0-9, ]*(?:k|\b).{0,30}\b(?:a|per|every|each|in)\s*(?:day|week|days|hours?|month)\b|"
            r"\b(?:daily|weekly) (?:profit|income|pay)|\bpassive\b|\binvest(?:ed|ing|ment|ments)?\b|\breturns?\b"
        ),
    ),
    Signal(
        "part_time",
        "part-time / 刷单 job offer",
        _re(
            r"兼职|刷单|刷信誉|做单|垫付|宝妈|学生党|在家.{0,4}(?:做|赚|工作)|手机.{0,3}(?:就能|即可)|副业|打字员|"
            r"点赞员|任务单|招聘.{0,6}(?:日结|兼职)|招.{0,3}(?:代理|学员|兼职)|无需经验|零门槛|"
            r"\bpart[- ]?time\b|\bwork (?:from|at) home\b|\bonline (?:job|work)\b|\bonliners\b|\bhiring\b|"
            r"\bno experience\b|\bwork online\b|\bside (?:hustle|income)\b|\brecruit"
        ),
    ),
    Signal(
        "crypto",
        "crypto / trading signal",
        _re(
            r"\busdt\b|\bbtc\b|\beth\b|\bbnb\b|bitcoin|crypto|\bsignals?\b|\bpump\b|airdrop|presale|\b[0-9]{2,4}x\b|"
            r"to the moon|\btokens?\b|\bforex\b|\btrad(?:e|er|ers|ing)\b|\bmining\b|\bstaking\b|account manager|"
            r"binary options|\bwallet\b|\bdex\b|contract address|"
            r"币圈|炒币|虚拟币|虚拟货币|合约|跑分|出u|收u|\bu商|承兑|挖矿|带单|喊单|k线|稳赚不赔|翻倍|空投|交易所|"
            r"老师带|股票.{0,4}(?:群|推荐|内幕)|内幕消息|牛股"
        ),
    ),
    Signal(
        "loan",
        "loan offer (贷款/无抵押)",
        _re(
            r"贷款|借钱|借款|无抵押|免抵押|秒批|秒到|放款|下款|网贷|信用贷|车贷|房贷|口子|黑户|白户|额度|"
            r"\bloans?\b|\bcredit (?:card|score|repair)\b|no collateral|instant approval|\bdebts?\b|\blender\b"
        ),
    ),
    Signal(
        "account_selling",
        "account selling (出号/卖号)",
        _re(
            r"出售.{0,6}(?:号|账号|账户)|卖号|收号|出号|实名号|老号|白号|接码|账号.{0,3}(?:出售|批发|租)|[qv微]号出|"
            r"\b(?:buy|sell|selling)\b.{0,20}\b(?:accounts?|followers|likes|subscribers|reviews)\b|aged accounts?|"
            r"verified accounts?"
        ),
    ),
    Signal(
        "recovery_scam",
        "fund-recovery / hacker scam",
        _re(
            r"\brecover(?:y|ed|ing)?\b|\bhack(?:er|ers|ed|ing)?\b|\bscammed\b|ripped off|lost (?:funds|money|crypto)|"
            r"\bretriev|\bfunds? back\b|追回|挽回损失|被骗.{0,6}(?:找|追|联系)|黑客|追款|找回.{0,4}(?:资金|钱)|"
            r"出黑|网赌.{0,4}(?:被黑|不给提)|不给出款"
        ),
    ),
    Signal(
        "gambling",
        "gambling (博彩/盘口/casino)",
        _re(
            r"博彩|棋牌|彩票|百家乐|娱乐城|菠菜|盘口|网赌|下注|赌场|\bcasino\b|\bbet(?:ting)?\b|\bjackpot\b|\bslots?\b"
        ),
    ),
    Signal(
        "adult",
        "adult content lure",
        _re(
            r"约炮|裸聊|看片|成人|色情|援交|上门服务|小姐|一夜情|\bav\b|福利|黄片|同城.{0,3}(?:约|交友)|\bnudes?\b|"
            r"\bsexy\b|\bhot (?:girls?|singles)\b|\bxxx\b"
        ),
    ),
    Signal(
        "promo_urgency",
        "promotion / urgency (免费/限时/claim now)",
        _re(
            r"免费领|限时|名额有限|先到先得|点击.{0,4}(?:链接|领取)|速来|抢购|优惠|特价|包邮|中奖|恭喜您|领取|"
            r"\bfree\b|\bclaim\b|\bwinner\b|\bwon\b|\bprize\b|\burgent\b|\bguaranteed?\b|\blimited\b|\bact now\b|"
            r"\bcall now\b|\bcongratulations\b|\bcash\b|\bvoucher\b|\bgift ?card\b|\bbonus\b|\bdon'?t miss\b"
        ),
    ),
    Signal(
        "testimonial",
        'paid testimonial ("thanks to @…", "I invested … got …")',
        _re(
            r"thanks? to\s+(?:⟨handle⟩|mr|mrs|ms)|recommend (?:her|him)|(?:i|we) (?:invested|deposited|started with)|"
            r"(?:got|received|credited|withdrew)\b.{0,20}[$£€]|changed my life|legit and reliable|"
            r"信了.{0,4}老师|跟着.{0,4}老师.{0,4}(?:赚|收益)"
        ),
    ),
    Signal(
        "self_promo",
        "self-promotion (check out my channel / subscribe)",
        _re(
            r"check (?:out )?my|\bsubscribe\b|my channel|\bsub ?4 ?sub\b|\bfollow me\b|my (?:page|video|music|mixtape)|"
            r"关注我|关注.{0,3}公众号|点个关注"
        ),
    ),
)


def fired(normalised: str) -> list[Signal]:
    """The signals whose pattern occurs in the normalised text."""
    return [s for s in SIGNALS if s.pattern.search(normalised)]


_URL_TOKEN = URL
_ZERO_WIDTH_RE = re.compile("[\u200b-\u200f\u2060-\u2064\u00ad\u034f\u180e]|\ufeff(?!$)")
_STYLED_RE = re.compile("[\U0001d400-\U0001d7ff\uff01-\uff5e\u2460-\u24ff\u2776-\u2793\u3220-\u3229]")
_MIXED_SCRIPT_RE = re.compile("[a-zA-Z][\u0400-\u04ff\u0370-\u03ff]|[\u0400-\u04ff\u0370-\u03ff][a-zA-Z]")
_SPACED_RE = re.compile(r"(?:\b\w[ .·\-*_]){4,}\w\b")
_SYMBOL_BETWEEN_CJK_RE = re.compile("[\u4e00-\u9fff][^\u4e00-\u9fff\\w\\s,.!?，。！？、:：]{1,3}[\u4e00-\u9fff]")
_CN_NUMERAL_RUN_RE = re.compile("[零〇一二三四五六七八九壹贰叁肆伍陆柒捌玖幺两]{5,}")


def obfuscation_count(raw: str) -> int:
    """How many kinds of disguise the raw text uses (0–6): invisible chars, styled letters, mixed scripts, …"""
    return (
        bool(_ZERO_WIDTH_RE.search(raw))
        + bool(_STYLED_RE.search(raw))
        + bool(_MIXED_SCRIPT_RE.search(raw))
        + bool(_SPACED_RE.search(raw))
        + bool(_SYMBOL_BETWEEN_CJK_RE.search(raw))
        + bool(_CN_NUMERAL_RUN_RE.search(raw))
    )


def url_count(normalised: str) -> int:
    return normalised.count(_URL_TOKEN) + normalised.count(SHORTURL)
