"""Loading the service registry (bot.services.loading): a services file, a folder of checklists, or today's
single checklist; every mistake found at start, as one RegistryError naming the service and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.services.loading import load_registry
from bot.services.registry import DEFAULT_KEY, RegistryError
from bot.settings import Settings
from checks.loader import ChecklistError, bundled_checklist
from tests.services.support import two_services, write_checklist, write_services


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def test_a_services_file_declares_each_service_with_its_checklist_channels_and_roles(
        isolated_env: None, tmp_path: Path) -> None:
    registry = load_registry(settings(services=two_services(tmp_path)))
    assert registry.names == ["hunter", "billing"]
    hunter, billing = registry.get("hunter"), registry.get("billing")
    assert hunter is not None and billing is not None
    assert hunter.checklist is not None and hunter.checklist.name == "hunter"
    assert hunter.checklist_path == tmp_path / "checklists" / "hunter.yml"  # relative to the services file
    assert hunter.channels.slack == ("C0HUNTER1",) and hunter.channels.teams == ("19:abc@thread.tacv2",)
    assert registry.for_channel("C0BILLING") is billing and registry.for_channel("C0ELSEWHERE") is None
    roles = {r.id: r for stage in hunter.checklist.signoffs.values() for r in stage.roles}
    assert roles["tech_lead"].members == ["U0TECH"] and roles["devops_lead"].groups == ["S0DEVOPS"]
    assert hunter.default and hunter.store_key == DEFAULT_KEY  # the first service owns the data from before
    assert not billing.default and billing.store_key == "billing"


def test_service_roles_replace_golive_roles_and_a_service_without_roles_gets_them(
        isolated_env: None, tmp_path: Path) -> None:
    registry = load_registry(settings(services=two_services(tmp_path), roles="tech_lead=U0GLOBAL"))

    def members(name: str) -> list[str]:
        service = registry.get(name)
        assert service is not None and service.checklist is not None
        return [m for stage in service.checklist.signoffs.values() for r in stage.roles if r.id == "tech_lead"
                for m in r.members]

    assert "U0GLOBAL" not in members("hunter") and "U0TECH" in members("hunter")
    assert "U0GLOBAL" in members("billing")


def test_default_names_the_service_that_owns_the_old_data(isolated_env: None, tmp_path: Path) -> None:
    registry = load_registry(settings(services=two_services(tmp_path, default="billing")))
    assert registry.default.name == "billing" and registry.default.store_key == DEFAULT_KEY
    hunter = registry.get("hunter")
    assert hunter is not None and hunter.store_key == "hunter"


def test_a_folder_of_checklists_is_one_service_per_checklist_named_by_its_name(
        isolated_env: None, tmp_path: Path) -> None:
    write_checklist(tmp_path, "payments", file="b.yaml")
    write_checklist(tmp_path, "hunter", file="a.yml")
    (tmp_path / "notes.txt").write_text("not a checklist")
    registry = load_registry(settings(services=tmp_path))
    assert registry.names == ["hunter", "payments"]
    assert registry.default.name == "hunter"


def test_golive_checklist_alone_is_a_registry_of_one_named_by_the_checklist(isolated_env: None,
                                                                              tmp_path: Path) -> None:
    path = write_checklist(tmp_path, "shop", file="whatever-file-name.yml")
    registry = load_registry(settings(checklist=path))
    assert registry.names == ["shop"] and registry.only() is registry.default
    assert registry.default.default and registry.default.store_key == DEFAULT_KEY
    demo = load_registry(settings())
    assert demo.names == ["demo"] and demo.default.checklist_path == bundled_checklist("demo")
    assert demo.default.checklist is not None and demo.default.checklist.demo


def test_a_registry_of_one_keeps_the_checklists_own_error(isolated_env: None, tmp_path: Path) -> None:
    with pytest.raises(ChecklistError, match="file not found; pass --checklist PATH or set GOLIVE_CHECKLIST"):
        load_registry(settings(checklist=tmp_path / "missing.yml"))


def _error(tmp_path: Path, services: Any = None, **top: Any) -> RegistryError:
    path = write_services(tmp_path, services, **top) if services is not None else tmp_path / "services.yml"
    with pytest.raises(RegistryError) as caught:
        load_registry(settings(services=path))
    return caught.value


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_checklist(tmp_path, "hunter")
    write_checklist(tmp_path, "billing")
    return tmp_path


@pytest.mark.parametrize(("services", "top", "service", "field", "says"), [
    ({"hunter": {"checklist": "hunter.yml"}}, {"defaults": "hunter"}, "", "defaults",
     "unknown field; the services file takes default, services"),
    ({"hunter": {"checklist": "hunter.yml", "channel": "C1"}}, {}, "hunter", "channel",
     "unknown field; a service takes checklist, channels, roles"),
    ({"hunter": {"checklist": "hunter.yml", "channels": {"discord": ["x"]}}}, {}, "hunter", "channels.discord",
     "unknown field"),
    ({"hunter": {"checklist": "nowhere.yml"}}, {}, "hunter", "checklist", "file not found; fix the path"),
    ({"hunter": {}}, {}, "hunter", "checklist", "missing"),
    ({"Hunter": {"checklist": "hunter.yml"}}, {}, "Hunter", "name", "lowercase letters, digits"),
    ({"status": {"checklist": "hunter.yml"}}, {}, "status", "name", "is a /golive word"),
    ({"all": {"checklist": "hunter.yml"}}, {}, "all", "name", "is a /golive word"),
    ({"hunter": {"checklist": "hunter.yml", "channels": {"slack": ["C1"]}},
      "billing": {"checklist": "billing.yml", "channels": {"slack": ["C1"]}}}, {}, "billing", "channels.slack",
     "C1 is already the release channel of 'hunter'"),
    ({"hunter": {"checklist": "hunter.yml", "roles": {"tech_lead": ["*"]}}}, {}, "hunter", "roles",
     "'*' is not a user or group id"),
    ({"hunter": {"checklist": "hunter.yml", "roles": "tech_lead"}}, {}, "hunter", "roles",
     "must look like role_id=U123,S456"),
    ({"hunter": {"checklist": "hunter.yml", "roles": {"chief_of_vibes": ["U01"]}}}, {}, "hunter", "roles",
     "unknown role(s) chief_of_vibes"),
    ({"hunter": {"checklist": "hunter.yml"}}, {"default": "hunterr"}, "", "default",
     "'hunterr' is not one of the services (hunter)"),
    ({}, {}, "", "services", "declares no services"),
])
def test_each_mistake_names_the_service_and_the_field(isolated_env: None, folder: Path, services: Any,
                                                      top: dict[str, Any], service: str, field: str,
                                                      says: str) -> None:
    error = _error(folder, services, **top)
    assert (error.service, error.field) == (service, field), str(error)
    assert says in str(error)
    assert (f"service {service!r}: {field}:" if service else f"{field}:") in str(error)
    assert "\n" not in str(error)


def test_a_service_declared_twice_in_the_file_is_refused(isolated_env: None, folder: Path) -> None:
    text = "services:\n  hunter: {checklist: hunter.yml}\n  billing: {checklist: billing.yml}\n" \
           "  hunter: {checklist: billing.yml}\n"
    (folder / "services.yml").write_text(text)
    error = _error(folder)
    assert (error.service, error.field) == ("hunter", "name") and "declared twice (line 4)" in str(error)


def test_two_checklists_of_a_folder_with_one_name_are_refused(isolated_env: None, tmp_path: Path) -> None:
    write_checklist(tmp_path, "hunter", file="a.yml")
    write_checklist(tmp_path, "hunter", file="b.yml")
    with pytest.raises(RegistryError) as caught:
        load_registry(settings(services=tmp_path))
    assert caught.value.service == "hunter" and caught.value.field == "name"
    assert "a.yml and " in str(caught.value) and "b.yml" in str(caught.value)


def test_two_services_whose_checklists_share_a_name_are_refused(isolated_env: None, tmp_path: Path) -> None:
    """Threads and announcements are named by the checklist's name: two services must not share one."""
    write_checklist(tmp_path, "shop", file="a.yml")
    write_checklist(tmp_path, "shop", file="b.yml")
    error = _error(tmp_path, {"alpha": {"checklist": "a.yml"}, "beta": {"checklist": "b.yml"}})
    assert (error.service, error.field) == ("beta", "checklist")
    assert "same `name:` ('shop') as the checklist of 'alpha'" in str(error)


