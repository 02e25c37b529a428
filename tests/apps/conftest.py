"""The apps' tests reuse the saliency tests' small models and images."""
from tests.saliency.conftest import images, rng, small_cnn  # noqa: F401
