"""Who is looking and what they may see: sign-in, roles, demo mode and the access log, in one place.

The rules themselves (roles, which page / capability / export each role has, the hash-chained log) live in
pipelines/release/access.py; this module applies them to the app.

Modes (decided by `sign_in_setup` from the secrets and the environment, before any database is opened):
- **Sign-in**: the secrets have a valid `[auth]` section (`.streamlit/secrets.toml`; README "Sign-in and roles"):
  `redirect_uri` (ending in /oauth2callback), `cookie_secret`, and an identity provider: `client_id`,
  `client_secret` and `server_metadata_url` in `[auth]` itself or in provider sections `[auth.NAME]`. Streamlit's
  OpenID Connect sign-in (`st.login`) identifies the user; the roles come from the token's `roles` / `role` claim
  (access.ROLES only, after the optional `[clinic] role_prefix`), else from the role file for a verified e-mail
  (`access.roles_for`; `[clinic] role_file_match_preferred_username = true` also matches `preferred_username`).
  Nobody signed in: a sign-in page. Signed in without a role: a "no access" page and nothing else.
  The `clinician` role (one injector's own results, issue 13 item 7) also needs exactly one clinician code (the
  token's `clinician_code` claim, else the role file's `clinician_code` column: access.clinician_codes_for) that
  the database's clinicians table holds; without one, with two, or with an unknown one the viewer gets a "no
  access" page naming the problem (`clinician_problem`, logged as `refused`) and nothing else.
- **Demo mode**: only when asked for (`CLINIC_DEMO=1`, which `make run` sets), there is no `[auth]` section, and
  the pinned database is one the demo generator made (pipelines/demo/build.py `demo_status`); anything else under
  CLINIC_DEMO=1 is refused with a message. A banner on every page says so, the viewer acts as admin (user "demo"),
  and "Preview as role" in the sidebar shows what each role would see, with the same gating and logging; previewing
  the clinician role, a second box chooses the clinician code (kept in the URL as `preview_code`, demo mode only).
- Otherwise **nothing is shown**: no secrets file or no `[auth]` section gives a "sign-in is not configured" page;
  a secrets file that is not valid TOML, an `[Auth]` (wrong case) section, an incomplete `[auth]` or a bad
  `[clinic]` option gives an error page naming the problem. No page runs and the database is not opened.

Navigation: every page of the page table (pipelines/release/access.py PAGES) is registered with `st.navigation`
under its own URL path, so a direct URL always resolves; the pages a role may
not open are hidden from the menu, and opening one shows a refusal instead of running it (`run`). The root URL is
the overview for everyone; a role that may not open it is taken to its own start page (the auditor: Export).

Logged (pipelines.release.access.append): a sign-in (once per session), the sign-out, every view of a list with one row
per session (`view_rows`), every export when its file is generated (`logged_download`: row count and the SHA-256
of the bytes handed over) and every refusal. Repeated reruns that show exactly the same thing are logged once.

Imports (tests/test_architecture.py): of the dashboard only data, filters and i18n; components and the pages
import this module.

Tests: AppTest reads `st.secrets` from `at.secrets`, so `at.secrets["auth"] = {...}` (a valid section) puts the
app in sign-in mode without an identity provider, and `at.user = {"is_logged_in": True, "email": ...,
"roles": [...]}` is the signed-in user (tests/test_app_auth.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import data, filters, i18n
from pipelines.demo import build
from pipelines.metrics import analysis
from pipelines.metrics.counting import Filters
from pipelines.release import access

DEMO_USER = "demo"
ROOT_PAGE = "overview"  # the page at the app's root URL, the same for every role so that links mean one page
# a role's start page: the first it may open
HOME_ORDER = (ROOT_PAGE, "export", "data_quality", "my_results", "load", "about")
_PREVIEW = "_preview_role"
PREVIEW_PARAM = "role"  # demo mode: the previewed role in the URL (filters.GLOBAL_PARAMS)
_PREVIEW_CODE = "_preview_code"
PREVIEW_CODE_PARAM = "preview_code"  # demo mode: the previewed clinician code in the URL (filters.GLOBAL_PARAMS)
_PREVIEW_CHANGED = "_preview_role_changed"
_SIGNED_IN = "_signed_in_logged"
_SHOWN_NOW = "_access_shown_now"
_SHOWN_BEFORE = "_access_shown_before"


DEMO_ENV = "CLINIC_DEMO"  # "1": demo mode, on a database the demo generator made
PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")
# the [clinic] section of the secrets; min_completeness: follow-up completeness below this share (0 to 1) is marked
# as low on the charts and tables (default pipelines.metrics.analysis.LOW_COMPLETENESS_BELOW)
CLINIC_OPTIONS = ("role_prefix", "role_file_match_preferred_username", "min_completeness")


class RoleFileError(Exception):
    """The role file cannot be read: nobody gets a role from it until it is fixed."""


@dataclass(frozen=True)
class SignInSetup:
    """What the secrets and the environment say. mode: "sign_in", "demo", "not_configured" (no [auth]),
    "misconfigured" (`problems` says what is wrong) or "unreadable" (the secrets file is not valid TOML)."""
    mode: str
    problems: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()  # "default" (keys in [auth] itself) and the [auth.NAME] sections
    role_prefix: str = ""
    match_preferred_username: bool = False


class SignInNotConfigured(Exception):
    """No usable sign-in and no demo mode: show the setup page and nothing else."""

    def __init__(self, setup: SignInSetup) -> None:
        super().__init__(setup.mode)
        self.setup = setup


@dataclass(frozen=True)
class Viewer:
    user: str  # the e-mail address from the token (or its subject), "demo" in demo mode
    roles: tuple[str, ...]
    demo: bool = False
    name: str = ""
    signed_in_at: str = ""  # when the identity provider issued the ID token ("" if it does not say)
    # the clinician codes found for the `clinician` role (token claim or role file; demo: the previewed one):
    # exactly one is needed, and only `clinician_code` is ever used to choose data
    clinician_codes: tuple[str, ...] = ()

    @property
    def clinician_code(self) -> str:
        """The one clinician code of a viewer with the clinician role; "" with none, two, or without the role."""
        if access.CLINICIAN_ROLE in self.roles and len(self.clinician_codes) == 1:
            return self.clinician_codes[0]
        return ""

    @property
    def role(self) -> str:
        """The roles as the access log records them; the clinician role with its code(s): `clinician:C03`."""
        def named(r: str) -> str:
            if r != access.CLINICIAN_ROLE or not self.clinician_codes:
                return r
            return f"{r}:" + "+".join(c[:40] for c in self.clinician_codes)
        return "|".join(named(r) for r in self.roles) or "none"

    def offers_clinician_filter(self) -> bool:
        """The sidebar's clinician filter: only with a role that sees the clinic's figures (not for the clinician's
        own view, nor the loader's, alone or together)."""
        return any(r not in (access.CLINICIAN_ROLE, access.LOADER_ROLE) for r in self.roles)

    def sees_figures(self) -> bool:
        """Whether a page of the viewer's roles shows the clinic's figures, and so the sidebar's filters (whose
        choices come from the data): not for the loader alone, who opens only Load data and About."""
        return any(self.may_open(p.name) for p in access.PAGES if p.name not in access.PAGES_WITHOUT_FIGURES)

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


def _read_secrets() -> tuple[Mapping | None, str]:
    """(the secrets, "") or (None, what is wrong) when a secrets file exists but cannot be read. No secrets file
    at all is ({}, ""). Read through st.secrets, which AppTest replaces."""
    from streamlit.errors import StreamlitSecretNotFoundError

    secrets = st.secrets
    try:
        parse = getattr(secrets, "_parse", None)  # raises on a file that is not valid TOML; load_if_toml_exists
        if parse is not None:                     # would only say False, like for no file at all
            return parse(), ""
        return (secrets.to_dict() if secrets.load_if_toml_exists() else {}), ""
    except StreamlitSecretNotFoundError as exc:
        if getattr(exc, "error_id", None) == "no-secrets-found":
            return {}, ""
        return None, str(exc)
    except Exception as exc:  # noqa: BLE001 - anything else unreadable: an error on screen, never demo mode
        return None, f"{type(exc).__name__}: {exc}"


def _filled(section: Mapping, key: str) -> bool:
    value = section.get(key)
    return isinstance(value, str) and bool(value.strip())


def _check_auth(section: object) -> tuple[list[str], list[str]]:
    """(problems, providers) of an [auth] section: what st.login needs, checked before anyone is let near data."""
    if not isinstance(section, Mapping):
        return ["`auth` must be a section ([auth]) with the sign-in keys, not a single value"], []
    problems: list[str] = []
    if not _filled(section, "redirect_uri"):
        problems.append("[auth] needs redirect_uri: the dashboard's address ending in /oauth2callback, "
                        "e.g. https://dashboard.klinikk.no/oauth2callback")
    elif not section["redirect_uri"].strip().endswith("/oauth2callback"):
        problems.append("[auth] redirect_uri must end in /oauth2callback")
    if not _filled(section, "cookie_secret"):
        problems.append("[auth] needs cookie_secret: a long random string, e.g. the output of "
                        "python -c \"import secrets; print(secrets.token_hex(32))\"")
    providers: list[str] = []
    present = [k for k in PROVIDER_KEYS if k in section]
    if present:
        missing = [k for k in PROVIDER_KEYS if not _filled(section, k)]
        if missing:
            problems.append(f"[auth] has {', '.join(present)} but no {', '.join(missing)}: an identity provider "
                            f"needs all of {', '.join(PROVIDER_KEYS)}")
        else:
            providers.append("default")
    for name, value in section.items():
        if not isinstance(value, Mapping) or name == "client_kwargs":
            continue
        missing = [k for k in PROVIDER_KEYS if not _filled(value, k)]
        if "_" in str(name):
            problems.append(f"[auth.{name}]: a provider name may not contain “_” (Streamlit refuses it)")
        elif missing:
            problems.append(f"[auth.{name}] needs {', '.join(missing)}")
        else:
            providers.append(str(name))
    if not providers and not problems:
        problems.append(f"[auth] names no identity provider: put {', '.join(PROVIDER_KEYS)} in [auth] itself or "
                        "in a provider section such as [auth.microsoft]")
    return problems, providers


def _check_clinic(section: object) -> tuple[list[str], str, bool]:
    """(problems, role prefix, match preferred_username) from the secrets' [clinic] section."""
    if section is None:
        return [], "", False
    if not isinstance(section, Mapping):
        return ["`clinic` must be a section ([clinic]), not a single value"], "", False
    problems = [f"[clinic] {k} is not an option of this dashboard (options: {', '.join(CLINIC_OPTIONS)}); a "
                "misspelt option would silently be ignored, so it is refused" for k in section
                if k not in CLINIC_OPTIONS]
    prefix = section.get("role_prefix", "")
    if not isinstance(prefix, str) or re.search(r"[\s,]", prefix):
        problems.append("[clinic] role_prefix must be text without spaces or commas, "
                        "e.g. role_prefix = \"klinikk.\"")
        prefix = ""
    match = section.get("role_file_match_preferred_username", False)
    if not isinstance(match, bool):
        problems.append("[clinic] role_file_match_preferred_username must be true or false (without quotes)")
        match = False
    if "min_completeness" in section:
        try:
            analysis.check_min_completeness(section["min_completeness"], "[clinic] min_completeness")
        except ValueError as exc:
            problems.append(f"{exc} (without quotes)")
    return problems, prefix, match


def min_completeness() -> float:
    """The share of follow-up below which a period or clinician is marked as low completeness: `[clinic]
    min_completeness` from the secrets, else analysis.LOW_COMPLETENESS_BELOW. A bad value never gets here:
    sign_in_setup refuses it (an error page, no data)."""
    secrets, _ = _read_secrets()
    section = (secrets or {}).get("clinic")
    if isinstance(section, Mapping) and "min_completeness" in section:
        return analysis.check_min_completeness(section["min_completeness"], "[clinic] min_completeness")
    return analysis.LOW_COMPLETENESS_BELOW


def sign_in_setup() -> SignInSetup:
    """Sign-in, demo mode or neither, from the secrets and $CLINIC_DEMO alone (no database is opened)."""
    secrets, error = _read_secrets()
    if secrets is None:
        return SignInSetup("unreadable", (error,))
    problems = [f"the secrets have a [{k}] section, but only [{k.lower()}] (lower case) is read: rename it"
                for k in secrets if isinstance(k, str) and k.lower() in ("auth", "clinic") and k != k.lower()]
    clinic_problems, prefix, match = _check_clinic(secrets.get("clinic"))
    problems += clinic_problems
    if "auth" in secrets:
        auth_problems, providers = _check_auth(secrets["auth"])
        problems += auth_problems
        if not problems:
            return SignInSetup("sign_in", (), tuple(providers), prefix, match)
    if problems:
        return SignInSetup("misconfigured", tuple(problems))
    if os.environ.get(DEMO_ENV) == "1":
        return SignInSetup("demo")
    return SignInSetup("not_configured")


def auth_configured() -> bool:
    """True when the secrets have a valid `[auth]` section."""
    return sign_in_setup().mode == "sign_in"


_ROLE_FILES: dict[tuple[str, int, int], list[access.RoleRow]] = {}


def _role_rows() -> list[access.RoleRow]:
    """The role file's rows (re-read when the file changes); RoleFileError names a bad row."""
    path = access.default_roles_file()
    try:
        stat = path.stat()
    except FileNotFoundError:
        return []
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _ROLE_FILES:
        try:
            rows = access.read_role_rows(path)
        except (ValueError, OSError, UnicodeDecodeError) as exc:
            raise RoleFileError(f"{path}: {exc}") from exc
        _ROLE_FILES.clear()
        _ROLE_FILES[key] = rows
    return _ROLE_FILES[key]


def role_file() -> dict[str, tuple[str, ...]]:
    """The role file's mapping e-mail -> roles (re-read when the file changes); RoleFileError names a bad row."""
    return access.role_mapping(_role_rows())


def role_file_codes() -> dict[str, tuple[str, ...]]:
    """The role file's clinician codes, e-mail -> codes of its `clinician` rows; RoleFileError names a bad row."""
    return access.clinician_code_mapping(_role_rows())


def viewer() -> Viewer | None:
    """The viewer of this run: None when sign-in is configured and nobody is signed in. SignInNotConfigured when
    there is neither sign-in nor demo mode; RoleFileError when the role file is needed and cannot be read."""
    setup = sign_in_setup()
    if setup.mode == "demo":
        role = preview_role()
        code = preview_clinician_code() if role == access.CLINICIAN_ROLE else ""
        return Viewer(DEMO_USER, (role,), demo=True, clinician_codes=(code,) if code else ())
    if setup.mode != "sign_in":
        raise SignInNotConfigured(setup)
    user = st.user
    if not user.get("is_logged_in"):
        return None
    claims = user.to_dict() if hasattr(user, "to_dict") else dict(user)
    identity = next((v.strip() for v in (claims.get(k) for k in ("email", "preferred_username", "sub"))
                     if isinstance(v, str) and v.strip()), "")
    # the role file only for a verified e-mail (or preferred_username when the deployment turns it on)
    needs_file = not access.token_roles(claims, setup.role_prefix) and access.role_file_keys(
        claims, setup.match_preferred_username)
    roles = access.roles_for(claims, role_file() if needs_file else {}, prefix=setup.role_prefix,
                             match_preferred_username=setup.match_preferred_username)
    codes: tuple[str, ...] = ()
    if access.CLINICIAN_ROLE in roles:  # the code from the token's claim, else the role file: never the URL
        codes = access.token_clinician_codes(claims)
        if not codes and access.role_file_keys(claims, setup.match_preferred_username):
            codes = access.clinician_codes_for(claims, role_file_codes(),
                                               match_preferred_username=setup.match_preferred_username)
    return Viewer(identity or "unknown", tuple(dict.fromkeys(roles)), name=str(claims.get("name") or ""),
                  signed_in_at=_issued_at(claims), clinician_codes=codes)


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
    except (RoleFileError, SignInNotConfigured):
        who = None
    return who if who is not None else Viewer("unknown", ())


def role_names(roles: Sequence[str]) -> str:
    return ", ".join(tr(f"role_{r}") for r in roles) or tr("role_none")


# --------------------------------------------------------------------------------------------------------------
# Navigation: every page registered, the forbidden ones hidden and refused
# --------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Route:
    """What st.navigation chose for this run: the page object to run and its row of the page table."""
    page: Any  # the st.Page that st.navigation returned
    spec: access.Page


def navigation(who: Viewer | None, lang: str) -> Route:
    """st.navigation over every page of the page table (pipelines/release/access.py PAGES), each with its own URL
    path (`st.Page(url_path=...)`): pages the viewer may open are shown, the others are registered hidden (so their
    URL resolves to a refusal, not to "page not found"). Nobody signed in / no role / the clinician role without
    exactly one known code: no menu at all."""
    admitted = who is not None and bool(who.roles) and not clinician_problem(who)
    menu: dict[str, list] = {}
    built: list[tuple[Any, access.Page]] = []
    for spec in access.PAGES:
        visible = admitted and who.may_open(spec.name)
        page = st.Page(spec.file, url_path=spec.url_path, title=i18n.t(spec.title_key, lang), icon=spec.icon,
                       default=spec.name == ROOT_PAGE, visibility="visible" if visible else "hidden")
        menu.setdefault(i18n.t(spec.section_key, lang) if visible else "", []).append(page)
        built.append((page, spec))
    # sections whose pages are all hidden would show an empty heading: hidden pages go into one untitled section
    hidden = menu.pop("", [])
    if hidden:
        menu[""] = hidden
    # expanded: every page of the role in the menu (collapsed, Streamlit hides all but ten behind "View more")
    chosen = st.navigation(menu, position="sidebar" if admitted else "hidden", expanded=True)
    return Route(chosen, next(spec for page, spec in built if page is chosen))


def admitted(who: Viewer | None) -> bool:
    """Draw what comes before any page: the sign-in page (nobody signed in), the no-access page (no role, logged
    as `refused`), or the demo banner / the signed-in user; log a sign-in once per session. False: stop here."""
    if who is None:
        sign_in_page()
        return False
    try:
        if not who.demo:
            log_sign_in(who)
            if not who.roles:
                no_access_page(who)
                return False
        else:
            st.warning(tr("demo_banner"), icon=":material/science:")
        if access.CLINICIAN_ROLE in who.roles:
            problem = clinician_problem(who)
            if problem:
                clinician_refused_page(who, problem)
                return False
    except access.AccessLogError as exc:  # nothing is shown that could not be logged
        st.error(tr("access_log_unwritable", error=str(exc)), icon=":material/error:")
        return False
    return True


# why a clinician-role viewer sees nothing -> the text that names it (and how to fix it)
CLINICIAN_PROBLEMS = {"no_code": "clinician_no_code", "two_codes": "clinician_two_codes",
                      "unknown_code": "clinician_unknown_code", "unchecked": "clinician_unchecked"}


def clinician_problem(who: Viewer) -> str:
    """Why a viewer with the clinician role may see nothing (fail closed), "" when their one code is in the
    database's clinicians table: "no_code" (no code in the token or the role file), "two_codes" (more than one),
    "unknown_code" (a code the clinicians table does not hold), "unchecked" (no database to check it against)."""
    if access.CLINICIAN_ROLE not in who.roles:
        return ""
    if not who.clinician_codes:
        return "no_code"
    if len(who.clinician_codes) > 1:
        return "two_codes"
    try:
        known = data.run(access.clinician_known, who.clinician_codes[0])
    except (data.NoDatabase, data.BadDatabase):
        return "unchecked"
    return "" if known else "unknown_code"


def clinician_refused_page(who: Viewer, problem: str) -> None:
    """The clinician role without exactly one known code: a page naming the problem, no data; logged."""
    filters.render_language()
    st.title(tr("no_access_title"))
    codes = ", ".join(who.clinician_codes)
    st.error(tr(CLINICIAN_PROBLEMS[problem], user=who.user, codes=codes, claim=access.CLINICIAN_CODE_CLAIM,
                column=access.CLINICIAN_CODE_COLUMN), icon=":material/lock:")
    if who.demo:
        sidebar(who)  # the demo can still switch to another role or code
    else:
        sign_out_button(who)
    log_once(who, "refused", f"dashboard: clinician role, {problem.replace('_', ' ')}")


class DemoRefused(Exception):
    """Demo mode asked for, but the pinned database is not one the demo generator made (or there is none)."""

    def __init__(self, kind: str, detail: str = "", load_id: int | None = None) -> None:
        super().__init__(kind)
        self.kind, self.detail, self.load_id = kind, detail, load_id


def demo_problem() -> DemoRefused | None:
    """Demo mode serves only the demo generator's database: checked on the snapshot this page view has pinned
    (the one every query of the page reads). None when it is; else why not."""
    try:
        if data._pinned() is None:  # nothing pinned: no database, or it is being replaced right now
            raise data.NoDatabase(str(data.db_path()))
        status = data.run(build.demo_status)
    except data.NoDatabase:
        return DemoRefused("republishing" if data.db_path().exists() else "no_database")
    except data.BadDatabase as exc:
        return DemoRefused("bad_database", str(exc).splitlines()[0][:200])
    if status.is_demo:
        return None
    return DemoRefused(status.reason, load_id=status.load_id)


def problem_page(problem: Exception) -> None:
    """What a run shows instead of any page: sign-in not set up, a broken role file, demo mode refused."""
    filters.render_language()
    if isinstance(problem, RoleFileError):
        st.error(tr("role_file_error", error=str(problem)), icon=":material/error:")
        return
    if isinstance(problem, DemoRefused):
        _demo_refused_page(problem)
        return
    setup = problem.setup if isinstance(problem, SignInNotConfigured) else SignInSetup("unreadable", (str(problem),))
    key = {"unreadable": "setup_unreadable", "misconfigured": "setup_misconfigured"}.get(setup.mode,
                                                                                       "setup_not_configured")
    st.title(tr(f"{key}_title"))
    (st.info if key == "setup_not_configured" else st.error)(tr(f"{key}_text"), icon=":material/lock:")
    if setup.problems:
        st.code("\n".join(setup.problems), language=None, wrap_lines=True)


def _demo_refused_page(problem: DemoRefused) -> None:
    if problem.kind == "no_database":  # the same messages as a page would show (components.run_page)
        st.info(tr("no_database"), icon=":material/database:")
    elif problem.kind == "republishing":
        st.warning(tr("republishing"), icon=":material/sync:")
    elif problem.kind == "bad_database":
        st.error(tr("bad_database", error=problem.detail), icon=":material/error:")
    else:
        st.title(tr("demo_refused_title"))
        key = "demo_refused_loaded_after" if problem.kind == "loaded_after" else "demo_refused_not_marked"
        st.error(tr(key, path=str(data.db_path()), load_id=problem.load_id), icon=":material/block:")


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


def run(route: Route, who: Viewer) -> None:
    """Run the chosen page, or show a refusal (logged) when the viewer's roles do not open it."""
    name = route.spec.name
    preview_changed = st.session_state.pop(_PREVIEW_CHANGED, False)
    if who.may_open(name):
        try:
            route.page.run()
        except access.AccessLogError as exc:  # a view that cannot be logged: stop with the reason
            st.error(tr("access_log_unwritable", error=str(exc)), icon=":material/error:")
        return
    home = access.page(who.home()).file
    if name == ROOT_PAGE or preview_changed:  # the root URL (or, in the demo, a new preview role): the start page
        st.switch_page(home)
    st.title(tr("refused_title"))
    st.error(tr("refused_text", page=route.page.title, roles=role_names(who.roles)), icon=":material/block:")
    st.page_link(home, label=tr("refused_home"), icon=":material/home:")
    log_once(who, "refused", f"page {name}")


def sign_in_page() -> None:
    filters.render_language()
    st.title(tr("app_title"))
    st.caption(tr("app_caption"))
    with st.container(border=True):
        st.markdown(f"**{tr('sign_in_title')}**")
        st.markdown(tr("sign_in_text"))
        for name in sign_in_setup().providers:
            if name == "default":
                st.button(tr("sign_in"), key="sign_in", type="primary", icon=":material/login:", on_click=st.login)
            else:
                st.button(tr("sign_in_with", provider=name.title()), key=f"sign_in_{name}", type="primary",
                          icon=":material/login:", on_click=st.login, args=(name,))


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


def preview_role() -> str:
    """Demo mode only: the role being previewed. It is kept in the URL (?role=manager) like a filter, so a reload or
    a shared link shows the same role; an unknown value is the admin. Never read outside demo mode: a signed-in
    user's roles come from the identity provider or the role file, never from the URL."""
    filters.apply_url([PREVIEW_PARAM])
    state = filters.canon()
    role = state.get(PREVIEW_PARAM)
    if role not in access.ROLES:
        role = st.session_state.get(_PREVIEW) if st.session_state.get(_PREVIEW) in access.ROLES else "admin"
    state[PREVIEW_PARAM] = role
    st.session_state[_PREVIEW] = role
    return role


def _on_preview() -> None:
    role = st.session_state.get("w_preview_role") or "admin"
    st.session_state[_PREVIEW] = role
    filters.canon()[PREVIEW_PARAM] = role
    st.session_state[_PREVIEW_CHANGED] = True


def demo_clinician_codes() -> tuple[str, ...]:
    """The codes of the database's clinicians table, for the demo's preview box ("()" without a database)."""
    try:
        return tuple(data.cached(access.clinician_codes))
    except (data.NoDatabase, data.BadDatabase):
        return ()


def preview_clinician_code() -> str:
    """Demo mode only, previewing the clinician role: the clinician code being previewed, kept in the URL
    (?preview_code=C03) like the role; a code the clinicians table does not hold is the first one it does. Never
    read outside demo mode: a signed-in clinician's code comes from the token or the role file only."""
    filters.apply_url([PREVIEW_CODE_PARAM])
    state = filters.canon()
    codes = demo_clinician_codes()
    code = state.get(PREVIEW_CODE_PARAM)
    if code not in codes:
        kept = st.session_state.get(_PREVIEW_CODE)
        code = kept if kept in codes else (codes[0] if codes else "")
    state[PREVIEW_CODE_PARAM] = code or None
    st.session_state[_PREVIEW_CODE] = code
    return code


def _on_preview_code() -> None:
    code = st.session_state.get("w_preview_code") or ""
    st.session_state[_PREVIEW_CODE] = code
    filters.canon()[PREVIEW_CODE_PARAM] = code or None


def sidebar(who: Viewer) -> None:
    """Who is looking, at the top of the sidebar: the demo's role preview, or the signed-in user and sign-out."""
    sb = st.sidebar
    if who.demo:
        st.session_state["w_preview_role"] = who.roles[0]
        lg = filters.lang()  # labels bound to this run's language
        sb.selectbox(tr("preview_role"), access.ROLES, key="w_preview_role", on_change=_on_preview,
                     format_func=lambda r: i18n.t(f"role_{r}", lg), help=tr("preview_role_help"))
        filters.write_url([PREVIEW_PARAM], {PREVIEW_PARAM: "admin"})  # a reload or a shared link keeps the role
        codes = demo_clinician_codes()
        if who.roles[0] == access.CLINICIAN_ROLE and codes:  # which clinician's own view (demo mode only)
            st.session_state["w_preview_code"] = who.clinician_code if who.clinician_code in codes else codes[0]
            sb.selectbox(tr("preview_code"), codes, key="w_preview_code", on_change=_on_preview_code,
                         help=tr("preview_code_help"))
        else:
            filters.canon()[PREVIEW_CODE_PARAM] = None
        filters.write_url([PREVIEW_CODE_PARAM])
        return
    roles = role_names(who.roles) + (f" {who.clinician_code}" if who.clinician_code else "")
    sb.caption(tr("signed_in_as", user=who.user, roles=roles))
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
    from pipelines.release import export

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
    return pd.DataFrame.from_records(list(records), columns=columns)


def log_csv(path: Path, who: Viewer) -> tuple[bytes, int]:
    """The whole access log as CSV with provenance lines, formula-safe like every export."""
    from pipelines.release import export

    records = access.read_log(path)
    intact, message = access.verify_log(path)
    prov = {"export": "access_log", "file": path.name, "entries": len(records),  # no folder: no machine path
            "chain": message if intact else f"BROKEN: {message}"}
    if records.bad_lines:
        prov["unreadable_lines"] = " ".join(str(b.line_n) for b in records.bad_lines)
    prov |= {"generated_at": dt.datetime.now().replace(microsecond=0).isoformat(), "generated_by": who.user}
    return export.to_csv_text(log_frame(records), prov).encode("utf-8"), len(records)
