"""Import and export of customers and contacts, CSV and XLSX (H-14). Nothing here knows
about HTTP: the pages (``transfer_views``) and the API (``transfer_api``) call these.

* :func:`parse` reads an uploaded file: CSV (UTF-8 with or without BOM, else GB18030 or
  Big5) or XLSX, told apart by content, never by the file name.
* :func:`validate_rows` checks every row with the module's marshmallow schemas (``CustomerIn``
  / ``ContactIn``, the one place field rules live) plus the references (category code, owner
  email, customer code) and reports duplicates, against the database and within the file.
* :func:`import_rows` writes the good rows in bulk (core ``INSERT`` in chunks, one audit entry
  for the whole import): mode ``all`` writes nothing unless every row is good, mode ``good``
  writes the good rows and hands back the bad ones as a CSV with an ``errors`` column.
* :func:`export` streams the customers (or their contacts) a user may see, filtered like the
  list, as CSV (UTF-8 with BOM, so Excel shows Chinese) or XLSX.

Row numbers in reports are spreadsheet row numbers: the header is row 1.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
import unicodedata
import uuid
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time

import marshmallow as ma
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import aliased

from crm_host import numbering, textsearch
from crm_host.db import utcnow
from crm_host.models import AuditEntry, NumberSequence, User
from crm_host.security import has_permission

from . import phones, services
from .i18n import N_, _l
from .models import Category, Contact, Customer, Phone, customer_tags, name_key, name_key_of
from .schemas import ContactIn, CustomerIn

# 100,000 customers with every column are about 21 MiB; the host caps a request at 32 MiB.
MAX_BYTES = 30 * 1024 * 1024
MAX_ROWS = 500_000
CHUNK = 1000
KINDS = ("customers", "contacts")
FORMATS = ("csv", "xlsx")
MODES = ("validate", "all", "good")
AUDIT_ENTITY = "customers.import"

CUSTOMER_COLUMNS = (
    "code", "name", "short_name", "category", "grade", "lifecycle", "industry", "region",
    "province", "city", "address", "postal_code", "phone", "fax", "email", "website", "source",
    "owner_email", "credit_rating", "tax_id", "tags", "notes",
)  # fmt: skip
CONTACT_COLUMNS = (
    "customer_code", "name", "code", "department", "title", "phone", "mobile", "email",
    "birthday", "notes", "is_primary",
)  # fmt: skip
COLUMNS = {"customers": CUSTOMER_COLUMNS, "contacts": CONTACT_COLUMNS}
REQUIRED = {"customers": ("name",), "contacts": ("customer_code", "name")}

#: Header spellings people use, Chinese (traditional and simplified) and English labels.
#: Headers are compared after NFKC, lower-casing and turning spaces/dashes into ``_``.
_COMMON_ALIASES = {
    "name": "name 名稱 名称",
    "phone": "tel telephone 電話 电话 聯絡電話 联系电话",
    "email": "e_mail mail 電子郵件 电子邮件 電郵 电邮 郵箱 邮箱 email_address",
    "notes": "note remarks comment comments 備註 备注 說明 说明",
}
_ALIASES = {
    "customers": {
        **_COMMON_ALIASES,
        "code": "customer_code 編號 编号 代碼 代码 客戶編號 客户编号 客戶代碼 客户代码",
        "name": _COMMON_ALIASES["name"] + " company customer 客戶名稱 客户名称 公司名稱 公司名称 "
        "客戶 客户 公司",
        "short_name": "short 簡稱 简称",
        "category": "category_code type 類別 类别 分類 分类 客戶類別 客户类别",
        "grade": "等級 等级 客戶等級 客户等级",
        "lifecycle": "lifecycle_stage stage 生命週期 生命周期 階段 阶段",
        "industry": "行業 行业",
        "region": "area 區域 区域 地區 地区",
        "province": "state 省份 省",
        "city": "城市 市",
        "address": "地址",
        "postal_code": "zip zip_code postcode 郵遞區號 郵政編碼 邮政编码 郵編 邮编",
        "fax": "傳真 传真",
        "website": "web url homepage 網站 网站 網址 网址",
        "source": "來源 来源 客戶來源 客户来源",
        "owner_email": "owner 負責人郵箱 负责人邮箱 負責人電郵 负责人电邮 負責人email 负责人email",
        "credit_rating": "credit 信用等級 信用等级 信用",
        "tax_id": "vat tax_number 稅號 税号 統一編號 统一编号 統一社會信用代碼 统一社会信用代码",
        "tags": "tag labels 標籤 标签",
    },
    "contacts": {
        **_COMMON_ALIASES,
        "customer_code": "customer 客戶編號 客户编号 客戶代碼 客户代码 客戶 客户",
        "name": _COMMON_ALIASES["name"] + " contact 姓名 聯絡人 联系人",
        "code": "編號 编号",
        "department": "dept 部門 部门",
        "title": "job_title position 職稱 职称 職位 职位 職務 职务",
        "mobile": "cell mobile_phone 手機 手机 行動電話 移动电话",
        "birthday": "birth_date date_of_birth 生日 出生日期",
        "is_primary": "primary primary_contact 主要聯絡人 主要联系人 主聯絡人 首要联系人",
    },
}
_SCHEMA_TO_COLUMN = {"category_id": "category", "owner_id": "owner_email"}
_TRUE = {"是", "主要", "y", "v", "✓", "√"}
_FALSE = {"否", "n", "x"}


class TransferError(services.CustomerError):
    """The file as a whole is refused (not CSV/XLSX, empty, no ``name`` column ...)."""

    def __init__(self, message: str, field: str | None = "file", status: int = 400):
        super().__init__(message, field, status)


_NOT_XLSX = _l(
    "This is a ZIP file but not an Excel workbook (.xlsx); save the sheet as .xlsx or CSV."
)


def _too_many_rows():
    return _l("The file has more than %(n)s rows; split it.", n=f"{MAX_ROWS:,}")


# --- Reading files -----------------------------------------------------------------------


@dataclass
class Table:
    """A parsed file: the header as written and the data rows as text."""

    fmt: str
    encoding: str | None
    headers: list[str]
    rows: list[tuple[int, list[str]]]  # (spreadsheet row number, cells)


#: What a file is, by its first bytes. The labels are English (they go into a message, which
#: translates them: ``_l(what)``).
_MAGIC = [
    (b"\x89PNG", N_("a PNG image")),
    (b"\xff\xd8\xff", N_("a JPEG image")),
    (b"GIF8", N_("a GIF image")),
    (b"%PDF", N_("a PDF document")),
    (b"\xd0\xcf\x11\xe0", N_("an old Excel 97-2003 (.xls) or Word file")),
    (b"\x1f\x8b", N_("a gzip archive")),
    (b"Rar!", N_("a RAR archive")),
    (b"7z\xbc\xaf", N_("a 7-Zip archive")),
    (b"RIFF", N_("a media file")),
    (b"\x00\x00\x01\x00", N_("an icon")),
    (b"BM", None),  # only with NUL bytes (checked below), "BM" can start a CSV
]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PHONE_LIKE = re.compile(r"^[+\-]?[\d\s().+\-/#*x]*$")


def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data.decode("utf-8-sig"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise TransferError(_l("The file says it is UTF-8 but is not.")) from exc
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    # Legacy Chinese encodings: both decode most byte strings of the other, so keep the
    # reading that produces common Chinese characters rather than line noise.
    candidates = []
    for enc in ("gb18030", "cp950"):
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        candidates.append((_chinese_score(text), enc, text))
    if not candidates:
        raise TransferError(
            _l("The file's text encoding was not recognised; save it as CSV UTF-8 or as XLSX.")
        )
    _score, enc, text = max(candidates, key=lambda c: c[0])
    return text, {"cp950": "big5"}.get(enc, enc)


# Frequent characters of company names, addresses and everyday Chinese, in both scripts.
_COMMON_CJK = frozenset(
    "的一是不了人我在有他這这中大來来上國国個个到說说們们為为子和你地出道也時时年得就那要下以生會会"
    "自著着去之過过家學学對对可她裡里後后小麼么心多天而能好都然沒没日於于起還还發发成事只作當当想看文"
    "無无開开手十用主行方又如前所本見见經经頭头面公同三已老從从動动兩两長长司限有科技貿贸易股份集團团"
    "實实業业工廠厂商店電电子網网路號号街道區区市省縣县鎮镇村樓楼室室北京上海廣广州深圳天津重慶庆南東东"
    "西新華华中信息資资產产品服務务銷销售管理諮咨詢询設设計计建築筑材料機机械設備备貨货運运物流通訊讯"
    "醫医藥药食飲饮金融銀银行保險险投資教育文化傳传媒體体農农林漁渔牧礦矿能源環环境汽車车總总部分支"
    "先生小姐經理经理主任董事長长王李張张劉刘陳陈楊杨黃黄趙赵吳吴周徐孫孙馬马朱胡郭何林高羅罗鄭郑梁謝谢"
    "宋唐許许韓韩馮冯鄧邓曹彭曾蕭萧田董潘袁蔡蔣蒋余杜葉叶程魏蘇苏呂吕丁任沈姚盧卢姜崔鍾钟譚谭陸陆汪范"
    "金石廖賈贾夏韋韦付方白鄒邹孟熊秦邱江尹薛閻闫段雷侯龍龙史陶黎賀贺顧顾毛郝龔龚邵萬万錢钱嚴严覃武戴"
    "名稱称電話话郵邮件地址備备註注類类別别標标籤签等級级來来源負负責责人傳传真網站职稱称職部門门手機机生日"
)


def _chinese_score(text: str) -> float:
    sample = text[:200_000]
    cjk = [ch for ch in sample if "\u3400" <= ch <= "\u9fff"]
    if not cjk:
        return 0.0
    hits = sum(1 for ch in cjk if ch in _COMMON_CJK)
    # Unassigned / private-use code points or odd symbols betray a wrong guess.
    odd = sum(1 for ch in sample if "\ue000" <= ch <= "\uf8ff" or ch == "\ufffd")
    return hits / len(cjk) - odd / max(len(sample), 1)


def _what_is(data: bytes) -> str | None:
    head = data[:16]
    for magic, label in _MAGIC:
        if head.startswith(magic) and label:
            return label
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return N_("a binary file")
    return None


def _cell_text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e16 else repr(v)
    if isinstance(v, datetime):
        return v.date().isoformat() if v.time() == time(0) else v.isoformat(sep=" ")
    if isinstance(v, (date, time)):
        return v.isoformat()
    return str(v)


def _unescape(value: str) -> str:
    """Undo the apostrophe :func:`_escape` puts before formula-like text."""
    if len(value) > 1 and value[0] == "'" and value[1] in _FORMULA_START:
        return value[1:]
    return value


def _read_xlsx(data: bytes) -> Table:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # a zip that is not a workbook (docx, odt, broken file)
        raise TransferError(_NOT_XLSX) from exc
    try:
        if not wb.worksheets:
            raise TransferError(_l("The workbook has no sheet."))
        ws = wb.worksheets[0]
        headers: list[str] | None = None
        rows: list[tuple[int, list[str]]] = []
        for n, values in enumerate(ws.iter_rows(min_row=1, values_only=True), start=1):
            cells = [_unescape(_cell_text(v).strip()) for v in values]
            if not any(cells):
                continue
            if headers is None:
                headers = cells
                continue
            rows.append((n, cells))
            if len(rows) > MAX_ROWS:
                raise TransferError(_too_many_rows())
    finally:
        wb.close()
    return Table("xlsx", None, headers or [], rows)


def _read_csv(text: str, encoding: str) -> Table:
    text = text.lstrip("\ufeff")
    first_line = text.split("\n", 1)[0]
    delimiter = None
    if first_line.lower().startswith("sep=") and len(first_line.strip()) == 5:
        delimiter = first_line.strip()[4]  # Excel's "sep=;" hint line
        text = text.split("\n", 1)[1] if "\n" in text else ""
        first_line = text.split("\n", 1)[0]
    if delimiter is None:
        counts = {d: first_line.count(d) for d in (",", ";", "\t", "|")}
        delimiter = max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    headers: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    try:
        for n, record in enumerate(reader, start=1):
            cells = [_unescape(c.strip()) for c in record]
            if not any(cells):
                continue
            if headers is None:
                headers = cells
                continue
            rows.append((n, cells))
            if len(rows) > MAX_ROWS:
                raise TransferError(_too_many_rows())
    except csv.Error as exc:
        raise TransferError(
            _l("The CSV file could not be read: %(error)s.", error=str(exc))
        ) from exc
    return Table("csv", encoding, headers or [], rows)


def parse(file_bytes: bytes, filename: str | None = None) -> Table:
    """Read an uploaded file, CSV or XLSX, told apart by its content.

    Raises :class:`TransferError` (status 400) for anything else (an image, a PDF ...), an
    empty file or a file without a header row, and (status 413) for a file too large."""
    data = file_bytes or b""
    if len(data) > MAX_BYTES:
        raise TransferError(
            _l("The file is larger than %(mb)s MB; split it.", mb=MAX_BYTES // (1024 * 1024)),
            status=413,
        )
    if not data.strip(b" \t\r\n\xef\xbb\xbf"):
        raise TransferError(_l("The file is empty."))
    if data.startswith(b"PK\x03\x04"):
        if not _looks_like_xlsx(data):
            raise TransferError(_NOT_XLSX)
        table = _read_xlsx(data)
    else:
        what = _what_is(data)
        if what:
            if ".xls" in what:
                raise TransferError(
                    _l(
                        "This is %(what)s, not a CSV or XLSX file. Save it as .xlsx or CSV.",
                        what=_l(what),
                    )
                )
            raise TransferError(_l("This is %(what)s, not a CSV or XLSX file.", what=_l(what)))
        text, encoding = _decode(data)
        if sum(1 for ch in text[:4096] if ord(ch) < 32 and ch not in "\t\r\n") > 8:
            raise TransferError(_l("This is a binary file, not a CSV or XLSX file."))
        table = _read_csv(text, encoding)
    if not table.headers:
        raise TransferError(_l("The file is empty."))
    return table


def _looks_like_xlsx(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = set(z.namelist())
    except zipfile.BadZipFile:
        return False
    return "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names)


def _norm_header(h: str) -> str:
    h = unicodedata.normalize("NFKC", str(h or "")).replace("\ufeff", "").strip()
    h = h.strip("*＊ ").lower()
    return re.sub(r"[\s\-./]+", "_", h).strip("_")


def _alias_map(kind: str) -> dict[str, str]:
    out = {}
    for key in COLUMNS[kind]:
        out[key] = key
    for key, words in _ALIASES[kind].items():
        for w in words.split():
            out.setdefault(_norm_header(w), key)
    for key in COLUMNS[kind]:  # English labels: "Short name", "Owner email" ...
        out.setdefault(_norm_header(key.replace("_", " ")), key)
    return out


def map_columns(kind: str, headers: list[str]) -> tuple[dict[int, str], list[str]]:
    """``{column index: column key}`` and the headers that were not understood."""
    if kind not in KINDS:
        raise TransferError(
            _l("Kind is one of %(choices)s.", choices=", ".join(KINDS)), "kind", 422
        )
    aliases = _alias_map(kind)
    mapping: dict[int, str] = {}
    unknown: list[str] = []
    seen: dict[str, str] = {}
    for i, h in enumerate(headers):
        if not (h or "").strip():
            continue
        key = aliases.get(_norm_header(h))
        if key is None:
            unknown.append(h)
            continue
        if key in seen:
            raise TransferError(
                _l(
                    "The columns '%(first)s' and '%(second)s' both mean '%(key)s'; keep one of "
                    "them.",
                    first=seen[key],
                    second=h,
                    key=key,
                )
            )
        seen[key] = h
        mapping[i] = key
    missing = [k for k in REQUIRED[kind] if k not in seen]
    if missing:
        raise TransferError(
            _l(
                "The file has no column %(columns)s (the first row must hold the column names; "
                "download the template to see them).",
                columns=", ".join(f"'{m}'" for m in missing),
            )
        )
    return mapping, unknown


# --- Validating --------------------------------------------------------------------------


@dataclass
class Report:
    kind: str
    fmt: str
    encoding: str | None
    headers: list[str]
    columns: list[str]
    unknown_columns: list[str]
    rows: int = 0
    errors: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    imported: int = 0
    mode: str = "validate"
    refused: bool = False
    #: Bad rows as read: (row number, cells, errors), for the bad-rows file.
    bad: list[tuple[int, list[str], dict]] = field(default_factory=list, repr=False)
    #: Good rows ready to write (internal).
    good_rows: list[dict] = field(default_factory=list, repr=False)
    codes: list[str] = field(default_factory=list, repr=False)

    @property
    def good(self) -> int:
        return self.rows - len(self.errors)

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "format": self.fmt,
            "encoding": self.encoding,
            "mode": self.mode,
            "rows": self.rows,
            "good": self.good,
            "bad": len(self.errors),
            "imported": self.imported,
            "columns": self.columns,
            "unknown_columns": self.unknown_columns,
            "errors": self.errors,
            "warnings": self.warnings,
        }


def _messages(msgs) -> list[str]:
    """marshmallow nests list errors by index ({0: [...]}); flatten to strings."""
    if isinstance(msgs, dict):
        out = []
        for k, v in msgs.items():
            out += [f"{k}: {m}" if isinstance(k, str) else m for m in _messages(v)]
        return out
    if isinstance(msgs, (list, tuple)):
        out = []
        for m in msgs:
            out += _messages(m)
        return out
    return [str(msgs)]


def _add(errors: dict, key: str, msg) -> None:
    errors.setdefault(key, []).extend(_messages(msg))


def _chunks(seq: list, n: int = 500) -> Iterator[list]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


class _Phones:
    """phones.parse with a cache: 100,000 rows often repeat numbers, and parsing is slow.
    Remembers each number's national digits too, for the search text and the phone rows."""

    def __init__(self):
        self.cache: dict[str, str | None] = {}
        self.national: dict[str, str] = {}

    def __call__(self, raw: str | None) -> str | None:
        if not raw:
            return None
        if raw not in self.cache:
            parsed = phones.parse(raw)
            self.cache[raw] = parsed[0] if parsed else None
            if parsed:
                self.national[parsed[0]] = parsed[1]
        return self.cache[raw]


