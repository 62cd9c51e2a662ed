"""Running moodkiosk as system services: systemd notification and watchdog, unit files and their installer."""
