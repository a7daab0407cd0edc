"""Standardisation and tokenizers: exact tokens, exact ids, lossless round trips."""

import json
import re

import pytest
import tensorflow as tf

from s2s_keras.errors import S2SError
from s2s_keras.text import (
    END_ID,
    PAD_ID,
    RESERVED_TOKENS,
    START_ID,
    UNK_ID,
    CharacterTokenizer,
    WordPieceTokenizer,
    WordTokenizer,
    learn_tokenizer,
    load_tokenizer,
    standardization_for,
    standardize,
    token_lengths,
    unknown_rate,
)
from s2s_keras.toy import make_toy_corpus

# "the" ×3, "sat" and "cat" ×2 (seen in that order: the tie is broken alphabetically),
# "dog" and "ran" ×1.
CORPUS = ["the sat cat", "the dog sat", "the cat ran"]
CORPUS_VOCAB = ("", "[UNK]", "[START]", "[END]", "the", "cat", "sat", "dog", "ran")


def standardized(text: str) -> str:
    return standardize([text]).numpy()[0].decode("utf-8")


def texts(tensor: tf.Tensor) -> list[str]:
    return [s.decode("utf-8") for s in tensor.numpy()]


@pytest.fixture(scope="module")
def word_tokenizer():
    return WordTokenizer.from_texts(CORPUS)


@pytest.fixture(scope="module")
def spanish():
    """150 toy Spanish sentences: accents, ¿…?, agreement; learned in well under a second."""
    return list(make_toy_corpus(300, seed=0).train.target[:150])


@pytest.fixture(scope="module")
def wordpiece_tokenizer(spanish):
    return WordPieceTokenizer.from_texts(spanish, vocab_size=100)


# --- standardize ------------------------------------------------------------------------


def test_nfc_and_nfd_accents_standardize_identically():
    nfc, nfd = standardize(["\u00e9", "e\u0301"]).numpy()
    assert nfc == nfd == "e\u0301".encode()


def test_upper_case_letters_are_lowered_including_non_ascii():
    assert standardized("ÉL") == "e\u0301l"


def test_punctuation_marks_become_tokens_of_their_own():
    assert standardized("¿Qué tal?").split(" ") == ["¿", "que\u0301", "tal", "?"]


def test_no_break_spaces_become_plain_spaces():
    assert standardized("a\u00a0b\u202fc") == "a b c"


def test_format_characters_vanish():
    # U+200F right-to-left mark, U+200D zero-width joiner
    assert standardized("a\u200fb\u200dc") == "abc"


def test_control_characters_become_spaces():
    # NUL once truncated the whole string ("a") inside tf.strings.lower.
    assert standardized("a\x00b\tc") == "a b c"


def test_emoji_is_a_token_of_its_own():
    assert standardized("I😀you") == "i 😀 you"


def test_an_emoji_keeps_its_variation_selector():
    assert standardized("I\u2764\ufe0fyou") == "i \u2764\ufe0f you"


@pytest.mark.parametrize("text", ["", " ", " \t\n ", "\u00a0\u202f", "\u200f"])
def test_empty_and_whitespace_only_text_standardize_to_empty(text):
    assert standardized(text) == ""


def test_invalid_utf8_becomes_a_replacement_character_token():
    out = standardize(tf.constant(b"bad\xffutf")).numpy().decode("utf-8")
    assert out.split(" ") == ["bad", "\ufffd", "utf"]


def test_standardize_keeps_the_shape_of_its_input():
    out = standardize(tf.constant([["A.", "B"], ["C", "D"]]))
    assert out.numpy().tolist() == [[b"a .", b"b"], [b"c", b"d"]]


# --- WordTokenizer ----------------------------------------------------------------------


def test_reserved_tokens_have_ids_0_to_3():
    assert RESERVED_TOKENS == ("", "[UNK]", "[START]", "[END]")
    assert (PAD_ID, UNK_ID, START_ID, END_ID) == (0, 1, 2, 3)