def _existing_keys(session, names: set, emails: set, tels: set) -> tuple[dict, dict, dict]:
    """Which of the file's names, emails and phones a live customer (or a contact) already
    has, with that customer's code. Only the file's keys are looked up, 500 at a time, through
    the expression indexes of the duplicate check: loading the whole book instead cost 18-26 s
    at a million customers (bench/RESULTS.md)."""
    live = Customer.deleted_at.is_(None)
    found_names, found_emails, found_tels = {}, {}, {}
    by_name = name_key()
    for chunk in _chunks(sorted(names)):
        for key, code in session.execute(
            select(by_name, Customer.code).where(by_name.in_(chunk), live).order_by(Customer.id)
        ):
            found_names.setdefault(key, code)
    for chunk in _chunks(sorted(emails)):
        for key, code in session.execute(
            select(func.lower(Customer.email), Customer.code)
            .where(func.lower(Customer.email).in_(chunk), live)
            .order_by(Customer.id)
        ):
            found_emails.setdefault(key, code)
        for key, code in session.execute(
            select(func.lower(Contact.email), Customer.code)
            .join(Customer, Customer.id == Contact.customer_id)
            .where(func.lower(Contact.email).in_(chunk), live, Contact.deleted_at.is_(None))
            .order_by(Customer.id)
        ):
            found_emails.setdefault(key, code)
    for chunk in _chunks(sorted(tels)):
        for e164, code in session.execute(
            select(Phone.e164, Customer.code)
            .join(Customer, Customer.id == Phone.customer_id)
            .where(Phone.e164.in_(chunk), live)
            .order_by(Customer.id)
        ):
            found_tels.setdefault(e164, code)
    return found_names, found_emails, found_tels


