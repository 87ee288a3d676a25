"""Compatibility versions of data centers and clusters: oVirt's rules and message texts."""

from __future__ import annotations

import pytest

from neutrino.engine.domain import errors
from neutrino.engine.domain.rules import (
    SUPPORTED_VERSIONS,
    check_cluster_version,
    check_data_center_version,
    check_version_supported,
)


def test_supported_versions_are_4_2_to_4_7() -> None:
    assert SUPPORTED_VERSIONS == ((4, 2), (4, 3), (4, 4), (4, 5), (4, 6), (4, 7))


@pytest.mark.parametrize("version", SUPPORTED_VERSIONS)
def test_supported_versions_pass(version: tuple[int, int]) -> None:
    check_version_supported(version, "create", "Data Center")
    check_data_center_version("create", version)
    check_cluster_version("create", version, None)


@pytest.mark.parametrize("version", [(3, 99), (3, 6), (4, 1), (4, 8), (5, 0), (0, 0), (-4, 2), (4, -1)])
def test_unsupported_versions_are_bad_requests(version: tuple[int, int]) -> None:
    text = f"{version[0]}.{version[1]}"
    with pytest.raises(errors.BadRequest) as caught:
        check_data_center_version("create", version)
    assert caught.value.message == (
        "Cannot create Data Center. Selected Compatibility Version is not supported "
        f"(version {text}; supported: 4.2 to 4.7)."
    )
    with pytest.raises(errors.BadRequest, match=r"^Cannot edit Cluster\. Selected Compatibility Version"):
        check_cluster_version("edit", version, None, current=(4, 7))


def test_an_unchanged_version_is_not_checked_again() -> None:
    # a row stored before versions were checked can still be edited (renamed...) without touching its version
    check_data_center_version("edit", (3, 6), current=(3, 6), has_non_management_networks=True)
    check_cluster_version("edit", (3, 6), (4, 7), current=(3, 6))


# --- clusters ---------------------------------------------------------------------------------------


def test_a_cluster_cannot_be_added_below_its_data_center() -> None:
    with pytest.raises(errors.BadRequest) as caught:
        check_cluster_version("create", (4, 5), (4, 6))
    assert caught.value.message == (
        "Cannot add Cluster with Compatibility Version that is lower than the Data Center Compatibility Version.\n"
        "-Please upgrade your Cluster to a later Compatibility version first."
    )
    check_cluster_version("create", (4, 6), (4, 6))
    check_cluster_version("create", (4, 7), (4, 6))
    check_cluster_version("create", (4, 2), None)  # no data center


def test_a_cluster_cannot_be_lowered_beneath_its_data_center() -> None:
    with pytest.raises(errors.BadRequest) as caught:
        check_cluster_version("edit", (4, 4), (4, 5), current=(4, 7))
    assert (
        caught.value.message
        == "Cannot decrease cluster compatibility version beneath data center compatibility version."
    )
    check_cluster_version("edit", (4, 5), (4, 5), current=(4, 7))  # down to the data center's: fine
    check_cluster_version("edit", (4, 6), None, current=(4, 7))  # a cluster without a data center


def test_raising_a_cluster_still_below_its_data_center_is_allowed() -> None:
    # only lowering is refused (oVirt): raising a cluster left behind brings it closer
    check_cluster_version("edit", (4, 3), (4, 5), current=(4, 2))


# --- data centers -----------------------------------------------------------------------------------


def test_a_data_center_cannot_be_raised_above_its_clusters() -> None:
    clusters = {"c2": (4, 5), "c1": (4, 4), "c3": (4, 7)}
    with pytest.raises(errors.Conflict) as caught:
        check_data_center_version("edit", (4, 6), current=(4, 4), cluster_versions=clusters)
    assert caught.value.message == (
        "Cannot update Data Center compatibility version to a value that is greater than its Cluster's version. "
        "The following clusters should be upgraded c1,c2."
    )
    check_data_center_version("edit", (4, 5), current=(4, 4), cluster_versions={"c1": (4, 5), "c2": (4, 7)})
    check_data_center_version("edit", (4, 7), current=(4, 4), cluster_versions={})


def test_a_data_center_can_be_lowered_only_with_nothing_but_its_management_network() -> None:
    check_data_center_version("edit", (4, 2), current=(4, 7), has_non_management_networks=False)
    with pytest.raises(errors.Conflict) as caught:
        check_data_center_version("edit", (4, 2), current=(4, 7), has_non_management_networks=True)
    assert caught.value.message == "Cannot decrease data center compatibility version."


def test_lowering_a_data_center_ignores_its_clusters() -> None:
    # clusters above the data center are fine; only raising the data center compares them
    check_data_center_version("edit", (4, 3), current=(4, 5), cluster_versions={"c1": (4, 5)})
