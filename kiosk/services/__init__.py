"""Services behind the kiosk screens: loyalty store, offers, cards, telemetry, peripheral link."""
