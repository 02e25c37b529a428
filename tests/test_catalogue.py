"""Every case of the bad-input catalogue (tests/catalogue.py) gets a clear error, or
PyTorch's answer where PyTorch has one."""
from tests.catalogue import run_catalogue


def test_every_bad_input_of_the_catalogue_gets_a_clear_error():
    results = run_catalogue()
    assert len(results) >= 100
    unclear = [(area, name, outcome) for area, name, outcome in results
               if outcome not in ("clear", "torch")]
    assert unclear == []
