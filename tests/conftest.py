"""Shared fixtures: a small synthetic cohort written once per test session."""

import pytest

from engine.cohort.synth import SynthSpec, synthesize_cohort

SMALL = SynthSpec(n=48, centers=3, shape=(16, 40, 40), spacing=(1.0, 1.0, 3.0), seed=3)


@pytest.fixture(scope="session")
def small_cohort(tmp_path_factory):
    """48 patients, 3 centers, 3 phases, small volumes."""
    folder = tmp_path_factory.mktemp("synthetic")
    return synthesize_cohort(folder, SMALL)
