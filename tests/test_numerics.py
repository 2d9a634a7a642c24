"""The numerical environments of ``make robustness`` (tests/numerics.py)."""

from __future__ import annotations

import numerics


def test_the_perturbation_is_always_a_variant():
    assert numerics.variants()["perturbed"] == {"LRCOURSE_PERTURB": "1e-12"}


def test_simd_variants_switch_off_only_levels_this_cpu_has(monkeypatch):
    monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
    levels = set(numerics.simd_levels())
    for name, env in numerics.variants().items():
        disabled = env.get("NPY_DISABLE_CPU_FEATURES", "")
        assert set(filter(None, disabled.split(","))) <= levels, name
        assert env, f"variant {name} changes nothing"


def test_a_coretype_set_by_the_environment_is_kept(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    for env in numerics.variants().values():
        assert "OPENBLAS_CORETYPE" not in env


def test_cli(capsys):
    assert numerics.main(["names"]) == 0
    names = capsys.readouterr().out.split()
    assert names[0] == "perturbed"
    assert numerics.main(["env", "perturbed"]) == 0
    assert capsys.readouterr().out.strip() == "LRCOURSE_PERTURB=1e-12"
    assert numerics.main(["env", "nonsense"]) == 2
    assert numerics.main(["describe"]) == 0
    assert "LRCOURSE_PERTURB" in capsys.readouterr().out
