"""What Gioconda states about what it makes: server identity, C2PA signing, consent audit."""