def test_vocabulary_is_ordered_by_frequency_then_alphabetically(word_tokenizer):
    assert word_tokenizer.vocab == CORPUS_VOCAB
    assert word_tokenizer.vocab_size == 9


def test_max_size_counts_the_reserved_tokens():
    assert WordTokenizer.from_texts(CORPUS, max_size=6).vocab == CORPUS_VOCAB[:6]


def test_words_seen_fewer_than_min_count_times_are_dropped():
    assert WordTokenizer.from_texts(CORPUS, min_count=2).vocab == CORPUS_VOCAB[:7]


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"max_size": 4}, "got 4"), ({"min_count": 0}, "got 0")]
)
def test_from_texts_rejects_bad_sizes(kwargs, message):
    with pytest.raises(ValueError, match=message):
        WordTokenizer.from_texts(CORPUS, **kwargs)


def test_tokenize_wraps_sentences_in_start_and_end(word_tokenizer):
    ids = word_tokenizer.tokenize(["The cat sat", ""])
    assert ids.dtype == tf.int64
    assert ids.to_list() == [[2, 4, 5, 6, 3], [2, 3]]


def test_tokenize_without_markers(word_tokenizer):
    assert word_tokenizer.tokenize(["the cat", ""], add_markers=False).to_list() == [[4, 5], []]


def test_unknown_words_get_the_unk_id(word_tokenizer):
    assert word_tokenizer.tokenize(["the cow"], add_markers=False).to_list() == [[4, 1]]


# --- round trips ------------------------------------------------------------------------

# (raw text, what detokenize(tokenize(raw text)) gives): NFC, sentence case.
ROUND_TRIPS = [
    ("Qu\u00e9 caf\u00e9.", "Qu\u00e9 caf\u00e9."),  # NFC input
    ("Que\u0301 cafe\u0301.", "Qu\u00e9 caf\u00e9."),  # NFD input, same output
    ("¿Qué tal?", "¿Qu\u00e9 tal?"),
    ("¿qué tal?", "¿Qu\u00e9 tal?"),
    ("¡Hola!", "¡Hola!"),
    ("I 😀 you.", "I 😀 you."),
    ("I \u2764\ufe0f you.", "I \u2764\ufe0f you."),
    ("I'm here, you're there.", "I'm here, you're there."),
    ("", ""),
    (" \t\u00a0 ", ""),
    ("日本語のテキストです。", "日本語のテキストです。"),
    ("42 gatos.", "42 gatos."),
]


@pytest.fixture(scope="module")
def round_trip_tokenizer():
    return WordTokenizer.from_texts(raw for raw, _ in ROUND_TRIPS)


@pytest.mark.parametrize(("raw", "expected"), ROUND_TRIPS)
def test_detokenize_inverts_tokenize(round_trip_tokenizer, raw, expected):
    ids = round_trip_tokenizer.tokenize([raw])
    assert texts(round_trip_tokenizer.detokenize(ids)) == [expected]


def test_detokenize_stops_at_the_first_end_and_drops_start_and_padding(word_tokenizer):
    ids = tf.constant(
        [
            [2, 4, 5, 3, 0, 0],  # padding after [END]
            [2, 7, 3, 4, 5, 3],  # garbage after [END]
            [4, 0, 6, 0, 0, 0],  # no markers, padding inside
        ]
    )
    assert texts(word_tokenizer.detokenize(ids)) == ["The cat", "Dog", "The sat"]


def test_detokenize_accepts_ragged_ids(word_tokenizer):
    ids = tf.ragged.constant([[2, 4, 5, 3], [2]], dtype=tf.int64)
    assert texts(word_tokenizer.detokenize(ids)) == ["The cat", ""]


def test_ids_beyond_the_vocabulary_read_as_unk(word_tokenizer):
    ids = tf.constant([[2, 4, 9, 1000, 3]])
    assert texts(word_tokenizer.detokenize(ids)) == ["The [UNK] [UNK]"]


# --- WordPieceTokenizer -----------------------------------------------------------------


