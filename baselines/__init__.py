"""Shipped baselines and the baseline JSON Schema (package data, found by path)."""

from pathlib import Path

DIR = Path(__file__).resolve().parent
SCHEMA = DIR / "schema.json"
RECOMMENDED = DIR / "recommended.json"
