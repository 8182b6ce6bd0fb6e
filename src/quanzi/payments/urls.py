from django.urls import path

from . import views

app_name = "payments"

urlpatterns = [
    path("webhooks/<slug:provider>/", views.webhook, name="webhook"),
    path("sandbox/<str:public_id>/", views.sandbox_checkout, name="sandbox_checkout"),
    path("orders/<str:public_id>/", views.order_return, name="order_return"),
    path("wallet/top-up/", views.wallet_topup, name="wallet_topup"),
]
