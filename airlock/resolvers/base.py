"""What every resolver is: a function from one planned artifact to one lock entry."""

from __future__ import annotations

from typing import Protocol, TypeVar

Request = TypeVar("Request", contravariant=True)
Pin = TypeVar("Pin", covariant=True)


class Resolver(Protocol[Request, Pin]):
    kind: str

    def key(self, request: Request) -> str:
        """The identity used for --upgrade NAME and progress lines."""

    def resolve(self, request: Request) -> Pin:
        """Pin one artifact; raise an AirlockError naming it on failure."""
