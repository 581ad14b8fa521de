"""The ports a local tritonserver listens on: free ones picked, the ones asked for checked, clashes explained."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from components.core.problems import Problem

HOST = "127.0.0.1"


PORT_ATTEMPTS = 4


@dataclass(frozen=True)
class Ports:
    http: int
    grpc: int
    metrics: int


class PortClash(Exception):
    """tritonserver could not bind a port (`port`, when its log says which)."""

    def __init__(self, port: int | None) -> None:
        super().__init__(port)
        self.port = port


def free_port(host: str = HOST) -> int:
    """A TCP port nothing listens on right now (bind port 0, read it, release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def choose_ports(http_port: int | None = None, grpc_port: int | None = None,
                 metrics_port: int | None = None) -> Ports:
    """The given ports, and distinct free ports for those not given."""
    taken = {p for p in (http_port, grpc_port, metrics_port) if p}
    chosen = []
    for given in (http_port, grpc_port, metrics_port):
        port = given
        while not port:
            candidate = free_port()
            if candidate not in taken:
                port = candidate
                taken.add(candidate)
        chosen.append(port)
    return Ports(*chosen)


def port_in_use(port: int | None, ports: Ports, wanted: Ports) -> Problem:
    """Which port tritonserver could not bind, whether it was asked for or picked free, and how to get another."""
    kinds = {ports.http: "HTTP", ports.grpc: "gRPC", ports.metrics: "metrics"}
    if port is None:
        where = f"one of its ports {ports.http} (HTTP), {ports.grpc} (gRPC) and {ports.metrics} (metrics)"
        remedy = "give other ports, or leave them out to get free ones, or stop what listens there"
    elif port in (wanted.http, wanted.grpc, wanted.metrics):
        where = f"port {port}, the {kinds[port]} port asked for"
        remedy = f"give another {kinds[port]} port, or leave it out to get a free one, or stop what listens there"
    else:
        where = f"port {port}, which it picked free and another process took meanwhile ({PORT_ATTEMPTS} attempts)"
        remedy = "run it again, or give the ports yourself"
    return Problem("", "", f"tritonserver could not listen on {HOST} {where}: it is in use; {remedy}",
                   "runtime.port_in_use")