def test_a_folder_checklist_whose_name_is_no_service_name_is_refused(isolated_env: None, tmp_path: Path) -> None:
    write_checklist(tmp_path, "Hunter Shop", file="hunter.yml")
    with pytest.raises(RegistryError) as caught:
        load_registry(settings(services=tmp_path))
    assert caught.value.field == "name" and "hunter.yml: the checklist's `name` names the service" in str(caught.value)


def test_a_broken_checklist_is_reported_with_its_own_error_under_its_service(isolated_env: None,
                                                                              folder: Path) -> None:
    (folder / "billing.yml").write_text("name: billing\nphases: [")
    error = _error(folder, {"hunter": {"checklist": "hunter.yml"}, "billing": {"checklist": "billing.yml"}})
    assert (error.service, error.field) == ("billing", "checklist") and "invalid YAML" in str(error)


def test_golive_roles_unknown_to_one_service_names_that_service(isolated_env: None, folder: Path) -> None:
    path = write_services(folder, {"hunter": {"checklist": "hunter.yml"}})
    with pytest.raises(RegistryError) as caught:
        load_registry(settings(services=path, roles="chief_of_vibes=U01"))
    assert (caught.value.service, caught.value.field) == ("hunter", "roles (GOLIVE_ROLES)")


def test_a_missing_services_file_and_an_empty_folder_say_what_to_point_at(isolated_env: None,
                                                                          tmp_path: Path) -> None:
    error = _error(tmp_path)
    assert error.field == "GOLIVE_SERVICES" and "not found" in str(error)
    (tmp_path / "empty").mkdir()
    with pytest.raises(RegistryError, match="holds no checklist"):
        load_registry(settings(services=tmp_path / "empty"))
    (tmp_path / "list.yml").write_text(yaml.safe_dump(["hunter"]))
    with pytest.raises(RegistryError, match="must be a mapping with `services:`"):
        load_registry(settings(services=tmp_path / "list.yml"))


def test_services_and_checklist_together_ask_to_pick_one(isolated_env: None, folder: Path) -> None:
    path = write_services(folder, {"hunter": {"checklist": "hunter.yml"}})
    for given in ({"checklist": folder / "hunter.yml"}, {}):
        with pytest.raises(RegistryError, match="pick one") as caught:
            load_registry(settings(services=path, **given), checklist=None if given else folder / "hunter.yml")
        assert caught.value.field == "GOLIVE_SERVICES"


def test_nearest_suggests_the_closest_service_name(isolated_env: None, tmp_path: Path) -> None:
    registry = load_registry(settings(services=two_services(tmp_path)))
    assert registry.nearest("hunterr")[0] == "hunter"
    assert registry.nearest("biling")[0] == "billing"
    assert registry.nearest("zzz") == []


def test_an_empty_golive_services_is_unset_not_the_current_folder(isolated_env: None, tmp_path: Path) -> None:
    write_checklist(tmp_path, "stray")  # in the working directory: must not become a service
    assert load_registry(settings(services="")).names == ["demo"]
