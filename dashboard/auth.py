"""Who is looking and what they may see: sign-in, roles, demo mode and the access log, in one place.

The rules themselves (roles, which page / capability / export each role has, the hash-chained log) live in
pipelines/access.py; this module applies them to the app.

Two modes:
- **Sign-in**: the secrets have an `[auth]` section (`.streamlit/secrets.toml`; README "Sign-in and roles").
  Streamlit's OpenID Connect sign-in (`st.login`) identifies the user at the clinic's identity provider; the roles
  come from the token's `roles` / `role` claim, else from the role file (`access.roles_for`). Nobody signed in: a
  sign-in page. Signed in without a role: a "no access" page and nothing else.
- **Demo mode**: no `[auth]` section (the embedded demo on synthetic data). A banner on every page says so, the
  viewer acts as admin (user "demo"), and "Preview as role" in the sidebar shows what each role would see, with
  the same gating and logging.

Navigation: every page is registered with `st.navigation`, so a direct URL always resolves; the pages a role may
not open are hidden from the menu, and opening one shows a refusal instead of running it (`run`). The root URL is
the overview for everyone; a role that may not open it is taken to its own start page (the auditor: Export).

Logged (pipelines.access.append): a sign-in (once per session), the sign-out, every view of a list with one row
per session (`view_rows`), every export when its file is generated (`logged_download`: row count and the SHA-256
of the bytes handed over) and every refusal. Repeated reruns that show exactly the same thing are logged once.

Tests: AppTest reads `st.secrets` from `at.secrets`, so `at.secrets["auth"] = {...}` (any non-empty section)
puts the app in sign-in mode without an identity provider, and `at.user = {"is_logged_in": True, "email": ...,
"roles": [...]}` is the signed-in user (tests/test_app_auth.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import data, filters, i18n
from pipelines import access
from pipelines.metrics import Filters

DEMO_USER = "demo"
ROOT_PAGE = "overview"  # the page at the app's root URL, the same for every role so that links mean one page
HOME_ORDER = (ROOT_PAGE, "export", "data_quality", "about")  # a role's start page: the first it may open
_PREVIEW = "_preview_role"
_PREVIEW_CHANGED = "_preview_role_changed"
_SIGNED_IN = "_signed_in_logged"
_SHOWN_NOW = "_access_shown_now"
_SHOWN_BEFORE = "_access_shown_before"


class RoleFileError(Exception):
    """The role file cannot be read: nobody gets a role from it until it is fixed."""


@dataclass(frozen=True)
class Viewer:
    user: str  # the e-mail address from the token (or its subject), "demo" in demo mode
    roles: tuple[str, ...]
    demo: bool = False
    name: str = ""
    signed_in_at: str = ""  # when the identity provider issued the ID token ("" if it does not say)

    @property
    def role(self) -> str:
        """The roles as the access log records them."""
        return "|".join(self.roles) or "none"

    def may_open(self, page: str) -> bool:
        return access.may_open(self.roles, page)

    def may(self, capability: str) -> bool:
        return access.may(self.roles, capability)

    def may_export(self, kind: str) -> bool:
        return access.may_export(self.roles, kind)

    def home(self) -> str:
        return next(p for p in HOME_ORDER if self.may_open(p) or p == HOME_ORDER[-1])


def tr(key: str, **values: Any) -> str:
    return i18n.t(key, filters.lang(), **values)


# --------------------------------------------------------------------------------------------------------------
# Who is looking
# --------------------------------------------------------------------------------------------------------------


def auth_configured() -> bool:
    """True when the secrets have an `[auth]` section (read through st.secrets, which AppTest replaces)."""
    secrets = st.secrets
    try:
        return bool(secrets.load_if_toml_exists()) and "auth" in secrets
    except Exception:  # noqa: BLE001 - unreadable secrets: no sign-in configured
        return False


_ROLE_FILES: dict[tuple[str, int, int], dict[str, tuple[str, ...]]] = {}


def role_file() -> dict[str, tuple[str, ...]]:
    """The role file's mapping (re-read when the file changes); RoleFileError names a bad row."""
    path = access.default_roles_file()
    try:
        stat = path.stat()
    except FileNotFoundError:
        return {}
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _ROLE_FILES:
        try:
            mapping = access.read_role_file(path)
        except (ValueError, OSError, UnicodeDecodeError) as exc:
            raise RoleFileError(f"{path}: {exc}") from exc
        _ROLE_FILES.clear()
        _ROLE_FILES[key] = mapping
    return _ROLE_FILES[key]


