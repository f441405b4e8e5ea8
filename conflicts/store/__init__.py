"""The store: one SQLite database (WAL) and the records it keeps.

- `database`: the connection, runs and dilemmas, transcripts as rows.
- `transcript`: the transcript record, one model's run of one dilemma in one epoch.

May import: `scenarios` and what it may.
"""