def _row_dict(mapping: dict[int, str], cells: list[str]) -> dict[str, str]:
    return {key: (cells[i] if i < len(cells) else "") for i, key in mapping.items()}


def validate_rows(session, user, kind: str, table: Table) -> Report:
    """Check every row; nothing is written. Errors per row (``[{row, errors: {column:
    [message]}}]``) make a row bad; warnings (likely duplicates) do not."""
    mapping, unknown = map_columns(kind, table.headers)
    report = Report(
        kind=kind,
        fmt=table.fmt,
        encoding=table.encoding,
        headers=list(table.headers),
        columns=[mapping[i] for i in sorted(mapping)],
        unknown_columns=unknown,
        rows=len(table.rows),
    )
    if kind == "customers":
        _validate_customers(session, user, table, mapping, report)
    else:
        _validate_contacts(session, user, table, mapping, report)
    return report


def _validate_customers(session, user, table: Table, mapping, report: Report) -> None:
    schema = CustomerIn()
    norm = _Phones()
    all_cats = services.categories(session)
    cats = {c.code.lower(): c.id for c in all_cats}
    for c in all_cats:  # the name works too ("Partner", "代理商"), the code wins a clash
        cats.setdefault(c.name.strip().lower(), c.id)
    users = {
        u.email.lower(): u
        for u in session.execute(
            select(User.id, User.email, User.is_active, User.department_id)
        ).all()
    }
    can_transfer = has_permission(user, "customers.transfer")
    raws = [_row_dict(mapping, cells) for _n, cells in table.rows]
    names, emails, tels = _existing_keys(
        session,
        {name_key_of(r["name"]) for r in raws if r.get("name")},
        {r["email"].strip().lower() for r in raws if r.get("email")},
        {e for e in (norm(r.get("phone")) for r in raws) if e},
    )

    given_codes = [r.get("code", "").strip() for r in raws]
    taken: set[str] = set()
    wanted = sorted({c for c in given_codes if c})
    for chunk in _chunks(wanted):
        taken.update(session.scalars(select(Customer.code).where(Customer.code.in_(chunk))))

    seen_codes: dict[str, int] = {}
    seen_names: dict[str, int] = {}
    seen_emails: dict[str, int] = {}
    seen_tels: dict[str, int] = {}
    simple = [
        k
        for k in CUSTOMER_COLUMNS
        if k not in ("code", "category", "owner_email", "tags", "grade", "lifecycle")
    ]
    for (n, cells), raw, code in zip(table.rows, raws, given_codes, strict=True):
        errors: dict[str, list[str]] = {}
        warnings: dict[str, list[str]] = {}
        payload: dict = {k: raw[k] for k in simple if raw.get(k)}
        if "name" in raw:
            payload["name"] = raw["name"]  # empty stays, so the schema says it is required
        if raw.get("grade"):
            payload["grade"] = raw["grade"].upper()
        if raw.get("lifecycle"):
            payload["lifecycle"] = re.sub(r"[\s\-]+", "_", raw["lifecycle"].strip().lower())
        if raw.get("tags"):
            payload["tags"] = [t.strip() for t in re.split(r"[;；,，、]", raw["tags"]) if t.strip()]
        owner = user
        if raw.get("category"):
            cid = cats.get(raw["category"].strip().lower())
            if cid is None:
                _add(
                    errors,
                    "category",
                    _l("Unknown category '%(category)s'.", category=raw["category"]),
                )
            else:
                payload["category_id"] = cid
        if raw.get("owner_email"):
            u = users.get(raw["owner_email"].strip().lower())
            if u is None or not u.is_active:
                _add(errors, "owner_email", _l("Unknown or inactive owner."))
            else:
                owner = u
                payload["owner_id"] = u.id
                if u.id != user.id and not can_transfer:
                    _add(
                        errors,
                        "owner_email",
                        _l(
                            "Giving a customer to someone else needs '%(permission)s'.",
                            permission="customers.transfer",
                        ),
                    )
        if code:
            if len(code) > 40:
                _add(errors, "code", _l("At most %(n)s characters.", n=40))
            elif code in taken:
                _add(errors, "code", _l("The code %(code)s is taken.", code=code))
            elif code in seen_codes:
                _add(errors, "code", _l("Same code as row %(row)s.", row=seen_codes[code]))
            seen_codes.setdefault(code, n)
        try:
            data = schema.load(payload)
        except ma.ValidationError as exc:
            data = None
            for f, msgs in exc.messages.items():
                _add(errors, _SCHEMA_TO_COLUMN.get(f, f), msgs)
        e164 = {}
        for key in ("phone", "fax"):
            if payload.get(key):
                e164[key] = norm(payload[key])
                if e164[key] is None and key not in errors:
                    _add(errors, key, _l("Not a phone number."))

        # Likely duplicates: warn, never refuse (a colleague's customer is worth a look).
        if raw.get("name"):
            key = name_key_of(raw["name"])
            if key in names:
                _add(
                    warnings,
                    "name",
                    _l("An existing customer has this name: %(code)s.", code=names[key]),
                )
            elif key in seen_names:
                _add(warnings, "name", _l("Same name as row %(row)s.", row=seen_names[key]))
            seen_names.setdefault(key, n)
        if raw.get("email"):
            key = raw["email"].strip().lower()
            if key in emails:
                _add(
                    warnings,
                    "email",
                    _l("An existing customer has this email: %(code)s.", code=emails[key]),
                )
            elif key in seen_emails:
                _add(warnings, "email", _l("Same email as row %(row)s.", row=seen_emails[key]))
            seen_emails.setdefault(key, n)
        if e164.get("phone"):
            key = e164["phone"]
            if key in tels:
                _add(
                    warnings,
                    "phone",
                    _l("An existing customer has this phone: %(code)s.", code=tels[key]),
                )
            elif key in seen_tels:
                _add(warnings, "phone", _l("Same phone as row %(row)s.", row=seen_tels[key]))
            seen_tels.setdefault(key, n)
        if warnings:
            report.warnings.append({"row": n, "warnings": warnings})
        if errors:
            report.errors.append({"row": n, "errors": errors})
            report.bad.append((n, cells, errors))
            continue
        tags = sorted({t.strip().lower()[:40] for t in data.pop("tags", []) or [] if t.strip()})
        data.pop("owner_id", None)
        fields = services._clean(data, services.CUSTOMER_FIELDS)  # the create rule: "" → None
        fields.pop("owner_id", None)
        fields["lifecycle"] = fields.get("lifecycle") or "prospect"
        report.good_rows.append(
            {
                "row": n,
                "code": code or None,
                "fields": fields,
                "owner_id": owner.id,
                "department_id": owner.department_id,
                "tags": tags,
                # (kind, E.164, national digits): the writer needs no second parse
                "phones": [
                    (k, e164[k], norm.national[e164[k]]) for k in ("phone", "fax") if e164.get(k)
                ],
            }
        )


