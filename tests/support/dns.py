"""A scripted resolver: DNS is the edge the tests cannot reach (and a rebinding answer cannot be ordered from a
real one), so `socket.getaddrinfo` answers one host name from a script while every other name resolves as
before. Calls chain: each scripts one more host on top of the ones before."""

from __future__ import annotations

import socket


def scripted_resolver(monkeypatch, host: str, answers: list[str | list[str] | None]) -> list[str]:
    """getaddrinfo answering `host` with the next scripted answer (one address, several, or None: no such name; the
    last answer repeats). Returns the list of lookups of `host`, which grows as they happen."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def getaddrinfo(name, port, *args, **kwargs):
        if name != host:
            return real(name, port, *args, **kwargs)
        asked.append(name)
        answer = answers[min(len(asked), len(answers)) - 1]
        if answer is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        addresses = [answer] if isinstance(answer, str) else answer
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (a, port))
            for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked
