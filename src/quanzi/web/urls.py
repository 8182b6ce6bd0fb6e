from django.urls import include, path

from . import views

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
]
