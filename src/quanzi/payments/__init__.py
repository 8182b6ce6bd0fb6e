"""Payments: price plans, orders, payment providers, webhooks, refunds and payouts (issue 3)."""