def viewer() -> Viewer | None:
    """The viewer of this run: None when sign-in is configured and nobody is signed in."""
    if not auth_configured():
        preview = st.session_state.get(_PREVIEW)
        return Viewer(DEMO_USER, (preview if preview in access.ROLES else "admin",), demo=True)
    user = st.user
    if not user.get("is_logged_in"):
        return None
    claims = user.to_dict() if hasattr(user, "to_dict") else dict(user)
    email = str(claims.get("email") or claims.get("preferred_username") or claims.get("sub") or "").strip()
    # the role file is keyed on e-mail addresses: never on one the provider says it has not verified
    mapping = {} if claims.get("email_verified") is False else role_file()
    roles = access.roles_for({**claims, "email": email}, mapping)
    return Viewer(email or "unknown", tuple(dict.fromkeys(roles)), name=str(claims.get("name") or ""),
                  signed_in_at=_issued_at(claims))


def _issued_at(claims: Mapping) -> str:
    value = claims.get("auth_time") or claims.get("iat")
    try:
        return dt.datetime.fromtimestamp(int(value)).isoformat() if value else ""
    except (TypeError, ValueError, OverflowError, OSError):
        return ""


def current() -> Viewer:
    """The viewer, for a page (pages only run for a viewer with a role; anything else gets no rights)."""
    try:
        who = viewer()
    except RoleFileError:
        who = None
    return who if who is not None else Viewer("unknown", ())


def role_names(roles: Sequence[str]) -> str:
    return ", ".join(tr(f"role_{r}") for r in roles) or tr("role_none")


# --------------------------------------------------------------------------------------------------------------
# Navigation: every page registered, the forbidden ones hidden and refused
# --------------------------------------------------------------------------------------------------------------

Section = Sequence[tuple[str, str, str]]  # (page stem, title key, icon)


def navigation(sections: Mapping[str, Section], who: Viewer | None, lang: str):
    """st.navigation over every page in `sections` ({section title key: [(stem, title key, icon)]}): pages the
    viewer may open are shown, the others are registered hidden (so their URL resolves to a refusal, not to
    "page not found"). Nobody signed in / no role: no menu at all."""
    admitted = who is not None and bool(who.roles)
    pages: dict[str, list] = {}
    for section_key, entries in sections.items():
        for stem, title_key, icon in entries:
            visible = admitted and who.may_open(stem)
            page = st.Page(f"dashboard/pages/{stem}.py", title=i18n.t(title_key, lang), icon=icon,
                           default=stem == ROOT_PAGE, visibility="visible" if visible else "hidden")
            pages.setdefault(i18n.t(section_key, lang) if visible else "", []).append(page)
    # sections whose pages are all hidden would show an empty heading: hidden pages go into one untitled section
    hidden = pages.pop("", [])
    if hidden:
        pages[""] = hidden
    return st.navigation(pages, position="sidebar" if admitted else "hidden")


def page_stem(page) -> str:
    """The page file's stem ("export") of the page st.navigation chose."""
    return Path(str(getattr(page, "_page", ""))).stem


