"""HTTP and websocket routes: avatars, sessions, agent speech."""
