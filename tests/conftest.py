import os

import pytest
from hypothesis import HealthCheck, settings

# Property tests run a modest number of examples by default to keep CI well under its budget;
# HYPOTHESIS_PROFILE=thorough runs many more by hand.
settings.register_profile("ci", max_examples=25, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def two_threads(monkeypatch):
    """Split every job of kernels.parallel in two, however small, for the length of a test;
    yields the list of the part counts of every `parallel.map` call (proof that it split)."""
    from minigrad.kernels import parallel
    if parallel._blas is None:
        pytest.skip("NumPy's BLAS is not an OpenBLAS minigrad can find: nothing is split")
    before, real_map, part_counts = parallel.get_num_threads(), parallel.map, []

    def counting_map(work, parts, *per_part):
        part_counts.append(len(parts))
        return real_map(work, parts, *per_part)
    from minigrad.kernels import pool
    monkeypatch.setattr(parallel, "MIN_ELEMENTS", 0)
    monkeypatch.setattr(pool, "MIN_VISITS", 0)
    monkeypatch.setattr(parallel, "map", counting_map)
    parallel.set_num_threads(2)
    yield part_counts
    parallel.set_num_threads(before)
