"""Knowledge packs: a versioned set of categories and articles a plugin contributes.

The format (a directory, usually inside the contributing plugin's package)::

    <pack dir>/
      pack.toml
      articles/<slug>.md             # in the pack's source language
      articles/<slug>.<locale>.md    # optional translations: en | zh_Hant | zh_Hans

``pack.toml``::

    name = "insurance-faq"          # ^[a-z][a-z0-9-]{1,60}$, the pack's identity
    version = "1.0.0"               # PEP 440; an upgrade needs a higher one
    source_locale = "zh_Hant"       # language of articles/<slug>.md
    title = { zh_Hant = "保險常見問題", zh_Hans = "保险常见问题", en = "Insurance FAQ" }
    description = { zh_Hant = "...", en = "..." }   # optional

    [[categories]]
    key = "claims"                  # unique in the pack, stable across versions
    name = { zh_Hant = "理賠", zh_Hans = "理赔", en = "Claims" }
    parent = "..."                  # optional: key of another category of this pack

An article file is TOML front matter between ``+++`` lines, then the Markdown body::

    +++
    kind = "qa"                     # "qa" (title is the question, body the answer) or "article"
    category = "claims"
    title = "車險理賠需要準備哪些文件？"
    tags = ["車險", "理賠"]          # optional
    visibility = "public"           # "public" or "internal"
    +++
    Markdown body ...

A translation file holds front matter with ``title`` only, then its body. The article's
stable key is the file stem (the slug).

:meth:`KnowledgePack.from_directory` reads and checks everything first; any fault raises
:class:`PackError` naming the file and the field, so a malformed pack is refused whole.
:func:`install` applies a pack idempotently (see its docstring for upgrades).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import tomllib
from packaging.version import InvalidVersion, Version

LOCALES = ("en", "zh_Hant", "zh_Hans")
KINDS = ("qa", "article")
PACK_VISIBILITIES = ("public", "internal")
NAME_RE = re.compile(r"^[a-z][a-z0-9-]{1,60}$")
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,80}$")
KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$")
MAX_TITLE = 300
MAX_BODY = 200_000
MAX_TAG = 60
PACK_FIELDS = {"name", "version", "source_locale", "title", "description", "categories"}
CATEGORY_FIELDS = {"key", "name", "parent"}
ARTICLE_FIELDS = {"kind", "category", "title", "tags", "visibility"}
TRANSLATION_FIELDS = {"title"}


class PackError(ValueError):
    """A malformed pack (``file`` and ``field`` name the bad entry), or a refused install."""

    def __init__(self, message: str, file: str | None = None, field: str | None = None):
        self.file = file
        self.field = field
        where = file or ""
        if field:
            where = f"{where}: field '{field}'" if where else f"field '{field}'"
        super().__init__(f"{where}: {message}" if where else message)
        self.reason = message


@dataclass(frozen=True)
class PackCategory:
    key: str
    names: dict
    parent: str | None = None

    def label(self, locale: str | None = None, fallback: str = "en") -> str:
        return _pick(self.names, locale, fallback)


@dataclass(frozen=True)
class PackArticle:
    slug: str
    kind: str
    category: str
    title: str
    body: str
    visibility: str
    tags: tuple = ()
    #: {locale: (title, body)} besides the source language.
    translations: dict = field(default_factory=dict)

    def content_hash(self) -> str:
        return content_hash(self.kind, self.title, self.body, self.tags, self.translations)


@dataclass
class KnowledgePack:
    name: str
    version: str
    source_locale: str
    title: dict
    description: dict
    categories: list[PackCategory]
    articles: list[PackArticle]
    origin: str = ""

    @property
    def parsed_version(self) -> Version:
        return Version(self.version)

    def label(self, locale: str | None = None) -> str:
        return _pick(self.title, locale, self.source_locale)

    def summary(self, locale: str | None = None) -> str:
        return _pick(self.description, locale, self.source_locale) if self.description else ""

    @classmethod
    def from_directory(cls, path) -> KnowledgePack:
        """Read and check a pack directory (a :class:`pathlib.Path` or an
        ``importlib.resources`` Traversable). Raises :class:`PackError`."""
        if isinstance(path, str):
            path = Path(path)
        manifest = path / "pack.toml"
        if not manifest.is_file():
            raise PackError("the pack has no pack.toml", file="pack.toml")
        meta = _toml(_read(manifest, "pack.toml"), "pack.toml")
        _unknown(meta, PACK_FIELDS, "pack.toml")

        name = _required_str(meta, "name", "pack.toml")
        if not NAME_RE.match(name):
            raise PackError(
                f"'{name}' is not a pack name (lower-case letters, digits and '-', starting "
                "with a letter, 2 to 61 characters)",
                "pack.toml",
                "name",
            )
        version = _required_str(meta, "version", "pack.toml")
        try:
            Version(version)
        except InvalidVersion:
            raise PackError(
                f"'{version}' is not a version (e.g. 1.0.0)", "pack.toml", "version"
            ) from None
        source = _required_str(meta, "source_locale", "pack.toml")
        if source not in LOCALES:
            raise PackError(
                f"unknown locale '{source}' (allowed: {', '.join(LOCALES)})",
                "pack.toml",
                "source_locale",
            )
        title = _localised(meta.get("title"), "pack.toml", "title", required=True)
        description = _localised(meta.get("description"), "pack.toml", "description")

        categories = _categories(meta.get("categories", []))
        keys = {c.key for c in categories}
        articles = _articles(path / "articles", source, keys)
        return cls(
            name=name,
            version=version,
            source_locale=source,
            title=title,
            description=description,
            categories=categories,
            articles=articles,
            origin=str(path),
        )


# --- Reading -----------------------------------------------------------------------------


def _pick(values: dict, locale: str | None, fallback: str) -> str:
    if not values:
        return ""
    return values.get(locale or "") or values.get(fallback) or next(iter(values.values()))


def _read(entry, fname: str) -> str:
    try:
        text = entry.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise PackError("the file is not UTF-8 text", fname) from None
    return text.lstrip("\ufeff").replace("\r\n", "\n")


def _toml(text: str, fname: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PackError(f"bad TOML ({exc})", fname) from None


def _unknown(data: dict, allowed: set, fname: str) -> None:
    for k in data:
        if k not in allowed:
            raise PackError(f"unknown field (allowed: {', '.join(sorted(allowed))})", fname, k)


def _required_str(data: dict, key: str, fname: str, max_len: int = 300) -> str:
    value = data.get(key)
    if value is None:
        raise PackError("missing", fname, key)
    if not isinstance(value, str) or not value.strip():
        raise PackError("must be a non-empty text", fname, key)
    value = value.strip()
    if len(value) > max_len:
        raise PackError(f"longer than {max_len} characters", fname, key)
    return value


def _localised(value, fname: str, key: str, required: bool = False) -> dict:
    """``{locale: text}``; a plain string is accepted as the text in every language."""
    if value is None:
        if required:
            raise PackError("missing", fname, key)
        return {}
    if isinstance(value, str):
        value = {loc: value for loc in LOCALES}
    if not isinstance(value, dict) or not value:
        raise PackError("must be a table of texts per locale (en, zh_Hant, zh_Hans)", fname, key)
    out = {}
    for loc, text in value.items():
        if loc not in LOCALES:
            raise PackError(
                f"unknown locale '{loc}' (allowed: {', '.join(LOCALES)})", fname, f"{key}.{loc}"
            )
        if not isinstance(text, str) or not text.strip():
            raise PackError("must be a non-empty text", fname, f"{key}.{loc}")
        if len(text) > 1000:
            raise PackError("longer than 1000 characters", fname, f"{key}.{loc}")
        out[loc] = text.strip()
    return out


def _categories(raw) -> list[PackCategory]:
    fname = "pack.toml"
    if not isinstance(raw, list):
        raise PackError("must be an array of tables ([[categories]])", fname, "categories")
    out: list[PackCategory] = []
    seen: set[str] = set()
    for i, entry in enumerate(raw):
        where = f"categories[{i}]"
        if not isinstance(entry, dict):
            raise PackError("must be a table", fname, where)
        for k in entry:
            if k not in CATEGORY_FIELDS:
                raise PackError("unknown field", fname, f"{where}.{k}")
        key = entry.get("key")
        if not isinstance(key, str) or not KEY_RE.match(key):
            raise PackError(
                "missing or not a key (letters, digits, '-', '_')", fname, f"{where}.key"
            )
        if key in seen:
            raise PackError(f"duplicate category key '{key}'", fname, f"{where}.key")
        seen.add(key)
        names = _localised(entry.get("name"), fname, f"{where}.name", required=True)
        parent = entry.get("parent")
        if parent is not None and not isinstance(parent, str):
            raise PackError("must be a category key", fname, f"{where}.parent")
        out.append(PackCategory(key=key, names=names, parent=parent or None))
    for i, c in enumerate(out):
        if c.parent is not None and c.parent not in seen:
            raise PackError(f"unknown category '{c.parent}'", fname, f"categories[{i}].parent")
    # No cycles: walking up from any category ends.
    parents = {c.key: c.parent for c in out}
    for i, c in enumerate(out):
        walked, k = set(), c.key
        while k is not None:
            if k in walked:
                raise PackError("the parents form a cycle", fname, f"categories[{i}].parent")
            walked.add(k)
            k = parents.get(k)
    return out


def _front_matter(text: str, fname: str) -> tuple[dict, str]:
    lines = text.split("\n")
    if not lines or lines[0].strip() != "+++":
        raise PackError("must start with TOML front matter between '+++' lines", fname)
    for end in range(1, len(lines)):
        if lines[end].strip() == "+++":
            meta = _toml("\n".join(lines[1:end]), fname)
            body = "\n".join(lines[end + 1 :]).strip("\n")
            return meta, body
    raise PackError("the front matter has no closing '+++' line", fname)


def _articles(folder, source: str, categories: set[str]) -> list[PackArticle]:
    if not folder.is_dir():
        return []
    sources: dict[str, dict] = {}
    translations: dict[str, dict] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        name = entry.name
        if name.startswith((".", "_")) or entry.is_dir():
            continue
        fname = f"articles/{name}"
        if not name.endswith(".md"):
            raise PackError("not an article file (expected <slug>.md or <slug>.<locale>.md)", fname)
        stem = name[:-3]
        slug, _dot, locale = stem.partition(".")
        if not SLUG_RE.match(slug):
            raise PackError(
                f"'{slug}' is not a slug (lower-case letters, digits and '-')", fname, "slug"
            )
        if _dot and locale not in LOCALES:
            raise PackError(
                f"unknown locale '{locale}' (allowed: {', '.join(LOCALES)})", fname, "locale"
            )
        meta, body = _front_matter(_read(entry, fname), fname)
        if len(body) > MAX_BODY:
            raise PackError(f"longer than {MAX_BODY} characters", fname, "body")
        if not body.strip():
            raise PackError("the article has no body", fname, "body")
        if not _dot:
            if slug in sources:
                raise PackError(f"duplicate slug '{slug}'", fname, "slug")
            _unknown(meta, ARTICLE_FIELDS, fname)
            kind = meta.get("kind")
            if kind not in KINDS:
                raise PackError(f"must be one of: {', '.join(KINDS)}", fname, "kind")
            cat = meta.get("category")
            if not isinstance(cat, str) or not cat:
                raise PackError("missing", fname, "category")
            if cat not in categories:
                raise PackError(f"unknown category '{cat}'", fname, "category")
            vis = meta.get("visibility")
            if vis not in PACK_VISIBILITIES:
                raise PackError(
                    f"must be one of: {', '.join(PACK_VISIBILITIES)}", fname, "visibility"
                )
            tags = meta.get("tags", [])
            if not isinstance(tags, list) or not all(
                isinstance(t, str) and t.strip() and len(t.strip()) <= MAX_TAG for t in tags
            ):
                raise PackError(
                    f"must be a list of texts of at most {MAX_TAG} characters", fname, "tags"
                )
            sources[slug] = {
                "file": fname,
                "kind": kind,
                "category": cat,
                "title": _required_str(meta, "title", fname, MAX_TITLE),
                "body": body,
                "visibility": vis,
                "tags": tuple(dict.fromkeys(t.strip() for t in tags)),
            }
        else:
            if locale == source:
                raise PackError(
                    f"duplicate slug '{slug}': articles/{slug}.md is already in the source "
                    f"language ({source})",
                    fname,
                    "locale",
                )
            _unknown(meta, TRANSLATION_FIELDS, fname)
            title = _required_str(meta, "title", fname, MAX_TITLE)
            translations.setdefault(slug, {})[locale] = (title, body, fname)
    for slug, per_locale in translations.items():
        if slug not in sources:
            first = next(iter(per_locale.values()))[2]
            raise PackError(f"a translation without its source file articles/{slug}.md", first)
    return [
        PackArticle(
            slug=slug,
            kind=a["kind"],
            category=a["category"],
            title=a["title"],
            body=a["body"],
            visibility=a["visibility"],
            tags=a["tags"],
            translations={
                loc: (t[0], t[1]) for loc, t in sorted(translations.get(slug, {}).items())
            },
        )
        for slug, a in sources.items()
    ]


def content_hash(kind: str, title: str, body: str, tags, translations: dict) -> str:
    """What decides whether an article differs from the pack's text (tags included)."""
    data = {
        "kind": kind,
        "title": title.strip(),
        "body": body.strip(),
        "tags": sorted(tags),
        "translations": {
            loc: [t[0].strip(), t[1].strip()] for loc, t in sorted(translations.items())
        },
    }
    return hashlib.sha256(json.dumps(data, ensure_ascii=False).encode()).hexdigest()