def admitted(who: Viewer | None) -> bool:
    """Draw what comes before any page: the sign-in page (nobody signed in), the no-access page (no role, logged
    as `refused`), or the demo banner / the signed-in user; log a sign-in once per session. False: stop here."""
    if who is None:
        sign_in_page()
        return False
    if not who.demo:
        log_sign_in(who)
        if not who.roles:
            no_access_page(who)
            return False
    else:
        st.warning(tr("demo_banner"), icon=":material/science:")
    return True


@st.cache_resource(show_spinner=False)
def _sign_ins_logged() -> set:
    return set()


def log_sign_in(who: Viewer) -> None:
    """Log a sign-in once: once per ID token when the token says when it was issued (a reload or a second tab
    reuses the sign-in and is not logged again, even after a restart of the app), else once per session."""
    key = (who.user, who.signed_in_at)
    if st.session_state.get(_SIGNED_IN) == key:
        return
    st.session_state[_SIGNED_IN] = key
    what = f"dashboard (signed in {who.signed_in_at})" if who.signed_in_at else "dashboard"
    if who.signed_in_at:
        seen = _sign_ins_logged()
        path = log_path()
        if (str(path), *key) in seen:
            return
        seen.add((str(path), *key))
        if any(r["event"] == "sign_in" and r["user"] == who.user and r["what"] == what
               for r in access.read_log(path)):
            return
    log(who, "sign_in", what)


def run(page, who: Viewer) -> None:
    """Run the chosen page, or show a refusal (logged) when the viewer's roles do not open it."""
    stem = page_stem(page)
    preview_changed = st.session_state.pop(_PREVIEW_CHANGED, False)
    if who.may_open(stem):
        page.run()
        return
    if stem == ROOT_PAGE or preview_changed:  # the root URL (or, in the demo, a new preview role): the start page
        st.switch_page(f"dashboard/pages/{who.home()}.py")
    st.title(tr("refused_title"))
    st.error(tr("refused_text", page=page.title, roles=role_names(who.roles)), icon=":material/block:")
    st.page_link(f"dashboard/pages/{who.home()}.py", label=tr("refused_home"), icon=":material/home:")
    log_once(who, "refused", f"page {stem}")


def sign_in_page() -> None:
    filters.render_language()
    st.title(tr("app_title"))
    st.caption(tr("app_caption"))
    with st.container(border=True):
        st.markdown(f"**{tr('sign_in_title')}**")
        st.markdown(tr("sign_in_text"))
        providers = [k for k, v in _auth_section().items() if isinstance(v, Mapping)]
        if providers:
            for name in providers:
                st.button(tr("sign_in_with", provider=name.title()), key=f"sign_in_{name}", type="primary",
                          icon=":material/login:", on_click=st.login, args=(name,))
        else:
            st.button(tr("sign_in"), key="sign_in", type="primary", icon=":material/login:", on_click=st.login)


def _auth_section() -> Mapping:
    try:
        section = st.secrets.get("auth", {})
    except Exception:  # noqa: BLE001
        return {}
    return section if isinstance(section, Mapping) else {}


def no_access_page(who: Viewer) -> None:
    filters.render_language()
    st.title(tr("no_access_title"))
    st.error(tr("no_access_text", user=who.user), icon=":material/lock:")
    sign_out_button(who)
    log_once(who, "refused", "dashboard: no role")


def _sign_out(who: Viewer) -> None:
    log(who, "sign_out", "dashboard")
    st.session_state.pop(_SIGNED_IN, None)
    st.logout()


def sign_out_button(who: Viewer, container: Any = None) -> None:
    (container or st).button(tr("sign_out"), key="sign_out", icon=":material/logout:", on_click=_sign_out,
                             args=(who,))


def _on_preview() -> None:
    st.session_state[_PREVIEW] = st.session_state.get("w_preview_role") or "admin"
    st.session_state[_PREVIEW_CHANGED] = True


