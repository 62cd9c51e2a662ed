"""Offline evaluation of the offer engine on real loyalty data (not used by the kiosk at runtime)."""
