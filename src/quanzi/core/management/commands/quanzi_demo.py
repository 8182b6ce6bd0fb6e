"""Load the demo circle: an owner, a few members, groups, messages and an invite link.

Safe to run again: it reuses what exists and only resets the demo owner's password,
which it prints (or takes from QUANZI_DEMO_PASSWORD).
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from quanzi.accounts.models import User
from quanzi.chat import actions as chat_actions
from quanzi.circles import actions as circle_actions
from quanzi.circles.models import Circle, Invite, JoinMode, Role
from quanzi.moderation.policy import ensure_policy as ensure_moderation_policy
from quanzi.payments import actions as payment_actions

DEMO_SLUG = "demo"
PAID_DEMO_SLUG = "reading-club"
MEMBER_NAMES = [
    ("lin", "林小雨"), ("chen", "陈大明"), ("amy", "Amy Zhang"), ("wang", "王芳"), ("li", "李强"),
    ("bob", "Bob Lee"), ("zhao", "赵敏"), ("sun", "孙悦"), ("zhou", "周杰"), ("wu", "吴磊"),
    ("eva", "Eva Liu"), ("he", "何静"), ("ma", "马超"), ("gao", "高原"), ("luo", "罗琳"),
]
MESSAGES = [
    ("lin", "早上好！今天跑了 5 公里 🏃"),
    ("amy", "Morning all — 6 km along the river, cold but lovely."),
    ("chen", "@lin 配速多少？"),
    ("lin", "@chen 6 分半，慢慢来 😄"),
    ("wang", "周六的集体跑还在老地方吗？"),
]


class Command(BaseCommand):
    help = "Load the demo circle and print the owner's login."

    def add_arguments(self, parser):
        parser.add_argument("--members", type=int, default=12)

    def handle(self, *args, members: int, **options):
        if members < 0 or members > len(MEMBER_NAMES):
            raise CommandError(f"--members must be between 0 and {len(MEMBER_NAMES)}")
        password = settings.QUANZI_DEMO_PASSWORD or secrets.token_urlsafe(9)
        with transaction.atomic():
            owner, _ = User.objects.get_or_create(
                username="demo", defaults={"email": "demo@example.com", "display_name": "Demo Owner 圈主"}
            )
            owner.set_password(password)
            owner.save()
            circle = Circle.objects.filter(slug=DEMO_SLUG).first()
            created = circle is None
            if created:
                circle = circle_actions.do_create_circle(
                    owner=owner,
                    name="晨跑圈 Morning Runners",
                    slug=DEMO_SLUG,
                    description="一起早起跑步的圈子 · A circle for early-morning runners.",
                    rules_text="1. 友善交流 Be kind.\n2. 禁止广告 No ads.\n3. 每天打卡 Check in daily.",
                    join_mode=JoinMode.OPEN,
                    timezone_name="Asia/Shanghai",
                    language="zh-hans",
                    welcome_template=(
                        "欢迎 {name} 加入 {circle}！Welcome, {name}! 请先阅读群规 / please read the rules:\n\n{rules}"
                    ),
                    with_channel=True,
                )
                people = {}
                for username, display in MEMBER_NAMES[:members]:
                    user, _ = User.objects.get_or_create(
                        username=username, defaults={"email": f"{username}@example.com", "display_name": display}
                    )
                    user.set_unusable_password()
                    user.save()
                    circle_actions.do_join_circle(user=user, circle=circle)
                    people[username] = user
                if "lin" in people:
                    circle_actions.do_set_role(actor=owner, circle=circle, user_id=people["lin"].id, role=Role.ADMIN)
                if "chen" in people:
                    circle_actions.do_set_role(
                        actor=owner, circle=circle, user_id=people["chen"].id, role=Role.MODERATOR
                    )
                for username, text in MESSAGES:
                    if username in people:
                        chat_actions.do_send_message(sender=people[username], group=circle.main_group, body=text)
                chat_actions.do_send_message(
                    sender=owner, group=circle.channel_group,
                    body="**本周六 7:00** 集体跑，滨江公园北门集合。Group run this Saturday 7:00, north gate.",
                )
                chat_actions.do_create_group(actor=owner, circle=circle, name="装备讨论 Gear talk")
                ensure_moderation_policy(circle.id)  # the default anti-ad policy (docs/moderation.md)
            paid = Circle.objects.filter(slug=PAID_DEMO_SLUG).first()
            if paid is None:
                paid = circle_actions.do_create_circle(
                    owner=owner,
                    name="读书会 Reading Club (paid)",
                    slug=PAID_DEMO_SLUG,
                    description=(
                        "每月共读一本书 · One book a month, read together. A paid circle: try the sandbox checkout."
                    ),
                    rules_text="1. 按时打卡 Check in on time.\n2. 不剧透 No spoilers.",
                    timezone_name="Asia/Shanghai",
                    language="zh-hans",
                    with_channel=True,
                )
                payment_actions.do_create_plan(actor=owner, circle=paid, name="年度会员 Yearly", kind="yearly",
                                               amount=9900)
                payment_actions.do_create_plan(actor=owner, circle=paid, name="月度会员 Monthly", kind="monthly",
                                               amount=1500, trial_days=3)
            invite = Invite.objects.filter(circle=circle, revoked_at__isnull=True, max_uses__isnull=True).first()
            if invite is None:
                invite = circle_actions.do_create_invite(actor=owner, circle=circle, note="demo")
        state = "created" if created else "already there"
        self.stdout.write(self.style.SUCCESS(f"Demo circle '{circle.name}' {state}: /c/{circle.slug}/"))
        self.stdout.write(f"  Owner login:  username 'demo'  password '{password}'")
        self.stdout.write(f"  Invite link:  /join/{invite.code}/")
        self.stdout.write(f"  Paid circle:  /c/{PAID_DEMO_SLUG}/ (pay with the sandbox provider: no real money)")
