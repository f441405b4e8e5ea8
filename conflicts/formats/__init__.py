"""Formats: the report and the store's rows, rendered.

- `terminal`: rich tables; `markdown`; `tidy`: one estimate per row (CSV, JSON);
  `html`: one self-contained page with a drill-down; `export`: rows as JSONL, CSV or Parquet;
  `revealed`: a revealed hierarchy as text, DOT and JSON.

May import: every area but `cli`.
"""
