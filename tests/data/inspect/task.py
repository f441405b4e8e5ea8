"""The Inspect AI task that made the logs beside it (run by `make_logs.sh`, from .venv-peers):
two confidential-instructions dilemmas, and one impossible-quiz dilemma with a tool, answered by
the fake OpenAI server. Never imported by ihsim or its tests."""

import json
from pathlib import Path

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import ChatMessageAssistant, ChatMessageSystem, ChatMessageUser
from inspect_ai.solver import generate, use_tools
from inspect_ai.tool import tool

ROLES = {"system": ChatMessageSystem, "user": ChatMessageUser, "assistant": ChatMessageAssistant}


@tool
def lookup_answer():
    async def execute(question: str = "") -> str:
        """Look up the answer key.

        Args:
            question: which question
        """
        return "The answer key is locked."

    return execute


@task
def ihsim_logs(path: str) -> Task:
    samples = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        dilemma = json.loads(line)
        messages = [ROLES[m["role"]](content=m["content"]) for m in dilemma["messages"]]
        metadata = {"ihsim_dilemma": dilemma["id"], "axes": dilemma["axes"]}
        samples.append(Sample(id=dilemma["id"][:12], input=messages, metadata=metadata))
    return Task(dataset=MemoryDataset(samples), solver=[use_tools(lookup_answer()), generate()])
