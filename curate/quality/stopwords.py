"""Stop words per language for the Gopher "at least 2 stop words" rule.

English uses Gopher's own eight words. Other languages use the stop-word lists that
ship with jusText (installed with trafilatura; 100 languages, offline), looked up by
the ISO 639-1 code langid writes. jusText's lists are long (a few hundred words), so
for those languages the rule is looser than Gopher's; it still drops pages of names,
numbers and menu items. Languages without a list (Chinese, Japanese, Thai, ...) skip
the rule: their stop-word signal is left empty.
"""

from __future__ import annotations

from functools import lru_cache

GOPHER_STOP_WORDS = frozenset({"the", "be", "to", "of", "and", "that", "have", "with"})

# ISO 639-1 code (as lid.176 writes it) -> jusText stop-list name
JUSTEXT_NAMES = {
    "af": "Afrikaans",
    "sq": "Albanian",
    "ar": "Arabic",
    "an": "Aragonese",
    "hy": "Armenian",
    "ast": "Asturian",
    "az": "Azerbaijani",
    "eu": "Basque",
    "be": "Belarusian",
    "bn": "Bengali",
    "bs": "Bosnian",
    "br": "Breton",
    "bg": "Bulgarian",
    "ca": "Catalan",
    "ceb": "Cebuano",
    "cv": "Chuvash",
    "hr": "Croatian",
    "cs": "Czech",
    "da": "Danish",
    "nl": "Dutch",
    "eo": "Esperanto",
    "et": "Estonian",
    "fi": "Finnish",
    "fr": "French",
    "gl": "Galician",
    "ka": "Georgian",
    "de": "German",
    "el": "Greek",
    "gu": "Gujarati",
    "ht": "Haitian",
    "he": "Hebrew",
    "hi": "Hindi",
    "hu": "Hungarian",
    "is": "Icelandic",
    "io": "Ido",
    "ig": "Igbo",
    "id": "Indonesian",
    "ga": "Irish",
    "it": "Italian",
    "jv": "Javanese",
    "kn": "Kannada",
    "kk": "Kazakh",
    "ko": "Korean",
    "ku": "Kurdish",
    "ky": "Kyrgyz",
    "la": "Latin",
    "lv": "Latvian",
    "lt": "Lithuanian",
    "lmo": "Lombard",
    "nds": "Low_Saxon",
    "lb": "Luxembourgish",
    "mk": "Macedonian",
    "ms": "Malay",
    "ml": "Malayalam",
    "mt": "Maltese",
    "mr": "Marathi",
    "nap": "Neapolitan",
    "ne": "Nepali",
    "new": "Newar",
    "no": "Norwegian_Bokmal",
    "nb": "Norwegian_Bokmal",
    "nn": "Norwegian_Nynorsk",
    "oc": "Occitan",
    "fa": "Persian",
    "pms": "Piedmontese",
    "pl": "Polish",
    "pt": "Portuguese",
    "qu": "Quechua",
    "ro": "Romanian",
    "ru": "Russian",
    "sr": "Serbian",
    "sh": "Serbo_Croatian",
    "scn": "Sicilian",
    "sk": "Slovak",
    "sl": "Slovenian",
    "es": "Spanish",
    "su": "Sundanese",
    "sw": "Swahili",
    "sv": "Swedish",
    "tl": "Tagalog",
    "ta": "Tamil",
    "te": "Telugu",
    "tr": "Turkish",
    "tk": "Turkmen",
    "uk": "Ukrainian",
    "ur": "Urdu",
    "uz": "Uzbek",
    "vi": "Vietnamese",
    "vo": "Volapuk",
    "wa": "Walloon",
    "war": "Waray_Waray",
    "cy": "Welsh",
    "fy": "West_Frisian",
    "pnb": "Western_Panjabi",
    "yo": "Yoruba",
}


@lru_cache(maxsize=None)
def stop_words(language: str) -> frozenset[str] | None:
    """The stop words of a language code, or None when there is no list for it."""
    if language == "en":
        return GOPHER_STOP_WORDS
    name = JUSTEXT_NAMES.get(language)
    if name is None:
        return None
    import justext

    return frozenset(justext.get_stoplist(name))
