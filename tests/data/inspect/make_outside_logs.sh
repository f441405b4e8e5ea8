#!/usr/bin/env bash
# Writes the logs of outside_task.py with each Inspect release given (a python of an environment
# that has it), into tests/data/inspect/inspect-VERSION/: `make inspect-logs` runs it with the
# first release to write .eval logs, one from mid-2025 and the newest. mockllm answers, so no
# network is used. New logs have new ids: the README's import example quotes the committed ones.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
for given in "$@"; do
  python="$(cd "$(dirname "$given")" && pwd)/$(basename "$given")"  # the venv's, not its target
  version=$("$python" -c "import inspect_ai; print(inspect_ai.__version__)")
  tmp=$(mktemp -d)
  (cd "$tmp" && "$python" "$here/outside_task.py" "$tmp/logs" > "$tmp/inspect.log" 2>&1) \
    || { tail -20 "$tmp/inspect.log"; exit 1; }
  out="$here/inspect-$version"
  rm -rf "$out" && mkdir -p "$out"
  cp "$tmp"/logs/*_shared-prompt_*.eval "$out/shared-prompt.eval"
  cp "$tmp"/logs/*_epochs_*.eval "$out/epochs.eval"
  cp "$tmp"/logs/*_epochs_*.json "$out/epochs.json"
  rm -rf "$tmp"
  echo "wrote $out with Inspect $version"
done
