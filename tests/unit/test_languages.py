from hls_operators.core.languages import bcp47, display_name, unique_names


def test_mp4_language_codes_become_bcp47_tags():
    assert [bcp47(code) for code in ("eng", "fre", "fra", "ger", "deu", "chi", "en-US", "tlh", None, "")] == [
        "en",
        "fr",
        "fr",
        "de",
        "de",
        "zh",
        "en-US",
        "tlh",
        None,
        None,
    ]
    assert bcp47("e n\\g") is None  # not a tag at all


def test_names_come_from_the_title_the_language_or_the_track_number_and_are_unique():
    assert display_name("fra", "Version française", "Audio", 2) == "Version française"
    assert display_name("fre", None, "Audio", 2) == "French"
    assert display_name("tlh", None, "Subtitles", 1) == "tlh"
    assert display_name(None, None, "Audio", 1) == "Audio 1"
    assert unique_names(["English", "English", "French", "English"]) == [
        "English",
        "English (2)",
        "French",
        "English (3)",
    ]
