"""Every dynamic provider pickles by reference to its installed module and carries nothing: no secret can leak."""

from __future__ import annotations

import base64

import dill
import pytest
from pulumi.dynamic import ResourceProvider
from pulumi.dynamic.dynamic import serialize_provider

from components.providers.local_server import LocalTritonServerProvider
from components.providers.repository import TritonModelRepositoryProvider
from components.providers.smoke_test import InferenceSmokeTestProvider


@pytest.mark.parametrize(
    "provider_class", [TritonModelRepositoryProvider, LocalTritonServerProvider, InferenceSmokeTestProvider]
)
def test_the_pickled_provider_names_its_class_and_holds_no_field(provider_class: type[ResourceProvider]) -> None:
    pickled = base64.b64decode(serialize_provider(provider_class()))
    assert provider_class.__module__.encode() in pickled and provider_class.__name__.encode() in pickled
    assert len(pickled) < 120
    provider = dill.loads(pickled)
    assert type(provider) is provider_class and vars(provider) == {}
    assert provider_class.serialize_as_secret_always is False
