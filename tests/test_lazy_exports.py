"""Public names of the packages resolve lazily, are listed by dir(), and unknown ones fail."""

import importlib

import pytest

PACKAGES = ["reluscope", "reluscope.constructive", "reluscope.stability"]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_resolves_and_is_listed(package):
    mod = importlib.import_module(package)
    listed = dir(mod)
    for name in mod.__all__:
        assert getattr(mod, name) is not None, name
        assert name in listed, name


@pytest.mark.parametrize("package", PACKAGES)
def test_unknown_attribute_names_the_package(package):
    mod = importlib.import_module(package)
    with pytest.raises(AttributeError, match=f"module '{package}' has no attribute 'no_such_name'"):
        mod.no_such_name  # noqa: B018


def test_subpackages_are_attributes():
    import reluscope

    for sub in ("constructive", "sparsity", "stability", "experiments", "report"):
        assert getattr(reluscope, sub).__name__ == f"reluscope.{sub}"


def test_lazy_value_is_the_defining_modules_object():
    import reluscope
    from reluscope.distance import sup_distance
    from reluscope.constructive.exact import exact_local_minimum

    assert reluscope.sup_distance is sup_distance
    assert reluscope.constructive.exact_local_minimum is exact_local_minimum
