"""Site scope: a user or API key may be limited to some sites (a district). Within its scope the
caller's role applies; outside it the caller sees nothing: lists are filtered and a single item
answers 404, as if it did not exist (never 403, which would tell it exists)."""

from __future__ import annotations

from fastapi import HTTPException, status

from server.auth.roles import Principal


def sites_of(principal: Principal | None) -> frozenset[str] | None:
    """The caller's sites; None means every site."""
    return None if principal is None else principal.sites


def in_scope(principal: Principal | None, site: str | None) -> bool:
    """A scoped caller sees only items of its sites (an item without a site is outside every scope)."""
    sites = sites_of(principal)
    return sites is None or (site is not None and site in sites)


def require_in_scope(principal: Principal | None, site: str | None, what: str) -> None:
    if not in_scope(principal, site):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no {what}")


def narrowed(principal: Principal | None, requested: str | None) -> frozenset[str] | None:
    """The sites a list may show: the requested one (if in scope) or the whole scope."""
    sites = sites_of(principal)
    if requested is None:
        return sites
    if sites is not None and requested not in sites:
        return frozenset()
    return frozenset({requested})
