"""Western European text in legacy single-byte charsets decodes right, for web pages and books
(curate/extract/decode.py): charset-normalizer alone ranks cp1250 or cp1257 first for some of
these ("D'APRČS", "ŕ toi", "naļve faēade"); the samples are written here in each charset."""

from __future__ import annotations

import pytest

from curate.extract.books import decode_book
from curate.extract.decode import decode_bytes

SAMPLES = {
    "fr": "D'APRÈS LE ROMAN. Il était une fois, à toi de voir : déjà vu, naïve façade, l'été où nous étions là-bas. "
    "Où est la fenêtre ? Ça m'a plu, c'était très bien, un après-midi à la plage avec son frère aîné.",
    "it": "PROPRIETÀ RISERVATA. La città è bella e già famosa; perché non venire? Più di così non si può: "
    "l'università ha più attività, però è lì, dietro la piazza del Duomo.",
    "de": "Über die Brücke gehen wir schön langsam. Die Größe der Straße ist für Fußgänger gemäß den Vorschriften. "
    "Äpfel, Öl und Übung machen den Meister, sagte die Großmutter.",
    "es": "El niño comió más pan en la mañana; ¿dónde está el señor? ¡Qué año! La canción y la educación están aquí, "
    "según él, desde que llegó el camión.",
    "pt": "A educação não é fácil; a nação e as informações estão lá. São João, coração, ações e avó: você já viu o pão "
    "que a irmã trouxe da padaria?",
}
CHARSETS = ("latin-1", "cp1252", "utf-8")


@pytest.mark.parametrize("charset", CHARSETS)
@pytest.mark.parametrize("language", sorted(SAMPLES))
def test_a_web_page_without_a_declared_charset_decodes_right(language, charset):
    text = SAMPLES[language] + " \u2019" * (charset == "cp1252")  # cp1252's curly quote, not in Latin-1
    page = f"<html><body><p>{text}</p></body></html>"
    decoded, used = decode_bytes(page.encode(charset))
    assert decoded == page, (used, decoded)


@pytest.mark.parametrize("charset", CHARSETS)
@pytest.mark.parametrize("language", sorted(SAMPLES))
def test_a_book_without_a_charset_header_decodes_right(language, charset):
    book = "\n\n".join([SAMPLES[language]] * 3) + "\n"
    decoded, used = decode_book(book.encode(charset))
    assert decoded == book, (used, decoded[:120])


def test_central_european_text_still_reads_as_its_own_code_page():
    """The letters decide both ways: Polish and Czech in cp1250 are not read as cp1252 ("³", "¿", "ø")."""
    polish = "Zażółć gęślą jaźń. Łódź leży nad rzeką, a żółty słoń śpiewa piosenkę o jesieni i źródłach."
    czech = "Příliš žluťoučký kůň úpěl ďábelské ódy. Čeština má háčky a čárky, řeka teče přes město."
    for text in (polish, czech):
        assert decode_bytes(text.encode("cp1250"))[0] == text
