"""Built-in plugins: the core's own metadata sources, registered through the same hooks as
third-party plugins."""

from . import fake_devices, ideal_simulator

BUILTIN_PLUGINS = {
    "builtin.fake_devices": fake_devices,
    "builtin.ideal_simulator": ideal_simulator,
}