def test_wordpiece_vocabulary_starts_with_the_reserved_tokens(wordpiece_tokenizer):
    assert wordpiece_tokenizer.vocab[:4] == RESERVED_TOKENS
    assert 50 <= wordpiece_tokenizer.vocab_size <= 150


def test_wordpiece_round_trips_its_training_sentences(wordpiece_tokenizer, spanish):
    out = texts(wordpiece_tokenizer.detokenize(wordpiece_tokenizer.tokenize(spanish)))
    assert out == spanish


def test_wordpiece_splits_an_unseen_word_into_pieces(wordpiece_tokenizer, spanish):
    assert not any("zorros" in s.lower() for s in spanish)
    ids = wordpiece_tokenizer.tokenize(["zorros"], add_markers=False)
    [pieces] = wordpiece_tokenizer.lookup(ids.to_list())
    assert UNK_ID not in ids.flat_values.numpy()
    assert len(pieces) > 1 and all(p.startswith("##") for p in pieces[1:])
    assert "".join(p.removeprefix("##") for p in pieces) == "zorros"
    assert texts(wordpiece_tokenizer.detokenize(ids)) == ["Zorros"]


def test_wordpiece_rejects_a_tiny_vocab_size():
    with pytest.raises(ValueError, match="got 4"):
        WordPieceTokenizer.from_texts(CORPUS, vocab_size=4)


# --- save / load ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["word", "wordpiece"])
def test_save_then_load_gives_the_same_tokenizer(kind, request, tmp_path, spanish):
    tokenizer = request.getfixturevalue(f"{kind}_tokenizer")
    loaded = load_tokenizer(tokenizer.save(tmp_path / "tokenizer"))
    assert type(loaded) is type(tokenizer)
    assert loaded.vocab == tokenizer.vocab
    sentences = spanish[:3] + CORPUS
    assert loaded.tokenize(sentences).to_list() == tokenizer.tokenize(sentences).to_list()


def _remove_vocab(directory):
    (directory / "vocab.txt").unlink()


def _remove_meta(directory):
    (directory / "tokenizer.json").unlink()


def _garble_meta(directory):
    (directory / "tokenizer.json").write_text("{not json", encoding="utf-8")


def _unknown_kind(directory):
    (directory / "tokenizer.json").write_text(json.dumps({"kind": "bpe", "vocab_size": 9}))


def _truncate_vocab(directory):
    (directory / "vocab.txt").write_text("\n[UNK]\n[START]\n[END]\nthe\n", encoding="utf-8")


def _reserved_tokens_missing(directory):
    (directory / "vocab.txt").write_text("a\nb\nc\nd\ne\nf\ng\nh\ni\n", encoding="utf-8")


@pytest.mark.parametrize(
    "damage",
    [
        _remove_vocab,
        _remove_meta,
        _garble_meta,
        _unknown_kind,
        _truncate_vocab,
        _reserved_tokens_missing,
    ],
)
def test_loading_a_damaged_directory_raises_s2s_error_naming_it(damage, word_tokenizer, tmp_path):
    directory = word_tokenizer.save(tmp_path / "tokenizer")
    damage(directory)
    with pytest.raises(S2SError, match=re.escape(str(directory))):
        load_tokenizer(directory)


def test_loading_a_missing_directory_raises_s2s_error_naming_it(tmp_path):
    with pytest.raises(S2SError, match=re.escape(str(tmp_path / "nowhere"))):
        load_tokenizer(tmp_path / "nowhere")


# --- graph mode -------------------------------------------------------------------------


def test_tokenizer_runs_inside_a_tf_data_map(word_tokenizer):
    dataset = (
        tf.data.Dataset.from_tensor_slices(["The cat", "the dog sat", "ran"])
        .batch(2)
        .map(lambda text: word_tokenizer.tokenize(text).to_tensor())
    )
    assert [batch.numpy().tolist() for batch in dataset] == [
        [[2, 4, 5, 3, 0], [2, 4, 7, 6, 3]],
        [[2, 8, 3]],
    ]


