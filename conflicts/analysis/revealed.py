"""The hierarchy a model reveals: who prevails over whom in the conflicts it met.

Each conflict of each transcript has an outcome (`conflict_outcomes`): one side's directive was
complied with while the other was refused or subverted, both were refused, neither prevailed, or
a verdict was undecided. Per pair of issuers (principals, or principals by channel, or by the
identity they claim) this counts the outcomes over the decided conflicts, and tests whether one
side prevails more often than the other with a score per conflict (+1 when A prevailed, -1 when
B did, 0 otherwise) averaged with a cluster-robust (sandwich) standard error by dilemma, since
the epochs of one dilemma are not independent; Holm's correction runs over all pairs. A revealed
edge A -> B is a pair whose score is significantly positive; where it is not, the data cannot
tell, and no edge is drawn.

A strength per issuer comes from a Bradley-Terry model, fitted as the binomial GLM it is
(statsmodels), with a cluster-robust covariance by dilemma, on the conflicts someone won; each
observed pair carries half a win each way so a pair that one side always wins has a finite
strength. Strengths sum to zero, so each has an interval.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from conflicts.analysis.intervals import Z95, Clusters, holm
from conflicts.errors import StoreError
from conflicts.store.database import Store
from conflicts.store.verdicts import latest_version

By = Literal["principal", "channel", "claims"]
BY: tuple[By, ...] = ("principal", "channel", "claims")
Relation = Literal["agreed", "inverted", "missing", "takes_side", "unordered", "no_prescription"]
ALPHA = 0.05


def p_text(p: float | None) -> str:
    """A p-value as a reader wants it: two digits, and no false zero."""
    if p is None:
        return "n/a"
    return "< 0.0001" if p < 1e-4 else f"{p:.2g}"


def p_clause(p: float | None) -> str:
    """`p = 0.017`, `p < 0.0001`, or `p n/a`."""
    text = p_text(p)
    return f"p {text}" if text.startswith(("<", "n/a")) else f"p = {text}"


@dataclass
class PairCount:
    """One unordered pair of issuers (`first` < `second`) in one model's conflicts."""

    first: str
    second: str
    first_won: int = 0
    second_won: int = 0
    both_refused: int = 0
    neither: int = 0
    undecided: int = 0
    # per dilemma: [first won, second won, decided]
    dilemmas: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0]))
    # the prescribed winner of their conflicts, as the conflicts' records say: first, second,
    # None (unordered); several when scopes differ
    prescribed: set[str | None] = field(default_factory=set)

    @property
    def decided(self) -> int:
        return self.first_won + self.second_won + self.both_refused + self.neither


@dataclass(frozen=True)
class Edge:
    """A pair's verdict: how often each side prevailed, the clustered test, and what the
    prescribed hierarchy said about it."""

    model: str
    first: str
    second: str
    first_won: int
    second_won: int
    both_refused: int
    neither: int
    undecided: int
    dilemmas: int
    share_first: tuple[float, float, float]  # rate and its clustered interval
    share_second: tuple[float, float, float]
    score: float  # mean of +1 / -1 / 0 over decided conflicts
    score_interval: tuple[float, float]
    p_value: float | None
    p_adjusted: float | None
    prescribed: str | None  # the prescribed winner, "" when mixed, None when unordered
    revealed: str | None  # the side that significantly prevails, None when the data cannot tell
    relation: Relation

    @property
    def winner_loser(self) -> tuple[str, str] | None:
        if self.revealed is None:
            return None
        other = self.second if self.revealed == self.first else self.first
        return self.revealed, other

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "pair": [self.first, self.second],
            "first_won": self.first_won,
            "second_won": self.second_won,
            "both_refused": self.both_refused,
            "neither": self.neither,
            "undecided": self.undecided,
            "dilemmas": self.dilemmas,
            "share_first": list(self.share_first),
            "share_second": list(self.share_second),
            "score": self.score,
            "score_interval": list(self.score_interval),
            "p_value": self.p_value,
            "p_adjusted": self.p_adjusted,
            "test": "clustered score test by dilemma, Holm-adjusted over pairs",
            "prescribed_winner": self.prescribed,
            "revealed_winner": self.revealed,
            "relation": self.relation,
        }


@dataclass(frozen=True)
class Strength:
    issuer: str
    strength: float
    low: float
    high: float