def _validate_contacts(session, user, table: Table, mapping, report: Report) -> None:
    schema = ContactIn()
    norm = _Phones()
    wanted = sorted(
        {_row_dict(mapping, cells).get("customer_code", "").strip() for _n, cells in table.rows}
        - {""}
    )
    in_scope: dict[str, int] = {}
    base = services.customer_query(session, user, services.Filters())
    for chunk in _chunks(wanted):
        stmt = base.with_only_columns(Customer.code, Customer.id).where(Customer.code.in_(chunk))
        in_scope.update(dict(session.execute(stmt).all()))
    ids = sorted(set(in_scope.values()))
    existing: dict[tuple[int, str], str] = {}
    for chunk in _chunks(ids):
        for cid, name in session.execute(
            select(Contact.customer_id, Contact.name).where(
                Contact.customer_id.in_(chunk), Contact.deleted_at.is_(None)
            )
        ):
            existing[(cid, name_key_of(name))] = name
    seen: dict[tuple[int, str], int] = {}
    simple = [k for k in CONTACT_COLUMNS if k not in ("customer_code", "is_primary")]
    for n, cells in table.rows:
        raw = _row_dict(mapping, cells)
        errors: dict[str, list[str]] = {}
        warnings: dict[str, list[str]] = {}
        payload: dict = {k: raw[k] for k in simple if raw.get(k)}
        payload["name"] = raw.get("name", "")
        flag = (raw.get("is_primary") or "").strip()
        if flag:
            low = flag.lower()
            payload["is_primary"] = (
                True if low in _TRUE else False if low in _FALSE else flag
            )  # anything else: the schema's Boolean decides or says why not
        code = (raw.get("customer_code") or "").strip()
        customer_id = in_scope.get(code)
        if not code:
            _add(errors, "customer_code", _l("A customer code is required."))
        elif customer_id is None:
            _add(
                errors,
                "customer_code",
                _l("No customer with the code %(code)s that you may see.", code=code),
            )
        try:
            data = schema.load(payload)
        except ma.ValidationError as exc:
            data = None
            for f, msgs in exc.messages.items():
                _add(errors, f, msgs)
        e164 = {}
        for key in ("phone", "mobile"):
            if payload.get(key):
                e164[key] = norm(payload[key])
                if e164[key] is None and key not in errors:
                    _add(errors, key, _l("Not a phone number."))
        if customer_id is not None and raw.get("name"):
            key = (customer_id, name_key_of(raw["name"]))
            if key in existing:
                _add(
                    warnings,
                    "name",
                    _l(
                        "%(code)s already has a contact named %(name)s.",
                        code=code,
                        name=existing[key],
                    ),
                )
            elif key in seen:
                _add(warnings, "name", _l("Same contact as row %(row)s.", row=seen[key]))
            seen.setdefault(key, n)
        if warnings:
            report.warnings.append({"row": n, "warnings": warnings})
        if errors:
            report.errors.append({"row": n, "errors": errors})
            report.bad.append((n, cells, errors))
            continue
        fields = services._clean(data, services.CONTACT_FIELDS)
        report.good_rows.append(
            {
                "row": n,
                "customer_id": customer_id,
                "fields": fields,
                "phones": [
                    (k, e164[k], norm.national[e164[k]]) for k in ("phone", "mobile") if e164.get(k)
                ],
            }
        )


