"""Portrait -> prepared avatar: face finding, landmarks, preparation and the on-disk store."""
