"""Shared fixtures: a small synthetic cohort written once per test session."""

import pytest

from engine.cohort.synth import SynthSpec, synthesize_cohort

SMALL = SynthSpec(n=48, centers=3, shape=(16, 40, 40), spacing=(1.0, 1.0, 3.0), seed=3)


@pytest.fixture(scope="session")
def small_cohort(tmp_path_factory):
    """48 patients, 3 centers, 3 phases, small volumes."""
    folder = tmp_path_factory.mktemp("synthetic")
    return synthesize_cohort(folder, SMALL)


def pytest_configure(config):
    config.addinivalue_line("markers", "chromium: the test exports figures with kaleido, which drives Chromium")


def pytest_runtest_setup(item):
    """A test marked ``chromium`` fails at once with "chromium missing" (and the fix) when there is no Chromium, instead
    of a kaleido/choreographer traceback deep inside the export."""
    if item.get_closest_marker("chromium") is None:
        return
    from engine.plots import chromium_path

    if chromium_path() is None:
        pytest.fail(
            "chromium missing: this test exports figures with kaleido, which needs Chromium. Install it with "
            "`apt-get install -y chromium chromium-driver` (make test does this as root) or set BROWSER_PATH.",
            pytrace=False,
        )
