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


# --- many languages: pseudo-words in each language's own script -------------------------------
# espeak-ng reads them with that language's letter-to-sound rules and prosody, so the corpus hears
# its phonology (vowels, consonant clusters, tones, rhythm) without word lists for ~40 languages.
# fmt: off
_LATIN_ONSETS = ("b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t",
                 "v", "z", "br", "pl", "st", "tr", "kr", "sp", "gl", "ch", "sh", "w", "y", "")
# Mandarin as tone-numbered pinyin (this espeak-ng reads unknown Han characters as code points).
_PINYIN_INITIALS = ("b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h", "j", "q", "x", "zh",
                    "ch", "sh", "r", "z", "c", "s", "y", "w", "")
_PINYIN_FINALS = ("a", "o", "e", "i", "u", "ai", "ei", "ao", "ou", "an", "en", "ang", "eng",
                  "ong", "ia", "ie", "iao", "iu", "ian", "in", "iang", "ing", "uo", "ui", "uan")
_LATIN_VOWELS = ("a", "e", "i", "o", "u", "a", "e", "o", "ai", "ou", "ie", "y")
_LATIN_CODAS = ("", "", "", "n", "m", "s", "r", "l", "t", "k", "ng", "st")
_CYRILLIC_CONSONANTS = "бвгдзклмнпрстфхцчшщж"
_CYRILLIC_VOWELS = "аеиоуыяюэё"
_DEVANAGARI_CONSONANTS = "कखगघचछजझटठडढतथदधनपफबभमयरलवशसह"
_DEVANAGARI_MATRAS = ("", "ा", "ि", "ी", "ु", "ू", "े", "ै", "ो", "ौ", "ं")
_ARABIC_LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"
_GREEK_CONSONANTS = "βγδζθκλμνξπρστφχψ"
_GREEK_VOWELS = "αεηιουωάέίόύ"
_KANA = ("あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろ"
         "わんがぎぐげござじずぜぞだでどばびぶべぼぱぴぷぺぽ")
_HANZI = ("的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之"
          "过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如"
          "前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其"
          "种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政"
          "海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比")
# fmt: on
SCRIPTS: dict[str, str] = {
    **dict.fromkeys(
        (
            "pl",
            "cs",
            "sk",
            "nl",
            "pt",
            "pt-br",
            "sv",
            "nb",
            "da",
            "fi",
            "hu",
            "tr",
            "id",
            "ms",
            "sw",
            "ro",
            "hr",
            "sl",
            "et",
            "lv",
            "lt",
            "ca",
            "eu",
            "cy",
            "af",
            "sq",
            "vi",
            "ga",
            "is",
            "eo",
            "la",
            "es-419",
            "fr-be",
        ),
        "latin",
    ),
    **dict.fromkeys(("ru", "uk", "bg", "mk", "be"), "cyrillic"),
    **dict.fromkeys(("hi", "mr", "ne"), "devanagari"),
    **dict.fromkeys(("ar", "fa", "ur"), "arabic"),
    "el": "greek",
    "ja": "kana",
    "ko": "hangul",
    "yue": "han",
    "cmn-latn-pinyin": "pinyin",
}  # fmt: skip


def _pseudo_word(script: str, rng: np.random.Generator) -> str:
    syllables = int(rng.integers(1, 4))

    def pick(pool: str | tuple[str, ...]) -> str:
        return str(pool[int(rng.integers(len(pool)))])

    if script == "latin":
        return "".join(pick(_LATIN_ONSETS) + pick(_LATIN_VOWELS) + pick(_LATIN_CODAS)
                       for _ in range(syllables))  # fmt: skip
    if script == "cyrillic":
        return "".join(pick(_CYRILLIC_CONSONANTS) + pick(_CYRILLIC_VOWELS)
                       for _ in range(syllables + 1))  # fmt: skip
    if script == "devanagari":
        return "".join(pick(_DEVANAGARI_CONSONANTS) + pick(_DEVANAGARI_MATRAS)
                       for _ in range(syllables + 1))  # fmt: skip
    if script == "arabic":
        return "".join(pick(_ARABIC_LETTERS) for _ in range(syllables + 2))
    if script == "greek":
        return "".join(pick(_GREEK_CONSONANTS) + pick(_GREEK_VOWELS) for _ in range(syllables + 1))
    if script == "pinyin":
        return " ".join(pick(_PINYIN_INITIALS) + pick(_PINYIN_FINALS) + str(int(rng.integers(1, 5)))
                        for _ in range(syllables))  # fmt: skip
    if script == "kana":
        return "".join(pick(_KANA) for _ in range(syllables + 1))
    if script == "hangul":  # composed syllables: 0xAC00 + (initial * 21 + medial) * 28 + final
        return "".join(chr(0xAC00 + (int(rng.integers(19)) * 21 + int(rng.integers(21))) * 28
                           + int(rng.choice([0, 0, 4, 8, 16, 21])))
                       for _ in range(syllables + 1))  # fmt: skip
    return "".join(pick(_HANZI) for _ in range(syllables))  # han


def pseudo_sentence(language: str, rng: np.random.Generator) -> str:
    """4-12 pseudo-words in the script of `language` (one of SCRIPTS), with a comma or two."""
    script = SCRIPTS[language]
    words = [_pseudo_word(script, rng) for _ in range(int(rng.integers(4, 13)))]
    joiner = "" if script == "han" else " "
    out = ""
    for k, word in enumerate(words):
        out += word
        if k < len(words) - 1:
            comma = rng.random() < 0.12
            out += ("，" if script == "han" else ",") if comma else ""
            out += joiner
    return out + ("。" if script == "han" else ".")


def sentence(language: str, rng: np.random.Generator) -> str:
    """One random sentence in `language`: "en", "de", "fr", "es", "it" from word lists, any
    language of SCRIPTS as pseudo-words."""
    if language == "en":
        return english_sentence(rng)
    if language in _OTHER:
        return str(rng.choice(_OTHER[language]))
    return pseudo_sentence(language, rng)