# --- Writing -----------------------------------------------------------------------------


def import_rows(
    session, user, kind: str, table: Table, mode: str = "all", source: str | None = None
) -> Report:
    """Validate, then write. ``validate``: write nothing; ``all``: write nothing unless every
    row is good (``report.refused`` tells); ``good``: write the good rows (``bad_rows_csv``
    gives the others back). The caller commits."""
    if mode not in MODES:
        raise TransferError(
            _l("Mode is one of %(choices)s.", choices=", ".join(MODES)), "mode", 422
        )
    report = validate_rows(session, user, kind, table)
    report.mode = mode
    if mode == "validate":
        return report
    if mode == "all" and report.errors:
        report.refused = True
        return report
    if report.good_rows:
        if kind == "customers":
            _write_customers(session, report)
        else:
            _write_contacts(session, report)
        report.imported = len(report.good_rows)
        _audit(session, user, report, source)
    return report


def _code_pattern_regex(pattern: str, today: date) -> re.Pattern:
    out, pos = [], 0
    for m in numbering.TOKEN.finditer(pattern):
        out.append(re.escape(pattern[pos : m.start()]))
        tok = m.group(1)
        if tok.startswith("seq"):
            out.append(r"(\d+)")
        else:
            out.append(re.escape(numbering.render("{" + tok + "}", 0, today)))
        pos = m.end()
    out.append(re.escape(pattern[pos:]))
    return re.compile("".join(out) + r"\Z")


