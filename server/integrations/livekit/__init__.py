"""LiveKit Agents integration: the avatar as its own room participant (worker side) and the
agent-side `AvatarSession` that sends it the agent's speech."""
