"""The authority graph: who outranks whom, and whose directive a conflict should go to.

Edges point from the principal whose directives prevail to the one they prevail over. They form a
DAG in every scope; two principals with no path between them are unordered, and a conflict
between them has no prescribed winner.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Literal

import networkx as nx

from hierarchy.errors import HierarchyError
from hierarchy.spec import (
    DEFAULT_CHANNELS,
    AuthorityEdgeSpec,
    ChannelSpec,
    DirectiveSpec,
    HierarchySpec,
    PrincipalSpec,
)

Basis = Literal["outranks", "unordered", "same_principal"]


@dataclass(frozen=True)
class Resolution:
    """The prescribed outcome of a conflict between two directives under one hierarchy."""

    directives: tuple[str, str]
    principals: tuple[str, str]
    winner: str | None
    basis: Basis

    @property
    def winning_directive(self) -> str | None:
        if self.winner is None:
            return None
        return self.directives[self.principals.index(self.winner)]


class Hierarchy:
    """A validated principal hierarchy; immutable once built."""

    def __init__(self, spec: HierarchySpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.channels = _channels(spec)
        self.principals = _principals(spec, self.channels)
        _check_directives(spec.standing_directives, self, ("standing_directives",))
        self.scopes = sorted({e.scope for e in spec.authority if e.scope is not None})
        self._closure = {
            scope: _closure(spec.authority, self.principals, scope)
            for scope in [None, *self.scopes]
        }

    def graph(self, scope: str | None = None) -> nx.DiGraph:
        """The authority graph in `scope`: global edges, except where a scoped edge overrides."""
        return _effective_graph(self.spec.authority, list(self.principals), scope)

    def outranks(self, above: str, below: str, scope: str | None = None) -> bool:
        """Whether `above`'s directives prevail over `below`'s, directly or through others."""
        self.require_principal(above)
        self.require_principal(below)
        closure = self._closure[scope] if scope in self._closure else self._closure[None]
        return bool(closure.has_edge(above, below))

    def ordered(self, a: str, b: str, scope: str | None = None) -> bool:
        return self.outranks(a, b, scope) or self.outranks(b, a, scope)

    def unordered_pairs(self, scope: str | None = None) -> list[tuple[str, str]]:
        """Pairs of principals whose conflicts have no prescribed winner."""
        return [
            (a, b) for a, b in combinations(self.principals, 2) if not self.ordered(a, b, scope)
        ]

    def outranked_pairs(self, scope: str | None = None) -> list[tuple[str, str]]:
        """Every (above, below) pair the graph implies, transitively."""
        closure = self._closure[scope] if scope in self._closure else self._closure[None]
        return sorted(closure.edges)

    def ranks(self, scope: str | None = None) -> list[list[str]]:
        """Principals in layers, highest authority first (a layer may hold unordered principals)."""
        return [sorted(layer) for layer in nx.topological_generations(self.graph(scope))]

    def effective_principal(self, directive: DirectiveSpec) -> str:
        """Whose authority a directive carries: claimed identities count on verified channels."""
        if directive.claims is None:
            return directive.principal
        return directive.claims if self.channel_of(directive).verified else directive.principal

    def channel_of(self, directive: DirectiveSpec) -> ChannelSpec:
        channel = directive.channel or self.principals[directive.principal].channel
        return self.channels[channel]

    def resolve(
        self, first: DirectiveSpec, second: DirectiveSpec, scope: str | None = None
    ) -> Resolution:
        """The prescribed winner of a conflict: the higher principal's directive, or none."""
        a, b = self.effective_principal(first), self.effective_principal(second)
        scope = scope or first.scope or second.scope
        pair = (first.id, second.id)
        if a == b:
            return Resolution(pair, (a, b), None, "same_principal")
        if self.outranks(a, b, scope):
            return Resolution(pair, (a, b), a, "outranks")
        if self.outranks(b, a, scope):
            return Resolution(pair, (a, b), b, "outranks")
        return Resolution(pair, (a, b), None, "unordered")

    def require_principal(self, principal: str, loc: tuple[str | int, ...] = ()) -> None:
        if principal not in self.principals:
            known = ", ".join(self.principals)
            raise HierarchyError(
                f"unknown principal {principal!r} in hierarchy {self.name!r} (known: {known})",
                loc=loc,
            )


def _channels(spec: HierarchySpec) -> dict[str, ChannelSpec]:
    channels = {c.id: c for c in DEFAULT_CHANNELS}
    for index, channel in enumerate(spec.channels):
        if channel.id in {c.id for c in spec.channels[:index]}:
            raise HierarchyError(f"duplicate channel {channel.id!r}", loc=("channels", index, "id"))
        channels[channel.id] = channel
    return channels


def _principals(spec: HierarchySpec, channels: dict[str, ChannelSpec]) -> dict[str, PrincipalSpec]:
    principals: dict[str, PrincipalSpec] = {}
    for index, principal in enumerate(spec.principals):
        if principal.id in principals:
            raise HierarchyError(
                f"duplicate principal {principal.id!r}", loc=("principals", index, "id")
            )
        if principal.channel not in channels:
            raise HierarchyError(
                f"unknown channel {principal.channel!r} (known: {', '.join(channels)})",
                loc=("principals", index, "channel"),
            )
        principals[principal.id] = principal
    for index, edge in enumerate(spec.authority):
        for end in ("above", "below"):
            name = getattr(edge, end)
            if name not in principals:
                raise HierarchyError(
                    f"unknown principal {name!r} (known: {', '.join(principals)})",
                    loc=("authority", index, end),
                )
        if edge.above == edge.below:
            raise HierarchyError(
                f"{edge.above!r} cannot outrank itself", loc=("authority", index, "below")
            )
    return principals


def _check_directives(
    directives: list[DirectiveSpec], hierarchy: Hierarchy, loc: tuple[str | int, ...]
) -> None:
    for index, directive in enumerate(directives):
        hierarchy.require_principal(directive.principal, (*loc, index, "principal"))
        if directive.claims is not None:
            hierarchy.require_principal(directive.claims, (*loc, index, "claims"))
        if directive.channel is not None and directive.channel not in hierarchy.channels:
            raise HierarchyError(
                f"unknown channel {directive.channel!r}", loc=(*loc, index, "channel")
            )


def _effective_graph(
    edges: list[AuthorityEdgeSpec], principals: list[str], scope: str | None
) -> nx.DiGraph:
    """Global edges; a pair with an edge in `scope` is decided by that scoped edge instead."""
    scoped = [e for e in edges if scope is not None and e.scope == scope]
    overridden = {frozenset((e.above, e.below)) for e in scoped}
    graph: nx.DiGraph = nx.DiGraph()
    graph.add_nodes_from(principals)
    for index, edge in enumerate(edges):
        if edge.scope is None and frozenset((edge.above, edge.below)) not in overridden:
            graph.add_edge(edge.above, edge.below, index=index)
    for edge in scoped:
        graph.add_edge(edge.above, edge.below, index=edges.index(edge), scope=scope)
    return graph


def _closure(
    edges: list[AuthorityEdgeSpec], principals: dict[str, PrincipalSpec], scope: str | None
) -> nx.DiGraph:
    graph = _effective_graph(edges, list(principals), scope)
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return nx.transitive_closure_dag(graph)
    path = " -> ".join([cycle[0][0], *(v for _, v in cycle)])
    where = f" in scope {scope!r}" if scope else ""
    first = graph.edges[cycle[0][0], cycle[0][1]]["index"]
    raise HierarchyError(f"authority cycle{where}: {path}", loc=("authority", first))