def _keep_sequence_ahead(session, kept: list[str]) -> None:
    """Codes kept from the file may look like ours (C202600042): move this period's
    counter past them, so the next customer created does not collide."""
    today = date.today()
    pattern = numbering.pattern_for(session, services.NUMBER_KIND, services.DEFAULT_NUMBER_PATTERN)
    rx = _code_pattern_regex(pattern, today)
    highest = 0
    for code in kept:
        m = rx.match(code)
        if m:
            highest = max(highest, int(m.group(1)))
    if not highest:
        return
    period = numbering._period(pattern, today)
    current = session.scalar(
        select(NumberSequence.value).where(
            NumberSequence.kind == services.NUMBER_KIND, NumberSequence.period == period
        )
    )
    if highest > (current or 0):
        numbering.next_codes(
            session, services.NUMBER_KIND, highest - (current or 0), services.DEFAULT_NUMBER_PATTERN
        )


def _write_customers(session, report: Report) -> None:
    rows = report.good_rows
    need = sum(1 for r in rows if not r["code"])
    fresh = iter(
        numbering.next_codes(session, services.NUMBER_KIND, need, services.DEFAULT_NUMBER_PATTERN)
    )
    kept = [r["code"] for r in rows if r["code"]]
    for r in rows:
        if not r["code"]:
            r["code"] = next(fresh)
    if kept:
        _keep_sequence_ahead(session, kept)
    now = utcnow()
    table = Customer.__table__
    blank = {k: None for k in services.CUSTOMER_FIELDS if k != "owner_id"}
    for chunk in _chunks(rows, CHUNK):
        params = []
        for r in chunk:
            f = r["fields"]
            main_phone = next((nat for k, _e, nat in r["phones"] if k == "phone"), None)
            params.append(
                {
                    **blank,
                    **f,
                    "code": r["code"],
                    "owner_id": r["owner_id"],
                    "department_id": r["department_id"],
                    "revenue": 0,
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                    "graded_at": None,
                    "deleted_at": None,
                    # exactly what services._reindex stores
                    "search_text": textsearch.index_text(
                        f.get("name"),
                        f.get("short_name"),
                        r["code"],
                        f.get("email"),
                        *((main_phone,) if main_phone else ()),
                    ),
                }
            )
        # A plain executemany (no RETURNING: on PostgreSQL that would become one huge
        # statement psycopg parses slowly), then the new ids by their unique codes.
        session.execute(insert(table), params)
        ids = dict(
            session.execute(
                select(table.c.code, table.c.id).where(
                    table.c.code.in_([p["code"] for p in params])
                )
            ).all()
        )
        phone_rows, tag_rows = [], []
        for r in chunk:
            cid = ids[r["code"]]
            for kind, e, nat in r["phones"]:
                phone_rows.append(
                    {
                        "customer_id": cid,
                        "contact_id": None,
                        "e164": e,
                        "digits_rev": nat[::-1],
                        "kind": kind,
                    }
                )
            tag_rows += [{"customer_id": cid, "tag": t} for t in r["tags"]]
        if phone_rows:
            session.execute(insert(Phone.__table__), phone_rows)
        if tag_rows:
            session.execute(insert(customer_tags), tag_rows)
    report.codes = [r["code"] for r in rows]


