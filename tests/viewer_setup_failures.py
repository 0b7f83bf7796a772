"""A GUI test whose fixture fails after making a viewer is reported once, for its own error.

napari's ``make_napari_viewer`` decides at teardown whether to check for leaked viewers from
``item.rep_call``, the report of the test's call; a test whose setup failed (a fixture that
made a viewer, then raised) has no call, so the teardown raised ``AttributeError: 'Function'
object has no attribute 'rep_call'`` under the real error, and left napari's list of viewers
uncleared for the next test. The same holds for a setup that skips after making a viewer
(``pytest.skip`` in a fixture, a missing optional file). The setup's report, whenever it did not
pass, stands for the call: the viewers are closed and the leak check is skipped, as napari does
for a failed test.
(A test that fails while the viewer's teardown also fails is reported with both already.)
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Generator:
    outcome = yield
    report = outcome.get_result()
    if report.when == "setup" and not report.passed:
        item.rep_call = report  # type: ignore[attr-defined]
