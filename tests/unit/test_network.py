import json
from typing import Any

import httpx
import pytest

from harness.endpoints import Endpoints
from harness.faults import FaultError, Faults
from harness.history import History
from harness.network import LINKS, Toxiproxy, ToxiproxyError
from harness.stack.services import toxiproxy as toxiproxy_service


class FakeToxiproxy:
    """Toxiproxy's API in memory (the parts the harness uses), behind httpx.MockTransport."""

    def __init__(self) -> None:
        self.proxies: dict[str, dict[str, Any]] = {
            link: {
                "name": link,
                "listen": f"127.0.0.1:{port}",
                "upstream": f"127.0.0.1:{port - 1}",
                "enabled": True,
                "toxics": [],
            }
            for link, port in zip(LINKS, (19095, 18082, 18334), strict=True)
        }
        self.requests: list[str] = []

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    @staticmethod
    def _error(message: str, status: int) -> httpx.Response:
        return httpx.Response(status, json={"error": message, "status": status})

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(f"{request.method} {request.url.path}")
        parts = request.url.path.strip("/").split("/")
        body: dict[str, Any] = json.loads(request.content) if request.content else {}
        if parts == ["version"]:
            return httpx.Response(200, text="2.12.0")
        if parts == ["reset"]:
            for p in self.proxies.values():
                p.update(enabled=True, toxics=[])
            return httpx.Response(204)
        if parts == ["proxies"]:
            return httpx.Response(200, json=self.proxies)
        if parts[0] != "proxies" or parts[1] not in self.proxies:
            return self._error("proxy not found", 404)
        proxy = self.proxies[parts[1]]
        if len(parts) == 2 and request.method == "PATCH":
            proxy.update(body)
            return httpx.Response(200, json=proxy)
        if len(parts) == 2:
            return httpx.Response(200, json=proxy)
        if len(parts) == 3 and request.method == "POST":
            if any(t["name"] == body["name"] for t in proxy["toxics"]):
                return self._error("toxic already exists", 409)
            proxy["toxics"].append(body)
            return httpx.Response(200, json=body)
        if len(parts) == 4 and request.method == "DELETE":
            left = [t for t in proxy["toxics"] if t["name"] != parts[3]]
            if len(left) == len(proxy["toxics"]):
                return self._error("toxic not found", 404)
            proxy["toxics"] = left
            return httpx.Response(204)
        return self._error("not found", 404)


@pytest.fixture
def fake() -> FakeToxiproxy:
    return FakeToxiproxy()


@pytest.fixture
def client(fake: FakeToxiproxy) -> Toxiproxy:
    return Toxiproxy("http://toxiproxy", transport=fake.transport())


def test_the_links_are_the_proxies_the_stack_creates() -> None:
    assert set(LINKS) == set(toxiproxy_service.LINKS)


def test_proxies_are_listed_with_their_toxics(client: Toxiproxy) -> None:
    client.latency("kafka", 250, jitter_ms=50, name="slow")
    proxies = client.proxies()
    assert set(proxies) == set(LINKS)
    (toxic,) = proxies["kafka"].toxics
    assert (toxic.name, toxic.type, toxic.stream, toxic.attributes) == (
        "slow",
        "latency",
        "downstream",
        {"latency": 250, "jitter": 50},
    )
    assert proxies["kafka"].listen == "127.0.0.1:19095" and proxies["kafka"].enabled


def test_each_kind_of_toxic_sends_toxiproxys_attributes(client: Toxiproxy, fake: FakeToxiproxy) -> None:
    client.reset_peer("object-store", after_ms=100)
    client.timeout("object-store", stream="upstream")
    client.bandwidth("object-store", kb_per_s=64)
    got = {t["name"]: (t["type"], t["stream"], t["attributes"]) for t in fake.proxies["object-store"]["toxics"]}
    assert got == {
        "reset_peer_downstream": ("reset_peer", "downstream", {"timeout": 100}),
        "timeout_upstream": ("timeout", "upstream", {"timeout": 0}),
        "bandwidth_downstream": ("bandwidth", "downstream", {"rate": 64}),
    }