# --- Installing --------------------------------------------------------------------------


@dataclass
class InstallReport:
    name: str
    version: str
    previous: str | None = None
    #: "installed", "upgraded", "unchanged" (same version already there)
    outcome: str = "installed"
    categories_created: int = 0
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    #: [(slug, article id)]: edited locally, the pack's text kept as a revision instead.
    conflicts: list[tuple[str, int]] = field(default_factory=list)
    #: Slugs installed before that the new version no longer has (left in place).
    dropped: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [
            f"{self.name} {self.version}: {self.outcome}"
            + (f" (was {self.previous})" if self.previous and self.outcome == "upgraded" else ""),
            f"  categories created: {self.categories_created}",
            f"  articles created: {len(self.created)}, updated: {len(self.updated)}, "
            f"unchanged: {len(self.unchanged)}, conflicts: {len(self.conflicts)}",
        ]
        for slug, aid in self.conflicts:
            out.append(
                f"  conflict: '{slug}' (article {aid}) was edited locally; kept the local text, "
                f"the pack's text is saved as a revision of the article"
            )
        for slug in self.dropped:
            out.append(f"  no longer in the pack (left in place): '{slug}'")
        return out


def _contributions(runtime) -> list[tuple[str, object]]:
    """``[(plugin name, its crm_knowledge_packs implementation)]`` of the active plugins."""
    caller = getattr(runtime.pm.hook, "crm_knowledge_packs", None)
    if caller is None:
        return []
    impls = {impl.plugin_name: impl for impl in caller.get_hookimpls()}
    return [(name, impls[name].function) for name in runtime.active if name in impls]


