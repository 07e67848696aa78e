"""The managed API gateway: deployed apps use the platform's vendor accounts, metered and billed.

Modules: app (ASGI app), state (the Gateway the routes share), requests (caller's key, body),
proxy (routes), keys, leases (budget leases: spend limits without a round trip per call), spend
(a call's admission, refusals), metering (batched, journaled usage writes and
roll-ups), journal, pricing, llm (cost bounds and usage of LLM calls), messaging (email, SMS),
storage (S3/R2), upstreams (httpx forwarding, SSE relay), usage_api, billing (Stripe meters,
reporting, Connect), subaccounts (Twilio, SendGrid), settings, cli.
"""