@pytest.mark.parametrize("kind", ["word", "wordpiece"])
def test_tokenizer_runs_inside_a_tf_function(kind, request):
    tokenizer = request.getfixturevalue(f"{kind}_tokenizer")

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def round_trip(text):
        return tokenizer.detokenize(tokenizer.tokenize(text))

    assert texts(round_trip(tf.constant(["the CAT ran", "dog"]))) == ["The cat ran", "Dog"]


# --- constructor ------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [WordTokenizer, WordPieceTokenizer])
def test_vocabulary_must_start_with_the_reserved_tokens(cls):
    with pytest.raises(ValueError, match=re.escape("got ['the', '[UNK]', '[START]', '[END]']")):
        cls(["the", "[UNK]", "[START]", "[END]", ""])


@pytest.mark.parametrize("cls", [WordTokenizer, WordPieceTokenizer])
def test_vocabulary_must_not_repeat_a_token(cls):
    with pytest.raises(ValueError, match=re.escape("duplicate tokens, e.g. ['cat']")):
        cls([*RESERVED_TOKENS, "cat", "dog", "cat"])


def test_unknown_rate_counts_unknown_tokens_among_real_tokens():
    tok = WordTokenizer.from_texts(["a b c"])
    assert unknown_rate(tok, ["a x", "y b c"]) == 2 / 5
    assert unknown_rate(tok, ["", " "]) == 0.0


def test_token_lengths_count_tokens_per_sentence_without_markers_unknown_ones_included():
    tok = WordTokenizer.from_texts(["a b c"])
    lengths = token_lengths(tok, ["a x", "y b c.", ""])
    assert lengths.tolist() == [2, 4, 0] and lengths.dtype.kind == "i"  # "." is a token
    assert token_lengths(tok, []).tolist() == []


# --- Chinese ----------------------------------------------------------------------------


def zh_standardized(text: str) -> str:
    return standardize([text], "zh").numpy()[0].decode("utf-8")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Tom游泳。", "Tom 游泳 。"),  # a run of Han characters is a word; case is kept
        ("你好，世界？", "你好 , 世界 ?"),  # full-width ，？ fold to ASCII (NFKC) ...
        ("你好,世界?", "你好 , 世界 ?"),  # ... so both spellings give the same tokens
        ("他是一个 DJ 。", "他是一个 DJ 。"),
        ("我有２０１４个ＡＢＣ！", "我有 2014 个 ABC !"),  # full-width digits and letters
        ("我😀你", "我 😀 你"),
        ("我\u2764\ufe0f你", "我 \u2764\ufe0f 你"),
        ("說話", "說話"),  # traditional characters stay as they are
        ("\uf900", "\u8c48"),  # a CJK compatibility ideograph becomes the unified one
        ("\u3000我\u200b们 ", "我们"),  # ideographic space, zero-width space
    ],
)
def test_chinese_standardization(raw, expected):
    assert zh_standardized(raw) == expected


def test_both_unicode_compatibility_forms_fold_full_width_punctuation_but_keep_the_period():
    # Why Chinese detokenization must write full-width marks itself.
    assert standardized("好，吗？不！") == "好 , 吗 ? 不 !"
    assert zh_standardized("好，吗？不！") == "好 , 吗 ? 不 !"
    assert zh_standardized("好。") == "好 。"


def test_the_default_standardization_is_unchanged_by_the_chinese_one():
    assert standardize(["Tom游泳。"]).numpy().tolist() == [
        b"tom\xe6\xb8\xb8\xe6\xb3\xb3 \xe3\x80\x82"
    ]
    assert standardize(["¿Qué?"], "default").numpy() == standardize(["¿Qué?"]).numpy()


def test_an_unknown_standardization_is_refused():
    with pytest.raises(
        ValueError, match="unknown standardization 'ja'; expected one of: default, zh"
    ):
        standardize(["a"], "ja")
    with pytest.raises(ValueError, match="unknown standardization 'ja'"):
        WordTokenizer(RESERVED_TOKENS, standardization="ja")


