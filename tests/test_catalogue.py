"""Every case of the bad-input catalogue (tests/catalogue.py) gets a clear error."""
from tests.catalogue import run_catalogue


def test_every_bad_input_of_the_catalogue_gets_a_clear_error():
    results = run_catalogue()
    assert len(results) >= 60
    unclear = [(area, name, outcome) for area, name, outcome in results if outcome != "clear"]
    assert unclear == []
