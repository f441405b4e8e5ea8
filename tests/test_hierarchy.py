from pathlib import Path

import pytest

from hierarchy import (
    DirectiveSpec,
    HierarchyError,
    load_hierarchy,
    load_hierarchy_file,
    preset_names,
)
from tests.conftest import write


def directive(id: str, principal: str, **extra: str) -> DirectiveSpec:
    return DirectiveSpec(id=id, principal=principal, kind="require", text="do it", **extra)


def test_presets_exist_and_load() -> None:
    assert preset_names() == ["four-principals", "model-spec", "operator-user"]
    for name in preset_names():
        assert load_hierarchy(name).name == name


def test_outranks_is_transitive_and_strict() -> None:
    h = load_hierarchy("model-spec")
    assert h.outranks("trainer", "system_prompter")
    assert h.outranks("trainer", "third_party")
    assert not h.outranks("end_user", "system_prompter")
    assert not h.outranks("trainer", "trainer")


def test_four_principals_leaves_owner_unordered_with_trainer_and_operator() -> None:
    h = load_hierarchy("four-principals")
    assert sorted(h.unordered_pairs()) == [("owner", "system_prompter"), ("owner", "trainer")]
    assert h.outranks("owner", "end_user")
    assert load_hierarchy("model-spec").unordered_pairs() == []


def test_resolution_prefers_higher_principal_or_none() -> None:
    h = load_hierarchy("four-principals")
    op, user, owner = (
        directive("a", "system_prompter"),
        directive("b", "end_user"),
        directive("c", "owner"),
    )
    ordered = h.resolve(user, op)
    assert ordered.winner == "system_prompter" and ordered.winning_directive == "a"
    assert ordered.basis == "outranks"
    unordered = h.resolve(owner, op)
    assert unordered.winner is None and unordered.basis == "unordered"
    same = h.resolve(op, directive("d", "system_prompter"))
    assert same.basis == "same_principal" and same.winner is None


def test_identity_claims_count_only_on_verified_channels() -> None:
    h = load_hierarchy("model-spec")
    claim = directive("claim", "end_user", claims="trainer")
    assert h.effective_principal(claim) == "end_user"
    assert h.resolve(claim, directive("op", "system_prompter")).winner == "system_prompter"
    vouched = directive("claim", "end_user", claims="trainer", channel="system")
    assert h.effective_principal(vouched) == "trainer"


def test_scoped_edge_overrides_global_order_within_its_scope(tmp_path: Path) -> None:
    path = write(
        tmp_path / "h.yaml",
        """
name: scoped
principals:
  - {id: operator, channel: system}
  - {id: user, channel: user}
authority:
  - {above: operator, below: user}
  - {above: user, below: operator, scope: user_safety}
""",
    )
    h = load_hierarchy_file(path)
    assert h.outranks("operator", "user")
    assert h.outranks("user", "operator", scope="user_safety")
    assert not h.outranks("operator", "user", scope="user_safety")
    assert h.outranks("operator", "user", scope="billing")


@pytest.mark.parametrize(
    ("body", "line", "fragment"),
    [
        ("name: x\nprincipals: [\n", 3, "malformed YAML"),
        (
            "name: x\nprincipals:\n  - {id: a, channel: user}\n"
            "authority:\n  - {above: a, below: b}\n",
            5,
            "authority[0].below: unknown principal 'b'",
        ),
        (
            "name: x\nprincipals:\n  - {id: a, channel: fax}\n",
            3,
            "principals[0].channel: unknown channel 'fax'",
        ),
        (
            "name: x\nprincipals:\n  - {id: a, channel: user}\n  - {id: a, channel: user}\n",
            4,
            "duplicate principal 'a'",
        ),
        (
            "name: x\nprincipals:\n  - {id: a, channel: user, rank: 1}\n",
            3,
            "principals[0].rank: unknown field",
        ),
        ("name: x\n", 1, "principals: Field required"),
        (
            "name: x\nprincipals:\n  - {id: a, channel: user}\nstanding_directives:\n"
            "  - {id: d, principal: ghost, kind: forbid, text: Never lie.}\n",
            5,
            "standing_directives[0].principal: unknown principal 'ghost'",
        ),
    ],
)
def test_bad_hierarchy_files_name_line_and_field(
    tmp_path: Path, body: str, line: int, fragment: str
) -> None:
    path = write(tmp_path / "bad.yaml", body)
    with pytest.raises(HierarchyError) as caught:
        load_hierarchy_file(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert fragment in message


def test_cycle_is_named(tmp_path: Path) -> None:
    path = write(
        tmp_path / "cycle.yaml",
        """name: loop
principals:
  - {id: a, channel: system}
  - {id: b, channel: user}
  - {id: c, channel: document}
authority:
  - {above: a, below: b}
  - {above: b, below: c}
  - {above: c, below: a}
""",
    )
    with pytest.raises(
        HierarchyError, match=r"authority cycle: (a -> b -> c -> a|b -> c -> a -> b)"
    ):
        load_hierarchy_file(path)


def test_unknown_preset_lists_presets() -> None:
    with pytest.raises(HierarchyError, match=r"unknown hierarchy 'nope'.*model-spec"):
        load_hierarchy("nope")
