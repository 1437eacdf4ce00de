"""The normalize stage: broken Unicode repaired before anything scores the text.

    - stage: normalize
      fix_encoding: true          # mojibake ("CafÃ©" -> "Café"), HTML entities in plain text, C1 controls (ftfy)
      nfc: true                   # Unicode NFC: "e" + combining acute becomes "é", one code point
      remove_control_chars: true  # C0/C1 control characters other than tab and newline, and stray BOMs
      uncurl_quotes: false        # ’ ‘ “ ” to ' and " in the written text (langid reads them as ASCII anyway)

fix_encoding runs ftfy with the settings of datatrove's FTFYFormatter: repair what is unreadable,
enforce no formatting (no ligature or width folding, curly quotes kept, since a model should
still know them). Place it after extract and before langid (FineWeb applies FTFY after
dedup; repairing first means langid, the quality rules and dedup see the repaired text).
Nothing is dropped. Per document it records `normalize_encoding` (1 when ftfy changed the
text), `normalize_nfc` (1 when NFC changed it), `normalize_control_chars` (characters removed)
and `normalize_quotes` (quotes replaced), summed into OUT/reports/<stage>/edits.json at the end. Rows that
cannot change are screened out in Arrow (see MAY_CHANGE), which makes the stage several times
faster than running ftfy on every text.
Where it fails: ftfy only repairs mojibake it can prove (a UTF-8 text decoded as Latin-1 or
Windows-125x); text decoded with a wrong CJK code page, or with characters lost as '?', stays as
it is, and the screen does not send MacRoman or cp437 mojibake in otherwise Latin text to ftfy.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.core.stage import DocumentStage, Verdict
from curate.edit_counts import edit_counters, write_edit_counts

CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufeff]")  # not \t \n \r
QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})
# RE2 screen: only rows that match can change. Mojibake of UTF-8 read as Latin-1 / Windows-1252 /
# -1250 is a lead-byte character (Â-ô, or Latin Extended-A for 1250) followed by a continuation-byte
# character (U+0080-00BF, or the 125x punctuation and letters in 0x80-0xBF); Greek and Cyrillic
# pages (1253, 1251 mojibake) always go to ftfy; so do entities, controls and decomposed accents.
CP125X_CONTINUATION = r"\x{80}-\x{bf}\x{100}-\x{17f}\x{192}\x{2c6}-\x{2dd}\x{2013}-\x{203a}\x{20ac}\x{2122}"
MAY_CHANGE = (
    rf"[\x{{c2}}-\x{{f4}}\x{{100}}-\x{{17f}}][{CP125X_CONTINUATION}]|[\x{{370}}-\x{{52f}}]|&"
    r"|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x{9f}\x{feff}]|\pM"  # controls; a combining mark NFC may compose
)
CURLY = r"|[\x{2018}\x{2019}\x{201c}\x{201d}]"


@dataclass
class NormalizeParams:
    fix_encoding: bool = True
    nfc: bool = True
    remove_control_chars: bool = True
    uncurl_quotes: bool = False


class NormalizeStage(DocumentStage):
    Params = NormalizeParams
    columns = ("normalize_encoding", "normalize_nfc", "normalize_control_chars", "normalize_quotes")

    def setup(self) -> None:
        from ftfy import TextFixerConfig

        # datatrove FTFYFormatter's defaults; control characters are removed (and counted) below
        self.ftfy_config = TextFixerConfig(
            unescape_html="auto", remove_terminal_escapes=True, fix_encoding=True, restore_byte_a0=True,
            replace_lossy_sequences=True, decode_inconsistent_utf8=True, fix_c1_controls=True,
            fix_latin_ligatures=False, fix_character_width=False, uncurl_quotes=False, fix_line_breaks=False,
            fix_surrogates=True, remove_control_chars=False, normalization=None, explain=False,
        )  # fmt: skip

    def process(self, table: pa.Table) -> Verdict:
        import ftfy

        texts = table["text"]
        p = self.params
        counts = np.zeros((table.num_rows, len(self.columns)), np.int32)
        edited = texts.to_pylist()
        screen = MAY_CHANGE + (CURLY if p.uncurl_quotes else "")
        for i in np.flatnonzero(
            pc.fill_null(pc.match_substring_regex(texts, screen), False).to_numpy(zero_copy_only=False)
        ):
            text = edited[i]
            if p.fix_encoding:
                fixed = ftfy.fix_text(text, config=self.ftfy_config)
                counts[i, 0], text = fixed != text, fixed
            if p.nfc and not unicodedata.is_normalized("NFC", text):
                text, counts[i, 1] = unicodedata.normalize("NFC", text), 1
            if p.remove_control_chars:
                text, counts[i, 2] = CONTROL.subn("", text)
            if p.uncurl_quotes:
                counts[i, 3] = sum(map(text.count, "\u2018\u2019\u201c\u201d"))
                text = text.translate(QUOTES)
            edited[i] = text
        for column, values in zip(self.columns, counts.T):
            table = table.append_column(column, pa.array(values))
        table = table.set_column(table.schema.get_field_index("text"), "text", pa.array(edited, texts.type))
        return Verdict(table, [None] * table.num_rows, counters=edit_counters(table, self.columns))

    def finalize(self, ctx, stats) -> None:
        write_edit_counts(ctx, stats, self.columns)
