from django.urls import include, path

from quanzi.archive import urls as archive_urls
from quanzi.chat import urls as chat_urls
from quanzi.checkins import urls as checkins_urls
from quanzi.feed import urls as feed_urls
from quanzi.moderation import urls as moderation_urls
from quanzi.search import urls as search_urls

from . import payment_views, views

circle_patterns = [
    path("", views.circle_detail, name="circle"),
    path("join/", views.circle_join, name="circle_join"),
    path("leave/", views.circle_leave, name="circle_leave"),
    path("follow/", views.channel_follow, name="channel_follow"),
    path("welcome/", views.welcome, name="welcome"),
    path("welcome/done/", views.welcome_done, name="welcome_done"),
    path("members/", views.members, name="members"),
    path("members/<int:user_id>/<slug:action>/", views.member_action, name="member_action"),
    path("settings/", views.circle_settings, name="circle_settings"),
    path("settings/avatar/", views.circle_avatar, name="circle_avatar"),
    path("groups/new/", views.group_create, name="group_create"),
    path("audit/", views.audit_log, name="audit"),
    path("requests/", views.join_requests, name="join_requests"),
    path("requests/<int:request_id>/decide/", views.join_request_decide, name="join_request_decide"),
    path("invites/", views.invites, name="invites"),
    path("invites/<int:invite_id>/revoke/", views.invite_revoke, name="invite_revoke"),
    path("g/<int:group_id>/", views.room, name="room"),
    path("g/<int:group_id>/join/", views.group_join, name="group_join"),
    path("g/<int:group_id>/leave/", views.group_leave, name="group_leave"),
    path("g/<int:group_id>/settings/", views.group_settings, name="group_settings"),
    path("order/", payment_views.order_create, name="order_create"),
    path("settings/payments/", payment_views.payment_settings, name="payment_settings"),
    path("settings/plans/new/", payment_views.plan_create, name="plan_create"),
    path("settings/plans/<int:plan_id>/", payment_views.plan_update, name="plan_update"),
    path("settings/plans/<int:plan_id>/archive/", payment_views.plan_archive, name="plan_archive"),
    path("revenue/", payment_views.revenue, name="revenue"),
    path("revenue/orders/<str:public_id>/confirm/", payment_views.manual_confirm, name="manual_confirm"),
    path("revenue/payouts/", payment_views.payout_request, name="payout_request"),
    *feed_urls.circle_patterns,
    *archive_urls.circle_patterns,
    *search_urls.circle_patterns,
    *moderation_urls.circle_patterns,
    *checkins_urls.circle_patterns,
    *chat_urls.circle_patterns,
]

urlpatterns = [
    path("", views.home, name="home"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("new/", views.circle_create, name="circle_create"),
    path("c/<slug:slug>/", include(circle_patterns)),
    path("join/<str:code>/", views.join_by_invite, name="join"),
    path("notices/", views.notices, name="notices"),
    path("notices/read/", views.notices_read, name="notices_read"),
    path("me/", views.profile, name="profile"),
    path("me/tokens/", views.tokens, name="tokens"),
    path("me/tokens/<int:token_id>/revoke/", views.token_revoke, name="token_revoke"),
    path("me/orders/", payment_views.my_orders, name="my_orders"),
    path("me/orders/<str:public_id>/", payment_views.my_order, name="my_order"),
    path("me/orders/<str:public_id>/refund/", payment_views.order_refund, name="order_refund"),
    path("me/wallet/", payment_views.wallet, name="wallet"),
    path("staff/payouts/", payment_views.staff_payouts, name="staff_payouts"),
    path("staff/payouts/<int:payout_id>/", payment_views.staff_payout_decide, name="staff_payout_decide"),
    *feed_urls.urlpatterns,
    *archive_urls.urlpatterns,
    *search_urls.urlpatterns,
    *moderation_urls.urlpatterns,
    *checkins_urls.urlpatterns,
    *chat_urls.urlpatterns,
]