def test_removing_a_toxic_that_is_gone_is_no_error_unless_asked(client: Toxiproxy) -> None:
    client.remove_toxic("kafka", "never-added")
    with pytest.raises(ToxiproxyError, match="toxic not found") as refused:
        client.remove_toxic("kafka", "never-added", missing_ok=False)
    assert refused.value.status == 404
    with pytest.raises(ToxiproxyError, match="proxy not found"):
        client.remove_toxic("zookeeper", "x")


def test_a_refusal_names_the_request_and_toxiproxys_answer(client: Toxiproxy) -> None:
    client.latency("kafka", 10)
    with pytest.raises(ToxiproxyError, match=r"POST /proxies/kafka/toxics answered 409: .*toxic already exists"):
        client.latency("kafka", 10)


def test_disable_enable_and_reset(client: Toxiproxy, fake: FakeToxiproxy) -> None:
    assert client.disable("schema-registry").enabled is False
    assert client.enable("schema-registry").enabled is True
    client.disable("kafka")
    client.latency("kafka", 5)
    client.reset()
    assert all(p.enabled and not p.toxics for p in client.proxies().values())
    assert "PATCH /proxies/kafka" in fake.requests


def test_an_unreachable_toxiproxy_is_a_toxiproxy_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(ToxiproxyError, match="GET /proxies: ConnectError"):
        Toxiproxy("http://toxiproxy", transport=httpx.MockTransport(refuse)).proxies()


# ------------------------------------------------------------------ Faults on the network


class StackWithToxiproxy:
    """A driver fake (as in test_faults): records calls; endpoints() names toxiproxy or not."""

    def __init__(self, with_toxiproxy: bool = True) -> None:
        self.calls: list[str] = []
        self.with_toxiproxy = with_toxiproxy

    def endpoints(self) -> Endpoints:
        proxy = {"toxiproxy": {"url": "http://toxiproxy", "proxies": {}}} if self.with_toxiproxy else {}
        return Endpoints.from_json({"kafka": {"bootstrap.servers": "kafka:9092"}, **proxy})

    def status(self, resources: bool = True) -> Any:
        from types import SimpleNamespace

        return SimpleNamespace(profile="faultable" if self.with_toxiproxy else "full")

    def __getattr__(self, op: str):  # type: ignore[no-untyped-def]
        def call(*args: object) -> None:
            self.calls.append(" ".join([op, *map(str, args)]))

        return call


def network_faults(fake: FakeToxiproxy, driver: StackWithToxiproxy | None = None) -> Faults:
    return Faults(
        driver or StackWithToxiproxy(), History(), network=Toxiproxy("http://toxiproxy", transport=fake.transport())
    )


def test_a_delay_adds_latency_and_its_heal_removes_it(fake: FakeToxiproxy) -> None:
    f = network_faults(fake)
    f.delay("object-store", 500, jitter_ms=50)
    down, up = fake.proxies["object-store"]["toxics"]
    assert (down["stream"], up["stream"]) == ("downstream", "upstream")  # a request is slowed on its way in too
    for toxic in (down, up):
        assert toxic["type"] == "latency" and toxic["attributes"] == {"latency": 500, "jitter": 50}
    assert f.heal_all() == []
    assert fake.proxies["object-store"]["toxics"] == []
    assert [(e.kind, e.name, e.detail) for e in f.history.events] == [
        ("fault", "link to object-store delayed", {"link": "object-store", "ms": 500, "jitter_ms": 50}),
        ("heal", "link to object-store delayed", {}),
    ]


def test_a_partition_disables_the_proxy_until_healed(fake: FakeToxiproxy) -> None:
    f = network_faults(fake)
    f.partition("kafka")
    assert fake.proxies["kafka"]["enabled"] is False
    assert fake.proxies["schema-registry"]["enabled"] is True
    f.heal("link to kafka partitioned")
    assert fake.proxies["kafka"]["enabled"] is True
    assert f.history.unhealed() == []


def test_resetting_connections_is_a_reset_peer_toxic(fake: FakeToxiproxy) -> None:
    f = network_faults(fake)
    f.reset_connections("schema-registry")
    assert [t["type"] for t in fake.proxies["schema-registry"]["toxics"]] == ["reset_peer"]
    f.heal_all()
    assert fake.proxies["schema-registry"]["toxics"] == []


