"""Random sentences from built-in word lists: varied phonetics, commas and full stops for pauses."""

from __future__ import annotations

import numpy as np

_EN_WORDS: dict[str, tuple[str, ...]] = {
    "name": (
        "Maria",
        "Peter",
        "the doctor",
        "my mother",
        "our teacher",
        "the pilot",
        "Bob",
        "Fiona",
        "the baby",
        "a farmer",
        "Walter",
        "the whole team",
        "Mia",
        "Oliver",
        "the robot",
    ),
    "noun": (
        "apple",
        "boat",
        "window",
        "garden",
        "mountain",
        "paper",
        "coffee",
        "music",
        "puppy",
        "bridge",
        "village",
        "moon",
        "bottle",
        "wheel",
        "voice",
        "mirror",
        "pumpkin",
        "engine",
        "river",
        "forest",
        "bubble",
        "orange",
        "umbrella",
        "shoe",
        "feather",
        "photo",
        "beach",
        "jacket",
        "yellow box",
        "thumb",
        "ocean",
        "fish",
        "machine",
        "zoo",
        "question",
        "answer",
    ),
    "verb": (
        "bought",
        "painted",
        "found",
        "opened",
        "moved",
        "pushed",
        "watched",
        "loved",
        "fixed",
        "threw",
        "called",
        "measured",
        "showed",
        "chose",
        "followed",
        "played with",
        "wanted",
        "borrowed",
        "washed",
        "forgot",
        "remembered",
        "carried",
        "visited",
        "photographed",
    ),
    "adj": (
        "big",
        "tiny",
        "beautiful",
        "old",
        "blue",
        "warm",
        "bright",
        "quiet",
        "famous",
        "wet",
        "smooth",
        "broken",
        "purple",
        "huge",
        "funny",
        "awful",
        "perfect",
        "cheap",
        "very large",
    ),
    "adv": (
        "yesterday",
        "quickly",
        "at noon",
        "every morning",
        "by mistake",
        "with a smile",
        "again",
        "in the evening",
        "very slowly",
        "before lunch",
        "on Monday",
        "without a word",
    ),
    "opener": (
        "Well",
        "Oh",
        "So",
        "Actually",
        "You know",
        "Honestly",
        "By the way",
        "Look",
        "Wow",
        "Of course",
        "Maybe",
        "Now",
        "Please",
        "Hmm",
    ),
}
_EN_TEMPLATES: tuple[str, ...] = (
    "{name} {verb} the {adj} {noun} {adv}.",
    "{opener}, {name} {verb} a {noun}.",
    "Why did {name} say the {noun} was {adj}?",
    "{opener}, I think the {noun} is {adj}, but the {noun} is {adj}.",
    "{name} {verb} my {noun}, and then {name} {verb} the {noun} {adv}.",
    "Is the {noun} really that {adj}?",
    "We {verb} a {adj} {noun}, {adv}.",
    "{opener}! That {noun} is so {adj}.",
    "There were {number} {adj} things in the {noun}.",
    "Put the {noun} by the {noun}, please.",
)
_NUMBERS = ("two", "three", "seven", "eleven", "forty", "ninety-nine", "a hundred", "five")

# Short sentences for the other voices: they add phonetic variety, not grammar.
_OTHER: dict[str, tuple[str, ...]] = {
    "de": (
        "Guten Morgen, wie geht es dir heute?",
        "Das Wetter ist schön, aber sehr kalt.",
        "Ich habe einen kleinen Hund und zwei Katzen.",
        "Wir fahren morgen mit dem Zug nach Berlin.",
        "Bitte mach das Fenster zu.",
        "Möchtest du noch etwas Kaffee?",
        "Über den Bergen scheint der Mond.",
        "Fünf Brüder spielen Fußball im Park.",
    ),
    "fr": (
        "Bonjour, comment allez-vous aujourd'hui?",
        "Le petit chat boit du lait.",
        "Nous partons en vacances au bord de la mer.",
        "Il pleut beaucoup depuis lundi.",
        "Pourquoi tu ne manges pas ta soupe?",
        "Un bon café, s'il vous plaît.",
        "Les enfants jouent dans le jardin.",
        "Je voudrais une pomme et deux oranges.",
    ),
    "es": (
        "Hola, ¿cómo estás hoy?",
        "Mi hermano trabaja en una oficina muy grande.",
        "Vamos a la playa el domingo.",
        "El perro come pan y bebe agua.",
        "¿Puedes abrir la puerta, por favor?",
        "Me gusta mucho la música popular.",
        "Ayer compramos pescado en el mercado.",
        "La luna brilla sobre el pueblo.",
    ),
    "it": (
        "Buongiorno, come stai oggi?",
        "Mia madre prepara la pasta ogni domenica.",
        "Il treno parte alle otto e mezza.",
        "Vorrei un bicchiere di acqua, per favore.",
        "Abbiamo visto un film molto bello.",
        "Perché non vieni con noi al mare?",
        "Le montagne sono bianche di neve.",
        "Quanto costa questo libro?",
    ),
}


def english_sentence(rng: np.random.Generator) -> str:
    template = str(rng.choice(_EN_TEMPLATES))
    while "{" in template:
        head, rest = template.split("{", 1)
        key, tail = rest.split("}", 1)
        pool = _NUMBERS if key == "number" else _EN_WORDS[key]
        template = head + str(rng.choice(pool)) + tail
    return template[0].upper() + template[1:]


def sentence(language: str, rng: np.random.Generator) -> str:
    """One random sentence in `language` ("en", "de", "fr", "es" or "it")."""
    if language == "en":
        return english_sentence(rng)
    return str(rng.choice(_OTHER[language]))
