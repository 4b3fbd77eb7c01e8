"""Seeding of a run: the run seed's streams are defined in :mod:`porcini.seeding`; these names are kept here."""

from __future__ import annotations

from porcini.seeding import eval_seed, seed_everything

__all__ = ["eval_seed", "seed_everything"]
