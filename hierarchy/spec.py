"""The written form of hierarchies and directives: pydantic models at the file boundary."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Identifier = str  # lowercase words joined by _ or -, checked by the pattern below
ID_PATTERN = r"^[a-z][a-z0-9_\-]*$"

DirectiveKind = Literal["require", "forbid", "goal", "value"]


class Strict(BaseModel):
    """Unknown keys are typos in a hand-written file, so they are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ChannelSpec(Strict):
    """How words reach the model, and whether the model can trust who sent them."""

    id: str = Field(pattern=ID_PATTERN)
    verified: bool
    in_context: bool = True
    description: str = ""


class PrincipalSpec(Strict):
    """Someone whose directives the model is meant to weigh."""

    id: str = Field(pattern=ID_PATTERN)
    channel: str
    title: str = ""
    description: str = ""


class AuthorityEdgeSpec(Strict):
    """`above` takes precedence over `below`, everywhere or only within `scope`."""

    above: str
    below: str
    scope: str | None = None
    why: str = ""


class DirectiveSpec(Strict):
    """What one principal wants, in its own words.

    `claims` names a principal the speaker says it is; the claim counts only on a verified channel.
    """

    id: str = Field(pattern=ID_PATTERN)
    principal: str
    kind: DirectiveKind
    text: str = Field(min_length=1)
    channel: str | None = None
    claims: str | None = None
    scope: str | None = None


class HierarchySpec(Strict):
    """A whole hierarchy as written in YAML: principals, extra channels, authority edges."""

    name: str = Field(pattern=ID_PATTERN)
    description: str = ""
    channels: list[ChannelSpec] = []
    principals: list[PrincipalSpec] = Field(min_length=1)
    authority: list[AuthorityEdgeSpec] = []
    standing_directives: list[DirectiveSpec] = []


DEFAULT_CHANNELS: tuple[ChannelSpec, ...] = (
    ChannelSpec(
        id="training",
        verified=True,
        in_context=False,
        description="instilled in training; stated to the model as its guidelines or left implicit",
    ),
    ChannelSpec(id="system", verified=True, description="the system prompt"),
    ChannelSpec(id="user", verified=False, description="the chat; anyone can type anything"),
    ChannelSpec(id="tool_result", verified=False, description="what a tool call returned"),
    ChannelSpec(id="document", verified=False, description="an email, a file, a web page"),
)
