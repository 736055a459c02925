"""Markers by place: what measures time or sound runs alone after the
parallel part of `make test` (a loaded machine would make it lie)."""

import pytest

SERIAL = ("tests/contract/test_audio_e2e.py", "tests/contract/test_audio_engine.py", "tests/contract/test_audio.py",
          "tests/ui/test_attached_ui.py", "tests/e2e/test_attach.py")


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = item.nodeid.split("::", 1)[0]
        if path.startswith(SERIAL):
            item.add_marker(pytest.mark.serial)
