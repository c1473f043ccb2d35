"""A packet capture beside the proxy for the whole session: ground truth for researchers.

tcpdump records every packet on the gateway while the proxy runs; the proxy
logs the TLS secrets of the connections it opened; at the end both become one
pcapng (``evidence/pcapng.py``) that Wireshark opens decrypted where the proxy
decrypted. Like ``--keep-flows`` it holds personal data in the clear: a
private file (mode 0600) in SHEKARA_HOME/evidence, deleted by retention.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from shekara.evidence.pcapng import PcapError, pcap_to_pcapng

log = logging.getLogger(__name__)


class CaptureError(RuntimeError):
    """tcpdump is missing or could not start."""


class SessionCapture:
    def __init__(self, folder: Path, run_id: int, interface: str = "any") -> None:
        self.folder = folder
        self.interface = interface
        self.pcap = folder / f"run-{run_id}.pcap"
        self.keylog = folder / f"run-{run_id}.keys"
        self.out = folder / f"run-{run_id}.pcapng"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        tcpdump = shutil.which("tcpdump") or (
            "/usr/bin/tcpdump" if Path("/usr/bin/tcpdump").exists() else None
        )
        if tcpdump is None:
            raise CaptureError("--capture needs tcpdump (apt-get install tcpdump)")
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        for path in (self.pcap, self.keylog):
            path.touch(mode=0o600)
            path.chmod(0o600)
        from mitmproxy.net import tls

        # mitmproxy reads its key-log setting at import; the session's file is set here.
        tls.log_master_secret = tls.make_master_secret_logger(str(self.keylog))
        self._proc = subprocess.Popen(
            [tcpdump, "-i", self.interface, "-U", "-s", "0", "-Z", "root", "-w", str(self.pcap)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        # tcpdump says "listening on ..." once it captures; wait for it, bounded.
        assert self._proc.stderr is not None
        deadline = time.monotonic() + 10
        line = b""
        while time.monotonic() < deadline and self._proc.poll() is None:
            line = self._proc.stderr.readline()
            if b"listening on" in line:
                return
        raise CaptureError(f"tcpdump did not start: {line.decode(errors='replace').strip()}")

    def stop(self) -> Path | None:
        """Ends the capture and writes the pcapng; its path, or None if there is nothing."""
        if self._proc is None:
            return None
        self._proc.send_signal(signal.SIGTERM)
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        from mitmproxy.net import tls

        tls.log_master_secret = None
        keylog = self.keylog.read_bytes() if self.keylog.exists() else b""
        fd = os.open(self.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.close(fd)
        try:
            packets = pcap_to_pcapng(self.pcap, self.out, keylog or None)
        except (OSError, PcapError) as e:
            log.error("the session capture could not be written as pcapng: %s", e)
            return None
        finally:
            self.keylog.unlink(missing_ok=True)
        self.pcap.unlink(missing_ok=True)
        log.warning("session capture: %d packets in %s", packets, self.out)
        return self.out
