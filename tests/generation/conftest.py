# The emulator fixtures for this package's tests. pytest accepts `pytest_plugins` only in the top-level
# conftest, so until tests/conftest.py lists "tests.fixtures.emulator" they are imported here.
from tests.fixtures.emulator import clean_emulator, foundry_emulator  # noqa: F401
