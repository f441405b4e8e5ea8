import gc
import sys

import pytest

from conflicts.run.garbage_collection import import_quietly


@pytest.fixture
def collector_state() -> object:
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    gc.enable() if enabled else gc.disable()


@pytest.mark.usefixtures("collector_state")
def test_imports_are_frozen_and_collection_resumes() -> None:
    sys.modules.pop("xml.dom.minidom", None)
    frozen = gc.get_freeze_count()
    gc.enable()
    import_quietly(["xml.dom.minidom"])
    assert "xml.dom.minidom" in sys.modules
    assert gc.isenabled()
    assert gc.get_freeze_count() > frozen  # the module's objects are out of the collector's sight


@pytest.mark.usefixtures("collector_state")
def test_a_paused_collector_stays_paused_even_when_an_import_fails() -> None:
    gc.disable()
    with pytest.raises(ModuleNotFoundError):
        import_quietly(["json", "no_such_module_here"])
    assert not gc.isenabled()
    gc.enable()
    with pytest.raises(ModuleNotFoundError):
        import_quietly(["no_such_module_here"])
    assert gc.isenabled()