def test_standardization_for_a_language():
    assert [standardization_for(lang) for lang in ("zh", "en", "es", None)] == [
        "zh",
        "default",
        "default",
        "default",
    ]


ZH = ["我们走吧。", "Tom游泳。", "你好,世界?", "他们来了吗？"]


@pytest.fixture(scope="module")
def characters():
    return CharacterTokenizer.from_texts(ZH, standardization="zh")


def test_character_vocabulary_counts_han_characters_and_other_words(characters):
    # "?" (ASCII and full-width), "。" and "们" twice; then the others once, in code-point order.
    assert characters.vocab == (
        *RESERVED_TOKENS,
        *("?", "。", "们"),
        *(",", "Tom", "世", "了", "他", "你", "吗", "吧", "好", "我", "来", "泳", "游", "界", "走"),
    )
    assert characters.lookup(characters.tokenize(["Tom游泳吗？"]).to_list()) == [
        ["[START]", "Tom", "游", "泳", "吗", "?", "[END]"]
    ]


# (raw, what detokenize(tokenize(raw)) gives with the "zh" standardization)
ZH_ROUND_TRIPS = [
    ("Tom游泳。", "Tom游泳。"),  # spaces only inside runs of other scripts
    ("我爱New York。", "我爱New York。"),
    ("他是一个 DJ 。", "他是一个DJ。"),
    ("你好,世界?", "你好，世界？"),  # the full-width marks the references mostly use
    ("你好，世界！", "你好，世界！"),
    ("注意：（笑）；", "注意：（笑）；"),
    ("“看啊！”她说道。", "“看啊！”她说道。"),
    ("3:30见，1,000,000元、1,2,3", "3:30见，1,000,000元、1,2,3"),  # numbers keep ASCII
    ("我有２０１４个ＡＢＣ！", "我有2014个ABC！"),
    ("我😀你", "我😀你"),
    ("我\u2764\ufe0f你", "我\u2764\ufe0f你"),
    ("說話", "說話"),
    ("", ""),
]


@pytest.fixture(scope="module")
def zh_round_trip_tokenizer():
    return CharacterTokenizer.from_texts((raw for raw, _ in ZH_ROUND_TRIPS), standardization="zh")


@pytest.mark.parametrize(("raw", "expected"), ZH_ROUND_TRIPS)
def test_chinese_detokenize_inverts_tokenize(zh_round_trip_tokenizer, raw, expected):
    ids = zh_round_trip_tokenizer.tokenize([raw])
    assert texts(zh_round_trip_tokenizer.detokenize(ids)) == [expected]


def test_an_unknown_character_is_one_unk_token(characters):
    ids = characters.tokenize(["說你好"], add_markers=False)
    assert ids.to_list() == [[UNK_ID, characters.vocab.index("你"), characters.vocab.index("好")]]


# "谢谢" is the longest match of its 3 lone occurrences and of "谢谢你": the learner keeps it.
THANKS = ["谢谢。", "谢谢。", "谢谢。", "谢谢你。", "不谢。"]


@pytest.fixture(scope="module")
def zh_wordpiece():
    return WordPieceTokenizer.from_texts(THANKS, vocab_size=30, standardization="zh")


def test_chinese_wordpiece_learns_pieces_of_several_characters(zh_wordpiece):
    assert zh_wordpiece.vocab == (
        *RESERVED_TOKENS,
        "。",
        "不",
        "你",
        "谢",
        "##谢",
        "谢谢",
        "##。",
        "##不",
        "##你",
    )
    ids = zh_wordpiece.tokenize(["谢谢你。", "不谢谢"], add_markers=False)
    assert zh_wordpiece.lookup(ids.to_list()) == [["谢谢", "##你", "。"], ["不", "##谢", "##谢"]]
    assert texts(zh_wordpiece.detokenize(ids)) == ["谢谢你。", "不谢谢"]


