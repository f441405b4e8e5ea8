"""An Inspect AI task that sends the same requests `ihsim run` sends, for `make bench-peers`.

Run by Inspect from its own virtual environment (.venv-peers), never imported by ihsim.
"""

import json

from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import ChatMessageAssistant, ChatMessageSystem, ChatMessageUser
from inspect_ai.solver import generate

ROLES = {"system": ChatMessageSystem, "user": ChatMessageUser, "assistant": ChatMessageAssistant}


@task
def ihsim_dilemmas(path: str) -> Task:
    samples = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            dilemma = json.loads(line)
            messages = [ROLES[m["role"]](content=m["content"]) for m in dilemma["messages"]]
            samples.append(Sample(id=dilemma["id"], input=messages))
    return Task(dataset=MemoryDataset(samples), solver=generate())
