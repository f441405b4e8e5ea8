"""The store: one SQLite database (WAL) and the records it keeps.

- `database`: the connection, runs and dilemmas, transcripts as rows.
- `leases`: which process works on which block of a run, so two processes share one run.
- `migrations`: the schema as named migrations, applied in order and recorded.
- `run_settings`: a run's settings, typed, each default stated once (in `run_defaults`, light
  enough for the CLI), serialised to the dict that run ids and cache keys hash.
- `transcript`: the transcript record, one model's run of one dilemma in one epoch.
- `verdicts`: verdicts as stored, with their versioned evidence schema; the only module that
  reads or writes the verdicts table.

May import: `scenarios` and what it may.
"""
