"""Plugins used by the test-suite, loaded by import path (``QRS_PLUGINS``) in the server and
in its worker processes. ``tests/conftest.py`` puts ``tests/support`` on ``sys.path``."""
