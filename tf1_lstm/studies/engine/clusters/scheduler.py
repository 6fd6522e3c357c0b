"""A cluster that already runs, reached at its scheduler's address (--scheduler)."""

import collections

from tf1_lstm.studies.engine.clusters import Kind
from tf1_lstm.util.errors import ToolError

CONNECT_TIMEOUT = 10  # seconds to reach a scheduler before giving up
SCHEMES = ("tcp", "tls")
TLS_SETTINGS = ("DASK_DISTRIBUTED__COMM__TLS__CA_FILE", "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT",
                "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY")


class Scheduler(Kind):
    name = "scheduler"
    help = "the Dask cluster at --scheduler ADDRESS (or DASK_SCHEDULER_ADDRESS)"
    offered = False  # chosen by giving its address

    def start(self, engine):
        import distributed
        address = check_address(self.address)
        try:
            engine.client = distributed.Client(address, timeout=CONNECT_TIMEOUT)
            engine.versions = versions_line(engine.client.get_versions(check=False))
        except (OSError, ValueError, TypeError) as err:
            hint = ("; a tls:// scheduler needs %s (see the cluster docs)" % ", ".join(
                TLS_SETTINGS) if address.startswith("tls://") else "")
            raise ToolError("cannot reach the Dask scheduler at %s (%s): start it, or check "
                            "--scheduler / DASK_SCHEDULER_ADDRESS%s" % (
                                address, str(err).splitlines()[0] if str(err) else
                                type(err).__name__, hint))

    def where(self):
        return self.address

    def scheduler(self):
        return self.address


def check_address(address):
    """`address` if it is a scheduler address the engine can use, else ToolError saying why."""
    scheme, _, rest = address.partition("://")
    host, _, port = rest.rpartition(":")
    ok = scheme in SCHEMES and host and port.isdigit() and 0 < int(port) < 65536
    if not ok:
        raise ToolError("%r is not a Dask scheduler address: write tcp://HOST:PORT, or "
                        "tls://HOST:PORT for a secured cluster (port 1-65535)" % address)
    return address


WIRE = ("dask", "distributed", "msgpack", "cloudpickle", "tornado", "toolz")  # must match


def versions_line(info):
    """None where the client, scheduler and workers (client.get_versions) run the same
    versions; one line naming what differs where only packages off the wire do (Python 3.6
    workers of the image under a 3.7 client: same pins, same numbers); ToolError where a
    package the messages and tasks depend on differs."""
    found = collections.OrderedDict()
    for part in [info.get("client"), info.get("scheduler")] + list(
            (info.get("workers") or {}).values()):
        for package, version in sorted(((part or {}).get("packages") or {}).items()):
            found.setdefault(package, set()).add(str(version))
    differ = collections.OrderedDict((p, sorted(v)) for p, v in found.items() if len(v) > 1)
    wire = [p for p in differ if p in WIRE]
    if wire:
        raise ToolError("the cluster's processes run other versions of %s (%s): client, "
                        "scheduler and workers need the same pins (requirements.txt)" % (
                            ", ".join(wire), "; ".join("%s %s" % (p, " and ".join(differ[p]))
                                                       for p in wire)))
    if not differ:
        return None
    return ("the cluster's processes differ in %s only; %s match" % (
        "; ".join("%s %s" % (p, " and ".join(v)) for p, v in differ.items()), ", ".join(WIRE)))
