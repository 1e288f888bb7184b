"""Checks that generated text (theme summaries, product copy) keeps to the feedback it was
written from."""

import re

from insights.wording import words_of

NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# Characters after which a capital starts a sentence (or a quote, a list item), not a name.
SENTENCE_OPENERS = '.!?:"“(*-'


def unsupported_details(text: str, known: str) -> list[str]:
    """Return the numbers, and the capitalised words inside a sentence (names), of text
    that known lacks, each once, in the order they appear."""
    known_numbers = set(NUMBER.findall(known))
    known_words = set(words_of(known))
    missing = [number for number in NUMBER.findall(text) if number not in known_numbers]
    for match in re.finditer(r"\b[A-Z][\w']*", text):
        before = text[: match.start()].rstrip()
        starts_sentence = not before or before[-1] in SENTENCE_OPENERS
        if not starts_sentence and match.group(0).lower() not in known_words:
            missing.append(match.group(0))
    return list(dict.fromkeys(missing))
