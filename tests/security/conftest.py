"""The security tests run on the same four-process pipeline as the end-to-end tests."""

from tests.e2e.conftest import pipeline_factory  # noqa: F401 - the fixture, shared
