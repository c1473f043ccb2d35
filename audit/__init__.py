"""The pure core: bytes in, findings out. Nothing here imports mitmproxy."""