def test_a_continuation_piece_that_opens_a_sentence_loses_its_marker(zh_wordpiece):
    # A decoder may start with a `##` piece: it is read as the piece itself.
    ids = [[zh_wordpiece.vocab.index(t) for t in ("##谢", "谢谢", "##你", "##。")]]
    assert texts(zh_wordpiece.detokenize(ids)) == ["谢谢谢你。"]


def test_chinese_wordpiece_reads_an_unknown_character_as_one_unk_piece(zh_wordpiece):
    ids = zh_wordpiece.tokenize(["谢谢您"], add_markers=False)
    assert zh_wordpiece.lookup(ids.to_list()) == [["谢谢", "[UNK]"]]
    # The default standardization keeps WordPiece's usual rule: the whole word is unknown.
    default = WordPieceTokenizer(zh_wordpiece.vocab)
    assert default.lookup(default.tokenize(["谢谢您"], add_markers=False).to_list()) == [["[UNK]"]]


@pytest.mark.parametrize("kind", ["characters", "zh_wordpiece"])
def test_save_then_load_keeps_the_standardization(kind, request, tmp_path):
    tokenizer = request.getfixturevalue(kind)
    directory = tokenizer.save(tmp_path / "tokenizer")
    assert json.loads((directory / "tokenizer.json").read_text())["standardization"] == "zh"
    loaded = load_tokenizer(directory)
    assert (type(loaded), loaded.standardization) == (type(tokenizer), "zh")
    assert texts(loaded.detokenize(loaded.tokenize(["谢谢你,Tom?"]))) == texts(
        tokenizer.detokenize(tokenizer.tokenize(["谢谢你,Tom?"]))
    )


def test_a_tokenizer_json_without_a_standardization_loads_as_the_default(word_tokenizer, tmp_path):
    directory = word_tokenizer.save(tmp_path / "old")
    (directory / "tokenizer.json").write_text(json.dumps({"kind": "word", "vocab_size": 9}))
    loaded = load_tokenizer(directory)
    assert loaded.standardization == "default"
    assert texts(loaded.detokenize(loaded.tokenize(["THE cat, sat"]))) == ["The cat [UNK] sat"]


@pytest.mark.parametrize("kind", ["characters", "zh_wordpiece"])
def test_chinese_tokenizers_run_in_a_reloaded_saved_model(kind, request, tmp_path):
    tokenizer = request.getfixturevalue(kind)
    module = tf.Module()
    module.tokenizer = tokenizer
    module.round_trip = tf.function(
        lambda text: tokenizer.detokenize(tokenizer.tokenize(text).to_tensor()),
        input_signature=[tf.TensorSpec([None], tf.string)],
    )
    tf.saved_model.save(module, str(tmp_path / "saved"))
    loaded = tf.saved_model.load(str(tmp_path / "saved"))
    sentences = ["谢谢你?", "Tom游泳。"]
    assert texts(loaded.round_trip(tf.constant(sentences))) == texts(
        tokenizer.detokenize(tokenizer.tokenize(sentences))
    )


def test_learn_tokenizer_gives_characters_for_chinese_words_and_keeps_other_languages():
    chinese = learn_tokenizer(ZH, kind="word", language="zh")
    assert (type(chinese), chinese.standardization) == (CharacterTokenizer, "zh")
    spanish = learn_tokenizer(CORPUS, kind="word", vocab_size=6, language="es")
    assert (type(spanish), spanish.standardization) == (WordTokenizer, "default")
    assert spanish.vocab == WordTokenizer.from_texts(CORPUS, max_size=6).vocab
    pieces = learn_tokenizer(THANKS, kind="wordpiece", vocab_size=30, language="zh")
    assert (type(pieces), pieces.standardization, "谢谢" in pieces.vocab) == (
        WordPieceTokenizer,
        "zh",
        True,
    )


def test_learn_tokenizer_rejects_an_unknown_kind():
    with pytest.raises(
        ValueError, match="kind must be one of 'word', 'character', 'wordpiece', got 'bpe'"
    ):
        learn_tokenizer(CORPUS, kind="bpe")
