"""Profiles, usernames and contacts over HTTP."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from tests.server import Api, next_test_phone


def fresh_username(prefix: str = "user") -> str:
    """A valid username nobody has taken yet in this run."""
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def assert_error(status: int, body: Any, code: int, type_: str) -> None:
    assert status == code, (status, body)
    assert body["ok"] is False and body["error"]["type"] == type_, body


async def pts(api: Api, token: str) -> int:
    return int((await api.ok("updates.getState", {}, token))["pts"])


# -- profile --------------------------------------------------------------------------------
async def test_update_profile_is_seen_by_others_and_logged(api: Api) -> None:
    t, me = await api.sign_up("Old")
    other, _ = await api.sign_up("Looker")
    before = await pts(api, t)
    user = await api.ok(
        "account.updateProfile",
        {"first_name": "  مریم ", "last_name": "احمدی", "about": " برنامه\u200cنویس "},
        t,
    )
    assert user["first_name"] == "مریم" and user["last_name"] == "احمدی"
    full = await api.ok("users.getFullUser", {"user_id": me["id"]}, other)
    assert full["user"]["first_name"] == "مریم" and full["about"] == "برنامه\u200cنویس"
    assert "phone" not in full["user"] and full["user"].get("is_self", False) is False
    diff = await api.ok("updates.getDifference", {"pts": before}, t)
    assert [(u["type"], u["first_name"], u["last_name"]) for u in diff["updates"]] == [
        ("updateUserName", "مریم", "احمدی")
    ]
    # Only the given fields change.
    again = await api.ok("account.updateProfile", {"last_name": ""}, t)
    assert again["first_name"] == "مریم" and again.get("last_name", "") == ""
    assert (await api.ok("users.getFullUser", {"user_id": me["id"]}, t))["about"] == (
        "برنامه\u200cنویس"
    )


async def test_update_profile_rejects_bad_values(api: Api) -> None:
    t, me = await api.sign_up("Stable")
    before = await pts(api, t)
    for params, code, type_ in [
        ({}, 400, "PROFILE_NOT_MODIFIED"),
        ({"first_name": "   "}, 400, "FIRSTNAME_INVALID"),
        ({"first_name": "a\x00b"}, 400, "FIRSTNAME_INVALID"),
        ({"first_name": "x" * 65}, 400, "INPUT_INVALID"),
        ({"about": "x" * 141}, 400, "INPUT_INVALID"),
        ({"nickname": "y"}, 400, "INPUT_INVALID"),
    ]:
        status, body = await api.call("account.updateProfile", params, t)
        assert_error(status, body, code, type_)
    full = await api.ok("users.getFullUser", {"user_id": me["id"]}, t)
    assert full["user"]["first_name"] == "Stable" and full["about"] == ""
    assert await pts(api, t) == before


async def test_get_full_user_of_unknown_id(api: Api) -> None:
    t, _ = await api.sign_up("Asker")
    status, body = await api.call("users.getFullUser", {"user_id": 10**15}, t)
    assert_error(status, body, 400, "USER_ID_INVALID")


# -- usernames ------------------------------------------------------------------------------
async def test_usernames_are_unique_case_insensitively(api: Api) -> None:
    ta, a = await api.sign_up("First")
    tb, _b = await api.sign_up("Second")
    name = fresh_username("Ali_")
    user = await api.ok("account.updateUsername", {"username": name}, ta)
    assert user["username"] == name
    for taken in (name, name.lower(), name.upper()):
        status, body = await api.call("account.updateUsername", {"username": taken}, tb)
        assert_error(status, body, 400, "USERNAME_OCCUPIED")
    # The owner may change the case of their own name.
    assert (await api.ok("account.updateUsername", {"username": name.upper()}, ta))[
        "username"
    ] == name.upper()
    resolved = await api.ok("contacts.resolveUsername", {"username": name.lower()}, tb)
    assert resolved["peer"] == {"user_id": a["id"]} and resolved["user"]["id"] == a["id"]


async def test_concurrent_claims_of_one_username_have_one_winner(api: Api) -> None:
    tokens = [(await api.sign_up(f"Claimer {i}"))[0] for i in range(8)]
    name = fresh_username("race")
    answers = await asyncio.gather(
        *(api.call("account.updateUsername", {"username": name}, t) for t in tokens)
    )
    winners = [t for t, (status, _) in zip(tokens, answers, strict=True) if status == 200]
    assert len(winners) == 1, answers
    for status, body in answers:
        if status != 200:
            assert_error(status, body, 400, "USERNAME_OCCUPIED")
    resolved = await api.ok("contacts.resolveUsername", {"username": name}, tokens[0])
    me = await api.ok("account.updateProfile", {"about": "winner"}, winners[0])
    assert resolved["user"]["id"] == me["id"]


@pytest.mark.parametrize(
    "bad",
    [
        "abcd",  # too short
        "abcdef\n",  # a trailing newline must not slip past the pattern
        "a" * 33,  # too long
        "1abcde",  # starts with a digit
        "_abcde",
        "abc-de",
        "abc de",
        "abcde_",  # ends with an underscore
        "ab__cde",
        "علی_رضا",
        "@abcdef",
        "abcdé",
    ],
)
async def test_invalid_usernames(api: Api, bad: str) -> None:
    t, me = await api.sign_up("Picky")
    status, body = await api.call("account.updateUsername", {"username": bad}, t)
    assert_error(status, body, 400, "USERNAME_INVALID")
    assert "username" not in (await api.ok("users.getFullUser", {"user_id": me["id"]}, t))["user"]


async def test_boundary_usernames_are_valid(api: Api) -> None:
    t, _ = await api.sign_up("Edge")
    for name in ("a" + uuid.uuid4().hex[:4], "b" + uuid.uuid4().hex[:31], "Ab_1_c"):
        assert 5 <= len(name) <= 32
        assert (await api.ok("account.updateUsername", {"username": name}, t))["username"] == name


async def test_clearing_a_username_frees_it(api: Api) -> None:
    ta, a = await api.sign_up("Giver")
    tb, b = await api.sign_up("Taker")
    name = fresh_username("gift_")
    await api.ok("account.updateUsername", {"username": name}, ta)
    before = await pts(api, ta)
    cleared = await api.ok("account.updateUsername", {"username": ""}, ta)
    assert "username" not in cleared
    diff = await api.ok("updates.getDifference", {"pts": before}, ta)
    assert [(u["type"], u["username"]) for u in diff["updates"]] == [("updateUserName", None)]
    status, body = await api.call("contacts.resolveUsername", {"username": name}, tb)
    assert_error(status, body, 400, "USERNAME_NOT_OCCUPIED")
    await api.ok("account.updateUsername", {"username": name}, tb)
    resolved = await api.ok("contacts.resolveUsername", {"username": name}, ta)
    assert resolved["user"]["id"] == b["id"] != a["id"]


async def test_resolve_username_with_and_without_at(api: Api) -> None:
    ta, a = await api.sign_up("Famous")
    tb, _ = await api.sign_up("Fan")
    name = fresh_username("Star")
    await api.ok("account.updateUsername", {"username": name}, ta)
    for query in (name, "@" + name, name.lower(), "@" + name.upper()):
        res = await api.ok("contacts.resolveUsername", {"username": query}, tb)
        assert res["peer"] == {"user_id": a["id"]}
        assert res["user"]["username"] == name and "phone" not in res["user"]
    for missing in (fresh_username("nobody"), "", "@", "@@" + name):
        status, body = await api.call("contacts.resolveUsername", {"username": missing}, tb)
        assert_error(status, body, 400, "USERNAME_NOT_OCCUPIED")


# -- contacts -------------------------------------------------------------------------------
async def test_import_contacts_shows_the_phone_only_to_contacts_and_self(api: Api) -> None:
    phone_a = next_test_phone()
    ta, a = await api.sign_up("Contact", phone_a)
    tb, b = await api.sign_up("Importer")
    tc, _c = await api.sign_up("Stranger")
    unknown = next_test_phone()
    res = await api.ok(
        "contacts.importContacts",
        {
            "contacts": [
                {"phone": phone_a, "first_name": "A"},
                {"phone": unknown},  # no account: skipped
                {"phone": "not a number"},  # skipped, not fatal
                {"phone": b["phone"]},  # oneself: skipped
            ]
        },
        tb,
    )
    assert res["imported"] == [{"phone": phone_a, "user_id": a["id"]}]
    assert [(u["id"], u["phone"], u["contact"]) for u in res["users"]] == [(a["id"], phone_a, True)]
    seen_by_b = await api.ok("users.getFullUser", {"user_id": a["id"]}, tb)
    assert seen_by_b["user"]["phone"] == phone_a and seen_by_b["user"]["contact"] is True
    seen_by_c = await api.ok("users.getFullUser", {"user_id": a["id"]}, tc)
    assert "phone" not in seen_by_c["user"] and seen_by_c["user"].get("contact", False) is False
    seen_by_self = await api.ok("users.getFullUser", {"user_id": a["id"]}, ta)
    assert seen_by_self["user"]["phone"] == phone_a and seen_by_self["user"]["is_self"] is True
    # Importing is one-way: A did not import B, so B's phone stays hidden from A.
    b_seen_by_a = await api.ok("users.getFullUser", {"user_id": b["id"]}, ta)
    assert "phone" not in b_seen_by_a["user"]
    # The phone also shows where users come along with other results.
    name = fresh_username("contact")
    await api.ok("account.updateUsername", {"username": name}, ta)
    assert (await api.ok("contacts.resolveUsername", {"username": name}, tb))["user"][
        "phone"
    ] == phone_a
    assert "phone" not in (await api.ok("contacts.resolveUsername", {"username": name}, tc))["user"]


async def test_import_contacts_twice_is_harmless(api: Api) -> None:
    phone_a = next_test_phone()
    _ta, a = await api.sign_up("Twice", phone_a)
    tb, _b = await api.sign_up("Again")
    for _ in range(2):
        res = await api.ok("contacts.importContacts", {"contacts": [{"phone": phone_a}]}, tb)
        assert res["imported"] == [{"phone": phone_a, "user_id": a["id"]}]
    status, body = await api.call(
        "contacts.importContacts", {"contacts": [{"phone": phone_a, "extra": 1}]}, tb
    )
    assert_error(status, body, 400, "INPUT_INVALID")
    status, body = await api.call(
        "contacts.importContacts", {"contacts": [{"phone": "1"}] * 501}, tb
    )
    assert_error(status, body, 400, "INPUT_INVALID")
