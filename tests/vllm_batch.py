"""A stand-in for vLLM's offline batch runner (`vllm run-batch -i requests.jsonl -o
results.jsonl --model M`): reads OpenAI batch input lines and writes one output line each, in
the shape vLLM's `BatchRequestOutput` takes (`id` "vllm-...", `response` with `status_code`,
`request_id` "vllm-batch-..." and the chat completion as `body`; on failure `body` null and
the server's `ErrorResponse` as `error`). The answers are the fake OpenAI server's."""

from __future__ import annotations

import argparse
import json
import uuid
from pathlib import Path

from tests.fake_servers import Behaviour, OpenAIServer


def run_batch(requests: Path, results: Path, fail_every: int = 0) -> int:
    server = OpenAIServer(Behaviour(server="vllm", count_tokens=True))
    try:
        lines = []
        for number, raw in enumerate(requests.read_text().splitlines(), 1):
            request = json.loads(raw)
            output: dict[str, object] = {
                "id": f"vllm-{uuid.uuid4().hex}",
                "custom_id": request["custom_id"],
            }
            request_id = f"vllm-batch-{uuid.uuid4().hex}"
            if fail_every and number % fail_every == 0:
                output["response"] = {"status_code": 400, "request_id": request_id, "body": None}
                output["error"] = {
                    "object": "error",
                    "message": "This model's maximum context length is 2048 tokens.",
                    "type": "BadRequestError",
                    "param": None,
                    "code": 400,
                }
            else:
                body = server.answer(request["body"])
                output["response"] = {"status_code": 200, "request_id": request_id, "body": body}
                output["error"] = None
            lines.append(json.dumps(output))
        results.write_text("".join(line + "\n" for line in lines))
        return len(lines)
    finally:
        server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-i", "--input-file", type=Path, required=True)
    parser.add_argument("-o", "--output-file", type=Path, required=True)
    parser.add_argument("--fail-every", type=int, default=0)
    args = parser.parse_args()
    run_batch(args.input_file, args.output_file, args.fail_every)


if __name__ == "__main__":
    main()
