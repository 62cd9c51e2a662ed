"""moodkiosk: models package."""