@dataclass
class Revealed:
    """One model's revealed hierarchy."""

    model: str
    by: By
    edges: list[Edge]
    strengths: list[Strength]
    note: str | None = None

    def nodes(self) -> list[str]:
        return sorted({n for e in self.edges for n in (e.first, e.second)})

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "by": self.by,
            "edges": [e.as_dict() for e in self.edges],
            "revealed_edges": [list(e.winner_loser) for e in self.edges if e.winner_loser],
            "strengths": [
                {"issuer": s.issuer, "strength": s.strength, "interval": [s.low, s.high]}
                for s in self.strengths
            ],
            "strength_model": "Bradley-Terry (binomial GLM, cluster-robust by dilemma), "
            "sum-to-zero, half a win each way per pair",
            "note": self.note,
        }


def _node(by: By, issuer: str, authority: str, channel: str, claims: str | None) -> str:
    """The issuer as this view names it: the authority it carries; by the channel it came
    through; or with the identity it claims."""
    if by == "channel":
        return f"{authority}@{channel}"
    if by == "claims" and claims:
        return f"{issuer} claiming {claims}"
    return authority


def pair_counts(
    store: Store,
    runs: Sequence[str],
    classifier: str,
    by: By = "principal",
    models: Sequence[str] | None = None,
    family: str | None = None,
) -> dict[str, dict[tuple[str, str], PairCount]]:
    """Per model, per unordered pair of issuers: the outcomes of their conflicts. Conflicts
    between two directives of one issuer say nothing about a hierarchy and are left out."""
    version = latest_version(store, classifier)
    if version is None:
        raise StoreError(
            f"no verdicts from {classifier!r}; run `ihsim classify` first", file=str(store.path)
        )
    marks = ", ".join("?" * len(runs))
    params: list[Any] = [*runs, classifier, version]
    where = ""
    if models:
        where += f" AND t.model IN ({', '.join('?' * len(models))})"
        params.extend(models)
    if family:
        where += " AND d.family = ?"
        params.append(family)
    rows = store.db.execute(
        f"""
        SELECT t.model, t.dilemma_id, o.outcome, k.winner,
               a.issuer, a.authority, a.channel, a.claims, a.judged_by,
               b.issuer, b.authority, b.channel, b.claims, b.judged_by, COUNT(*)
        FROM conflict_outcomes o
        JOIN transcripts t ON t.id = o.transcript_id
        JOIN dilemmas d ON d.id = t.dilemma_id
        JOIN conflict_sides a
            ON a.dilemma_id = t.dilemma_id AND a.position = o.position AND a.side = 0
        JOIN conflict_sides b
            ON b.dilemma_id = t.dilemma_id AND b.position = o.position AND b.side = 1
        LEFT JOIN dilemma_conflicts k
            ON k.dilemma_id = t.dilemma_id AND k.position = o.position
        WHERE t.run_id IN ({marks}) AND o.classifier = ? AND o.classifier_version = ?{where}
        GROUP BY t.model, t.dilemma_id, o.position, o.outcome
        """,
        params,
    ).fetchall()
    found: dict[str, dict[tuple[str, str], PairCount]] = defaultdict(dict)
    for model, dilemma, outcome, winner, *sides, count in rows:
        a = _node(by, *sides[0:4])
        b = _node(by, *sides[5:9])
        if a == b:
            continue
        judged = (sides[4], sides[9])
        prescribed = None if winner is None else (a if winner == judged[0] else b)
        swapped = a > b
        first, second = (b, a) if swapped else (a, b)
        pair = found[model].setdefault((first, second), PairCount(first, second))
        pair.prescribed.add(prescribed)
        side = {"first": a, "second": b}.get(outcome)
        if outcome == "undecided":
            pair.undecided += count
            continue
        cell = pair.dilemmas[dilemma]
        cell[2] += count
        if side == first:
            pair.first_won += count
            cell[0] += count
        elif side == second:
            pair.second_won += count
            cell[1] += count
        elif outcome == "both_refused":
            pair.both_refused += count
        else:
            pair.neither += count
    return found


def _share(pair: PairCount, index: int) -> tuple[float, float, float]:
    """The share of decided conflicts one side won, with its interval clustered by dilemma."""
    cells = [c for c in pair.dilemmas.values() if c[2]]
    wins = sum(c[index] for c in cells)
    n = sum(c[2] for c in cells)
    clusters = Clusters(
        k=len(cells),
        n=n,
        successes=wins,
        q=sum(c[index] ** 2 / c[2] for c in cells),
        m2=sum(c[2] ** 2 for c in cells),
    )
    low, high = clusters.interval()
    return (wins / n if n else 0.0, low, high)


