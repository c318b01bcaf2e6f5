"""Unit: which webhook destinations are refused, at enqueue and by the address classifier.

Enqueue goes through a real app on a temporary SQLite file, and every refusal must leave the
store empty.
"""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import ip_address
from pathlib import Path

import pytest

from conveyor import ConfigurationError, Conveyor, JobDefinition
from conveyor._destinations import AllowList, host_address, non_public_reason, url_problem
from conveyor.store.protocol import JobFilter

NON_PUBLIC = [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("::1", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("fd00::1", "private"),
    ("169.254.169.254", "link-local"),  # the cloud metadata service
    ("fe80::1", "link-local"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped IPv6
    ("::ffff:169.254.169.254", "link-local"),
    ("2002:7f00:1::", "loopback"),  # 6to4 around 127.0.0.1
    ("64:ff9b::a00:1", "private"),  # NAT64 around 10.0.0.1
    ("100.64.0.1", "non-routable"),  # carrier-grade NAT
    ("224.0.0.1", "multicast"),
]


@pytest.mark.parametrize(("address", "kind"), NON_PUBLIC)
def test_non_public_addresses_are_named_for_what_they_are(address: str, kind: str) -> None:
    reason = non_public_reason(ip_address(address))
    assert reason is not None and kind in reason


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111",
                                     "::ffff:8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert non_public_reason(ip_address(address)) is None


@pytest.mark.parametrize(("host", "address"), [
    ("2130706433", "127.0.0.1"),  # decimal
    ("0x7f000001", "127.0.0.1"),  # hex
    ("0x7f.1", "127.0.0.1"),
    ("0177.0.0.1", "127.0.0.1"),  # octal
    ("127.1", "127.0.0.1"),
    ("127.0.0.1.", "127.0.0.1"),
    ("0", "0.0.0.0"),
    ("0x", "0.0.0.0"),  # as resolvers read it
    ("0251.0376.0251.0376", "169.254.169.254"),
    ("::ffff:7f00:1", "::ffff:7f00:1"),
])
def test_every_spelling_of_an_address_is_read_as_that_address(host: str, address: str) -> None:
    assert host_address(host) == ip_address(address)


@pytest.mark.parametrize("host", ["example.com", "1.2.3.4.5", "256.1.1.1", "0x1g",
                                  "hooks.internal", "localhost", "1e3"])
def test_host_names_are_not_addresses(host: str) -> None:
    assert host_address(host) is None


REFUSED_URLS = [
    "http://127.0.0.1:8080/hook",
    "http://[::1]/hook",
    "http://10.0.0.7/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://0.0.0.0:9000/",
    "http://2130706433/",
    "http://0x7f.0.0.1/",
    "http://017700000001/",
    "http://[::ffff:127.0.0.1]/",
    "http://[fe80::1%25eth0]/",
    "https://user:pass@hooks.example.com/x",
    "https://token@hooks.example.com/x",
]


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_url_problem_refuses_literal_non_public_hosts_and_credentials(url: str) -> None:
    assert url_problem(url, AllowList()) is not None


def test_url_problem_passes_public_and_allowed_destinations() -> None:
    allow = AllowList.parse(["127.0.0.1/32", "10.0.0.0/8", "Hooks.Internal"], what="test")
    assert url_problem("https://hooks.example.com/x?token=abc", AllowList()) is None
    assert url_problem("http://93.184.216.34/x", AllowList()) is None
    assert url_problem("http://127.0.0.1:9/x", allow) is None
    assert url_problem("http://2130706433/x", allow) is None  # the same address, allowed
    assert url_problem("http://10.9.8.7/x", allow) is None
    assert url_problem("http://hooks.internal/x", allow) is None
    assert url_problem("http://192.168.0.1/x", allow) is not None
    assert url_problem("http://u:p@hooks.internal/x", allow) is not None  # never credentials


@pytest.mark.parametrize("entries", [["not a host"], ["10.0.0.0/33"], [""], ["a/b"], [3]])
def test_a_bad_allow_entry_is_refused_when_configured(entries: list[object]) -> None:
    with pytest.raises(ConfigurationError, match="webhook_allow"):
        Conveyor("sqlite:///unused.db", webhook_allow=entries)  # type: ignore[arg-type]


def test_the_allow_list_comes_from_the_environment_when_not_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONVEYOR_WEBHOOK_ALLOW", " 127.0.0.1 , hooks.internal,")
    allow = Conveyor("sqlite:///unused.db").webhook_allow
    assert allow.allows_address(ip_address("127.0.0.1"))
    assert allow.allows_host("hooks.internal")
    monkeypatch.setenv("CONVEYOR_WEBHOOK_ALLOW", "10.0.0.0/40")
    with pytest.raises(ConfigurationError, match="CONVEYOR_WEBHOOK_ALLOW"):
        Conveyor("sqlite:///unused.db")


# -- enqueue ---------------------------------------------------------------------------------


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Conveyor]:
    monkeypatch.delenv("CONVEYOR_WEBHOOK_ALLOW", raising=False)
    app = Conveyor(f"sqlite:///{tmp_path / 'conveyor.db'}")
    yield app
    app.close()


@pytest.fixture
def add(app: Conveyor) -> JobDefinition[..., int]:
    @app.job
    def add(ctx: object, a: int, b: int) -> int:
        return a + b

    return add


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_enqueue_refuses_a_notify_url_aimed_inward_and_writes_nothing(
    app: Conveyor, add: JobDefinition[..., int], url: str
) -> None:
    with pytest.raises(ConfigurationError, match="notify_url") as caught:
        add.enqueue(a=1, b=2, notify_url=url)
    assert "pass" not in str(caught.value).replace("password", "")  # credentials not echoed
    assert app.store.count_jobs(JobFilter()) == 0


def test_enqueue_takes_an_allowed_internal_notify_url(tmp_path: Path) -> None:
    app = Conveyor(f"sqlite:///{tmp_path / 'c.db'}", webhook_allow=["127.0.0.1"])
    try:
        @app.job
        def add(ctx: object, a: int, b: int) -> int:
            return a + b

        handle = add.enqueue(a=1, b=2, notify_url="http://127.0.0.1:9/hook")
        job = app.store.get_job(handle.id)
        assert job is not None and job.meta == {"notify_url": "http://127.0.0.1:9/hook"}
        with pytest.raises(ConfigurationError, match=r"10\.0\.0\.1, a private address"):
            add.enqueue(a=1, b=2, notify_url="http://10.0.0.1/hook")
    finally:
        app.close()


def test_the_refusal_says_what_to_do(add: JobDefinition[..., int]) -> None:
    with pytest.raises(ConfigurationError) as caught:
        add.enqueue(a=1, b=2, notify_url="http://2130706433:8080/hook")
    message = str(caught.value)
    assert "127.0.0.1" in message and "loopback" in message
    assert "webhook_allow" in message and "CONVEYOR_WEBHOOK_ALLOW" in message
