"""Language tags as HLS wants them: MP4 files tag tracks with ISO 639-2 codes ("fra", "ger"), the
master playlist's LANGUAGE is a BCP 47 tag (RFC 5646: "fr", "de"), and NAME is for people."""

from __future__ import annotations

# ISO 639-2 (bibliographic and terminology codes both) -> (ISO 639-1, English name), for the
# languages catalogs carry most. A code not listed is kept: a three-letter code is valid BCP 47.
ISO_639_2 = {
    "ara": ("ar", "Arabic"),
    "bul": ("bg", "Bulgarian"),
    "cat": ("ca", "Catalan"),
    "ces": ("cs", "Czech"),
    "cze": ("cs", "Czech"),
    "chi": ("zh", "Chinese"),
    "zho": ("zh", "Chinese"),
    "dan": ("da", "Danish"),
    "deu": ("de", "German"),
    "ger": ("de", "German"),
    "ell": ("el", "Greek"),
    "gre": ("el", "Greek"),
    "eng": ("en", "English"),
    "est": ("et", "Estonian"),
    "fin": ("fi", "Finnish"),
    "fra": ("fr", "French"),
    "fre": ("fr", "French"),
    "heb": ("he", "Hebrew"),
    "hin": ("hi", "Hindi"),
    "hrv": ("hr", "Croatian"),
    "hun": ("hu", "Hungarian"),
    "ind": ("id", "Indonesian"),
    "isl": ("is", "Icelandic"),
    "ice": ("is", "Icelandic"),
    "ita": ("it", "Italian"),
    "jpn": ("ja", "Japanese"),
    "kor": ("ko", "Korean"),
    "lav": ("lv", "Latvian"),
    "lit": ("lt", "Lithuanian"),
    "msa": ("ms", "Malay"),
    "may": ("ms", "Malay"),
    "nld": ("nl", "Dutch"),
    "dut": ("nl", "Dutch"),
    "nor": ("no", "Norwegian"),
    "nob": ("nb", "Norwegian Bokmal"),
    "pol": ("pl", "Polish"),
    "por": ("pt", "Portuguese"),
    "ron": ("ro", "Romanian"),
    "rum": ("ro", "Romanian"),
    "rus": ("ru", "Russian"),
    "slk": ("sk", "Slovak"),
    "slo": ("sk", "Slovak"),
    "slv": ("sl", "Slovenian"),
    "spa": ("es", "Spanish"),
    "srp": ("sr", "Serbian"),
    "swe": ("sv", "Swedish"),
    "tha": ("th", "Thai"),
    "tur": ("tr", "Turkish"),
    "ukr": ("uk", "Ukrainian"),
    "vie": ("vi", "Vietnamese"),
}
NAMES_BY_TAG = {tag: name for tag, name in ISO_639_2.values()}


def bcp47(language: str | None) -> str | None:
    """The LANGUAGE attribute for a track's tag: "fra" -> "fr", "en-US" stays, None stays None."""
    if not language:
        return None
    code = language.strip()
    if code.lower() in ISO_639_2:
        return ISO_639_2[code.lower()][0]
    return code if code.replace("-", "").isalnum() else None


def display_name(language: str | None, title: str | None, kind: str, number: int) -> str:
    """A NAME for people: the track's title, else its language's name, else ``kind`` and its
    number ("Audio 1") when the file says neither."""
    if title:
        return title
    tag = bcp47(language)
    if tag:
        return NAMES_BY_TAG.get(tag.split("-")[0].lower(), tag)
    return f"{kind} {number}"


def unique_names(names: list[str]) -> list[str]:
    """NAME must differ between the renditions of one group: a repeated one gets " (2)", " (3)"..."""
    seen: dict[str, int] = {}
    result = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        result.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return result