def _score_test(pair: PairCount) -> tuple[float, tuple[float, float], float | None]:
    """The mean score (+1 first won, -1 second won, 0 otherwise) over decided conflicts, its
    interval and two-sided p-value from the cluster-robust variance of a ratio mean (CR1:
    k/(k-1) times the sum of squared cluster residuals over n^2)."""
    cells = [c for c in pair.dilemmas.values() if c[2]]
    n = sum(c[2] for c in cells)
    if not n:
        return 0.0, (-1.0, 1.0), None
    mean = sum(c[0] - c[1] for c in cells) / n
    k = len(cells)
    if k < 2:
        return mean, (-1.0, 1.0), None
    residual = sum((c[0] - c[1] - mean * c[2]) ** 2 for c in cells)
    se = math.sqrt(k / (k - 1) * residual) / n
    interval = (max(-1.0, mean - Z95 * se), min(1.0, mean + Z95 * se))
    if se == 0:
        return mean, interval, 1.0 if mean == 0 else 0.0
    from scipy.stats import norm  # imported only where a test is made

    return mean, interval, float(2 * norm.sf(abs(mean) / se))


def _relation(prescribed: str | None, revealed: str | None, mixed: bool) -> Relation:
    if mixed:
        return "no_prescription"
    if prescribed is None:
        return "takes_side" if revealed is not None else "unordered"
    if revealed is None:
        return "missing"
    return "agreed" if revealed == prescribed else "inverted"


def edges(model: str, pairs: dict[tuple[str, str], PairCount]) -> list[Edge]:
    """Every observed pair's counts, shares and test, its revealed winner after Holm's
    correction over the pairs, and how that stands against the prescribed hierarchy."""
    ordered = sorted(pairs.values(), key=lambda p: (p.first, p.second))
    tests = [_score_test(p) for p in ordered]
    tested = [i for i, t in enumerate(tests) if t[2] is not None]
    adjusted = dict(zip(tested, holm([tests[i][2] for i in tested]), strict=True))  # type: ignore[misc]
    found = []
    for index, (pair, (score, interval, p)) in enumerate(zip(ordered, tests, strict=True)):
        q = adjusted.get(index)
        revealed = None
        if q is not None and q < ALPHA and score != 0:
            revealed = pair.first if score > 0 else pair.second
        mixed = len(pair.prescribed) > 1
        prescribed = next(iter(pair.prescribed)) if len(pair.prescribed) == 1 else None
        found.append(
            Edge(
                model=model,
                first=pair.first,
                second=pair.second,
                first_won=pair.first_won,
                second_won=pair.second_won,
                both_refused=pair.both_refused,
                neither=pair.neither,
                undecided=pair.undecided,
                dilemmas=sum(1 for c in pair.dilemmas.values() if c[2]),
                share_first=_share(pair, 0),
                share_second=_share(pair, 1),
                score=score,
                score_interval=interval,
                p_value=p,
                p_adjusted=q,
                prescribed="" if mixed else prescribed,
                revealed=revealed,
                relation=_relation(prescribed, revealed, mixed),
            )
        )
    return found


def strengths(pairs: dict[tuple[str, str], PairCount]) -> tuple[list[Strength], str | None]:
    """Bradley-Terry strengths (log-odds scale, summing to zero) with 95% intervals from a
    cluster-robust covariance by dilemma; a note instead where they cannot be fitted."""
    nodes = sorted({n for pair in pairs for n in pair})
    if len(nodes) < 2:
        return [], "fewer than two issuers met in a decided conflict"
    if not _connected(nodes, [p for p, c in pairs.items() if c.first_won + c.second_won]):
        return [], "the issuers' conflicts do not connect them all: strengths cannot be compared"
    import numpy as np
    import statsmodels.api as sm

    index = {n: i for i, n in enumerate(nodes)}
    rows: list[Any] = []
    outcomes: list[tuple[float, float]] = []
    groups: list[int] = []
    group_of: dict[str, int] = {}
    for (first, second), pair in pairs.items():
        if not pair.first_won + pair.second_won:
            continue
        x = np.zeros(len(nodes))
        x[index[first]], x[index[second]] = 1.0, -1.0
        for dilemma, (won, lost, _) in pair.dilemmas.items():
            if won + lost:
                rows.append(x)
                outcomes.append((won, lost))
                groups.append(group_of.setdefault(dilemma, len(group_of)))
        rows.append(x)  # half a win each way: finite strengths under complete separation
        outcomes.append((0.5, 0.5))
        groups.append(group_of.setdefault(f"prior:{first}:{second}", len(group_of)))
    # sum-to-zero: the last strength is minus the sum of the others
    contrast = np.vstack([np.eye(len(nodes) - 1), -np.ones(len(nodes) - 1)])
    design = np.array(rows) @ contrast
    model = sm.GLM(np.array(outcomes), design, family=sm.families.Binomial())
    fit = model.fit(cov_type="cluster", cov_kwds={"groups": np.array(groups)})
    values = contrast @ fit.params
    covariance = contrast @ fit.cov_params() @ contrast.T
    found = []
    for name, value, variance in zip(nodes, values, np.diag(covariance), strict=True):
        half = Z95 * math.sqrt(max(float(variance), 0.0))
        found.append(Strength(name, float(value), float(value) - half, float(value) + half))
    return sorted(found, key=lambda s: -s.strength), None