def load_packs(runtime=None) -> tuple[dict[str, KnowledgePack], list[tuple[str, str]]]:
    """The packs contributed by enabled plugins by name, and the refusals
    ``[(plugin, message)]``: a plugin whose pack is malformed (its hook raised
    :class:`PackError`) contributes nothing, and the message names the file and the field.
    The hook is called here rather than through the host's collector so that a bad pack is
    refused without marking the contributing plugin broken."""
    if runtime is None:
        from crm_host.plugins import current_runtime

        runtime = current_runtime()
    out: dict[str, KnowledgePack] = {}
    errors: list[tuple[str, str]] = []
    for owner, fn in _contributions(runtime):
        try:
            got = fn() or []
        except PackError as exc:
            errors.append((owner, str(exc)))
            continue
        for pack in got if isinstance(got, (list, tuple)) else [got]:
            if not isinstance(pack, KnowledgePack):
                errors.append((owner, "crm_knowledge_packs() must return KnowledgePack objects"))
            elif pack.name in out:
                errors.append((owner, f"a pack named '{pack.name}' is already contributed"))
            else:
                out[pack.name] = pack
    return out, errors


def available_packs(runtime=None) -> dict[str, KnowledgePack]:
    return load_packs(runtime)[0]


def install(session, pack: KnowledgePack, actor=None, upgrade: bool = False) -> InstallReport:
    """Apply ``pack`` (never commits; the caller owns the transaction).

    * Installing a pack already installed at the same version changes nothing; at another
      version it is refused (use ``upgrade``).
    * Upgrading needs a higher version. An article whose current text is still the pack's
      previous text is updated (the old text stays in its revisions); an article someone
      edited locally keeps the local text, the new pack text is stored as a revision of
      that article (restorable) and the article is reported as a conflict. Categories are
      created when missing, never renamed (an administrator may have renamed them).
      Status and visibility are the pack's on first install only.
    """
    from sqlalchemy import update

    from . import services
    from .models import Article, Category, PackInstall

    done = session.get(PackInstall, pack.name)
    report = InstallReport(name=pack.name, version=pack.version)
    if done is not None:
        report.previous = done.version
        installed = Version(done.version)
        if installed == pack.parsed_version:
            report.outcome = "unchanged"
            return report
        if not upgrade:
            raise PackError(
                f"'{pack.name}' is already installed at version {done.version}; "
                f"use upgrade to go to {pack.version}"
            )
        if pack.parsed_version < installed:
            raise PackError(
                f"'{pack.name}' {pack.version} is older than the installed {done.version}; "
                "a pack is never downgraded"
            )
        report.outcome = "upgraded"
    elif upgrade:
        raise PackError(f"'{pack.name}' is not installed yet; install it first")

    by_key: dict[str, Category] = {
        c.pack_key: c
        for c in session.scalars(select_pack(Category, pack.name))
        if c.pack_key is not None
    }
    pending = list(pack.categories)
    while pending:  # parents first
        rest = []
        for pc in pending:
            if pc.parent is not None and pc.parent not in by_key:
                rest.append(pc)
                continue
            if pc.key not in by_key:
                cat = Category(
                    name=pc.label(pack.source_locale, pack.source_locale),
                    names=dict(pc.names),
                    parent_id=by_key[pc.parent].id if pc.parent else None,
                    position=100,
                    pack_name=pack.name,
                    pack_key=pc.key,
                )
                session.add(cat)
                session.flush()
                by_key[pc.key] = cat
                report.categories_created += 1
        if len(rest) == len(pending):  # cannot happen after validation
            raise PackError("the categories' parents form a cycle", "pack.toml", "categories")
        pending = rest

    existing: dict[str, Article] = {
        a.pack_key: a for a in session.scalars(select_pack(Article, pack.name))
    }
    label = f"{pack.name} {pack.version}"
    for pa in pack.articles:
        new_hash = pa.content_hash()
        art = existing.pop(pa.slug, None)
        category_id = by_key[pa.category].id
        if art is None:
            services.create_from_pack(session, pack, pa, category_id, actor)
            report.created.append(pa.slug)
            continue
        current = services.article_hash(art)
        if current == new_hash:
            report.unchanged.append(pa.slug)
        elif current == art.pack_hash:
            services.apply_pack_text(session, art, pack, pa, actor, note=f"Pack {label}")
            report.updated.append(pa.slug)
        elif new_hash == art.pack_hash:
            report.unchanged.append(pa.slug)  # edited locally, the pack did not change it
        else:
            services.add_revision(
                session,
                art,
                actor,
                note=f"Pack {label} (not applied: edited locally)",
                title=pa.title,
                body=pa.body,
            )
            report.conflicts.append((pa.slug, art.id))
        # A plain UPDATE: recording what the pack said is not an edit (no version bump).
        session.execute(
            update(Article)
            .where(Article.id == art.id)
            .values(pack_hash=new_hash, pack_version=pack.version)
            .execution_options(synchronize_session=False)
        )
    report.dropped = sorted(existing)

    if done is None:
        session.add(
            PackInstall(name=pack.name, version=pack.version, by=getattr(actor, "email", actor))
        )
    else:
        from crm_host.db import utcnow

        done.version = pack.version
        done.upgraded_at = utcnow()
        done.by = getattr(actor, "email", actor)
    session.flush()
    return report


def select_pack(model, name: str):
    from sqlalchemy import select

    return select(model).where(model.pack_name == name)
