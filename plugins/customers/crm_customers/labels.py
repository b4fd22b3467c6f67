"""Mailing labels (CUS-6): a PDF of address labels on a standard sheet, with reportlab.

Each label reads, top to bottom: the postal code, the address, the customer's name, and the
primary contact's department and name. Chinese is drawn with reportlab's built-in CID fonts
(``MSung-Light`` for Traditional, ``STSong-Light`` for Simplified, chosen from the text
itself or, when the text does not tell, from the locale); pure Latin lines use Helvetica.
Text that is too long first wraps, then shrinks, and in the last resort is cut with "…": it
never runs into the neighbouring label (each label is also clipped to its own box).
``start_position`` skips the labels already used on a partly used first sheet.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.units import inch, mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from .i18n import _l
from .services import CustomerError, primary_contact

TRADITIONAL_FONT = "MSung-Light"
SIMPLIFIED_FONT = "STSong-Light"
LATIN_FONT = "Helvetica"
LATIN_BOLD_FONT = "Helvetica-Bold"
MAX_LABELS = 5000


@dataclass(frozen=True)
class Layout:
    """A label sheet: page size, label size, grid, margins and pitch (all in points)."""

    name: str
    description: str
    page: tuple[float, float]
    columns: int
    rows: int
    width: float
    height: float
    left: float
    top: float
    pitch_x: float
    pitch_y: float
    padding_x: float
    padding_y: float
    font_size: float

    @property
    def per_sheet(self) -> int:
        return self.columns * self.rows

    def origin(self, position: int) -> tuple[float, float]:
        """Bottom-left corner of label ``position`` (0-based, row by row from the top left)."""
        row, col = divmod(position, self.columns)
        x = self.left + col * self.pitch_x
        y = self.page[1] - self.top - row * self.pitch_y - self.height
        return x, y


LAYOUTS: dict[str, Layout] = {
    # Avery L7160 / J8160 and compatibles: 21 labels of 63.5 × 38.1 mm.
    "a4-3x7": Layout(
        "a4-3x7",
        "A4, 3 × 7 labels of 63.5 × 38.1 mm (Avery L7160)",
        A4,
        3,
        7,
        63.5 * mm,
        38.1 * mm,
        7.21 * mm,
        15.15 * mm,
        66.04 * mm,
        38.1 * mm,
        4 * mm,
        3 * mm,
        9.5,
    ),
    # Avery L7163 / J8163: 14 labels of 99.1 × 38.1 mm.
    "a4-2x7": Layout(
        "a4-2x7",
        "A4, 2 × 7 labels of 99.1 × 38.1 mm (Avery L7163)",
        A4,
        2,
        7,
        99.1 * mm,
        38.1 * mm,
        4.65 * mm,
        15.15 * mm,
        101.6 * mm,
        38.1 * mm,
        5 * mm,
        3 * mm,
        11,
    ),
    # Avery 5160 / 8160: 30 labels of 2⅝ × 1 inch on US Letter.
    "letter-3x10": Layout(
        "letter-3x10",
        "US Letter, 3 × 10 labels of 2⅝ × 1 in (Avery 5160)",
        LETTER,
        3,
        10,
        2.625 * inch,
        1 * inch,
        0.1875 * inch,
        0.5 * inch,
        2.75 * inch,
        1 * inch,
        0.14 * inch,
        0.06 * inch,
        8,
    ),
}
DEFAULT_LAYOUT = "a4-3x7"


# --- Script detection ----------------------------------------------------------------------


def _encodes(ch: str, codec: str) -> bool:
    try:
        ch.encode(codec)
        return True
    except UnicodeEncodeError:
        return False


def is_cjk(ch: str) -> bool:
    return ord(ch) >= 0x2E80 and unicodedata.category(ch) not in ("Zs",)


def script_of(text: str) -> str | None:
    """``"hant"`` when the text has characters only Traditional Chinese uses (in Big5 but not
    in GB 2312), ``"hans"`` for the reverse, ``None`` when it does not tell."""
    trad = simp = 0
    for ch in text:
        if ord(ch) < 0x3400:
            continue
        in_gb, in_big5 = _encodes(ch, "gb2312"), _encodes(ch, "big5")
        if in_big5 and not in_gb:
            trad += 1
        elif in_gb and not in_big5:
            simp += 1
    if simp:
        # STSong-Light (Adobe-GB1, i.e. GBK) also has the Traditional forms; MSung-Light
        # (Adobe-CNS1, i.e. Big5) lacks the Simplified ones: any Simplified-only character
        # means the Simplified font, unless Traditional clearly dominates.
        return "hant" if trad > simp * 3 else "hans"
    if trad:
        return "hant"
    return None


def cjk_font_for(text: str, locale: str | None = None) -> str:
    script = script_of(text)
    if script is None:
        loc = (locale or "").replace("-", "_").lower()
        script = (
            "hant"
            if loc.startswith(("zh_hant", "zh_tw", "zh_hk", "zh_mo"))
            else "hans"
            if loc.startswith("zh")
            else None
        )
    return TRADITIONAL_FONT if script == "hant" else SIMPLIFIED_FONT


def _register_fonts() -> None:
    for name in (TRADITIONAL_FONT, SIMPLIFIED_FONT):
        try:
            font = pdfmetrics.getFont(name)
        except KeyError:
            font = UnicodeCIDFont(name)
            pdfmetrics.registerFont(font)
        if name == TRADITIONAL_FONT and font.encodingName.startswith("UniGB"):
            # reportlab pairs MSung-Light (Adobe-CNS1) with the GB CMap, which viewers reject
            # ("Unknown CMap 'UniGB-UCS2-H' for Adobe-CNS1"). Text is written as UCS-2 either
            # way; only the CMap named in the font dictionary must be the CNS one.
            font.encodingName = "UniCNS-UCS2-" + font.encodingName[-1]


def _is_latin(text: str) -> bool:
    """Drawable with Helvetica (WinAnsi): Latin-1 and a few typographic marks."""
    try:
        text.encode("cp1252")
        return True
    except UnicodeEncodeError:
        return False


# --- Text fitting ---------------------------------------------------------------------------


# Line-breaking rules (kinsoku): these never start a line / never end one.
NO_LINE_START = set("，。、；：？！）」』】〉》〕…・ー,.;:!?)]}%")
NO_LINE_END = set("（「『【〈《〔([{")


def _tokens(text: str) -> list[str]:
    """Break opportunities: after each CJK character, after spaces and commas in Latin,
    never before a closing mark nor after an opening one."""
    raw: list[str] = []
    buf = ""
    for ch in text:
        if is_cjk(ch):
            if buf:
                raw.append(buf)
                buf = ""
            raw.append(ch)
        else:
            buf += ch
            if ch in " ,/-":
                raw.append(buf)
                buf = ""
    if buf:
        raw.append(buf)
    out: list[str] = []
    glue = False
    for tok in raw:
        if out and (glue or tok[0] in NO_LINE_START):
            out[-1] += tok
        else:
            out.append(tok)
        glue = tok[-1] in NO_LINE_END
    return out


def _split_long(token: str, font: str, size: float, width: float) -> list[str]:
    parts, cur = [], ""
    for ch in token:
        if cur and pdfmetrics.stringWidth(cur + ch, font, size) > width:
            parts.append(cur)
            cur = ch
        else:
            cur += ch
    if cur:
        parts.append(cur)
    return parts


def wrap(text: str, font: str, size: float, width: float, keep: str = "") -> list[str]:
    """Greedy line breaking: CJK between any two characters, Latin at spaces (or inside a
    word that is wider than the whole line). ``keep``, the end of ``text``, stays in one
    piece when it fits on a line (a person's name: 歐陽美麗, never 歐陽美 / 麗)."""
    lines: list[str] = []
    cur = ""
    if keep and text.endswith(keep) and len(keep) < len(text):
        tokens = _tokens(text[: -len(keep)]) + [keep]
    else:
        tokens = _tokens(text)
    for tok in tokens:
        if pdfmetrics.stringWidth(cur + tok, font, size) <= width:
            cur += tok
            continue
        if cur.strip():
            lines.append(cur.rstrip())
        cur = tok.lstrip()
        if pdfmetrics.stringWidth(cur, font, size) > width:
            *full, cur = _split_long(cur, font, size, width)
            lines.extend(full)
    if cur.strip():
        lines.append(cur.rstrip())
    return lines


def ellipsize(text: str, font: str, size: float, width: float) -> str:
    if pdfmetrics.stringWidth(text, font, size) <= width:
        return text
    while text and pdfmetrics.stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text.rstrip() + "…"


@dataclass
class _Field:
    text: str
    max_lines: int
    scale: float = 1.0  # relative to the label's font size
    bold: bool = False
    keep: str = ""  # the end of the text that should not be broken


@dataclass
class _Line:
    text: str
    font: str
    size: float


def _font(text: str, cjk_font: str, bold: bool) -> str:
    if _is_latin(text):
        return LATIN_BOLD_FONT if bold else LATIN_FONT
    return cjk_font


def fit(fields: list[_Field], cjk_font: str, width: float, height: float, base: float):
    """Lay the fields out in the box: wrap, then shrink down to 5 pt, then cut."""
    size = base
    min_size = 5.0
    while True:
        lines: list[_Line] = []
        ok = True
        for f in fields:
            if not f.text:
                continue
            s = size * f.scale
            font = _font(f.text, cjk_font, f.bold)
            wrapped = wrap(f.text, font, s, width, f.keep)
            if len(wrapped) > f.max_lines:
                ok = False
                if size > min_size:
                    break
                wrapped = wrapped[: f.max_lines]
                wrapped[-1] = ellipsize(wrapped[-1] + "…", font, s, width)
            lines.extend(_Line(t, font, s) for t in wrapped)
        total = sum(ln.size * 1.2 for ln in lines)
        if ok and total <= height:
            return lines
        if size <= min_size:
            # Still too tall at the smallest size: drop lines from the bottom.
            while lines and sum(ln.size * 1.2 for ln in lines) > height:
                lines.pop()
            return lines
        size = max(min_size, size - 0.5)


# --- The label of one customer --------------------------------------------------------------


def _address(customer) -> str:
    """The address, with the province and city in front (Chinese) or behind (Latin) when
    the address itself does not already name them."""
    address = (customer.address or "").strip()
    parts: list[str] = []
    for p in (customer.province, customer.city):
        p = (p or "").strip()
        if not p or p in address:
            continue
        if parts and p.startswith(parts[-1]):  # 上海 + 上海市 → 上海市
            parts[-1] = p
        elif not any(p in q for q in parts):
            parts.append(p)
    if not parts:
        return address
    chinese = any(is_cjk(ch) for ch in address + "".join(parts))
    if chinese:
        return "".join(parts) + address  # Chinese addresses go from large to small
    return ", ".join(x for x in [address, *reversed(parts)] if x)


def label_fields(customer, contact=None) -> list[_Field]:
    contact = contact if contact is not None else primary_contact(customer)
    attention = name = ""
    if contact is not None:
        name = (contact.name or "").strip()
        attention = " ".join(p for p in ((contact.department or "").strip(), name) if p)
    return [
        _Field((customer.postal_code or "").strip(), 1),
        _Field(_address(customer), 3),
        _Field((customer.name or "").strip(), 2, scale=1.15, bold=True),
        _Field(attention, 2, keep=name),
    ]


def _draw_label(c: canvas.Canvas, layout: Layout, position: int, fields, locale, outline):
    x, y = layout.origin(position)
    c.saveState()
    box = c.beginPath()
    box.rect(x, y, layout.width, layout.height)
    if outline:
        c.setStrokeGray(0.75)
        c.setLineWidth(0.3)
        c.roundRect(x, y, layout.width, layout.height, 2 * mm, stroke=1, fill=0)
    c.clipPath(box, stroke=0, fill=0)  # whatever happens, nothing leaves the label
    cjk = cjk_font_for(" ".join(f.text for f in fields), locale)
    inner_w = layout.width - 2 * layout.padding_x
    inner_h = layout.height - 2 * layout.padding_y
    lines = fit(fields, cjk, inner_w, inner_h, layout.font_size)
    total = sum(ln.size * 1.2 for ln in lines)
    # Centre the block vertically; the first baseline sits one ascent below its top.
    cursor = y + layout.padding_y + inner_h - (inner_h - total) / 2
    for ln in lines:
        cursor -= ln.size * 1.2
        c.setFont(ln.font, ln.size)
        c.drawString(x + layout.padding_x, cursor + ln.size * 0.25, ln.text)
    c.restoreState()


def labels_pdf(
    customers: Iterable,
    layout: str = DEFAULT_LAYOUT,
    start_position: int = 1,
    *,
    locale: str | None = None,
    outlines: bool = False,
    title: str | None = None,
) -> bytes:
    """A PDF of mailing labels, one per customer, on the sheet ``layout``.

    :param start_position: the first free label on the first sheet (1 = top left, counting
        row by row), so a partly used sheet can be used up.
    :param locale: the reader's locale (``zh_Hant``, ``zh_Hans``...), used to choose the
        Chinese font when the text itself does not tell.
    :param outlines: draw each label's outline (for a test print on plain paper).
    """
    sheet = LAYOUTS.get(layout)
    if sheet is None:
        raise CustomerError(
            _l(
                "Unknown label layout '%(layout)s'. Choose one of: %(choices)s.",
                layout=layout,
                choices=", ".join(LAYOUTS),
            ),
            "layout",
        )
    if (
        not isinstance(start_position, int)
        or start_position < 1
        or start_position > sheet.per_sheet
    ):
        raise CustomerError(
            _l("The start position is a label number from 1 to %(n)s.", n=sheet.per_sheet),
            "start_position",
        )
    customers = list(customers)
    if not customers:
        raise CustomerError(_l("Choose customers first."), "ids")
    if len(customers) > MAX_LABELS:
        raise CustomerError(_l("At most %(n)s labels at a time.", n=MAX_LABELS), "ids")
    _register_fonts()
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=sheet.page, pageCompression=1)
    c.setTitle(str(title or _l("Mailing labels")))
    c.setCreator("CRM customers module")
    position = start_position - 1
    for customer in customers:
        if position == sheet.per_sheet:
            c.showPage()
            position = 0
        _draw_label(c, sheet, position, label_fields(customer), locale, outlines)
        position += 1
    c.showPage()
    c.save()
    return buf.getvalue()