def test_network_and_service_faults_heal_together_newest_first(fake: FakeToxiproxy) -> None:
    driver = StackWithToxiproxy()
    f = network_faults(fake, driver)
    f.partition("kafka")
    f.pause("api")
    f.delay("kafka", 100)
    assert f.heal_all() == []
    assert [e.name for e in f.history.events if e.kind == "heal"] == [
        "link to kafka delayed",
        "api paused",
        "link to kafka partitioned",
    ]
    assert driver.calls == ["pause api", "resume api"]
    assert fake.proxies["kafka"] == {**fake.proxies["kafka"], "enabled": True, "toxics": []}


def test_a_heal_after_toxiproxy_forgot_the_toxic_still_succeeds(fake: FakeToxiproxy) -> None:
    f = network_faults(fake)
    f.delay("kafka", 100)
    fake.proxies["kafka"]["toxics"] = []  # toxiproxy restarted meanwhile
    assert f.heal_all() == []


def test_healing_one_link_leaves_the_others_and_service_faults(fake: FakeToxiproxy) -> None:
    f = network_faults(fake)
    f.partition("kafka")
    f.delay("object-store", 100)
    f.stop("kafka")
    f.heal_link("kafka")
    assert list(f.pending) == ["link to object-store delayed", "kafka stopped"]
    with pytest.raises(KeyError, match="no open fault of the link to schema-registry"):
        f.heal_link("schema-registry")


def test_the_same_network_fault_twice_is_refused_and_the_first_stays(fake: FakeToxiproxy) -> None:
    f = network_faults(fake)
    f.delay("kafka", 100)
    with pytest.raises(FaultError, match="'link to kafka delayed' is already in force"):
        f.delay("kafka", 200)
    assert fake.proxies["kafka"]["toxics"][0]["attributes"]["latency"] == 100
    f.heal_all()
    assert fake.proxies["kafka"]["toxics"] == []


def test_an_unknown_link_is_refused_with_the_choices(fake: FakeToxiproxy) -> None:
    with pytest.raises(
        ValueError,
        match="unknown link 'postgres'; the links through toxiproxy are kafka, schema-registry, object-store",
    ):
        network_faults(fake).partition("postgres")


def test_network_faults_need_a_stack_with_toxiproxy() -> None:
    f = Faults(StackWithToxiproxy(with_toxiproxy=False), History())
    with pytest.raises(FaultError, match="profile faultable; this stack runs profile full"):
        f.partition("kafka")
    assert f.pending == {} and f.history.events == []


def test_toxiproxys_url_comes_from_the_drivers_clients() -> None:
    f = Faults(StackWithToxiproxy(), History())
    assert str(f._toxiproxy().http.base_url) == "http://toxiproxy"


class StuckRemoval(FakeToxiproxy):
    """Toxiproxy#558: the DELETE of a toxic hangs until the proxy's connections are cut."""

    def __init__(self) -> None:
        super().__init__()
        self.cut = False

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH" and json.loads(request.content).get("enabled") is False:
            self.cut = True
        if request.method == "DELETE" and not self.cut:
            self.requests.append(f"{request.method} {request.url.path} (hangs)")
            raise httpx.ReadTimeout("timed out", request=request)
        return super().handle(request)


def test_a_removal_that_hangs_goes_through_once_the_proxys_connections_are_cut() -> None:
    fake = StuckRemoval()
    client = Toxiproxy("http://toxiproxy", transport=fake.transport())
    client.latency("kafka", 500, name="k2-delay")
    client.remove_toxic("kafka", "k2-delay")
    assert client.proxy("kafka").toxics == () and client.proxy("kafka").enabled
    assert [r for r in fake.requests if "DELETE" in r or "PATCH" in r] == [
        "DELETE /proxies/kafka/toxics/k2-delay (hangs)",
        "PATCH /proxies/kafka",
        "PATCH /proxies/kafka",
        "DELETE /proxies/kafka/toxics/k2-delay",
    ]
