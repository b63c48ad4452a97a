from tests.engine.conftest import world  # noqa: F401  (the engine tests' loopback world)
