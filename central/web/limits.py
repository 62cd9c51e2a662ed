"""The dashboard's HTTP limits that the command line offers as defaults (light: no web framework imported)."""
from __future__ import annotations

REQUEST_DEADLINE_S = 10.0  # a browser sends headers and a login form in one round trip; 10 s is generous
