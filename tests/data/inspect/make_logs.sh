#!/usr/bin/env bash
# Rebuilds the Inspect AI logs beside this script: `make bench-peers` installs .venv-peers first.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
tmp=$(mktemp -d)
trap 'kill $server 2>/dev/null; rm -rf "$tmp"' EXIT
cd "$root"
.venv/bin/ihsim generate -f confidential-instructions -a "framing=prohibitive" --sample 2 -o "$tmp/d.jsonl" 2>/dev/null
.venv/bin/python -m tests.fake_servers openai > "$tmp/url" & server=$!
sleep 2
for format in eval json; do
  FAKE_API_KEY=fake .venv-peers/bin/inspect eval tests/data/inspect/task.py -T path="$tmp/d.jsonl" \
    --model openai-api/fake/fake --model-base-url "$(cat "$tmp/url")/v1" \
    --log-dir "$tmp/logs-$format" --log-format "$format" > "$tmp/inspect-$format.log" 2>&1 || { tail -20 "$tmp/inspect-$format.log"; exit 1; }
  cp "$tmp/logs-$format"/*."$format" "$here/confidential.$format"
done
