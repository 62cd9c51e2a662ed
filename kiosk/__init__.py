"""moodkiosk: kiosk package."""
