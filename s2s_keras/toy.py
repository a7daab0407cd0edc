"""The built-in toy corpus: English → a Spanish-like language, from a synchronous grammar.

Introduced in notebook 00 (data and tokenization). It is the offline default of
`s2s-keras demo` and of every smoke test: it needs no network, loads without TensorFlow,
and an attention GRU reaches BLEU near 100 on its test split in about a minute of CPU.

Every rule writes the English and the Spanish side of a phrase together, so each English
sentence has exactly one translation (and each Spanish sentence exactly one English source,
so the reversed corpus is learnable too):

    sentence -> interjection | caption | clause "." | clause ("and" | ", but") clause "."
              | "Does" NP verb [NP] [PP] "?" | "Is" NP adjective "?" | "Where is" NP "?"
    clause   -> NP ["does not"] verb [NP] [PP] | NP "is" ["not"] (adjective | PP)
    NP       -> [article] [quality-adjective] [colour-adjective] noun [possessor]
                ["that" ["does not"] verb [NP]]
    PP       -> preposition NP

The Spanish side differs from English where a left-to-right model without attention
struggles: words must be reordered, or chosen from a source word several positions away.

- Adjectives follow the noun, two of them in mirror order: "the big red cat" →
  "el gato rojo grande".
- Agreement: articles and adjectives take the noun's gender and number ("the red houses"
  → "las casas rojas", also after "is": "The houses are red." → "Las casas son rojas."),
  verbs the subject's number ("the cats see" → "los gatos ven").
- Possessors follow the noun: "the girl's ball" → "la pelota de la chica".
- "does not see" → "no ve" (two words become one); questions invert: "Does the cat see
  the dog?" → "¿Ve el gato al perro?", "Is the house red?" → "¿Es roja la casa?".
- Animate objects take the personal "a" (except after "tener"); de + el → del and
  a + el → al.
- Inverted marks (¿ ¡) and accented words (pájaro, árbol, ratón, jardín, está, dónde)
  exercise Unicode tokenisation.

Captions (noun phrases such as "Red cats" → "Gatos rojos") carry no final punctuation, like
headings; with interjections ("Hello!" → "¡Hola!") they make the short end of the length
range. English sentences have 1 to `TOY_MAX_ENGLISH_TOKENS` tokens (words and punctuation
marks). Defaults: 12,000 distinct pairs, seed 0, split by the hash of the English side like
the real corpora (about 96 / 2 / 2 %). One `random.Random(seed)` drives everything, and
only `random()` and `choice()` are used, so a seed gives the same corpus on every machine
and Python version.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from s2s_keras import checks
from s2s_keras.types import Corpus, grouped_split

TOY_MAX_ENGLISH_TOKENS = 25
_TOKEN = re.compile(r"\w+|[^\w\s]")


@dataclass(frozen=True)
class Noun:
    """A noun of the lexicon: both languages, both numbers, Spanish gender."""

    en: str
    en_plural: str
    es: str
    es_plural: str
    gender: str  # "m" or "f": picks el/la and rojo/roja
    kind: str  # "person", "animal", "place" or "thing": what it can do and be


@dataclass(frozen=True)
class Adjective:
    """An adjective; Spanish inflects it for gender and number."""

    en: str
    es: str  # masculine singular; `_inflect` derives the other three forms
    kind: str  # "quality" precedes "colour" in English; Spanish mirrors the order


@dataclass(frozen=True)
class Verb:
    """A verb in the present tense, third person, singular and plural."""

    en: str  # third person singular
    en_base: str  # plural, and after "does"
    es: str
    es_plural: str
    objects: tuple[str, ...]  # noun kinds it takes as object; empty: intransitive
    personal_a: bool = True  # "ve al perro", but "tiene un perro"


@dataclass(frozen=True)
class Preposition:
    """A preposition and the kinds of noun it takes."""

    en: str
    es: str
    objects: tuple[str, ...]


ANIMATE = ("person", "animal")  # subjects of verbs; objects that take the personal "a"
INANIMATE = ("place", "thing")
ANY = ANIMATE + INANIMATE

NOUNS = (
    Noun("cat", "cats", "gato", "gatos", "m", "animal"),
    Noun("dog", "dogs", "perro", "perros", "m", "animal"),
    Noun("bird", "birds", "pájaro", "pájaros", "m", "animal"),
    Noun("mouse", "mice", "ratón", "ratones", "m", "animal"),
    Noun("horse", "horses", "caballo", "caballos", "m", "animal"),
    Noun("girl", "girls", "chica", "chicas", "f", "person"),
    Noun("boy", "boys", "chico", "chicos", "m", "person"),
    Noun("woman", "women", "mujer", "mujeres", "f", "person"),
    Noun("man", "men", "hombre", "hombres", "m", "person"),
    Noun("house", "houses", "casa", "casas", "f", "place"),
    Noun("garden", "gardens", "jardín", "jardines", "m", "place"),
    Noun("car", "cars", "coche", "coches", "m", "place"),
    Noun("tree", "trees", "árbol", "árboles", "m", "place"),
    Noun("table", "tables", "mesa", "mesas", "f", "thing"),
    Noun("book", "books", "libro", "libros", "m", "thing"),
    Noun("flower", "flowers", "flor", "flores", "f", "thing"),
    Noun("ball", "balls", "pelota", "pelotas", "f", "thing"),
)

ADJECTIVES = (
    Adjective("big", "grande", "quality"),
    Adjective("small", "pequeño", "quality"),
    Adjective("old", "viejo", "quality"),
    Adjective("pretty", "bonito", "quality"),
    Adjective("red", "rojo", "colour"),
    Adjective("black", "negro", "colour"),
    Adjective("white", "blanco", "colour"),
    Adjective("green", "verde", "colour"),
    Adjective("blue", "azul", "colour"),
)

VERBS = (
    Verb("sees", "see", "ve", "ven", ANY),
    Verb("finds", "find", "encuentra", "encuentran", ANY),
    Verb("looks at", "look at", "mira", "miran", ANY),
    Verb("has", "have", "tiene", "tienen", ("animal", "thing"), personal_a=False),
    Verb("hears", "hear", "oye", "oyen", ANIMATE),
    Verb("follows", "follow", "sigue", "siguen", ANIMATE),
    Verb("helps", "help", "ayuda", "ayudan", ANIMATE),
    Verb("sleeps", "sleep", "duerme", "duermen", ()),
    Verb("runs", "run", "corre", "corren", ()),
    Verb("sings", "sing", "canta", "cantan", ()),
)

PREPOSITIONS = (
    Preposition("in", "en", ("place",)),
    Preposition("on", "sobre", ("thing",)),
    Preposition("under", "debajo de", INANIMATE),
    Preposition("near", "cerca de", INANIMATE),
    Preposition("behind", "detrás de", INANIMATE),
    Preposition("with", "con", ANIMATE),
)

INTERJECTIONS = (
    ("Hello!", "¡Hola!"),
    ("Thanks.", "Gracias."),
    ("Goodbye.", "Adiós."),
    ("Yes.", "Sí."),
    ("No.", "No."),
    ("Sorry.", "Lo siento."),
    ("Please.", "Por favor."),
    ("Help!", "¡Ayuda!"),
    ("Good morning!", "¡Buenos días!"),
    ("Of course.", "Claro."),
)

# Who owns what: "the girl's dog", "the dog's ball", "the table of the house". People are
# never owned, and colours never describe them.
_OWNERS = {
    "animal": ("person",),
    "thing": ("person", "animal", "place"),
    "place": ("person", "place"),
}

# Spanish articles by (English article, gender) → (singular, plural).
_ARTICLES = {
    ("the", "m"): ("el", "los"),
    ("the", "f"): ("la", "las"),
    ("a", "m"): ("un", "unos"),
    ("a", "f"): ("una", "unas"),
}


@dataclass(frozen=True)
class _Phrase:
    en: list[str]
    es: list[str]
    plural: bool = False
    gender: str = "m"
    kind: str = ""


def _inflect(adjective: Adjective, gender: str, plural: bool) -> str:
    word = adjective.es
    if word.endswith("o"):
        word = word[:-1] + ("a" if gender == "f" else "o")
    if plural:
        word += "s" if word[-1] in "aeiou" else "es"
    return word


def _noun_phrase(noun, plural, article, adjectives, possessor=None, relative=None) -> _Phrase:
    """Both sides of `[article] adjectives noun [possessor] [relative]`.

    `article` is `"the"`, `"a"` (→ "some" in the plural) or `None`; `adjectives` in
    English order; `possessor` an `("'s" | "of", _Phrase)` pair; `relative` a `_Phrase`.
    """
    head_en = [a.en for a in adjectives] + [noun.en_plural if plural else noun.en]
    es = [noun.es_plural if plural else noun.es]
    es += [_inflect(a, noun.gender, plural) for a in reversed(adjectives)]
    if possessor and possessor[0] == "'s":  # "the girl's ball": the article is the girl's
        article = "the"
        en = possessor[1].en + ["'s"] + head_en
    elif article == "a":
        en = ["some" if plural else "an" if head_en[0][0] in "aeiou" else "a"] + head_en
    else:
        en = ([article] if article else []) + head_en
    if article:
        es = [_ARTICLES[article, noun.gender][plural]] + es
    if possessor:
        es += ["de"] + possessor[1].es
        if possessor[0] == "of":
            en += ["of"] + possessor[1].en
    if relative:
        en += relative.en
        es += relative.es
    return _Phrase(en, es, plural, noun.gender, noun.kind)


def _pick(rng: random.Random, options):
    """One value of weighted `(weight, value)` options, drawn with `rng.random()` only."""
    x = rng.random() * sum(w for w, _ in options)
    for w, value in options:
        x -= w
        if x < 0:
            return value
    return options[-1][1]


def _adjectives_for(kind: str) -> tuple[Adjective, ...]:
    return tuple(a for a in ADJECTIVES if kind != "person" or a.kind != "colour")


def _random_adjectives(rng: random.Random, kind: str) -> list[Adjective]:
    count = _pick(rng, [(0.5, 0), (0.35, 1), (0.15, 2)])
    if count == 2 and kind != "person":  # English "big red"; Spanish mirrors: "rojo grande"
        return [rng.choice(ADJECTIVES[:4]), rng.choice(ADJECTIVES[4:])]
    return [rng.choice(_adjectives_for(kind))] if count else []


def _random_np(rng: random.Random, kinds, nested: bool = False, article="random") -> _Phrase:
    """A noun phrase; `nested` ones (inside another) get no possessor or relative clause."""
    noun = rng.choice([n for n in NOUNS if n.kind in kinds])
    plural = rng.random() < 0.35
    if article == "random":
        article = "the" if rng.random() < 0.65 else "a"
    adjectives = _random_adjectives(rng, noun.kind)
    possessor = relative = None
    if not nested and noun.kind in _OWNERS and rng.random() < 0.15:
        owner = rng.choice([n for n in NOUNS if n.kind in _OWNERS[noun.kind] and n != noun])
        if owner.kind == "place":
            possessor = ("of", _noun_phrase(owner, rng.random() < 0.3, "the", []))
        else:  # only singular owners: "the girls' ball" would need another apostrophe rule
            possessor = ("'s", _noun_phrase(owner, False, "the", []))
    if not nested and noun.kind in ANIMATE and rng.random() < 0.12:
        relative = _verb_clause(rng, _Phrase(["that"], ["que"], plural), nested=True)
    return _noun_phrase(noun, plural, article, adjectives, possessor, relative)


def _predicate(rng: random.Random, plural: bool, base: bool, nested: bool):
    """A verb and its complements: `(en verb, es verb, en rest, es rest)`."""
    verb = rng.choice(VERBS)
    en_verb = (verb.en_base if plural or base else verb.en).split()
    es_verb = [verb.es_plural if plural else verb.es]
    en_rest, es_rest = [], []
    if verb.objects:
        obj = _random_np(rng, verb.objects, nested=nested)
        en_rest += obj.en
        es_rest += (["a"] if verb.personal_a and obj.kind in ANIMATE else []) + obj.es
    if not nested and rng.random() < 0.25:
        pp = _prepositional_phrase(rng)
        en_rest += pp.en
        es_rest += pp.es
    return en_verb, es_verb, en_rest, es_rest


def _prepositional_phrase(rng: random.Random) -> _Phrase:
    prep = rng.choice(PREPOSITIONS)
    obj = _random_np(rng, prep.objects, nested=True)
    return _Phrase([prep.en] + obj.en, prep.es.split() + obj.es)


def _verb_clause(rng: random.Random, subject: _Phrase, nested: bool = False) -> _Phrase:
    """`subject [does not] verb [object] [PP]`, e.g. "the cats do not see the dog"."""
    negated = rng.random() < 0.2
    en_verb, es_verb, en_rest, es_rest = _predicate(rng, subject.plural, negated, nested)
    en_neg = ["do" if subject.plural else "does", "not"] if negated else []
    es_neg = ["no"] if negated else []
    return _Phrase(subject.en + en_neg + en_verb + en_rest, subject.es + es_neg + es_verb + es_rest)


def _be_clause(rng: random.Random) -> _Phrase:
    """`subject is [not] (adjective | PP)`: "es roja" agrees; location takes "está"."""
    subject = _random_np(rng, ANY)
    negated = rng.random() < 0.2
    en = subject.en + ["are" if subject.plural else "is"] + (["not"] if negated else [])
    es = subject.es + (["no"] if negated else [])
    if rng.random() < 0.5:
        adjective = rng.choice(_adjectives_for(subject.kind))
        en += [adjective.en]
        es += [
            "son" if subject.plural else "es",
            _inflect(adjective, subject.gender, subject.plural),
        ]
    else:
        pp = _prepositional_phrase(rng)
        en += pp.en
        es += ["están" if subject.plural else "está"] + pp.es
    return _Phrase(en, es)


def _clause(rng: random.Random) -> _Phrase:
    if rng.random() < 0.7:
        return _verb_clause(rng, _random_np(rng, ANIMATE))
    return _be_clause(rng)


def _question(rng: random.Random) -> _Phrase:
    kind = _pick(rng, [(0.6, "do"), (0.2, "be"), (0.2, "where")])
    if kind == "do":  # "Does the cat see the dog?" → "¿Ve el gato al perro?"
        subject = _random_np(rng, ANIMATE)
        en_verb, es_verb, en_rest, es_rest = _predicate(rng, subject.plural, True, False)
        en = ["do" if subject.plural else "does"] + subject.en + en_verb + en_rest
        return _Phrase(en + ["?"], ["¿"] + es_verb + subject.es + es_rest + ["?"])
    subject = _random_np(rng, ANY, article="the" if kind == "where" else "random")
    if kind == "be":  # "Is the house red?" → "¿Es roja la casa?"
        adjective = rng.choice(_adjectives_for(subject.kind))
        en = ["are" if subject.plural else "is"] + subject.en + [adjective.en, "?"]
        es_adjective = _inflect(adjective, subject.gender, subject.plural)
        es = ["¿", "son" if subject.plural else "es", es_adjective] + subject.es + ["?"]
        return _Phrase(en, es)
    where = ["where", "are" if subject.plural else "is"] + subject.en + ["?"]
    return _Phrase(
        where, ["¿", "dónde", "están" if subject.plural else "está"] + subject.es + ["?"]
    )


def _random_sentence(rng: random.Random) -> _Phrase:
    kind = _pick(rng, [(0.02, "hi"), (0.1, "caption"), (0.48, "one"), (0.25, "two"), (0.15, "?")])
    if kind == "hi":
        en, es = rng.choice(INTERJECTIONS)
        return _Phrase([en], [es])
    if kind == "caption":
        article = _pick(rng, [(0.4, None), (0.4, "the"), (0.2, "a")])
        return _random_np(rng, ANY, article=article)
    if kind == "?":
        return _question(rng)
    first = _clause(rng)
    if kind == "one":
        return _Phrase(first.en + ["."], first.es + ["."])
    en_join, es_join = rng.choice([(["and"], ["y"]), ([",", "but"], [",", "pero"])])
    second = _clause(rng)
    return _Phrase(first.en + en_join + second.en + ["."], first.es + es_join + second.es + ["."])


def _surface(tokens: list[str]) -> str:
    """Corpus-style text: contractions, punctuation attached, first letter capitalised."""
    words: list[str] = []
    for token in tokens:
        if token == "el" and words and words[-1] in ("a", "de"):  # a + el → al, de + el → del
            words[-1] += "l"
        elif words and (token in (",", ".", "?", "'s") or words[-1] == "¿"):
            words[-1] += token
        else:
            words.append(token)
    text = " ".join(words)
    first = next(i for i, c in enumerate(text) if c.isalpha())
    return text[:first] + text[first].upper() + text[first + 1 :]


def translate_noun_phrase(english: str) -> str:
    """The grammar's Spanish for a simple English noun phrase.

    Args:
        english: `[the | a | an | some] [quality adjective] [colour adjective] noun`, in
            lower case, e.g. `"the big red cats"`.

    Returns:
        The Spanish noun phrase, e.g. `"los gatos rojos grandes"`.

    Example:

    >>> translate_noun_phrase("a small white house")
    'una casa blanca pequeña'
    """
    articles = {"the": "the", "a": "a", "an": "a", "some": "a"}
    nouns = {n.en: (n, False) for n in NOUNS} | {n.en_plural: (n, True) for n in NOUNS}
    adjectives = {a.en: a for a in ADJECTIVES}
    words = english.split() or [""]
    article = articles.get(words[0])
    *modifiers, head = (words[1:] if article else words) or [""]
    kinds = [adjectives[w].kind if w in adjectives else "?" for w in modifiers]
    plural = nouns[head][1] if head in nouns else False
    number_clash = {"a": False, "an": False, "some": True}.get(words[0], plural) != plural
    if (
        head not in nouns
        or number_clash
        or kinds not in ([], ["quality"], ["colour"], ["quality", "colour"])
    ):
        raise ValueError(
            f"not a noun phrase of the toy grammar: {english!r}; expected e.g. 'the big red cat' "
            f"(nouns: {', '.join(n.en for n in NOUNS)}; adjectives: {', '.join(adjectives)})"
        )
    noun = nouns[head][0]
    return " ".join(_noun_phrase(noun, plural, article, [adjectives[w] for w in modifiers]).es)


def generate_pairs(num_pairs: int, seed: int = 0) -> list[tuple[str, str]]:
    """Draw `num_pairs` (English, Spanish) pairs with distinct English sentences.

    Args:
        num_pairs: how many pairs, at least 1.
        seed: seed of the `random.Random` that draws them. Defaults to `0`.

    Returns:
        The pairs in the order they were first drawn (the same for the same seed).
    """
    checks.positive_int("num_pairs", num_pairs)
    checks.non_negative_int("seed", seed)
    rng = random.Random(seed)
    pairs: dict[str, str] = {}
    # The grammar has millions of sentences; the cap turns an impossible request into an
    # error instead of an endless loop.
    for _ in range(20 * num_pairs + 1000):
        phrase = _random_sentence(rng)
        english = _surface(phrase.en)
        if english not in pairs and len(_TOKEN.findall(english)) <= TOY_MAX_ENGLISH_TOKENS:
            pairs[english] = _surface(phrase.es)
            if len(pairs) == num_pairs:
                return list(pairs.items())
    raise ValueError(
        f"the toy grammar gave only {len(pairs)} distinct sentences, but num_pairs={num_pairs!r} "
        f"were requested; ask for fewer pairs"
    )


def make_toy_corpus(num_pairs: int = 12000, seed: int = 0, reverse: bool = False) -> Corpus:
    """The toy corpus, split by the hash of the English side (no sentence crosses splits).

    Args:
        num_pairs: distinct pairs in all three splits together. Defaults to `12000`.
        seed: generation seed. Defaults to `0`.
        reverse: if `True`, translate Spanish → English (corpus name `"toy-reverse"`).
            Defaults to `False` (English → Spanish, corpus name `"toy"`).

    Returns:
        A `Corpus`.
    """
    checks.boolean("reverse", reverse)
    pairs = generate_pairs(num_pairs, seed)
    if reverse:
        return grouped_split(
            [(es, en) for en, es in pairs],
            english_side=1,
            name="toy-reverse",
            source_lang="es",
            target_lang="en",
        )
    return grouped_split(pairs, english_side=0, name="toy", source_lang="en", target_lang="es")
