"""Runs: dilemmas sent to models, transcripts kept.

- `launch`: `ihsim run` as a whole: plan, execute with a progress bar, summarise.
- `plan`: a run's dilemma set validated and recorded under an id that hashes its inputs.
- `execute`: what is not yet finished, sent and stored; the tool loop.
- `blocks`: a run's plan in blocks of transcripts, each read from the store when taken.
- `tool_environment`: tool calls answered from the family's script.
- `response_cache`: a request already answered is served from the store.
- `prices`: token prices (`prices.yaml`), cached and batch prices among them, and what a run cost.
- `batch`: a run sent by the providers' batch APIs, in rounds replayed from the response cache;
  `batch_file`: the same rounds as files in OpenAI's batch format, for an engine of one's own.
- `shared_prefix`: the system prompt opening a family's dilemmas share, cached once for all.
- `estimate`: requests, tokens and price of a run before it runs.
- `import_sources`: what `ihsim import` reads, as batches of samples keyed by their source;
  `inspect_logs` (Inspect AI logs) and `harness_results` (agentic-misalignment results) read
  theirs; `transcript_import` places every sample in a family's dilemmas, or says why not.
- `garbage_collection`: the collector paused and frozen around what a run loads once.

May import: `providers`, `store`, `scenarios` and what they may.
"""
