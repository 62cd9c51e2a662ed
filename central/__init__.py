"""moodkiosk: central package."""
