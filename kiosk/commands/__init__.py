"""Sub-commands of `moodkiosk` that belong to the kiosk."""
