"""Controllers: connect the screens' signals to the session and render the session's snapshots."""
