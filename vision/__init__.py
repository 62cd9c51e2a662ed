"""moodkiosk: vision package."""