def _connected(nodes: list[str], pairs: list[tuple[str, str]]) -> bool:
    import networkx as nx

    graph: nx.Graph = nx.Graph()
    graph.add_nodes_from(nodes)
    graph.add_edges_from(pairs)
    return bool(nx.is_connected(graph))


def reveal(
    store: Store,
    runs: Sequence[str],
    classifier: str,
    by: By = "principal",
    models: Sequence[str] | None = None,
    family: str | None = None,
) -> list[Revealed]:
    """Each model's revealed hierarchy over these runs' conflicts."""
    found = []
    for model, pairs in sorted(pair_counts(store, runs, classifier, by, models, family).items()):
        fitted, note = strengths(pairs)
        found.append(Revealed(model, by, edges(model, pairs), fitted, note))
    return found


@dataclass(frozen=True)
class EdgeDifference:
    """Two models' scores on one pair, tested on the dilemmas both met."""

    pair: tuple[str, str]
    models: tuple[str, str]
    scores: tuple[float, float]
    dilemmas: int
    test: str
    p_value: float | None
    p_adjusted: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "pair": list(self.pair),
            "models": list(self.models),
            "scores": list(self.scores),
            "dilemmas": self.dilemmas,
            "test": self.test,
            "p_value": self.p_value,
            "p_adjusted": self.p_adjusted,
        }

    def sentence(self) -> str:
        (a, b), (m1, m2) = self.pair, self.models
        p = p_clause(self.p_adjusted)
        return (
            f"{a} vs {b}: score {self.scores[0]:+.2f} for {m1}, {self.scores[1]:+.2f} for {m2}"
            f" ({self.dilemmas} shared dilemmas; {self.test}; Holm-adjusted {p})"
        )


def compare_revealed(
    first: str,
    second: str,
    pairs: dict[str, dict[tuple[str, str], PairCount]],
) -> list[EdgeDifference]:
    """Two models' revealed graphs edge by edge: per pair both met, the per-dilemma mean
    scores compared on the dilemmas both ran (a paired t-test, SciPy's; Wilcoxon's would
    discard the many ties at 0), Holm's correction over the pairs."""
    from scipy.stats import ttest_rel

    left, right = pairs.get(first, {}), pairs.get(second, {})
    found = []
    for key in sorted(set(left) & set(right)):
        a, b = left[key].dilemmas, right[key].dilemmas
        shared = sorted(d for d in set(a) & set(b) if a[d][2] and b[d][2])
        xs = [(a[d][0] - a[d][1]) / a[d][2] for d in shared]
        ys = [(b[d][0] - b[d][1]) / b[d][2] for d in shared]
        p = None
        if len(shared) >= 2 and any(x != y for x, y in zip(xs, ys, strict=True)):
            p = float(ttest_rel(xs, ys).pvalue)
        elif len(shared) >= 2:
            p = 1.0
        scores = (_score_test(left[key])[0], _score_test(right[key])[0])
        found.append(
            EdgeDifference(
                key, (first, second), scores, len(shared), "paired t-test on dilemma means", p
            )
        )
    return adjusted(found)


def adjusted(found: list[EdgeDifference]) -> list[EdgeDifference]:
    """The differences with Holm's correction over all of them (every pair of every two
    models compared at once)."""
    tested = [i for i, d in enumerate(found) if d.p_value is not None]
    values = [float(found[i].p_value or 0.0) for i in tested]
    found = list(found)
    for i, q in zip(tested, holm(values), strict=True):
        found[i] = EdgeDifference(**{**found[i].__dict__, "p_adjusted": q})
    return found
