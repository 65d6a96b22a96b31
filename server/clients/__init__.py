"""Client tools: a WebRTC client, the speech pusher and the end-to-end benchmark."""