def sidebar(who: Viewer) -> None:
    """Who is looking, at the top of the sidebar: the demo's role preview, or the signed-in user and sign-out."""
    sb = st.sidebar
    if who.demo:
        st.session_state["w_preview_role"] = who.roles[0]
        lg = filters.lang()  # labels bound to this run's language
        sb.selectbox(tr("preview_role"), access.ROLES, key="w_preview_role", on_change=_on_preview,
                     format_func=lambda r: i18n.t(f"role_{r}", lg), help=tr("preview_role_help"))
        return
    sb.caption(tr("signed_in_as", user=who.user, roles=role_names(who.roles)))
    sign_out_button(who, sb)


# --------------------------------------------------------------------------------------------------------------
# The access log
# --------------------------------------------------------------------------------------------------------------


def log_path() -> Path:
    return access.log_path_for(data.db_path())


def log(who: Viewer, event: str, what: str, *, filters_text: str = "", rows_n: int | None = None,
        file_sha256: str = "") -> dict:
    return access.append(log_path(), access.Entry(who.user, who.role, event, what, filters_text, rows_n,
                                                  file_sha256))


def begin_run() -> None:
    """Start of a script run: what the previous run logged is what is on screen now (see log_once)."""
    st.session_state[_SHOWN_BEFORE] = st.session_state.get(_SHOWN_NOW, set())
    st.session_state[_SHOWN_NOW] = set()


def log_once(who: Viewer, event: str, what: str, *, filters_text: str = "", rows_n: int | None = None) -> None:
    """Log a view when it appears: not again while reruns keep showing exactly the same thing (a language switch,
    a chart hover), but again when it comes back after something else was shown."""
    value = (who.user, who.role, event, what, filters_text, rows_n)
    st.session_state.setdefault(_SHOWN_NOW, set()).add(value)
    if value in st.session_state.get(_SHOWN_BEFORE, set()):
        return
    log(who, event, what, filters_text=filters_text, rows_n=rows_n)


def view_rows(who: Viewer, what: str, rows_n: int, filters: Filters | None = None, **details: Any) -> None:
    """Log a view of a list with one row per session (or per record)."""
    log_once(who, "page_view", what, filters_text=describe(filters, **details), rows_n=rows_n)


def describe(f: Filters | None = None, **details: Any) -> str:
    """Page details and the sidebar filters as one line for the log: 'outcome=ptosis; page=2; filters: none'."""
    from pipelines import export

    parts = [f"{k}={v}" for k, v in details.items() if v not in (None, "")]
    if f is not None:
        parts.append(f"filters: {export.filters_text(f)}")
    return "; ".join(parts)


def logged_download(who: Viewer, what: str, filters_text: str,
                    build: Callable[[], tuple[bytes, int]]) -> Callable[[], bytes]:
    """A download's data callable: builds the file when the button is clicked, appends an `export` entry with the
    row count and the SHA-256 of exactly these bytes, and hands them over. If the log cannot be written, the file
    is not handed over."""
    path = log_path()
    entry = (who.user, who.role)

    def make() -> bytes:
        body, rows = build()
        access.append(path, access.Entry(entry[0], entry[1], "export", what, filters_text, rows,
                                         hashlib.sha256(body).hexdigest()))
        return body

    return make


def log_frame(records: list[dict]) -> pd.DataFrame:
    columns = ["at", "user", "role", "event", "what", "filters", "rows_n", "file_sha256", "prev_hash", "hash"]
    return pd.DataFrame.from_records(records, columns=columns)


def log_csv(path: Path, who: Viewer) -> tuple[bytes, int]:
    """The whole access log as CSV with provenance lines, formula-safe like every export."""
    from pipelines import export

    records = access.read_log(path)
    intact, message = access.verify_log(path)
    prov = {"export": "access_log", "file": str(path), "entries": len(records),
            "chain": "intact" if intact else f"BROKEN: {message}",
            "generated_at": dt.datetime.now().replace(microsecond=0).isoformat(), "generated_by": who.user}
    return export.to_csv_text(log_frame(records), prov).encode("utf-8"), len(records)
