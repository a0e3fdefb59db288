"""Evangelist pages: applying to adopt a village, invitations, the village dashboard."""

from __future__ import annotations

from farmstore.evangelists import bp

__all__ = ["bp"]
