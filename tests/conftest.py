import os

from hypothesis import HealthCheck, settings

# Property tests run a modest number of examples by default to keep CI well under its budget;
# HYPOTHESIS_PROFILE=thorough runs many more by hand.
settings.register_profile("ci", max_examples=25, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
