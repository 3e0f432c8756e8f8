"""Suite-wide settings. Imported for every test, the unit tests too: only the core's
dependencies here (no adapter, no psycopg, no huggingface_hub; see tests/README.md)."""

from hypothesis import HealthCheck, settings

# Speed is measured in bench/, never asserted here: no per-example deadline, so a loaded CI
# machine cannot turn a slow example into a failure.
settings.register_profile(
    "devon", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=100
)
settings.load_profile("devon")
