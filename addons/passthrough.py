"""TLS the proxy cannot open is forwarded unopened, so the device keeps working.

A client that rejects the interception certificate (pinning) or a server that
demands a client certificate makes a failed handshake. The failure is
recorded as a note, and the host (SNI, else the server's IP) joins the
passthrough list: from the device's next attempt on, its connection goes
through as raw TCP. mitmproxy's ``ignore_hosts`` does the matching (SNI and
address); ``show_ignored_hosts`` makes the ignored connections TCP flows
instead of invisible tunnels, so that the traffic stage can count their bytes
and fingerprint their ClientHello.

Operators list hosts to always pass through (``shekara_passthrough``) and
hosts never switched to passthrough after a failure (``shekara_intercept``);
both are regular expressions matched against the host name or IP.

A replayed packet capture's TLS connections reach this stage as the same TCP
flows; there, what kept them closed is the missing keys (``unlisted``).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence

from mitmproxy import connection, ctx, tcp, tls
from mitmproxy.exceptions import OptionsError
from mitmproxy.net.tls import starts_like_tls_record

from shekara.addons import state
from shekara.audit.model import Destination, Note
from shekara.audit.tlshello import TlsHelloError, parse_client_hello
from shekara.evidence.writer import SpooledWriter, StoreWriter
from shekara.geo.locate import Locator

log = logging.getLogger(__name__)

#: flow.metadata key of a passed-through connection's ClientHello fingerprint.
HELLO_KEY = "shekara.tls_hello"
OPERATOR_LIST = "operator passthrough list"
#: A replayed packet capture's TLS: the capture holds no keys to open it.
ENCRYPTED_IN_CAPTURE = "encrypted in the capture, no TLS keys to open it"
CLIENT_REJECTED = "client rejected the interception certificate"
SERVER_REFUSED = "server refused the proxy's TLS (client certificate required?)"


def _compile(patterns: Sequence[str], option: str) -> list[re.Pattern[str]]:
    out = []
    for p in patterns:
        try:
            out.append(re.compile(p, re.IGNORECASE))
        except re.error as e:
            raise OptionsError(f"{option}: invalid pattern {p!r}: {e}") from e
    return out


class _AlertWatch(logging.Handler):
    """Sees the server's "certificate required" alert, which mitmproxy only logs.

    A TLS 1.3 server asks for the client certificate after its handshake, so
    the refusal reaches mitmproxy as a logged alert on an established
    connection; the record names the client, whose server we know.
    """

    def __init__(self, owner: Passthrough) -> None:
        super().__init__(logging.WARNING)
        self.owner = owner

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
            if "certificate required" in text:
                self.owner.server_alert(getattr(record, "client", None), text)
        except Exception:
            log.exception("could not act on a server's TLS alert")


def host_pattern(host: str) -> str:
    """An ``ignore_hosts`` entry for exactly this host (mitmproxy matches ``host:port``)."""
    return rf"^{re.escape(host)}:\d+$"


def operator_pattern(pattern: str) -> str:
    r"""An operator's pattern on a bare host name, as an ``ignore_hosts`` entry on ``host:port``.

    ``^api\.example\.cn$`` must still match ``api.example.cn:443``; an unanchored
    ``example\.cn`` keeps matching anywhere in the name, never in the port.
    """
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        return rf"(?:{pattern[:-1]}):\d+$"
    return rf"(?:{pattern})[^:]*:\d+$"


class Passthrough:
    def __init__(
        self,
        locator: Locator,
        writer: StoreWriter | SpooledWriter | None,
        run_id: int,
        unlisted: str = OPERATOR_LIST,
    ) -> None:
        self.locator = locator
        #: Why TLS of a host not switched to passthrough after a failure was not opened.
        self.unlisted = unlisted
        self.writer = writer
        self.run_id = run_id
        self.static: list[re.Pattern[str]] = []
        self.intercept: list[re.Pattern[str]] = []
        #: Hosts switched to passthrough after a TLS failure, with the reason.
        self.learned: dict[str, str] = {}
        self.failures = 0
        #: Client address → (SNI, host, IP, port) of its TLS server, while connected.
        self._servers: dict[object, tuple[str | None, str | None, str | None, int | None]] = {}
        self._watch = _AlertWatch(self)

    def load(self, loader) -> None:  # type: ignore[no-untyped-def]
        loader.add_option(
            "shekara_passthrough",
            Sequence[str],
            [],
            "Hosts (regular expressions on name or IP) whose TLS is never opened: "
            "forwarded as is and recorded as transfers of undetermined content.",
        )
        loader.add_option(
            "shekara_intercept",
            Sequence[str],
            [],
            "Hosts (regular expressions on name or IP) always intercepted, never "
            "switched to passthrough after a TLS failure.",
        )

    def configure(self, updated: set[str]) -> None:
        if "shekara_passthrough" in updated:
            self.static = _compile(ctx.options.shekara_passthrough, "shekara_passthrough")
            self._apply()
        if "shekara_intercept" in updated:
            self.intercept = _compile(ctx.options.shekara_intercept, "shekara_intercept")

    def running(self) -> None:
        logging.getLogger("mitmproxy.proxy.server").addHandler(self._watch)

    def done(self) -> None:
        logging.getLogger("mitmproxy.proxy.server").removeHandler(self._watch)

    def _apply(self) -> None:
        patterns = [operator_pattern(p.pattern) for p in self.static]
        patterns += [host_pattern(h) for h in self.learned]
        ctx.options.update(ignore_hosts=patterns, show_ignored_hosts=True)

    def reason_for(self, sni: str | None, ip: str | None) -> str:
        for key in (sni, ip):
            if key and key in self.learned:
                return self.learned[key]
        return self.unlisted

    def _learn(self, key: str | None, reason: str, detail: str, dest: Destination) -> None:
        self.failures += 1
        if not key:
            return
        if any(p.search(key) for p in self.intercept):
            log.warning("TLS to %s failed (%s); kept intercepted by the operator", key, detail)
            action = "kept intercepted (operator list)"
        elif key in self.learned:
            action = "already passed through"
        else:
            self.learned[key] = reason
            self._apply()
            log.warning("TLS to %s failed (%s): passed through from now on", key, detail)
            action = "passed through from now on"
        if self.writer is not None:
            note = Note(
                flow_id=f"tls:{key}:{self.failures}",
                source="tls",
                reason=f"{reason} for {key} ({detail}); {action}",
                destination=dest,
                observed_at=time.time(),
            )
            try:
                self.writer.submit(self.run_id, [], [note])
            except Exception:
                log.exception("the TLS failure note for %s was not recorded", key)

    def _failed(self, data: tls.TlsData, reason: str) -> None:
        server = data.context.server
        sni = data.context.client.sni
        ip = str(server.peername[0]) if server.peername else None
        host = str(server.address[0]) if server.address else None
        port = int(server.address[1]) if server.address else None
        try:
            dest = self.locator.locate(sni or host, ip or host, port, sni)
        except Exception:
            dest = Destination(host=sni or host, ip=ip, port=port, sni=sni)
        self._learn(sni or ip or host, reason, data.conn.error or "handshake failed", dest)

    def tls_failed_client(self, data: tls.TlsData) -> None:
        self._failed(data, CLIENT_REJECTED)

    def tls_failed_server(self, data: tls.TlsData) -> None:
        self._failed(data, SERVER_REFUSED)

    def tls_established_server(self, data: tls.TlsData) -> None:
        server = data.context.server
        self._servers[data.context.client.peername] = (
            server.sni,
            str(server.address[0]) if server.address else None,
            str(server.peername[0]) if server.peername else None,
            int(server.address[1]) if server.address else None,
        )

    def client_disconnected(self, client: connection.Client) -> None:
        self._servers.pop(client.peername, None)

    def server_alert(self, client: object, text: str) -> None:
        """A TLS 1.3 server refused the proxy after the handshake (no client certificate)."""
        server = self._servers.get(client)
        if server is None:
            return
        sni, host, ip, port = server
        try:
            dest = self.locator.locate(sni or host, ip or host, port, sni)
        except Exception:
            dest = Destination(host=sni or host, ip=ip, port=port, sni=sni)
        self._learn(sni or ip or host, SERVER_REFUSED, text, dest)

    def tcp_message(self, f: tcp.TCPFlow) -> None:
        """Marks a TCP flow that opens with a TLS record: a TLS connection passed through."""
        if len(f.messages) != 1 or state.passthrough(f) is not None:
            return
        first = f.messages[0]
        if not (first.from_client and starts_like_tls_record(first.content)):
            return
        ip = str(f.server_conn.peername[0]) if f.server_conn.peername else None
        if ip is None and f.server_conn.address:
            ip = str(f.server_conn.address[0])
        try:
            hello = parse_client_hello(first.content)
        except TlsHelloError as e:
            f.metadata[HELLO_KEY] = {"error": str(e)}
            state.set_passthrough(f, self.reason_for(None, ip))
            return
        f.metadata[HELLO_KEY] = {
            "sni": hello.sni,
            "alpn": list(hello.alpn),
            "ja3": hello.ja3,
            "ja3_md5": hello.ja3_md5,
            "ja4": hello.ja4,
        }
        if hello.sni:
            # Attribution names the destination after the SNI, as for opened TLS.
            f.server_conn.sni = hello.sni
        state.set_passthrough(f, self.reason_for(hello.sni, ip))
