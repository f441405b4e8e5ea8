"""Providers: where a request is sent and how its answer comes back.

- `registry`: model names (`openai/`, `openai-compatible/`, `anthropic/`, `sim/`) to providers.
- `sdk_request`: what the SDK providers share: one POST through the official client, and SDK
  exceptions mapped to retryable or final errors.
- `anthropic_messages`, `openai_chat`: the two wire formats, through the official SDKs.
- `personas`: the simulated personas, seeded policies over a family's scripted moves.
- `retry`: retries with backoff, and the adaptive bound on requests in flight.
- `tls`: the one TLS context every SDK client shares.
- `batches`: the providers' batch APIs (Anthropic's Message Batches, OpenAI's Batch API).

May import: `store`, `scenarios` and what they may.
"""