def _write_contacts(session, report: Report) -> None:
    rows = report.good_rows
    ids = sorted({r["customer_id"] for r in rows})
    has_live: set[int] = set()
    for chunk in _chunks(ids):
        has_live.update(
            session.scalars(
                select(Contact.customer_id)
                .where(Contact.customer_id.in_(chunk), Contact.deleted_at.is_(None))
                .distinct()
            )
        )
    # One primary per customer: the first row marked primary, else (for a customer without
    # contacts) the first row; other primaries of those customers step down.
    primary_row: dict[int, int] = {}
    for i, r in enumerate(rows):
        if r["fields"].get("is_primary") and r["customer_id"] not in primary_row:
            primary_row[r["customer_id"]] = i
    demote = sorted(primary_row)
    for i, r in enumerate(rows):
        if r["customer_id"] not in has_live and r["customer_id"] not in primary_row:
            primary_row[r["customer_id"]] = i
    for chunk in _chunks(demote):
        session.execute(
            update(Contact)
            .where(Contact.customer_id.in_(chunk), Contact.is_primary.is_(True))
            .values(is_primary=False, version=Contact.version + 1)
            .execution_options(synchronize_session=False)
        )
    primaries = set(primary_row.values())
    now = utcnow()
    table = Contact.__table__
    blank = {k: None for k in services.CONTACT_FIELDS}
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        params = [
            {
                **blank,
                **r["fields"],
                "customer_id": r["customer_id"],
                "is_primary": (start + j) in primaries,
                "version": 1,
                "created_at": now,
                "updated_at": now,
                "deleted_at": None,
            }
            for j, r in enumerate(chunk)
        ]
        new_ids = (
            session.execute(
                insert(table).returning(table.c.id, sort_by_parameter_order=True), params
            )
            .scalars()
            .all()
        )
        phone_rows = [
            {
                "customer_id": r["customer_id"],
                "contact_id": ct_id,
                "e164": e,
                "digits_rev": nat[::-1],
                "kind": kind,
            }
            for r, ct_id in zip(chunk, new_ids, strict=True)
            for kind, e, nat in r["phones"]
        ]
        if phone_rows:
            session.execute(insert(Phone.__table__), phone_rows)


def _audit(session, user, report: Report, source: str | None) -> None:
    """One audit entry for the whole import (not one per row)."""
    after = {
        "kind": report.kind,
        "mode": report.mode,
        "file": (source or "")[:200] or None,
        "format": report.fmt,
        "rows": report.rows,
        "imported": report.imported,
        "bad": len(report.errors),
    }
    if report.codes:
        after["codes"] = [report.codes[0], report.codes[-1]]
    session.add(
        AuditEntry(
            user_id=user.id,
            actor=user.email,
            entity=AUDIT_ENTITY,
            record_id=uuid.uuid4().hex[:16],
            action="import",
            before=None,
            after=after,
        )
    )


