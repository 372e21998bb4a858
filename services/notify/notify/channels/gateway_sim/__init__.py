"""A loopback HTTP SMS gateway speaking both shapes of notify.channels.httpsms, for tests, benchmarks and `make run`.
`python -m notify.channels.gateway_sim --help` runs one."""

from notify.channels.gateway_sim.loopback import LoopbackServer
from notify.channels.gateway_sim.server import GatewaySimulator
from notify.channels.gateway_sim.simulation import GatewayFaults, Received

__all__ = ["GatewayFaults", "GatewaySimulator", "LoopbackServer", "Received"]