def bad_rows_csv(report: Report) -> bytes:
    """The bad rows as read, plus an ``errors`` column (UTF-8 with BOM, for Excel)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    headers = list(report.headers)
    w.writerow([*headers, "errors"])
    width = len(headers)
    for _n, cells, errors in report.bad:
        reasons = "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items())
        w.writerow([_escape(c) for c in (list(cells) + [""] * width)[:width]] + [reasons])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


# --- Exporting ---------------------------------------------------------------------------


@dataclass
class Export:
    filename: str
    mimetype: str
    chunks: Iterable[bytes]


XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIME = "text/csv; charset=utf-8"


def _escape(value: str) -> str:
    """Text a spreadsheet would run as a formula gets an apostrophe (CSV injection); phone
    numbers such as +86 10 6212 3456 stay as they are."""
    if value and value[0] in _FORMULA_START and not _PHONE_LIKE.match(value):
        return "'" + value
    return value


def _text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    return str(v)


def _customer_rows(session, user, filters: services.Filters) -> Iterator[list[str]]:
    base = services.customer_query(session, user, filters)
    cat = aliased(Category)
    owner = aliased(User)  # aliased: the scope's sub-select on host_user must not correlate
    cols = [
        getattr(Customer, k)
        for k in CUSTOMER_COLUMNS
        if k not in ("category", "owner_email", "tags")
    ]
    stmt = (
        select(Customer.id, *cols, cat.code.label("category_code"), owner.email.label("owner_mail"))
        .select_from(Customer)
        .outerjoin(cat, cat.id == Customer.category_id)
        .outerjoin(owner, owner.id == Customer.owner_id)
    )
    if base.whereclause is not None:
        stmt = stmt.where(base.whereclause)
    last = 0
    while True:
        batch = session.execute(
            stmt.where(Customer.id > last).order_by(Customer.id).limit(2000)
        ).all()
        if not batch:
            return
        last = batch[-1].id
        tags: dict[int, list[str]] = {}
        for cid, tag in session.execute(
            select(customer_tags.c.customer_id, customer_tags.c.tag)
            .where(customer_tags.c.customer_id.in_([r.id for r in batch]))
            .order_by(customer_tags.c.tag)
        ):
            tags.setdefault(cid, []).append(tag)
        for r in batch:
            m = r._mapping
            out = []
            for k in CUSTOMER_COLUMNS:
                if k == "category":
                    out.append(_text(m["category_code"]))
                elif k == "owner_email":
                    out.append(_text(m["owner_mail"]))
                elif k == "tags":
                    out.append(";".join(tags.get(r.id, [])))
                else:
                    out.append(_text(m[k]))
            yield out


def _contact_rows(session, user, filters: services.Filters) -> Iterator[list[str]]:
    base = services.customer_query(session, user, filters)
    cols = [getattr(Contact, k) for k in CONTACT_COLUMNS if k != "customer_code"]
    stmt = (
        select(Contact.id, Customer.code.label("customer_code"), *cols)
        .select_from(Contact)
        .join(Customer, Customer.id == Contact.customer_id)
        .where(Contact.deleted_at.is_(None))
    )
    if base.whereclause is not None:
        stmt = stmt.where(base.whereclause)
    last = 0
    while True:
        batch = session.execute(
            stmt.where(Contact.id > last).order_by(Contact.id).limit(2000)
        ).all()
        if not batch:
            return
        last = batch[-1].id
        for r in batch:
            m = r._mapping
            yield [_text(m[k]) for k in CONTACT_COLUMNS]


def _csv_stream(headers, rows: Iterable[list[str]]) -> Iterator[bytes]:
    buf = io.StringIO()
    w = csv.writer(buf)
    buf.write("\ufeff")
    w.writerow(headers)
    for i, row in enumerate(rows, start=1):
        w.writerow([_escape(v) for v in row])
        if i % 500 == 0:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode("utf-8")


_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _xlsx_stream(title: str, headers, rows: Iterable[list[str]]) -> Iterator[bytes]:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title)
    ws.append(list(headers))
    for row in rows:
        out = []
        for v in row:
            v = _ILLEGAL_XML.sub("", v) if v else None
            if v and v[0] == "=":  # text, never a formula
                cell = WriteOnlyCell(ws, value=v)
                cell.data_type = "s"
                v = cell
            out.append(v)
        ws.append(out)
    with tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024) as tmp:
        wb.save(tmp)
        tmp.seek(0)
        while True:
            block = tmp.read(256 * 1024)
            if not block:
                break
            yield block


def _stamp() -> str:
    return datetime.now().strftime("%Y%m%d-%H%M")


def export(session, user, kind: str, filters: services.Filters, fmt: str = "csv") -> Export:
    """Stream the customers (or the contacts of the customers) ``user`` may see, filtered
    like the list. The rows are read in chunks as the response is sent."""
    if kind not in KINDS:
        raise TransferError(
            _l("Kind is one of %(choices)s.", choices=", ".join(KINDS)), "kind", 422
        )
    if fmt not in FORMATS:
        raise TransferError(
            _l("Format is one of %(choices)s.", choices=", ".join(FORMATS)), "format", 422
        )
    if kind == "customers":
        rows = _customer_rows(session, user, filters)
    else:
        rows = _contact_rows(session, user, filters)
    return _package(kind, fmt, rows, f"{kind}-{_stamp()}")


def closing(chunks: Iterable[bytes], session) -> Iterator[bytes]:
    """Iterate ``chunks`` and close ``session`` afterwards, however the iteration ends.

    A streamed response is read after the request's teardown has closed the request's
    session; the export's queries then reopen it outside the request's care, so whoever
    streams must close it at the end (else PostgreSQL keeps an idle transaction open)."""
    try:
        yield from chunks
    finally:
        session.close()


def export_customers(session, user, filters: services.Filters, fmt: str = "csv") -> Export:
    return export(session, user, "customers", filters, fmt)


def export_contacts(session, user, filters: services.Filters, fmt: str = "csv") -> Export:
    return export(session, user, "contacts", filters, fmt)


def template(kind: str, fmt: str = "csv") -> Export:
    """A blank file with the column names, to fill in and import."""
    if kind not in KINDS:
        raise TransferError(
            _l("Kind is one of %(choices)s.", choices=", ".join(KINDS)), "kind", 422
        )
    if fmt not in FORMATS:
        raise TransferError(
            _l("Format is one of %(choices)s.", choices=", ".join(FORMATS)), "format", 422
        )
    return _package(kind, fmt, iter(()), f"{kind}-template")


def _package(kind: str, fmt: str, rows, stem: str) -> Export:
    headers = COLUMNS[kind]
    if fmt == "csv":
        return Export(f"{stem}.csv", CSV_MIME, _csv_stream(headers, rows))
    return Export(f"{stem}.xlsx", XLSX_MIME, _xlsx_stream(kind, headers, rows))
